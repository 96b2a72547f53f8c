//! RFC 9728 protected resource metadata for an API guarded by this module: the document
//! at `/.well-known/oauth-protected-resource` (plus the resource's path), and the
//! `resource_metadata` parameter added to the `WWW-Authenticate` challenge of every 401, so
//! a client that knows only the API finds its authorization server (as MCP clients do).
//!
//! ```no_run
//! use actix_web::middleware::from_fn;
//! use actix_web::{App, web};
//! use tessera::resource::{ProtectedResource, challenge, metadata_document};
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let resource = ProtectedResource::new("https://api.example.com", "https://id.example.com")?
//!     .scopes(&["notes:read"]);
//! let path = resource.metadata_path().to_owned();
//! let resource = web::Data::new(resource);
//! let app = App::new()
//!     .app_data(resource)
//!     .wrap(from_fn(challenge))
//!     .route(&path, web::get().to(metadata_document));
//! # Ok(()) }
//! ```
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderValue, WWW_AUTHENTICATE};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use url::Url;

const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// Why a resource identifier cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MetadataError {
    #[error(
        "the resource identifier '{0}' must be an absolute http(s) URL without query or fragment"
    )]
    InvalidResource(String),
    #[error("the authorization server '{0}' must be an absolute http(s) URL")]
    InvalidIssuer(String),
}

/// One API's metadata: its identifier (what tokens name in `aud`), the authorization
/// servers that issue tokens for it, and the scopes it understands.
#[derive(Clone, Debug)]
pub struct ProtectedResource {
    resource: String,
    authorization_servers: Vec<String>,
    scopes: Vec<String>,
    name: Option<String>,
    metadata_path: String,
    metadata_url: String,
}

fn http_url(raw: &str) -> Option<Url> {
    Url::parse(raw)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
}

impl ProtectedResource {
    /// `resource` is the API's identifier; `authorization_server` the issuer of its tokens.
    pub fn new(resource: &str, authorization_server: &str) -> Result<Self, MetadataError> {
        let invalid = || MetadataError::InvalidResource(resource.to_owned());
        let url = http_url(resource).ok_or_else(invalid)?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err(invalid());
        }
        http_url(authorization_server)
            .ok_or_else(|| MetadataError::InvalidIssuer(authorization_server.to_owned()))?;
        // RFC 9728 §3.1: the well-known segment goes between the host and the path.
        let path = url.path().trim_end_matches('/');
        let metadata_path = format!("{WELL_KNOWN}{path}");
        let metadata_url = format!("{}{metadata_path}", url.origin().ascii_serialization());
        Ok(Self {
            resource: resource.to_owned(),
            authorization_servers: vec![authorization_server.to_owned()],
            scopes: Vec::new(),
            name: None,
            metadata_path,
            metadata_url,
        })
    }

    /// The scopes this API understands (`scopes_supported`).
    pub fn scopes(mut self, scopes: &[&str]) -> Self {
        self.scopes = scopes.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// A name for people (`resource_name`).
    pub fn name(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    pub fn resource(&self) -> &str {
        &self.resource
    }

    /// Where the document is served on this API's own server.
    pub fn metadata_path(&self) -> &str {
        &self.metadata_path
    }

    /// The document's absolute URL, as `resource_metadata` names it.
    pub fn metadata_url(&self) -> &str {
        &self.metadata_url
    }

    pub fn document(&self) -> Value {
        let mut doc = json!({
            "resource": self.resource,
            "authorization_servers": self.authorization_servers,
            "bearer_methods_supported": ["header"],
        });
        if !self.scopes.is_empty() {
            doc["scopes_supported"] = json!(self.scopes);
        }
        if let Some(name) = &self.name {
            doc["resource_name"] = json!(name);
        }
        doc
    }

    /// A 401 challenge with `resource_metadata` added (RFC 9728 §5.1).
    fn challenge(&self, existing: Option<&str>) -> String {
        let param = format!("resource_metadata=\"{}\"", self.metadata_url);
        match existing {
            Some(bearer)
                if bearer
                    .get(..6)
                    .is_some_and(|s| s.eq_ignore_ascii_case("bearer")) =>
            {
                if bearer.trim().len() == 6 {
                    format!("Bearer {param}")
                } else {
                    format!("{bearer}, {param}")
                }
            }
            _ => format!("Bearer {param}"),
        }
    }
}

/// The handler serving the [`ProtectedResource`] in the app data.
pub async fn metadata_document(req: HttpRequest) -> HttpResponse {
    match req.app_data::<web::Data<ProtectedResource>>() {
        Some(resource) => HttpResponse::Ok()
            .insert_header(("Cache-Control", "public, max-age=3600"))
            .insert_header(("Access-Control-Allow-Origin", "*"))
            .json(resource.document()),
        None => {
            tracing::error!("the protected resource metadata route has no ProtectedResource");
            HttpResponse::InternalServerError().finish()
        }
    }
}

/// Middleware (`actix_web::middleware::from_fn(challenge)`): every 401 of the wrapped
/// service names the metadata document in its Bearer challenge.
pub async fn challenge(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let resource = req.app_data::<web::Data<ProtectedResource>>().cloned();
    let mut res = next.call(req).await?;
    if res.status() == StatusCode::UNAUTHORIZED
        && let Some(resource) = resource
    {
        let existing = res
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok());
        if let Ok(value) = HeaderValue::from_str(&resource.challenge(existing)) {
            res.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_segment_goes_before_the_path() {
        let root = ProtectedResource::new("https://api.example.com", "https://id.example").unwrap();
        assert_eq!(root.metadata_path(), WELL_KNOWN);
        assert_eq!(
            root.metadata_url(),
            "https://api.example.com/.well-known/oauth-protected-resource"
        );
        let nested =
            ProtectedResource::new("https://api.example.com:8443/v1/", "https://id.example")
                .unwrap();
        assert_eq!(
            nested.metadata_url(),
            "https://api.example.com:8443/.well-known/oauth-protected-resource/v1"
        );
        assert_eq!(
            nested.document()["resource"],
            "https://api.example.com:8443/v1/"
        );
    }

    #[test]
    fn identifiers_with_query_or_fragment_are_refused() {
        for bad in [
            "https://api.example.com/?a=b",
            "https://api.example.com/#x",
            "urn:api",
            "api",
            "ftp://api.example.com",
        ] {
            assert!(
                ProtectedResource::new(bad, "https://id.example").is_err(),
                "{bad}"
            );
        }
        assert!(ProtectedResource::new("https://api.example.com", "id").is_err());
    }

    #[test]
    fn challenges_keep_what_was_there() {
        let r = ProtectedResource::new("https://api.example.com", "https://id.example").unwrap();
        let meta =
            "resource_metadata=\"https://api.example.com/.well-known/oauth-protected-resource\"";
        assert_eq!(r.challenge(None), format!("Bearer {meta}"));
        assert_eq!(
            r.challenge(Some("Bearer realm=\"api\", error=\"invalid_token\"")),
            format!("Bearer realm=\"api\", error=\"invalid_token\", {meta}")
        );
        assert_eq!(
            r.challenge(Some("Basic realm=\"x\"")),
            format!("Bearer {meta}")
        );
    }
}
