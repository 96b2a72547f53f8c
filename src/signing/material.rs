//! What a signing key is, per algorithm: generating one (RSA-2048 for RS256 and PS256,
//! P-256 for ES256 and Ed25519 for EdDSA, the latter two through aws-lc-rs), opening its
//! PKCS#8 DER, its public JWK (the JWKS entry) and SPKI PEM, and its `kid`, which is the
//! RFC 7638 thumbprint of the public JWK.
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters,
    EllipticCurveKeyType, Jwk, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType,
    PublicKeyUse, RSAKeyParameters, RSAKeyType, ThumbprintHash,
};
use rsa::RsaPrivateKey;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;

use super::alg::SigningAlg;
use super::key::{KeyError, KeyInfo};
use super::verifying::VerifyingKey;

const KEY_BITS: usize = 2048;

/// A published key, parsed: what the key set is built from.
pub(crate) struct KeyMaterial {
    pub info: KeyInfo,
    /// What jsonwebtoken's `EncodingKey` takes: PKCS#1 DER for RSA, PKCS#8 otherwise.
    pub signing_der: Vec<u8>,
    /// The public key as published, with its `kid`, `alg` and `use`.
    pub jwk: Jwk,
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyMaterial")
            .field("kid", &self.info.kid)
            .field("alg", &self.info.alg)
            .finish_non_exhaustive()
    }
}

impl KeyMaterial {
    pub fn encoding_key(&self) -> EncodingKey {
        match self.info.alg {
            SigningAlg::Rs256 | SigningAlg::Ps256 => EncodingKey::from_rsa_der(&self.signing_der),
            SigningAlg::Es256 => EncodingKey::from_ec_der(&self.signing_der),
            SigningAlg::EdDsa => EncodingKey::from_ed_der(&self.signing_der),
        }
    }

    pub fn verifying_key(&self) -> Result<VerifyingKey, String> {
        VerifyingKey::from_jwk(&self.jwk)
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The public JWK of a key with these parameters; `alg` pins the key to one algorithm.
fn jwk(alg: SigningAlg, params: AlgorithmParameters, kid: Option<String>) -> Jwk {
    let key_algorithm = match alg {
        SigningAlg::Rs256 => KeyAlgorithm::RS256,
        SigningAlg::Ps256 => KeyAlgorithm::PS256,
        SigningAlg::Es256 => KeyAlgorithm::ES256,
        SigningAlg::EdDsa => KeyAlgorithm::EdDSA,
    };
    Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(key_algorithm),
            key_id: kid,
            ..Default::default()
        },
        algorithm: params,
    }
}

fn rsa_params(n: &[u8], e: &[u8]) -> AlgorithmParameters {
    AlgorithmParameters::RSA(RSAKeyParameters {
        key_type: RSAKeyType::RSA,
        n: b64(n),
        e: b64(e),
    })
}

/// The RFC 7638 thumbprint of a public JWK: its `kid`.
fn thumbprint(jwk: &Jwk) -> Result<String, String> {
    // The thumbprint is jsonwebtoken's first use of a crypto provider in a process.
    super::provider::install();
    jwk.thumbprint(ThumbprintHash::SHA256)
        .map_err(|e| e.to_string())
}

/// A new key of `alg`: its kid and its private key as PKCS#8 DER.
pub(crate) fn generate(alg: SigningAlg) -> Result<(String, Vec<u8>), KeyError> {
    let failed = |e: String| KeyError::Generate(e);
    let pkcs8 = match alg {
        SigningAlg::Rs256 | SigningAlg::Ps256 => {
            let key = RsaPrivateKey::new(&mut rand::rngs::OsRng, KEY_BITS)
                .map_err(|e| failed(e.to_string()))?;
            key.to_pkcs8_der()
                .map_err(|e| failed(e.to_string()))?
                .as_bytes()
                .to_vec()
        }
        SigningAlg::Es256 => {
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|e| failed(e.to_string()))?
                .as_ref()
                .to_vec()
        }
        SigningAlg::EdDsa => Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .map_err(|e| failed(e.to_string()))?
            .as_ref()
            .to_vec(),
    };
    let (params, _, _) = parse(alg, &pkcs8).map_err(failed)?;
    let kid = thumbprint(&jwk(alg, params, None)).map_err(failed)?;
    Ok((kid, pkcs8))
}

