//! What dynamic registration allows: whether it is on (`TESSERA_REGISTRATION`), which
//! redirect URIs a self-registered client may name, and which scopes and grant types it
//! may get. Parsed once with the other settings.
use url::Url;

use crate::domain::{GrantType, RedirectUri, ResourceId, ScopeSet};

/// `TESSERA_REGISTRATION`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    /// No dynamic registration: `/oauth/register` answers 404 and discovery omits it.
    #[default]
    Off,
    /// Anyone may register (within the policy and the per-address throttle).
    Open,
    /// A registration must carry an initial access token an administrator minted.
    Token,
}

impl Mode {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "off" => Ok(Mode::Off),
            "open" => Ok(Mode::Open),
            "token" => Ok(Mode::Token),
            other => Err(format!("expected off, open or token, got '{other}'")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Off => "off",
            Mode::Open => "open",
            Mode::Token => "token",
        }
    }
}

/// One allowed shape of redirect URI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UriPattern {
    /// `http` on a loopback host (127.0.0.1, [::1], localhost), any port (RFC 8252 §7.3).
    Loopback,
    /// Any `https` URI.
    Https,
    /// A private-use scheme with a dot, as native apps use (RFC 8252 §7.1),
    /// e.g. `com.example.app:/callback`.
    PrivateUse,
    /// The same scheme, host and port as this URL, and a path under its path.
    Prefix(Url),
}

impl UriPattern {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "loopback" => Ok(UriPattern::Loopback),
            "https" => Ok(UriPattern::Https),
            "private-use" => Ok(UriPattern::PrivateUse),
            other => {
                let url = Url::parse(other).map_err(|_| {
                    format!(
                        "expected loopback, https, private-use or an absolute http(s) URL prefix, got '{other}'"
                    )
                })?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err(format!(
                        "a URL prefix must be http(s) with a host, got '{other}'"
                    ));
                }
                if url.query().is_some() || url.fragment().is_some() {
                    return Err(format!(
                        "a URL prefix has no query or fragment, got '{other}'"
                    ));
                }
                Ok(UriPattern::Prefix(url))
            }
        }
    }

    /// In words, for the console.
    pub fn describe(&self) -> &str {
        match self {
            UriPattern::Loopback => "http on loopback (127.0.0.1, [::1], localhost)",
            UriPattern::Https => "any https URI",
            UriPattern::PrivateUse => "private-use schemes with a dot (com.example.app:/...)",
            UriPattern::Prefix(url) => url.as_str(),
        }
    }

    fn allows(&self, uri: &Url) -> bool {
        match self {
            UriPattern::Loopback => {
                uri.scheme() == "http"
                    && matches!(uri.host_str(), Some("127.0.0.1" | "[::1]" | "localhost"))
            }
            UriPattern::Https => uri.scheme() == "https" && uri.host_str().is_some(),
            UriPattern::PrivateUse => {
                !matches!(uri.scheme(), "http" | "https") && uri.scheme().contains('.')
            }
            UriPattern::Prefix(prefix) => {
                uri.scheme() == prefix.scheme()
                    && uri.host_str() == prefix.host_str()
                    && uri.port_or_known_default() == prefix.port_or_known_default()
                    && path_under(uri.path(), prefix.path())
            }
        }
    }
}

