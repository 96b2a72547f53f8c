//! A client's security profile: `none`, or `fapi2` for the FAPI 2.0 Security Profile (Final,
//! February 2025). The profile's registration rules are checked in `clients`; the endpoints
//! ask the profile what it allows (methods, algorithms, grants), so a row edited by hand is
//! held to the same rules on every request.
use crate::client_methods::AuthMethod;
use crate::domain::GrantType;
use crate::signing::SigningAlg;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Profile {
    #[default]
    None,
    Fapi2,
}

/// FAPI 2.0 §5.4.1: JWTs are signed with PS256, ES256 or EdDSA (Ed25519), never with
/// RSASSA-PKCS1-v1_5 (RS256). What a fapi2 client signs (assertions, DPoP proofs) may use
/// any of them: refusing one the profile allows would turn conforming clients away.
pub const FAPI2_CLIENT_ALGS: [SigningAlg; 3] =
    [SigningAlg::Ps256, SigningAlg::Es256, SigningAlg::EdDsa];

/// What Tessera signs a fapi2 client's tokens with: the two algorithms of §5.4.1 that every
/// FAPI relying-party library verifies (EdDSA is allowed too but far less widely supported).
pub const FAPI2_TOKEN_ALGS: [SigningAlg; 2] = [SigningAlg::Ps256, SigningAlg::Es256];

/// The grants a fapi2 client may have. The profile covers the code flow and its refresh;
/// client_credentials issues sender-constrained tokens to the authenticated client as well,
/// and nothing in the profile forbids it. The device grant and token exchange are outside
/// what the profile (and its security analysis) covers.
pub const FAPI2_GRANTS: [GrantType; 3] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
];

impl Profile {
    pub const ALL: [Profile; 2] = [Profile::None, Profile::Fapi2];

    pub fn as_str(self) -> &'static str {
        match self {
            Profile::None => "none",
            Profile::Fapi2 => "fapi2",
        }
    }

    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == name)
            .ok_or_else(|| {
                format!(
                    "unknown profile '{}'; use none or fapi2",
                    name.chars().take(40).collect::<String>()
                )
            })
    }

    pub fn is_fapi2(self) -> bool {
        self == Profile::Fapi2
    }

    /// What a client's tokens are signed with when registration names no algorithm: what
    /// an operator choosing the profile would expect, rather than a refusal.
    pub fn default_token_alg(self) -> SigningAlg {
        match self {
            Profile::None => SigningAlg::Rs256,
            Profile::Fapi2 => SigningAlg::Es256,
        }
    }

    /// Whether a client of this profile may authenticate with `method` (§5.3.2.1: mTLS or
    /// private_key_jwt; Tessera has no mTLS).
    pub fn permits_method(self, method: AuthMethod) -> bool {
        match self {
            Profile::None => true,
            Profile::Fapi2 => method == AuthMethod::PrivateKeyJwt,
        }
    }

    /// Whether a JWT the client signed (a client assertion, a DPoP proof) may use `alg`.
    pub fn accepts_client_alg(self, alg: SigningAlg) -> bool {
        match self {
            Profile::None => true,
            Profile::Fapi2 => FAPI2_CLIENT_ALGS.contains(&alg),
        }
    }

    pub fn permits_grant(self, grant: GrantType) -> bool {
        match self {
            Profile::None => true,
            Profile::Fapi2 => FAPI2_GRANTS.contains(&grant),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_refused() {
        for p in Profile::ALL {
            assert_eq!(Profile::parse(p.as_str()), Ok(p));
        }
        assert!(Profile::parse("FAPI2").is_err());
        assert!(Profile::parse("fapi1").is_err());
    }

    #[test]
    fn fapi2_refuses_rs256_and_secrets() {
        let fapi = Profile::Fapi2;
        assert!(!fapi.accepts_client_alg(SigningAlg::Rs256));
        assert!(fapi.accepts_client_alg(SigningAlg::EdDsa));
        assert!(!fapi.permits_method(AuthMethod::ClientSecretBasic));
        assert!(fapi.permits_method(AuthMethod::PrivateKeyJwt));
        assert!(!fapi.permits_grant(GrantType::DeviceCode));
        assert!(Profile::None.accepts_client_alg(SigningAlg::Rs256));
        assert_eq!(fapi.default_token_alg(), SigningAlg::Es256);
    }
}
