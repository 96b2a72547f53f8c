//! A public key bound to the one algorithm it verifies. The algorithm comes from the key
//! (its JWK's `kty`, `crv` and `alg`), so a token cannot choose how it is checked: a header
//! naming another algorithm than its key's is refused before any signature is computed.
use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, PublicKeyUse};

use super::alg::SigningAlg;

#[derive(Clone)]
pub struct VerifyingKey {
    alg: SigningAlg,
    key: DecodingKey,
}

impl std::fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyingKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl VerifyingKey {
    /// The key of a JWK and its algorithm: RSA keys verify the `alg` they name (RS256 or
    /// PS256; RS256 when they name none, as older JWKS do), P-256 keys ES256, Ed25519 keys
    /// EdDSA. Anything else is refused: other curves, an `alg` that does not fit the key
    /// (an EC key named EdDSA), keys for encryption, symmetric keys.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, String> {
        if matches!(
            jwk.common.public_key_use,
            Some(PublicKeyUse::Encryption) | Some(PublicKeyUse::Other(_))
        ) {
            return Err("the key is not for signatures".to_owned());
        }
        let named = jwk.common.key_algorithm;
        let (alg, key) = match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => {
                let alg = match named {
                    None | Some(KeyAlgorithm::RS256) => SigningAlg::Rs256,
                    Some(KeyAlgorithm::PS256) => SigningAlg::Ps256,
                    Some(other) => return Err(format!("an RSA key for {other:?}")),
                };
                let key =
                    DecodingKey::from_rsa_components(&rsa.n, &rsa.e).map_err(|e| e.to_string())?;
                (alg, key)
            }
            AlgorithmParameters::EllipticCurve(ec) => {
                if ec.curve != EllipticCurve::P256 {
                    return Err(format!("an EC key on {:?}", ec.curve));
                }
                if !matches!(named, None | Some(KeyAlgorithm::ES256)) {
                    return Err(format!("a P-256 key named {named:?}"));
                }
                let key =
                    DecodingKey::from_ec_components(&ec.x, &ec.y).map_err(|e| e.to_string())?;
                // A point of the wrong size is not a P-256 key, whatever `crv` says.
                if !matches!(key.try_get_as_bytes().map(<[u8]>::len), Ok(65)) {
                    return Err("the EC point is not a P-256 point".to_owned());
                }
                (SigningAlg::Es256, key)
            }
            AlgorithmParameters::OctetKeyPair(okp) => {
                if okp.curve != EllipticCurve::Ed25519 {
                    return Err(format!("an OKP key on {:?}", okp.curve));
                }
                if !matches!(named, None | Some(KeyAlgorithm::EdDSA)) {
                    return Err(format!("an Ed25519 key named {named:?}"));
                }
                let key = DecodingKey::from_ed_components(&okp.x).map_err(|e| e.to_string())?;
                if !matches!(key.try_get_as_bytes().map(<[u8]>::len), Ok(32)) {
                    return Err("the Ed25519 key is not 32 bytes".to_owned());
                }
                (SigningAlg::EdDsa, key)
            }
            AlgorithmParameters::OctetKey(_) => {
                return Err("a symmetric key cannot verify our tokens".to_owned());
            }
            _ => return Err("an unknown key type".to_owned()),
        };
        Ok(Self { alg, key })
    }

    /// An RS256 key from its modulus and exponent (big-endian bytes).
    pub fn rs256(n: &[u8], e: &[u8]) -> Self {
        Self {
            alg: SigningAlg::Rs256,
            key: DecodingKey::from_rsa_raw_components(n, e),
        }
    }

    /// The one algorithm this key verifies.
    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    pub fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}
