//! DPoP (RFC 9449) at Tessera's own endpoints: the token endpoint's proofs (with server
//! nonces) and how userinfo takes a DPoP-bound token. The proof checks themselves are
//! `resource::dpop`'s; what is remembered here is in the database, so a proof replayed at
//! another instance is refused too.
use super::error::OAuthError;
use super::tokens::Confirmation;
use crate::client_profile::Profile;
use crate::config::Settings;
use crate::resource::dpop::{self, IAT_WINDOW, Proof, ProofRequest};
use crate::secrets;
use crate::store::DbConnection;
use crate::store::dpop as dpop_store;

/// How long a nonce we hand out in `DPoP-Nonce` is taken. Nonces are required in every
/// proof at the token endpoint (RFC 9449 §8): the client's clock cannot then be used to
/// make proofs for later, and a client library retries once with the nonce by itself.
pub const NONCE_TTL: i64 = 300;

/// Check a token request's proof (`None` when none was sent) for a client of `profile` and
/// remember it; the thumbprint of its key, to bind the tokens to. Blocking (database).
pub fn at_token_endpoint(
    conn: &mut DbConnection,
    settings: &Settings,
    proof: Option<&str>,
    profile: Profile,
    now: i64,
) -> Result<Option<String>, OAuthError> {
    let Some(proof) = proof else {
        return Ok(None);
    };
    let proof = checked(settings, "/oauth/token", proof, profile, now)?;
    let nonce_live = match &proof.nonce {
        Some(nonce) => dpop_store::nonce_is_live(conn, &secrets::digest(nonce), now)?,
        None => false,
    };
    if !nonce_live {
        return Err(OAuthError::UseDpopNonce {
            nonce: new_nonce(conn, now)?,
        });
    }
    if !remember(conn, &proof)? {
        return Err(OAuthError::InvalidDpopProof(
            "the DPoP proof was already used".into(),
        ));
    }
    Ok(Some(proof.jkt))
}

/// Check a pushed authorization request's proof and remember it; the thumbprint of its
/// key, which the request's code is bound to (RFC 9449 §10.1). No nonce is asked for here:
/// the proof binds nothing yet, and the token endpoint asks for one before it binds tokens.
pub fn at_par(
    conn: &mut DbConnection,
    settings: &Settings,
    proof: &str,
    profile: Profile,
    now: i64,
) -> Result<String, OAuthError> {
    let proof = checked(settings, "/oauth/par", proof, profile, now)?;
    if !remember(conn, &proof)? {
        return Err(OAuthError::InvalidDpopProof(
            "the DPoP proof was already used".into(),
        ));
    }
    Ok(proof.jkt)
}

/// A proof checked against a POST to our `endpoint`, and against what `profile` accepts
/// (before any nonce: a proof that can never be taken is not worth a retry).
fn checked(
    settings: &Settings,
    endpoint: &str,
    proof: &str,
    profile: Profile,
    now: i64,
) -> Result<Proof, OAuthError> {
    let url = settings.endpoint(endpoint);
    let request = ProofRequest {
        method: "POST",
        url: &url,
        access_token: None,
        now,
    };
    let proof =
        dpop::verify(proof, &request).map_err(|e| OAuthError::InvalidDpopProof(e.0.into()))?;
    if !profile.accepts_client_alg(proof.alg) {
        return Err(OAuthError::InvalidDpopProof(
            "this client's profile (FAPI 2.0) takes DPoP proofs signed with PS256, ES256 or \
             EdDSA only"
                .into(),
        ));
    }
    Ok(proof)
}

/// A fresh nonce, remembered (by digest) for [`NONCE_TTL`].
fn new_nonce(conn: &mut DbConnection, now: i64) -> Result<String, OAuthError> {
    let nonce = secrets::random_token(32);
    dpop_store::add_nonce(conn, &secrets::digest(&nonce), now + NONCE_TTL)?;
    Ok(nonce)
}

/// Remember a proof until its `iat` leaves the window; `false` if it was seen already.
fn remember(conn: &mut DbConnection, proof: &Proof) -> Result<bool, OAuthError> {
    let until = proof.iat + IAT_WINDOW + 1;
    Ok(dpop_store::remember_proof(
        conn,
        &secrets::digest(&proof.replay_key()),
        until,
    )?)
}

/// How an access token came to one of our resources.
#[derive(Debug)]
pub enum Presented {
    /// `Authorization: Bearer` or the form's `access_token`.
    Bearer,
    /// `Authorization: DPoP`, with the request's `DPoP` header (if any), method and the
    /// public URL of the endpoint.
    Dpop {
        proof: Option<String>,
        method: String,
        url: String,
    },
}

/// RFC 9449 §7: a DPoP-bound token only with a proof of its key (and `ath` for it); a
/// token sent with the DPoP scheme must be bound. Blocking (database: the replay check).
pub fn check_presented(
    conn: &mut DbConnection,
    presented: &Presented,
    cnf: Option<&Confirmation>,
    token: &str,
    now: i64,
) -> Result<(), OAuthError> {
    let refused = |error: &'static str, description: &str| OAuthError::DpopRefused {
        error,
        description: description.to_owned(),
    };
    let (proof, method, url) = match (presented, cnf) {
        (Presented::Bearer, None) => return Ok(()),
        (Presented::Bearer, Some(_)) => {
            return Err(refused(
                "invalid_token",
                "the access token is DPoP-bound: present it with the DPoP scheme and a proof",
            ));
        }
        (Presented::Dpop { .. }, None) => {
            return Err(refused(
                "invalid_token",
                "the access token is not DPoP-bound: present it with the Bearer scheme",
            ));
        }
        (Presented::Dpop { proof, method, url }, Some(_)) => (proof, method, url),
    };
    let Some(proof) = proof else {
        return Err(refused("invalid_dpop_proof", "a DPoP proof is required"));
    };
    let request = ProofRequest {
        method,
        url,
        access_token: Some(token),
        now,
    };
    let proof = dpop::verify(proof, &request).map_err(|e| refused("invalid_dpop_proof", e.0))?;
    if cnf.map(|c| c.jkt.as_str()) != Some(proof.jkt.as_str()) {
        return Err(refused(
            "invalid_dpop_proof",
            "the DPoP proof is signed by another key than the token is bound to",
        ));
    }
    if !remember(conn, &proof)? {
        return Err(refused(
            "invalid_dpop_proof",
            "the DPoP proof was already used",
        ));
    }
    Ok(())
}
