//! SimpleJWT's own settings, for apps that changed them in Django's `SIMPLE_JWT`: read from
//! `TESSERA_SIMPLEJWT_*` variables (or a `[simplejwt]` table in the TOML file, whose keys
//! are the same names in lower case). docs/simplejwt.md maps each Django setting.
use std::collections::HashMap;

/// Which user field the `user_id` claim carries (SimpleJWT's `USER_ID_FIELD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserIdField {
    Id,
    Username,
}

/// A user field an extra claim may carry (what a custom `TokenObtainPairSerializer.get_token`
/// typically adds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserField {
    Username,
    Email,
    Name,
    IsAdmin,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimpleJwtSettings {
    /// `ROTATE_REFRESH_TOKENS`: refresh answers a new refresh token too.
    pub rotate_refresh_tokens: bool,
    /// `BLACKLIST_AFTER_ROTATION`: the refresh token just rotated stops working.
    pub blacklist_after_rotation: bool,
    /// `USER_ID_CLAIM`: the claim that names the user.
    pub user_id_claim: String,
    /// `USER_ID_FIELD`.
    pub user_id_field: UserIdField,
    /// `UPDATE_LAST_LOGIN`: a sign-in at `/api/token/` records the user's last login.
    pub update_last_login: bool,
    /// `LEEWAY`, in seconds, for `exp`, `nbf` and `iat`.
    pub leeway: i64,
    /// Extra claims: claim name -> user field, added to both tokens.
    pub extra_claims: Vec<(String, UserField)>,
    /// `AUTH_HEADER_TYPES`: the `Authorization` schemes `/hello/` accepts (never empty); the
    /// first one names the challenge of every 401, as DRF's does.
    pub auth_header_types: Vec<String>,
    /// `ACCESS_TOKEN_LIFETIME` of `/api/token/` access tokens, in seconds; `None`: the OAuth
    /// access-token lifetime.
    pub access_token_lifetime: Option<i64>,
    /// `REFRESH_TOKEN_LIFETIME`, in seconds; `None`: the OAuth refresh-token lifetime.
    pub refresh_token_lifetime: Option<i64>,
}

impl Default for SimpleJwtSettings {
    fn default() -> Self {
        Self {
            rotate_refresh_tokens: true,
            blacklist_after_rotation: true,
            user_id_claim: "user_id".to_owned(),
            user_id_field: UserIdField::Id,
            // Tessera's console shows last logins, so it records them unless told not to.
            update_last_login: true,
            leeway: 0,
            extra_claims: Vec::new(),
            auth_header_types: vec!["Bearer".to_owned()],
            access_token_lifetime: None,
            refresh_token_lifetime: None,
        }
    }
}

impl SimpleJwtSettings {
    /// The value `USER_ID_FIELD` names for a user with this id and username, as the user
    /// claim carries it: a string, as SimpleJWT 5.5 writes it (`str(user.pk)`).
    pub fn user_id_value(&self, id: i64, username: &str) -> String {
        match self.user_id_field {
            UserIdField::Id => id.to_string(),
            UserIdField::Username => username.to_owned(),
        }
    }

    /// The first `AUTH_HEADER_TYPES` entry, which DRF names in its `WWW-Authenticate`.
    pub fn challenge_scheme(&self) -> &str {
        self.auth_header_types
            .first()
            .map_or("Bearer", String::as_str)
    }
}

/// Ten years: longer is a typo, and `now + lifetime` must stay far from overflowing.
const MAX_LIFETIME: i64 = 10 * 366 * 86_400;

/// Claims Tessera writes itself: an extra claim must not replace one.
const RESERVED: [&str; 8] = [
    "token_type",
    "exp",
    "iat",
    "jti",
    "iss",
    "sub",
    "aud",
    "nbf",
];

fn boolean(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("expected true or false, got '{s}'")),
    }
}

fn claim_name(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "expected a claim name (letters, digits, _), got '{s}'"
        ));
    }
    if RESERVED.contains(&s) {
        return Err(format!("'{s}' is a claim Tessera writes itself"));
    }
    Ok(s.to_owned())
}

fn lifetime(s: &str) -> Result<i64, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if (1..=MAX_LIFETIME).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a lifetime of 1 to {MAX_LIFETIME} seconds, got '{s}'"
        )),
    }
}

/// A comma-separated list of HTTP authentication schemes (RFC 9110 §11.1: a token).
fn header_types(s: &str) -> Result<Vec<String>, String> {
    let types: Vec<String> = s
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .collect();
    if types.is_empty() {
        return Err("expected at least one authorization scheme, e.g. Bearer".to_owned());
    }
    let tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if let Some(bad) = types.iter().find(|t| !t.chars().all(tchar)) {
        return Err(format!(
            "'{bad}' is not an authorization scheme (letters, digits, and !#$%&'*+-.^_`|~)"
        ));
    }
    Ok(types)
}

fn extra_claims(s: &str) -> Result<Vec<(String, UserField)>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (claim, field) = pair
                .split_once('=')
                .ok_or_else(|| format!("expected CLAIM=FIELD pairs, got '{pair}'"))?;
            let field = match field.trim() {
                "username" => UserField::Username,
                "email" => UserField::Email,
                "name" => UserField::Name,
                "is_admin" | "is_staff" | "is_superuser" => UserField::IsAdmin,
                other => {
                    return Err(format!(
                        "unknown user field '{other}' (username, email, name, is_admin)"
                    ));
                }
            };
            Ok((claim_name(claim)?, field))
        })
        .collect()
}

