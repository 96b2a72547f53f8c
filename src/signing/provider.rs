//! jsonwebtoken's crypto provider, with signing keys parsed once.
//!
//! jsonwebtoken hands its signer factory the key as DER bytes on every `encode`, and the
//! stock aws-lc-rs provider parses them each time, which costs more than the signature
//! (for RSA; for P-256 and Ed25519 it is most of the cost). This provider keeps the parsed
//! aws-lc-rs key pairs, looked up by their DER, and defers everything else (verification,
//! JWK helpers) to the stock aws-lc-rs provider. aws-lc-rs signs in constant time, unlike
//! the `rsa` crate (RUSTSEC-2023-0071).
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock, RwLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, RSA_PKCS1_SHA256,
    RSA_PSS_SHA256, RsaKeyPair,
};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner};
use jsonwebtoken::signature::{Error as SigError, Signer};
use jsonwebtoken::{Algorithm, EncodingKey};

use super::alg::SigningAlg;

/// A parsed key pair, with the one algorithm it signs for.
enum Parsed {
    Rsa(SigningAlg, RsaKeyPair),
    P256(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl Parsed {
    fn alg(&self) -> SigningAlg {
        match self {
            Parsed::Rsa(alg, _) => *alg,
            Parsed::P256(_) => SigningAlg::Es256,
            Parsed::Ed25519(_) => SigningAlg::EdDsa,
        }
    }
}

static PARSED: LazyLock<RwLock<HashMap<Vec<u8>, Arc<Parsed>>>> =
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

/// Parse a private key of `alg` once and remember it for signing: PKCS#1 DER for RSA
/// (what jsonwebtoken's RSA `EncodingKey` holds), PKCS#8 for P-256 and Ed25519.
pub(crate) fn register(alg: SigningAlg, der: &[u8]) -> Result<(), String> {
    let parsed = match alg {
        SigningAlg::Rs256 | SigningAlg::Ps256 => {
            Parsed::Rsa(alg, RsaKeyPair::from_der(der).map_err(|e| e.to_string())?)
        }
        SigningAlg::Es256 => Parsed::P256(
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der)
                .map_err(|e| e.to_string())?,
        ),
        SigningAlg::EdDsa => {
            Parsed::Ed25519(Ed25519KeyPair::from_pkcs8(der).map_err(|e| e.to_string())?)
        }
    };
    let mut map = PARSED
        .write()
        .map_err(|_| "key cache poisoned".to_owned())?;
    map.insert(der.to_vec(), Arc::new(parsed));
    Ok(())
}

/// Drop keys no longer in use, so a long-running server does not keep retired keys.
pub(crate) fn retain(live: &[&[u8]]) {
    if let Ok(mut map) = PARSED.write() {
        map.retain(|der, _| live.contains(&der.as_slice()));
    }
}

struct ParsedSigner(Arc<Parsed>);

impl Signer<Vec<u8>> for ParsedSigner {
    fn try_sign(&self, msg: &[u8]) -> Result<Vec<u8>, SigError> {
        match self.0.as_ref() {
            Parsed::Rsa(alg, pair) => {
                let padding = if *alg == SigningAlg::Ps256 {
                    &RSA_PSS_SHA256
                } else {
                    &RSA_PKCS1_SHA256
                };
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(padding, &SystemRandom::new(), msg, &mut sig)
                    .map_err(SigError::from_source)?;
                Ok(sig)
            }
            Parsed::P256(pair) => Ok(pair
                .sign(&SystemRandom::new(), msg)
                .map_err(SigError::from_source)?
                .as_ref()
                .to_vec()),
            Parsed::Ed25519(pair) => Ok(pair.sign(msg).as_ref().to_vec()),
        }
    }
}

impl JwtSigner for ParsedSigner {
    fn algorithm(&self) -> Algorithm {
        self.0.alg().jose()
    }
}

fn signer_factory(
    alg: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    let cached = PARSED
        .read()
        .ok()
        .and_then(|map| map.get(key.as_bytes()).cloned());
    // A key signs only for its own algorithm; anything else goes to the stock provider,
    // which refuses a key of the wrong family.
    if let Some(parsed) = cached
        && SigningAlg::from_jose(*alg) == Some(parsed.alg())
    {
        return Ok(Box::new(ParsedSigner(parsed)));
    }
    (jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.signer_factory)(alg, key)
}
