//! What a client registration is made of: redirect URIs, grant types, scopes.
use std::fmt;

use url::Url;

/// A redirect URI as registered: absolute, no fragment (RFC 6749 §3.1.2), and compared
/// later by exact string match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedirectUri(String);

impl RedirectUri {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let url = Url::parse(raw).map_err(|_| format!("'{raw}' is not an absolute URI"))?;
        if url.fragment().is_some() {
            return Err(format!("redirect URI '{raw}' must not contain a fragment"));
        }
        match url.scheme() {
            "javascript" | "data" | "file" | "vbscript" => Err(format!(
                "redirect URI scheme '{}' is not allowed",
                url.scheme()
            )),
            "http" | "https" if url.host_str().is_none() => {
                Err(format!("redirect URI '{raw}' has no host"))
            }
            _ => Ok(Self(raw.to_owned())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The grants Tessera implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    /// RFC 8628: a device without a browser (a TV, a CLI) signs its user in elsewhere.
    DeviceCode,
    /// RFC 8693: a service trades a token it was given for one to another API.
    TokenExchange,
}

impl GrantType {
    pub const ALL: [GrantType; 5] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
        GrantType::DeviceCode,
        GrantType::TokenExchange,
    ];

    pub fn parse(raw: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == raw)
            .ok_or_else(|| {
                format!(
                    "unknown grant type '{raw}' (expected authorization_code, refresh_token, client_credentials, urn:ietf:params:oauth:grant-type:device_code or urn:ietf:params:oauth:grant-type:token-exchange)"
                )
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
            GrantType::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
            GrantType::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
        }
    }
}

impl fmt::Display for GrantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Public clients (browser and native apps) cannot keep a secret; confidential ones can.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    Public,
    Confidential,
}

/// One scope token: printable ASCII except space, `"` and `\` (RFC 6749 §3.3).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Scope(String);

impl Scope {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("scope must not be empty".into());
        }
        if raw.chars().all(|c| {
            c == '!' || ('\u{23}'..='\u{5B}').contains(&c) || ('\u{5D}'..='\u{7E}').contains(&c)
        }) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!("'{raw}' is not a valid scope token"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A set of scopes, kept in first-seen order, without duplicates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ScopeSet(Vec<Scope>);

impl ScopeSet {
    /// Parse a space-separated scope string.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut set = ScopeSet::default();
        for part in raw.split(' ').filter(|p| !p.is_empty()) {
            set.insert(Scope::parse(part)?);
        }
        Ok(set)
    }

    pub fn insert(&mut self, scope: Scope) {
        if !self.0.contains(&scope) {
            self.0.push(scope);
        }
    }

    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s.as_str() == scope)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    /// Every scope of this set is in `other`.
    pub fn is_subset(&self, other: &ScopeSet) -> bool {
        self.0.iter().all(|s| other.0.contains(s))
    }

    /// The same scopes, in the order `reference` lists them (ones it lacks go last), so
    /// tokens show scopes in the order the client registered or first asked for them.
    pub fn ordered_like(&self, reference: &ScopeSet) -> ScopeSet {
        let mut out: ScopeSet = reference
            .iter()
            .filter(|s| self.0.contains(s))
            .cloned()
            .collect();
        for s in &self.0 {
            out.insert(s.clone());
        }
        out
    }

    /// The scopes `keep` says yes to.
    pub fn filtered(&self, keep: impl Fn(&Scope) -> bool) -> ScopeSet {
        self.0.iter().filter(|s| keep(s)).cloned().collect()
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let joined: Vec<&str> = self.0.iter().map(Scope::as_str).collect();
        f.write_str(&joined.join(" "))
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut set = ScopeSet::default();
        for s in iter {
            set.insert(s);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_absolute_without_fragment() {
        assert!(RedirectUri::parse("https://app.example/cb").is_ok());
        assert!(RedirectUri::parse("com.example.app:/oauth2redirect").is_ok());
        assert!(RedirectUri::parse("/relative").is_err());
        assert!(RedirectUri::parse("https://app.example/cb#frag").is_err());
        assert!(RedirectUri::parse("javascript:alert(1)").is_err());
    }

    #[test]
    fn scope_sets_dedupe_and_keep_order() {
        let s = ScopeSet::parse("openid  email openid profile").unwrap();
        assert_eq!(s.to_string(), "openid email profile");
        assert!(ScopeSet::parse("bad\"scope").is_err());
    }

    #[test]
    fn scope_sets_compare_and_reorder() {
        let registered = ScopeSet::parse("openid profile email").unwrap();
        let asked = ScopeSet::parse("email openid").unwrap();
        assert!(asked.is_subset(&registered));
        assert!(!registered.is_subset(&asked));
        assert_eq!(asked.ordered_like(&registered).to_string(), "openid email");
        let extra = ScopeSet::parse("phone email").unwrap();
        assert_eq!(extra.ordered_like(&registered).to_string(), "email phone");
    }

    #[test]
    fn grant_types_parse_by_their_rfc_names() {
        assert_eq!(
            GrantType::parse("client_credentials").unwrap(),
            GrantType::ClientCredentials
        );
        assert!(GrantType::parse("password").is_err());
        assert_eq!(
            GrantType::parse("urn:ietf:params:oauth:grant-type:device_code").unwrap(),
            GrantType::DeviceCode
        );
        assert!(GrantType::parse("device_code").is_err());
    }
}
