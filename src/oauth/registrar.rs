//! oxide-auth's `Registrar` at the authorization endpoint: exact redirect URI matching and
//! scope negotiation against what the client may ask for. (Clients authenticate at the
//! token endpoint through `client_auth`, not here.)
use std::borrow::Cow;

use oxide_auth::endpoint::{PreGrant, Registrar, Scope};
use oxide_auth::primitives::registrar::{
    BoundClient, ClientUrl, ExactUrl, RegisteredUrl, RegistrarError,
};

use super::context::Shared;

pub struct DbRegistrar(pub Shared);

impl Registrar for DbRegistrar {
    fn bound_redirect<'a>(&self, bound: ClientUrl<'a>) -> Result<BoundClient<'a>, RegistrarError> {
        let mut ctx = self.0.borrow_mut();
        let client = match ctx.client(&bound.client_id) {
            Ok(Some(c)) => c,
            Ok(None) => return Err(RegistrarError::Unspecified),
            Err(e) => {
                ctx.fail(e);
                return Err(RegistrarError::PrimitiveError);
            }
        };
        let uri = match bound.redirect_uri {
            Some(uri) if client.has_redirect_uri(uri.as_str()) => uri.into_owned(),
            Some(_) => return Err(RegistrarError::Unspecified),
            None if client.redirect_uris.len() == 1 => {
                ExactUrl::new(client.redirect_uris[0].as_str().to_owned())
                    .map_err(|_| RegistrarError::PrimitiveError)?
            }
            None => return Err(RegistrarError::Unspecified),
        };
        Ok(BoundClient {
            client_id: bound.client_id,
            redirect_uri: Cow::Owned(RegisteredUrl::Exact(uri)),
        })
    }

    fn negotiate(
        &self,
        bound: BoundClient,
        scope: Option<Scope>,
    ) -> Result<PreGrant, RegistrarError> {
        let mut ctx = self.0.borrow_mut();
        let client = match ctx.client(&bound.client_id) {
            Ok(Some(c)) => c,
            Ok(None) => return Err(RegistrarError::Unspecified),
            Err(e) => {
                ctx.fail(e);
                return Err(RegistrarError::PrimitiveError);
            }
        };
        let scope = match scope {
            // Everything asked for must be allowed: silently dropping scopes would hide a
            // misconfiguration from the app's developer.
            Some(requested) if requested.iter().all(|s| client.scopes.contains(s)) => requested,
            _ => return Err(RegistrarError::Unspecified),
        };
        Ok(PreGrant {
            client_id: bound.client_id.into_owned(),
            redirect_uri: bound.redirect_uri.into_owned(),
            scope,
        })
    }

    /// Only the token flows authenticate clients through the registrar, and Tessera runs
    /// those without oxide-auth.
    fn check(&self, _client_id: &str, _passphrase: Option<&[u8]>) -> Result<(), RegistrarError> {
        Err(RegistrarError::Unspecified)
    }
}
