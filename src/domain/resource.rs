//! An API's identifier (RFC 8707 resources), parsed at the edge like the other inputs.

/// The longest identifier accepted: an API's URL, not a document.
const MAX_IDENTIFIER: usize = 512;

/// A resource identifier (RFC 8707 §2): an absolute URI without a fragment. Tessera also
/// asks for http(s) and no query, so the identifier is the URL an RFC 9728 document
/// describes and stays one token in the space-separated lists it is stored in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ResourceId(String);

impl ResourceId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "resource identifier '{}' must be an absolute http(s) URI without query or fragment",
                raw.chars().take(80).collect::<String>()
            )
        };
        if raw.len() > MAX_IDENTIFIER || raw.contains(char::is_whitespace) {
            return Err(bad());
        }
        let url = url::Url::parse(raw).map_err(|_| bad())?;
        if !matches!(url.scheme(), "http" | "https")
            || url.host_str().is_none()
            || url.query().is_some()
            || url.fragment().is_some()
            || raw.contains('#')
            || raw.contains('?')
        {
            return Err(bad());
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
