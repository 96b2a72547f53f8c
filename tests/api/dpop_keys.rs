//! A DPoP client's side for the tests: key pairs and proofs (RFC 9449 §4.2), built field by
//! field so a test can get any one of them wrong on purpose.
use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A client's DPoP key pair.
pub struct DpopKey {
    encoding: EncodingKey,
    pub alg: &'static str,
    /// The public JWK, as a proof's header carries it.
    pub jwk: Value,
    /// The private scalar (base64url), for the test that leaks it.
    pub d: String,
}

impl DpopKey {
    pub fn es256() -> Self {
        let der =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, der.as_ref()).unwrap();
        let point = pair.public_key().as_ref();
        // Uncompressed SEC1 point: 0x04, x, y.
        let (x, y) = point[1..].split_at(32);
        let d = pair.private_key().as_be_bytes().unwrap();
        DpopKey {
            encoding: EncodingKey::from_ec_der(der.as_ref()),
            alg: "ES256",
            jwk: json!({ "kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y) }),
            d: b64(d.as_ref()),
        }
    }

    pub fn ed25519() -> Self {
        let der = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8(der.as_ref()).unwrap();
        let seed = pair.seed().unwrap().as_be_bytes().unwrap();
        DpopKey {
            encoding: EncodingKey::from_ed_der(der.as_ref()),
            alg: "EdDSA",
            jwk: json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref()) }),
            d: b64(seed.as_ref()),
        }
    }

    /// RFC 7638 thumbprint, computed here from the members in their canonical order, so
    /// the server's own computation is checked against an independent one.
    pub fn thumbprint(&self) -> String {
        thumbprint_of(&self.jwk)
    }

    /// A proof for `htm` `htu`, issued at `iat`, with a fresh `jti`.
    pub fn proof(&self, htm: &str, htu: &str, iat: i64) -> Proof<'_> {
        Proof {
            key: self,
            header: json!({ "typ": "dpop+jwt", "alg": self.alg, "jwk": self.jwk }),
            claims: json!({
                "jti": tessera::secrets::random_token(16),
                "htm": htm,
                "htu": htu,
                "iat": iat,
            }),
            signer: None,
        }
    }
}

/// base64url(SHA-256(token)): the `ath` of a proof sent with `token`.
pub fn ath(token: &str) -> String {
    b64(&Sha256::digest(token.as_bytes()))
}

/// A proof being built; [`Proof::sign`] makes the compact JWT.
pub struct Proof<'a> {
    key: &'a DpopKey,
    pub header: Value,
    pub claims: Value,
    /// Sign with another key than the one in the header.
    signer: Option<&'a DpopKey>,
}

impl<'a> Proof<'a> {
    pub fn nonce(mut self, nonce: &str) -> Self {
        self.claims["nonce"] = nonce.into();
        self
    }

    pub fn ath(mut self, token: &str) -> Self {
        self.claims["ath"] = ath(token).into();
        self
    }

    pub fn signed_by(mut self, other: &'a DpopKey) -> Self {
        self.signer = Some(other);
        self
    }

    pub fn sign(&self) -> String {
        let input = format!(
            "{}.{}",
            b64(self.header.to_string().as_bytes()),
            b64(self.claims.to_string().as_bytes())
        );
        let key = self.signer.unwrap_or(self.key);
        let alg = match key.alg {
            "ES256" => Algorithm::ES256,
            _ => Algorithm::EdDSA,
        };
        let signature = jsonwebtoken::crypto::sign(input.as_bytes(), &key.encoding, alg).unwrap();
        format!("{input}.{signature}")
    }

    /// Signed with HMAC-SHA256 keyed by `secret` (the header says HS256).
    pub fn sign_hs256(&mut self, secret: &[u8]) -> String {
        self.header["alg"] = "HS256".into();
        let input = format!(
            "{}.{}",
            b64(self.header.to_string().as_bytes()),
            b64(self.claims.to_string().as_bytes())
        );
        let signature = jsonwebtoken::crypto::sign(
            input.as_bytes(),
            &EncodingKey::from_secret(secret),
            Algorithm::HS256,
        )
        .unwrap();
        format!("{input}.{signature}")
    }

    /// Unsigned (`alg` `none`).
    pub fn unsigned(&mut self) -> String {
        self.header["alg"] = "none".into();
        format!(
            "{}.{}.",
            b64(self.header.to_string().as_bytes()),
            b64(self.claims.to_string().as_bytes())
        )
    }
}

/// The claims of a JWT, unverified (the tests read what the server put in).
pub fn claims_of(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// RFC 7638 thumbprint, computed here from the members in their canonical order, so
/// the server's own computation is checked against an independent one.
pub fn thumbprint_of(j: &Value) -> String {
    let canonical = match j["kty"].as_str().unwrap() {
        "EC" => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            j["crv"].as_str().unwrap(),
            j["x"].as_str().unwrap(),
            j["y"].as_str().unwrap()
        ),
        "OKP" => format!(
            r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
            j["crv"].as_str().unwrap(),
            j["x"].as_str().unwrap()
        ),
        other => panic!("no thumbprint for {other}"),
    };
    b64(&Sha256::digest(canonical.as_bytes()))
}