/// `path` is `base` or below it as whole segments (`/app` does not admit `/application`).
fn path_under(path: &str, base: &str) -> bool {
    if base.ends_with('/') {
        path.starts_with(base)
    } else {
        path == base
            || path
                .strip_prefix(base)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// The registration settings.
#[derive(Clone, Debug)]
pub struct RegistrationPolicy {
    pub mode: Mode,
    pub redirect_uris: Vec<UriPattern>,
    /// The scopes a self-registered client may hold; one that asks for none gets all.
    pub scopes: ScopeSet,
    pub grant_types: Vec<GrantType>,
    /// The APIs (RFC 8707 resources) a self-registered client may ask tokens for: what an
    /// MCP client needs, since it names the API it found in every request. Only those
    /// registered when the client registers are given; none by default.
    pub resources: Vec<ResourceId>,
}

pub const DEFAULT_REDIRECT_URIS: &str = "loopback,https";
pub const DEFAULT_SCOPES: &str = "openid profile email offline_access";
pub const DEFAULT_GRANT_TYPES: &str =
    "authorization_code,refresh_token,urn:ietf:params:oauth:grant-type:device_code";

impl Default for RegistrationPolicy {
    fn default() -> Self {
        Self {
            mode: Mode::Off,
            redirect_uris: vec![UriPattern::Loopback, UriPattern::Https],
            scopes: ScopeSet::parse(DEFAULT_SCOPES).unwrap_or_default(),
            grant_types: vec![
                GrantType::AuthorizationCode,
                GrantType::RefreshToken,
                GrantType::DeviceCode,
            ],
            resources: Vec::new(),
        }
    }
}

/// Comma- or space-separated items.
fn items(raw: &str) -> impl Iterator<Item = &str> {
    raw.split([',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

pub fn parse_patterns(raw: &str) -> Result<Vec<UriPattern>, String> {
    let patterns = items(raw)
        .map(UriPattern::parse)
        .collect::<Result<Vec<_>, _>>()?;
    if patterns.is_empty() {
        return Err(
            "name at least one pattern (loopback, https, private-use or a URL prefix)".into(),
        );
    }
    Ok(patterns)
}

pub fn parse_scopes(raw: &str) -> Result<ScopeSet, String> {
    let scopes = ScopeSet::parse(&items(raw).collect::<Vec<_>>().join(" "))?;
    if scopes.is_empty() {
        return Err("name at least one scope".into());
    }
    Ok(scopes)
}

pub fn parse_grant_types(raw: &str) -> Result<Vec<GrantType>, String> {
    let mut out = Vec::new();
    for g in items(raw) {
        let g = GrantType::parse(g)?;
        if !out.contains(&g) {
            out.push(g);
        }
    }
    if out.is_empty() {
        return Err("name at least one grant type".into());
    }
    Ok(out)
}

/// Resource identifiers, comma- or space-separated; none is allowed (the default).
pub fn parse_resources(raw: &str) -> Result<Vec<ResourceId>, String> {
    let mut out = Vec::new();
    for r in items(raw) {
        let id = ResourceId::parse(r)?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

impl RegistrationPolicy {
    /// The first redirect URI the patterns do not admit, with why.
    pub fn check_uris(&self, uris: &[RedirectUri]) -> Result<(), String> {
        uris.iter()
            .try_for_each(|uri| self.check_uri("redirect URI", uri.as_str()))
    }

    /// Whether the patterns admit `uri` (a redirect URI, or another URL a client names).
    pub fn check_uri(&self, what: &str, uri: &str) -> Result<(), String> {
        let allowed =
            Url::parse(uri).is_ok_and(|u| self.redirect_uris.iter().any(|p| p.allows(&u)));
        if allowed {
            Ok(())
        } else {
            Err(format!(
                "{what} '{uri}' is outside this server's registration policy"
            ))
        }
    }

    pub fn check_grant_types(&self, grants: &[GrantType]) -> Result<(), String> {
        match grants.iter().find(|g| !self.grant_types.contains(g)) {
            Some(g) => Err(format!(
                "grant type '{g}' is not available to self-registered clients"
            )),
            None => Ok(()),
        }
    }

    pub fn check_scopes(&self, scopes: &ScopeSet) -> Result<(), String> {
        match scopes.iter().find(|s| !self.scopes.contains(s.as_str())) {
            Some(s) => Err(format!(
                "scope '{}' is not available to self-registered clients",
                s.as_str()
            )),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(raw: &str) -> Vec<RedirectUri> {
        vec![RedirectUri::parse(raw).unwrap()]
    }

    #[test]
    fn the_default_admits_loopback_and_https_only() {
        let p = RegistrationPolicy::default();
        assert!(p.check_uris(&uri("http://127.0.0.1:4711/cb")).is_ok());
        assert!(p.check_uris(&uri("http://localhost/cb")).is_ok());
        assert!(p.check_uris(&uri("http://[::1]:9/cb")).is_ok());
        assert!(p.check_uris(&uri("https://app.example/cb")).is_ok());
        assert!(p.check_uris(&uri("http://app.example/cb")).is_err());
        assert!(
            p.check_uris(&uri("http://127.0.0.1.evil.example/cb"))
                .is_err()
        );
        assert!(p.check_uris(&uri("com.example.app:/cb")).is_err());
    }

    #[test]
    fn prefixes_match_whole_origins_and_path_segments() {
        let p = RegistrationPolicy {
            redirect_uris: parse_patterns("https://apps.example/tenant, private-use").unwrap(),
            ..RegistrationPolicy::default()
        };
        assert!(p.check_uris(&uri("https://apps.example/tenant/cb")).is_ok());
        assert!(p.check_uris(&uri("https://apps.example/tenant")).is_ok());
        assert!(
            p.check_uris(&uri("https://apps.example/tenantx/cb"))
                .is_err()
        );
        assert!(
            p.check_uris(&uri("https://apps.example.evil/tenant/cb"))
                .is_err()
        );
        assert!(
            p.check_uris(&uri("https://apps.example:444/tenant/cb"))
                .is_err()
        );
        assert!(p.check_uris(&uri("http://apps.example/tenant/cb")).is_err());
        assert!(p.check_uris(&uri("com.example.app:/cb")).is_ok());
        assert!(p.check_uris(&uri("myapp:/cb")).is_err());
    }

    #[test]
    fn bad_settings_are_refused() {
        assert!(parse_patterns("").is_err());
        assert!(parse_patterns("ftp://x/").is_err());
        assert!(parse_patterns("https://x/?q").is_err());
        assert!(parse_grant_types("password").is_err());
        assert!(parse_scopes(" ").is_err());
        assert_eq!(Mode::parse("token").unwrap(), Mode::Token);
        assert!(Mode::parse("on").is_err());
    }
}
