//! jsonwebtoken's crypto provider, with RSA keys parsed once.
//!
//! jsonwebtoken hands its signer factory the key as DER bytes on every `encode`, and the
//! stock aws-lc-rs provider parses them each time, which costs more than the signature.
//! This provider keeps the parsed aws-lc-rs key pairs, looked up by their DER, and defers
//! everything else (verification, JWK helpers) to the stock aws-lc-rs provider. aws-lc-rs
//! signs in constant time, unlike the `rsa` crate (RUSTSEC-2023-0071).
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner};
use jsonwebtoken::signature::{Error as SigError, Signer};
use jsonwebtoken::{Algorithm, EncodingKey};

static PARSED: LazyLock<RwLock<HashMap<Vec<u8>, Arc<RsaKeyPair>>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

static PROVIDER: OnceLock<CryptoProvider> = OnceLock::new();

/// Install the provider for this process (idempotent); true when it is the one in use.
///
/// jsonwebtoken fixes its default provider the first time anything asks for one (a JWK
/// thumbprint, a signature, a verification), so this must run before any of those: every
/// entry point into `signing` calls it first.
pub fn install() -> bool {
    let provider = PROVIDER.get_or_init(|| CryptoProvider {
        signer_factory,
        ..jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.clone()
    });
    match provider.install_default() {
        Ok(()) => true,
        Err(existing) => std::ptr::eq(existing, provider),
    }
}

/// Parse a PKCS#1 DER private key once and remember it for signing.
pub(crate) fn register(pkcs1_der: &[u8]) -> Result<(), String> {
    let pair = RsaKeyPair::from_der(pkcs1_der).map_err(|e| e.to_string())?;
    let mut map = PARSED
        .write()
        .map_err(|_| "key cache poisoned".to_owned())?;
    map.insert(pkcs1_der.to_vec(), Arc::new(pair));
    Ok(())
}

/// Drop keys no longer in use, so a long-running server does not keep retired keys.
pub(crate) fn retain(live: &[&[u8]]) {
    if let Ok(mut map) = PARSED.write() {
        map.retain(|der, _| live.contains(&der.as_slice()));
    }
}

struct ParsedRs256(Arc<RsaKeyPair>);

impl Signer<Vec<u8>> for ParsedRs256 {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, SigError> {
        let mut sig = vec![0; self.0.public_modulus_len()];
        self.0
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), msg, &mut sig)
            .map_err(SigError::from_source)?;
        Ok(sig)
    }
}

impl JwtSigner for ParsedRs256 {
    fn algorithm(&self) -> Algorithm {
        Algorithm::RS256
    }
}

fn signer_factory(
    alg: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    if *alg == Algorithm::RS256 {
        let cached = PARSED
            .read()
            .ok()
            .and_then(|map| map.get(key.as_bytes()).cloned());
        if let Some(pair) = cached {
            return Ok(Box::new(ParsedRs256(pair)));
        }
    }
    (jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.signer_factory)(alg, key)
}
