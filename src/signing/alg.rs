//! The signature algorithms Tessera signs and verifies with: RS256 (the default for
//! everything), PS256, ES256 (P-256) and EdDSA (Ed25519). Each key has exactly one of
//! them; a verifier takes it from the key, never from a token's header.
use jsonwebtoken::Algorithm;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SigningAlg {
    #[default]
    Rs256,
    Ps256,
    Es256,
    EdDsa,
}

impl SigningAlg {
    /// Every algorithm, the default first (discovery lists them in this order).
    pub const ALL: [SigningAlg; 4] = [
        SigningAlg::Rs256,
        SigningAlg::Ps256,
        SigningAlg::Es256,
        SigningAlg::EdDsa,
    ];

    /// The JOSE name (RFC 7518, RFC 8037).
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Ps256 => "PS256",
            SigningAlg::Es256 => "ES256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }

    /// Parse a JOSE name, exactly as spelled (JOSE names are case-sensitive).
    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == name)
            .ok_or_else(|| {
                format!(
                    "'{}' is not a supported signing algorithm (one of RS256, PS256, ES256, EdDSA)",
                    name.chars().take(40).collect::<String>()
                )
            })
    }

    /// The algorithm of a JWS header, when it is one of ours.
    pub fn from_jose(alg: Algorithm) -> Option<Self> {
        match alg {
            Algorithm::RS256 => Some(SigningAlg::Rs256),
            Algorithm::PS256 => Some(SigningAlg::Ps256),
            Algorithm::ES256 => Some(SigningAlg::Es256),
            Algorithm::EdDSA => Some(SigningAlg::EdDsa),
            _ => None,
        }
    }

    pub fn jose(self) -> Algorithm {
        match self {
            SigningAlg::Rs256 => Algorithm::RS256,
            SigningAlg::Ps256 => Algorithm::PS256,
            SigningAlg::Es256 => Algorithm::ES256,
            SigningAlg::EdDsa => Algorithm::EdDSA,
        }
    }

    /// Whether its keys are RSA keys (RS256 and PS256 each have their own, though).
    pub fn is_rsa(self) -> bool {
        matches!(self, SigningAlg::Rs256 | SigningAlg::Ps256)
    }

    /// The `--alg` value that creates a key of this algorithm, for messages.
    pub fn rotate_command(self) -> String {
        match self {
            SigningAlg::Rs256 => "tessera keys rotate".to_owned(),
            other => format!("tessera keys rotate --alg {}", other.as_str()),
        }
    }
}

impl std::fmt::Display for SigningAlg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_case_sensitive() {
        for alg in SigningAlg::ALL {
            assert_eq!(SigningAlg::parse(alg.as_str()), Ok(alg));
            assert_eq!(SigningAlg::from_jose(alg.jose()), Some(alg));
        }
        assert!(SigningAlg::parse("rs256").is_err());
        assert!(SigningAlg::parse("EDDSA").is_err());
        assert!(SigningAlg::parse("none").is_err());
        assert!(SigningAlg::parse("HS256").is_err());
        assert_eq!(SigningAlg::from_jose(Algorithm::HS256), None);
        assert_eq!(SigningAlg::from_jose(Algorithm::ES384), None);
    }
}
