//! jsonwebtoken's crypto provider, with Tessera's own keys parsed once.
//!
//! jsonwebtoken hands its signer factory the key as DER bytes on every `encode`, and the
//! stock aws-lc-rs provider parses them each time, which costs more than the signature
//! (for RSA; for P-256 and Ed25519 it is most of the cost). This provider keeps the parsed
//! aws-lc-rs key pairs, looked up by their DER. Verification is the same story on a smaller
//! scale: the stock verifier builds an RSA key (and its Montgomery context) from the
//! modulus and exponent for every token, about a sixth of what verifying one costs; our
//! own RSA public keys are kept parsed too. Keys nobody registered (a client's, a DPoP
//! proof's) and everything else (JWK helpers) go to the stock aws-lc-rs provider, so what
//! is kept is bounded by our own key set. aws-lc-rs signs in constant time, unlike the
//! `rsa` crate (RUSTSEC-2023-0071).
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, OnceLock, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, ParsedPublicKey,
    RSA_PKCS1_2048_8192_SHA256, RSA_PKCS1_SHA256, RSA_PSS_2048_8192_SHA256, RSA_PSS_SHA256,
    RsaKeyPair, RsaPublicKeyComponents,
};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier};
use jsonwebtoken::signature::{Error as SigError, Signer, Verifier};
use jsonwebtoken::{Algorithm, DecodingKey, DecodingKeyKind, EncodingKey};

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

/// One of our RSA public keys, parsed, with what it must match besides its modulus.
pub(crate) struct ParsedRsa {
    alg: SigningAlg,
    e: Vec<u8>,
    key: Arc<ParsedPublicKey>,
}

/// Our RSA public keys by modulus (each of our keys has its own), so a verification looks
/// its key up without copying anything.
static VERIFYING: LazyLock<RwLock<HashMap<Vec<u8>, ParsedRsa>>> =
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
        verifier_factory,
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

/// Parse one of our public keys for verifying: RSA keys (RS256, PS256), whose per-token
/// setup is the costly one. `None` for other keys: the stock provider verifies those.
pub(crate) fn parse_verifying(
    alg: SigningAlg,
    key: &DecodingKey,
) -> Result<Option<(Vec<u8>, ParsedRsa)>, String> {
    let (Some(params), DecodingKeyKind::RsaModulusExponent { n, e }) =
        (rsa_params(alg), key.kind())
    else {
        return Ok(None);
    };
    let der = RsaPublicKeyComponents { n, e }
        .as_der()
        .map_err(|_| "the RSA public key does not encode".to_owned())?;
    let key = ParsedPublicKey::new(params, der.as_ref()).map_err(|e| e.to_string())?;
    let parsed = ParsedRsa {
        alg,
        e: e.clone(),
        key: Arc::new(key),
    };
    Ok(Some((n.clone(), parsed)))
}

/// Verify with these parsed keys from now on (a key set's published keys), and drop the
/// ones no longer published.
pub(crate) fn keep_verifying(keys: Vec<(Vec<u8>, ParsedRsa)>) {
    if let Ok(mut map) = VERIFYING.write() {
        *map = keys.into_iter().collect();
    }
}

fn rsa_params(alg: SigningAlg) -> Option<&'static aws_lc_rs::signature::RsaParameters> {
    match alg {
        SigningAlg::Rs256 => Some(&RSA_PKCS1_2048_8192_SHA256),
        SigningAlg::Ps256 => Some(&RSA_PSS_2048_8192_SHA256),
        SigningAlg::Es256 | SigningAlg::EdDsa => None,
    }
}

struct ParsedVerifier(Algorithm, Arc<ParsedPublicKey>);

impl Verifier<Vec<u8>> for ParsedVerifier {
    fn verify(&self, msg: &[u8], signature: &Vec<u8>) -> Result<(), SigError> {
        self.1
            .verify_sig(msg, signature)
            .map_err(SigError::from_source)
    }
}

impl JwtVerifier for ParsedVerifier {
    fn algorithm(&self) -> Algorithm {
        self.0
    }
}

fn verifier_factory(
    alg: &Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    if let (Some(ours), DecodingKeyKind::RsaModulusExponent { n, e }) =
        (SigningAlg::from_jose(*alg), key.kind())
        && let Some(parsed) = VERIFYING.read().ok().and_then(|map| {
            map.get(n.as_slice())
                .filter(|p| p.alg == ours && &p.e == e)
                .map(|p| p.key.clone())
        })
    {
        return Ok(Box::new(ParsedVerifier(*alg, parsed)));
    }
    (jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER.verifier_factory)(alg, key)
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