impl SimpleJwtSettings {
    /// Read the settings from `values` (setting name in lower case -> raw value, with where
    /// it came from); an invalid one is `(origin, reason)`.
    pub fn parse(values: &HashMap<String, (String, String)>) -> Result<Self, (String, String)> {
        let mut s = Self::default();
        let get = |key: &str| values.get(key).map(|(v, o)| (v.as_str(), o.clone()));
        let fail = |origin: String| move |reason: String| (origin, reason);
        if let Some((v, o)) = get("rotate_refresh_tokens") {
            s.rotate_refresh_tokens = boolean(v).map_err(fail(o))?;
        }
        if let Some((v, o)) = get("blacklist_after_rotation") {
            s.blacklist_after_rotation = boolean(v).map_err(fail(o))?;
        }
        if let Some((v, o)) = get("user_id_claim") {
            s.user_id_claim = claim_name(v).map_err(fail(o))?;
        }
        if let Some((v, o)) = get("user_id_field") {
            s.user_id_field = match v.trim() {
                "id" | "pk" => UserIdField::Id,
                "username" => UserIdField::Username,
                other => return Err((o, format!("expected id or username, got '{other}'"))),
            };
        }
        if let Some((v, o)) = get("update_last_login") {
            s.update_last_login = boolean(v).map_err(fail(o))?;
        }
        if let Some((v, o)) = get("leeway") {
            s.leeway = match v.trim().parse::<i64>() {
                Ok(n) if (0..=3600).contains(&n) => n,
                _ => return Err((o, format!("expected 0 to 3600 seconds, got '{v}'"))),
            };
        }
        if let Some((v, o)) = get("extra_claims") {
            s.extra_claims = extra_claims(v).map_err(fail(o))?;
        }
        if let Some((v, o)) = get("auth_header_types") {
            s.auth_header_types = header_types(v).map_err(fail(o))?;
        }
        if let Some((v, o)) = get("access_token_lifetime") {
            s.access_token_lifetime = Some(lifetime(v).map_err(fail(o))?);
        }
        if let Some((v, o)) = get("refresh_token_lifetime") {
            s.refresh_token_lifetime = Some(lifetime(v).map_err(fail(o))?);
        }
        if let Some((claim, _)) = s.extra_claims.iter().find(|(c, _)| *c == s.user_id_claim) {
            return Err((
                "TESSERA_SIMPLEJWT_EXTRA_CLAIMS".to_owned(),
                format!("'{claim}' is the user id claim"),
            ));
        }
        Ok(s)
    }
}

/// Every setting's name, lower case; the variable is `TESSERA_SIMPLEJWT_` + upper case.
pub const NAMES: [&str; 10] = [
    "rotate_refresh_tokens",
    "blacklist_after_rotation",
    "user_id_claim",
    "user_id_field",
    "update_last_login",
    "leeway",
    "extra_claims",
    "auth_header_types",
    "access_token_lifetime",
    "refresh_token_lifetime",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(pairs: &[(&str, &str)]) -> Result<SimpleJwtSettings, (String, String)> {
        SimpleJwtSettings::parse(
            &pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), ((*v).to_owned(), k.to_uppercase())))
                .collect(),
        )
    }

    #[test]
    fn defaults_are_the_rotating_configuration() {
        let s = parse(&[]).unwrap();
        assert!(s.rotate_refresh_tokens && s.blacklist_after_rotation);
        assert_eq!(s.user_id_claim, "user_id");
        assert_eq!(s.user_id_field, UserIdField::Id);
    }

    #[test]
    fn refuses_bad_values_naming_the_setting() {
        for bad in [
            ("rotate_refresh_tokens", "maybe"),
            ("user_id_claim", "exp"),
            ("user_id_claim", "a b"),
            ("user_id_field", "email"),
            ("leeway", "-1"),
            ("extra_claims", "role=password_hash"),
            ("extra_claims", "sub=username"),
            ("extra_claims", "username"),
            ("auth_header_types", ""),
            ("auth_header_types", " , "),
            ("auth_header_types", "Bearer JWT"),
            ("auth_header_types", "JWT,Tok\"en"),
            ("access_token_lifetime", "0"),
            ("access_token_lifetime", "-300"),
            ("access_token_lifetime", "5m"),
            ("access_token_lifetime", "1e3"),
            ("refresh_token_lifetime", ""),
            ("refresh_token_lifetime", "99999999999999999999"),
            ("refresh_token_lifetime", "316224001"),
        ] {
            let (origin, _) = parse(&[bad]).unwrap_err();
            assert_eq!(origin, bad.0.to_uppercase(), "{bad:?}");
        }
        assert!(parse(&[("extra_claims", "user_id=username")]).is_err());
    }

    #[test]
    fn reads_header_types_and_lifetimes() {
        let s = parse(&[]).unwrap();
        assert_eq!(s.auth_header_types, ["Bearer"]);
        assert_eq!(
            (s.access_token_lifetime, s.refresh_token_lifetime),
            (None, None)
        );
        let s = parse(&[
            ("auth_header_types", "JWT, Bearer"),
            ("access_token_lifetime", " 60 "),
            ("refresh_token_lifetime", "604800"),
        ])
        .unwrap();
        assert_eq!(s.auth_header_types, ["JWT", "Bearer"]);
        assert_eq!(s.challenge_scheme(), "JWT");
        assert_eq!(
            (s.access_token_lifetime, s.refresh_token_lifetime),
            (Some(60), Some(604_800))
        );
    }

    #[test]
    fn reads_extra_claims() {
        let s = parse(&[("extra_claims", "username=username, staff=is_staff")]).unwrap();
        assert_eq!(
            s.extra_claims,
            vec![
                ("username".to_owned(), UserField::Username),
                ("staff".to_owned(), UserField::IsAdmin)
            ]
        );
    }
}