/// A PKCS#8 private key of `alg`: its public JWK parameters, the DER jsonwebtoken signs
/// with, and the SPKI PEM of its public key.
fn parse(alg: SigningAlg, pkcs8: &[u8]) -> Result<(AlgorithmParameters, Vec<u8>, String), String> {
    let pem = |spki: &[u8]| {
        rsa::pkcs8::der::pem::encode_string("PUBLIC KEY", LineEnding::LF, spki)
            .map_err(|e| e.to_string())
    };
    match alg {
        SigningAlg::Rs256 | SigningAlg::Ps256 => {
            let key = RsaPrivateKey::from_pkcs8_der(pkcs8)
                .map_err(|_| "the private key is not an RSA key".to_owned())?;
            if key.size() * 8 < KEY_BITS {
                return Err(format!(
                    "RSA key has {} bits; at least {KEY_BITS} are required",
                    key.size() * 8
                ));
            }
            let public = key
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| e.to_string())?;
            let pkcs1 = key.to_pkcs1_der().map_err(|e| e.to_string())?;
            Ok((
                rsa_params(&key.n().to_bytes_be(), &key.e().to_bytes_be()),
                pkcs1.as_bytes().to_vec(),
                public,
            ))
        }
        SigningAlg::Es256 => {
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                .map_err(|_| "the private key is not a P-256 key".to_owned())?;
            let point = pair.public_key().as_ref();
            // Uncompressed: 0x04, then x and y of 32 bytes each.
            let (Some(0x04), 65) = (point.first().copied(), point.len()) else {
                return Err("unexpected P-256 public key encoding".to_owned());
            };
            let spki = pair.public_key().as_der().map_err(|e| e.to_string())?;
            Ok((
                AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                    key_type: EllipticCurveKeyType::EC,
                    curve: EllipticCurve::P256,
                    x: b64(&point[1..33]),
                    y: b64(&point[33..]),
                }),
                pkcs8.to_vec(),
                pem(spki.as_ref())?,
            ))
        }
        SigningAlg::EdDsa => {
            let pair = Ed25519KeyPair::from_pkcs8(pkcs8)
                .map_err(|_| "the private key is not an Ed25519 key".to_owned())?;
            let spki = pair.public_key().as_der().map_err(|e| e.to_string())?;
            Ok((
                AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                    key_type: OctetKeyPairType::OctetKeyPair,
                    curve: EllipticCurve::Ed25519,
                    x: b64(pair.public_key().as_ref()),
                }),
                pkcs8.to_vec(),
                pem(spki.as_ref())?,
            ))
        }
    }
}

/// The SPKI PEM of a PKCS#8 private key of `alg` (the row's public key).
pub(crate) fn public_pem(alg: SigningAlg, pkcs8: &[u8]) -> Result<String, String> {
    parse(alg, pkcs8).map(|(_, _, pem)| pem)
}

/// Open a PKCS#8 private key listed as `info`: it must be a key of the listed algorithm
/// whose thumbprint is the listed kid.
pub(crate) fn open(info: KeyInfo, pkcs8: &[u8]) -> Result<KeyMaterial, String> {
    let (params, signing_der, _) = parse(info.alg, pkcs8)?;
    let public = jwk(info.alg, params, None);
    let kid = thumbprint(&public)?;
    if kid != info.kid {
        return Err(format!(
            "listed as kid '{}' but the key's thumbprint is '{kid}'",
            info.kid
        ));
    }
    let jwk = Jwk {
        common: CommonParameters {
            key_id: Some(kid),
            ..public.common
        },
        algorithm: public.algorithm,
    };
    Ok(KeyMaterial {
        info,
        signing_der,
        jwk,
    })
}

