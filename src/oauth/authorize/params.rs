//! The authorization request's parameters, parsed once. Parsing comes in two steps because
//! errors go to two places: until the client and its redirect URI are verified, a problem
//! is shown as a page ([`Target::parse`]); after that it goes back to the client
//! ([`AuthorizeParams::parse`]).

/// The user's answer on the consent page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
}

/// A parameter that must not repeat (RFC 6749 §3.1): `None` if absent or empty.
pub fn single<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut it = params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = it.next();
    if it.next().is_some() {
        return Err(format!("The parameter {name} is repeated."));
    }
    Ok(first.filter(|v| !v.is_empty()))
}

/// Who is asking and where the answer goes, before either is checked against the store.
#[derive(Debug)]
pub struct Target {
    pub client_id: String,
    pub redirect_uri: Option<String>,
}

impl Target {
    /// `Err` is the message for an error page: nothing may be sent to an unverified URI.
    pub fn parse(params: &[(String, String)]) -> Result<Self, String> {
        let redirect_uri = single(params, "redirect_uri")?.map(str::to_owned);
        let client_id = single(params, "client_id")?.ok_or_else(|| {
            "The request does not say which application is asking (client_id is missing)."
                .to_owned()
        })?;
        Ok(Self {
            client_id: client_id.to_owned(),
            redirect_uri,
        })
    }
}

/// How the answer is delivered; read leniently, so even a malformed request's error
/// reaches the client with its `state`.
#[derive(Debug)]
pub struct Delivery {
    pub state: Option<String>,
    pub form_post: bool,
}

impl Delivery {
    pub fn parse(params: &[(String, String)]) -> Self {
        Self {
            state: single(params, "state").ok().flatten().map(str::to_owned),
            form_post: single(params, "response_mode").ok().flatten() == Some("form_post"),
        }
    }
}

/// `prompt` (OIDC Core §3.1.2.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// An error for the client: an OAuth error code and its description.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub description: String,
}

fn refuse(code: &'static str, description: impl Into<String>) -> Refusal {
    Refusal {
        code,
        description: description.into(),
    }
}

/// Everything else the request says, checked.
#[derive(Debug)]
pub struct AuthorizeParams {
    /// The scope as requested, whose order the stored grant keeps.
    pub scope: Option<String>,
    pub nonce: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<i64>,
    pub code_challenge: Option<String>,
    pub login_hint: Option<String>,
    pub id_token_hint: Option<String>,
    /// The OIDC `claims` request, as sent.
    pub claims: Option<String>,
    /// Whether `acr_values` asks for a multi-factor sign-in (`auth_methods::ACR_MFA`).
    pub wants_mfa: bool,
    /// RFC 8707 resource indicators (may repeat), not yet checked against the registry.
    pub resources: Vec<crate::resources::ResourceId>,
    /// RFC 9449 §10: the thumbprint of the DPoP key the code is to be bound to.
    pub dpop_jkt: Option<String>,
}

/// Parameters that must appear at most once, checked before anything else is read.
const SINGLE: [&str; 11] = [
    "response_type",
    "scope",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
    "acr_values",
    "dpop_jkt",
];

impl AuthorizeParams {
    pub fn parse(p: &[(String, String)]) -> Result<Self, Refusal> {
        if let Some(bad) = SINGLE.iter().find(|name| single(p, name).is_err()) {
            return Err(refuse("invalid_request", format!("{bad} is repeated")));
        }
        // Each is known not to repeat now; the others read leniently, as before.
        let get = |name: &str| single(p, name).ok().flatten().map(str::to_owned);
        if !matches!(
            get("response_mode").as_deref(),
            None | Some("query") | Some("form_post")
        ) {
            return Err(refuse(
                "invalid_request",
                "response_mode must be query or form_post",
            ));
        }
        if get("request").is_some() {
            return Err(refuse(
                "request_not_supported",
                "request objects are not supported",
            ));
        }
        if get("request_uri").is_some() {
            return Err(refuse(
                "request_uri_not_supported",
                "request_uri is not supported",
            ));
        }
        let words: Vec<String> = get("prompt")
            .unwrap_or_default()
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect();
        let has = |w: &str| words.iter().any(|x| x == w);
        let prompt = Prompt {
            none: has("none"),
            login: has("login"),
            consent: has("consent"),
        };
        if prompt.none && words.len() > 1 {
            return Err(refuse(
                "invalid_request",
                "prompt=none cannot be combined with other values",
            ));
        }
        let max_age = match get("max_age").map(|m| m.parse::<i64>()) {
            None => None,
            Some(Ok(n)) if n >= 0 => Some(n),
            Some(_) => {
                return Err(refuse(
                    "invalid_request",
                    "max_age must be a non-negative integer",
                ));
            }
        };
        let code_challenge = get("code_challenge");
        if code_challenge.is_some() && get("code_challenge_method").as_deref() != Some("S256") {
            return Err(refuse(
                "invalid_request",
                "code_challenge_method must be S256",
            ));
        }
        // A SHA-256 JWK thumbprint (RFC 7638), base64url: 43 characters.
        let dpop_jkt = get("dpop_jkt");
        if dpop_jkt.as_deref().is_some_and(|j| {
            j.len() != 43
                || !j
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        }) {
            return Err(refuse(
                "invalid_request",
                "dpop_jkt must be the base64url SHA-256 thumbprint of a JWK",
            ));
        }
        let resource_values: Vec<&str> = p
            .iter()
            .filter(|(k, _)| k == "resource")
            .map(|(_, v)| v.as_str())
            .collect();
        let resources = crate::oauth::target::parse_many(&resource_values)
            .map_err(|m| refuse("invalid_target", m))?;
        Ok(Self {
            resources,
            dpop_jkt,
            scope: get("scope"),
            nonce: get("nonce"),
            prompt,
            max_age,
            code_challenge,
            login_hint: get("login_hint"),
            id_token_hint: get("id_token_hint"),
            claims: get("claims"),
            wants_mfa: crate::auth_methods::asks_for_mfa(get("acr_values").as_deref()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn the_target_is_checked_first() {
        assert!(Target::parse(&params(&[("redirect_uri", "https://a/cb")])).is_err());
        assert!(Target::parse(&params(&[("client_id", "a"), ("client_id", "b")])).is_err());
        let t = Target::parse(&params(&[("client_id", "a")])).unwrap();
        assert_eq!((t.client_id.as_str(), t.redirect_uri), ("a", None));
    }

    #[test]
    fn refusals_name_the_problem() {
        let code =
            |pairs: &[(&str, &str)]| AuthorizeParams::parse(&params(pairs)).unwrap_err().code;
        assert_eq!(code(&[("scope", "a"), ("scope", "b")]), "invalid_request");
        assert_eq!(code(&[("prompt", "none login")]), "invalid_request");
        assert_eq!(code(&[("max_age", "-1")]), "invalid_request");
        assert_eq!(code(&[("code_challenge", "x")]), "invalid_request");
        assert_eq!(code(&[("request", "x")]), "request_not_supported");
        assert_eq!(code(&[("request_uri", "x")]), "request_uri_not_supported");
        assert_eq!(code(&[("dpop_jkt", "short")]), "invalid_request");
        let ok = AuthorizeParams::parse(&params(&[
            ("prompt", "login consent"),
            ("max_age", "0"),
            ("code_challenge", "c"),
            ("code_challenge_method", "S256"),
        ]))
        .unwrap();
        assert!(ok.prompt.login && ok.prompt.consent && !ok.prompt.none);
        assert_eq!(ok.max_age, Some(0));
    }
}
