//! Resource indicators (RFC 8707): which API a token is for. A request names at most one
//! resource per token; it must be registered, allowed for the client and, for a user's
//! grant that named resources when it was authorized, one of those. The token then names
//! that API alone in `aud`, carries only the scopes the API accepts, and lives and is
//! signed as the API says.
use crate::clients::Client;
use crate::domain::ScopeSet;
use crate::oauth::OAuthError;
use crate::resources::{self, Resource, ResourceId};
use crate::store::DbConnection;

/// The `resource` parameter of a token request: absent, or one absolute URI. Several are
/// refused: a token names one API, so a client that wants two asks twice.
pub fn parse_single(values: &[&str]) -> Result<Option<ResourceId>, OAuthError> {
    let values: Vec<&str> = values.iter().copied().filter(|v| !v.is_empty()).collect();
    match values.as_slice() {
        [] => Ok(None),
        [one] => ResourceId::parse(one)
            .map(Some)
            .map_err(OAuthError::InvalidTarget),
        _ => Err(OAuthError::InvalidTarget(
            "one resource per token: send resource once".into(),
        )),
    }
}

/// The resources an authorization request names (RFC 8707 §2.1 allows several; each
/// token later picks one of them). `Err` is the `invalid_target` description.
pub fn parse_many(values: &[&str]) -> Result<Vec<ResourceId>, String> {
    let mut out: Vec<ResourceId> = Vec::new();
    for raw in values.iter().filter(|v| !v.is_empty()) {
        let id = ResourceId::parse(raw)?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// The registered resource `asked`, if `client` may use it. `granted` is what the user's
/// grant named when authorized (`None`: it named none, so any the client may use).
pub fn resolve(
    conn: &mut DbConnection,
    client: &Client,
    asked: &ResourceId,
    granted: Option<&[String]>,
) -> Result<Resource, OAuthError> {
    let Some(resource) = resources::by_identifier(conn, asked.as_str())? else {
        return Err(OAuthError::InvalidTarget(format!(
            "no resource '{asked}' is registered"
        )));
    };
    if !client.may_target(asked.as_str()) {
        return Err(OAuthError::InvalidTarget(format!(
            "this client may not ask for tokens for '{asked}'"
        )));
    }
    if let Some(granted) = granted
        && !granted.iter().any(|g| g == asked.as_str())
    {
        return Err(OAuthError::InvalidTarget(format!(
            "'{asked}' is not one of the resources this grant was authorized for"
        )));
    }
    Ok(resource)
}

/// The scopes a token for `resource` carries: those of `scope` the resource accepts. None
/// left means the token would allow nothing there, which is refused rather than issued.
pub fn narrow(scope: &ScopeSet, resource: &Resource) -> Result<ScopeSet, OAuthError> {
    let narrowed = scope.filtered(|s| resource.scopes.contains(s.as_str()));
    if narrowed.is_empty() {
        return Err(OAuthError::InvalidScope(format!(
            "none of the scopes is one that '{}' accepts ({})",
            resource.identifier, resource.scopes
        )));
    }
    Ok(narrowed)
}

/// The resources stored with a grant, split.
pub fn stored(resources: Option<&str>) -> Option<Vec<String>> {
    resources.map(|r| {
        r.split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_resource_per_token() {
        assert!(parse_single(&[]).unwrap().is_none());
        assert!(parse_single(&[""]).unwrap().is_none());
        assert_eq!(
            parse_single(&["https://a.example"])
                .unwrap()
                .unwrap()
                .as_str(),
            "https://a.example"
        );
        let two = parse_single(&["https://a.example", "https://b.example"]).unwrap_err();
        assert_eq!(two.code(), "invalid_target");
        assert_eq!(
            parse_single(&["not a uri"]).unwrap_err().code(),
            "invalid_target"
        );
        assert_eq!(
            parse_single(&["https://a.example/#frag"])
                .unwrap_err()
                .code(),
            "invalid_target"
        );
    }

    #[test]
    fn authorization_requests_may_name_several() {
        let many = parse_many(&[
            "https://a.example",
            "https://b.example",
            "https://a.example",
        ])
        .unwrap();
        assert_eq!(many.len(), 2);
        assert!(parse_many(&["https://a.example?x=1"]).is_err());
    }
}