/// Open an RSA key read from a key file (always RS256).
pub(crate) fn open_rsa(info: KeyInfo, key: &RsaPrivateKey) -> Result<KeyMaterial, String> {
    let der = key.to_pkcs8_der().map_err(|e| e.to_string())?;
    open(info, der.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(kid: &str, alg: SigningAlg) -> KeyInfo {
        KeyInfo {
            kid: kid.to_owned(),
            alg,
            created: chrono::DateTime::default(),
            activates: chrono::DateTime::default(),
            state: super::super::KeyState::Active,
            path: None,
        }
    }

    #[test]
    fn our_rsa_keys_verify_parsed_once_and_still_refuse_what_they_must() {
        use jsonwebtoken::{Algorithm, Header, Validation, decode, encode};
        assert!(super::super::provider::install());
        let (kid, der) = generate(SigningAlg::Rs256).unwrap();
        let ours = open(info(&kid, SigningAlg::Rs256), &der).unwrap();
        let key = ours.verifying_key().unwrap();
        let parsed = super::super::provider::parse_verifying(key.alg(), key.decoding_key());
        super::super::provider::keep_verifying(parsed.unwrap().into_iter().collect());
        let (other_kid, other_der) = generate(SigningAlg::Rs256).unwrap();
        let other = open(info(&other_kid, SigningAlg::Rs256), &other_der).unwrap();
        let claims = serde_json::json!({"sub": "alice", "exp": 4_000_000_000_i64});
        let sign = |m: &KeyMaterial, alg| encode(&Header::new(alg), &claims, &m.encoding_key());
        let check = |jwt: &str, alg| {
            let mut validation = Validation::new(alg);
            validation.validate_aud = false;
            decode::<serde_json::Value>(jwt, key.decoding_key(), &validation)
        };
        let good = sign(&ours, Algorithm::RS256).unwrap();
        assert_eq!(
            check(&good, Algorithm::RS256).unwrap().claims["sub"],
            "alice"
        );
        // Another key's signature and a changed payload are refused.
        assert!(check(&sign(&other, Algorithm::RS256).unwrap(), Algorithm::RS256).is_err());
        let (head, rest) = good.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let forged = format!(
            "{head}.{}.{sig}",
            URL_SAFE_NO_PAD.encode(br#"{"sub":"mallory","exp":4000000000}"#)
        );
        assert!(check(&forged, Algorithm::RS256).is_err());
        // The parsed key is kept for RS256 only: a PS256 signature by the same key pair is
        // not checked with its PKCS#1 padding (which would refuse it) but by the stock
        // verifier. Binding a key to one algorithm is VerifyingKey's work, not the cache's.
        let pss = sign(&ours, Algorithm::PS256).unwrap();
        assert!(check(&pss, Algorithm::PS256).is_ok());
    }

    #[test]
    fn generated_keys_open_as_their_algorithm_only() {
        for alg in [SigningAlg::Es256, SigningAlg::EdDsa] {
            let (kid, der) = generate(alg).unwrap();
            let m = open(info(&kid, alg), &der).unwrap();
            let v = serde_json::to_value(&m.jwk).unwrap();
            assert_eq!(v["alg"], alg.as_str());
            assert_eq!(v["kid"], kid.as_str());
            assert_eq!(v["use"], "sig");
            assert!(v.get("d").is_none(), "no private member: {v}");
            assert!(
                public_pem(alg, &der)
                    .unwrap()
                    .starts_with("-----BEGIN PUBLIC KEY-----")
            );
            let other = if alg == SigningAlg::Es256 {
                SigningAlg::EdDsa
            } else {
                SigningAlg::Es256
            };
            assert!(open(info(&kid, other), &der).is_err());
            assert!(open(info(&kid, SigningAlg::Rs256), &der).is_err());
            assert!(open(info("another-kid", alg), &der).is_err());
        }
        let es = serde_json::to_value(
            open(
                info(&generate(SigningAlg::Es256).unwrap().0, SigningAlg::Es256),
                &generate(SigningAlg::Es256).unwrap().1,
            )
            .err(),
        )
        .unwrap();
        assert!(es.as_str().unwrap().contains("thumbprint"), "{es}");
    }
}
