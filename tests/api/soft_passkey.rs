//! A software passkey for the HTTP tests: a P-256 key that answers the options Tessera sends
//! the way an authenticator and browser would (CTAP2 authenticator data, `none` attestation,
//! ES256 assertions, client data with the origin), with every field under the test's control
//! (the signature counter, user verification), so refusals can be provoked one at a time.
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

pub struct SoftPasskey {
    key: EcdsaKeyPair,
    pub credential_id: Vec<u8>,
    /// The user handle Tessera asked the authenticator to store (set by `create`).
    pub user_handle: Vec<u8>,
    origin: String,
    rp_id: String,
    /// The signature counter the next assertion carries.
    pub counter: u32,
    /// Whether the next answer says the user was verified.
    pub user_verified: bool,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .expect("base64url in the options")
}

/// CBOR: a major type with its length or value (RFC 8949 §3).
fn head(out: &mut Vec<u8>, major: u8, n: u64) {
    let m = major << 5;
    match n {
        0..=23 => out.push(m | n as u8),
        24..=0xff => out.extend([m | 24, n as u8]),
        0x100..=0xffff => {
            out.push(m | 25);
            out.extend((n as u16).to_be_bytes());
        }
        _ => {
            out.push(m | 26);
            out.extend((n as u32).to_be_bytes());
        }
    }
}

fn int(out: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        head(out, 0, v as u64);
    } else {
        head(out, 1, (-1 - v) as u64);
    }
}

fn bytes(out: &mut Vec<u8>, b: &[u8]) {
    head(out, 2, b.len() as u64);
    out.extend_from_slice(b);
}

fn text(out: &mut Vec<u8>, t: &str) {
    head(out, 3, t.len() as u64);
    out.extend_from_slice(t.as_bytes());
}

impl SoftPasskey {
    /// A new passkey for the relying party at `origin` (e.g. Tessera's issuer).
    pub fn new(origin: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let url = url::Url::parse(origin).unwrap();
        let mut credential_id = vec![0u8; 32];
        aws_lc_rs::rand::fill(&mut credential_id).unwrap();
        SoftPasskey {
            key,
            credential_id,
            user_handle: Vec::new(),
            origin: url.origin().ascii_serialization(),
            rp_id: url.host_str().unwrap().to_owned(),
            counter: 0,
            user_verified: true,
        }
    }

    fn client_data(&self, kind: &str, challenge: &str) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "type": kind,
            "challenge": b64(&unb64(challenge)),
            "origin": self.origin,
            "crossOrigin": false,
        }))
        .unwrap()
    }

    fn flags(&self) -> u8 {
        if self.user_verified { UP | UV } else { UP }
    }

    /// The COSE_Key of the public key (RFC 9052 §7: EC2, ES256, P-256).
    fn cose_key(&self) -> Vec<u8> {
        let point = self.key.public_key().as_ref();
        let (x, y) = (&point[1..33], &point[33..65]);
        let mut out = Vec::new();
        head(&mut out, 5, 5);
        int(&mut out, 1);
        int(&mut out, 2);
        int(&mut out, 3);
        int(&mut out, -7);
        int(&mut out, -1);
        int(&mut out, 1);
        int(&mut out, -2);
        bytes(&mut out, x);
        int(&mut out, -3);
        bytes(&mut out, y);
        out
    }

    /// Answer `navigator.credentials.create` with the options Tessera sent (the
    /// `options` member of its answer): the JSON the page's script would post.
    pub fn create(&mut self, options: &Value) -> String {
        let pk = &options["publicKey"];
        assert_eq!(
            pk["rp"]["id"],
            self.rp_id.as_str(),
            "the RP ID is the issuer's host"
        );
        self.user_handle = unb64(pk["user"]["id"].as_str().unwrap());
        let client_data = self.client_data("webauthn.create", pk["challenge"].as_str().unwrap());
        let mut auth_data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags() | AT);
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]);
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(self.cose_key());
        let mut attestation = Vec::new();
        head(&mut attestation, 5, 3);
        text(&mut attestation, "fmt");
        text(&mut attestation, "none");
        text(&mut attestation, "attStmt");
        head(&mut attestation, 5, 0);
        text(&mut attestation, "authData");
        bytes(&mut attestation, &auth_data);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(&client_data),
            },
            "extensions": {},
        })
        .to_string()
    }

    /// Answer `navigator.credentials.get` with the options Tessera sent.
    pub fn get(&self, options: &Value) -> String {
        let pk = &options["publicKey"];
        assert_eq!(
            pk["allowCredentials"].as_array().map_or(0, Vec::len),
            0,
            "a discoverable sign-in names no credential"
        );
        self.assert_challenge(pk["challenge"].as_str().unwrap())
    }

    /// An assertion over `challenge` (base64url) with this passkey's counter and flags.
    pub fn assert_challenge(&self, challenge: &str) -> String {
        let client_data = self.client_data("webauthn.get", challenge);
        let mut auth_data = Sha256::digest(self.rp_id.as_bytes()).to_vec();
        auth_data.push(self.flags());
        auth_data.extend(self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(&client_data));
        let signature = self.key.sign(&SystemRandom::new(), &signed).unwrap();
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(&client_data),
                "signature": b64(signature.as_ref()),
                "userHandle": b64(&self.user_handle),
            },
            "extensions": {},
        })
        .to_string()
    }
}
