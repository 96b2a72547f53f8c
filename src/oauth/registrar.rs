//! oxide-auth's `Registrar` over the `clients` table: exact redirect URI matching, scope
//! negotiation against what the client may ask for, and client authentication.
use std::borrow::Cow;

use oxide_auth::endpoint::{PreGrant, Registrar, Scope};
use oxide_auth::primitives::registrar::{
    BoundClient, ClientUrl, ExactUrl, RegisteredUrl, RegistrarError,
};

use super::context::Shared;
use crate::secrets::SecretString;

/// Stands in for a redirect URI where a grant has none (client credentials).
pub const NO_REDIRECT: &str = "urn:tessera:no-redirect";

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
        let registered: Vec<&str> = client
            .redirect_uris
            .split(' ')
            .filter(|u| !u.is_empty())
            .collect();
        let uri = match bound.redirect_uri {
            // Exact string comparison (RFC 6749 §3.1.2.3, OAuth 2.1): no normalisation.
            Some(uri) if registered.contains(&uri.as_str()) => uri.into_owned(),
            Some(_) => return Err(RegistrarError::Unspecified),
            None if ctx.client_credentials => {
                ExactUrl::new(NO_REDIRECT.to_owned()).map_err(|_| RegistrarError::PrimitiveError)?
            }
            None if registered.len() == 1 => ExactUrl::new(registered[0].to_owned())
                .map_err(|_| RegistrarError::PrimitiveError)?,
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
        let allowed: Vec<&str> = client.scopes.split(' ').filter(|s| !s.is_empty()).collect();
        let scope = match scope {
            Some(requested) => {
                // Everything asked for must be allowed: silently dropping scopes would hide
                // a misconfiguration from the app's developer.
                if requested.iter().any(|s| !allowed.contains(&s)) {
                    return Err(RegistrarError::Unspecified);
                }
                requested
            }
            // Client credentials without a scope: the client's scopes that make sense for
            // a machine (no user, so no OpenID Connect scopes).
            None if ctx.client_credentials => allowed
                .iter()
                .filter(|s| {
                    !matches!(
                        **s,
                        "openid" | "offline_access" | "profile" | "email" | "address" | "phone"
                    )
                })
                .copied()
                .collect::<Vec<_>>()
                .join(" ")
                .parse()
                .map_err(|_| RegistrarError::PrimitiveError)?,
            None => return Err(RegistrarError::Unspecified),
        };
        Ok(PreGrant {
            client_id: bound.client_id.into_owned(),
            redirect_uri: bound.redirect_uri.into_owned(),
            scope,
        })
    }

    fn check(&self, client_id: &str, passphrase: Option<&[u8]>) -> Result<(), RegistrarError> {
        let mut ctx = self.0.borrow_mut();
        let client = match ctx.client(client_id) {
            Ok(Some(c)) => c,
            Ok(None) => return Err(RegistrarError::Unspecified),
            Err(e) => {
                ctx.fail(e);
                return Err(RegistrarError::PrimitiveError);
            }
        };
        match passphrase {
            None if client.is_public => Ok(()),
            Some(secret) if !client.is_public => {
                let secret = SecretString::new(String::from_utf8_lossy(secret).into_owned());
                if ctx.secrets.verify(&client, &secret) {
                    Ok(())
                } else {
                    Err(RegistrarError::Unspecified)
                }
            }
            _ => Err(RegistrarError::Unspecified),
        }
    }
}
