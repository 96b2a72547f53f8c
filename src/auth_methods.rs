//! How a session's user authenticated: the methods (RFC 8176 names) saved with the session,
//! the `amr` and `acr` claims its ID tokens carry, and the `acr_values` Tessera understands.
//! A new way to sign in (a passkey) adds a [`Method`] and pushes it with [`AuthMethods::add`];
//! everything downstream (sessions, step-up, ID tokens) reads only this type.

/// One authentication method, by its RFC 8176 name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Method {
    /// A password (`pwd`): something the user knows.
    Password,
    /// A one-time code (`otp`): a TOTP code or a single-use recovery code, both proving
    /// something the user has.
    Otp,
    /// A passkey held in hardware (`hwk`), which cannot leave its device.
    HardwareKey,
    /// A passkey that may be synced between devices (`swk`): the authenticator reported it
    /// backup-eligible.
    SoftwareKey,
    /// The authenticator verified the user itself (`user`), by PIN or biometric, before it
    /// signed: with the key it makes a multi-factor authenticator (NIST SP 800-63B §5.1.9).
    UserVerified,
}

/// The kind of factor a method proves; two different kinds make a multi-factor sign-in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Factor {
    Knowledge,
    Possession,
    /// A PIN or biometric checked on the authenticator.
    Verification,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Password => "pwd",
            Method::Otp => "otp",
            Method::HardwareKey => "hwk",
            Method::SoftwareKey => "swk",
            Method::UserVerified => "user",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pwd" => Some(Method::Password),
            "otp" => Some(Method::Otp),
            "hwk" => Some(Method::HardwareKey),
            "swk" => Some(Method::SoftwareKey),
            "user" => Some(Method::UserVerified),
            _ => None,
        }
    }

    pub fn factor(self) -> Factor {
        match self {
            Method::Password => Factor::Knowledge,
            Method::Otp | Method::HardwareKey | Method::SoftwareKey => Factor::Possession,
            Method::UserVerified => Factor::Verification,
        }
    }
}

/// The `acr` of a sign-in with two kinds of factor; `acr_values` naming it asks for one.
pub const ACR_MFA: &str = "mfa";
/// The `acr` of a sign-in with one factor.
pub const ACR_SINGLE: &str = "pwd";
/// What discovery advertises as `acr_values_supported`.
pub const ACR_VALUES: [&str; 2] = [ACR_SINGLE, ACR_MFA];

/// The methods of one sign-in, in the order they were used, each once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthMethods(Vec<Method>);

impl AuthMethods {
    pub fn password() -> Self {
        Self(vec![Method::Password])
    }

    /// A passkey sign-in: the key (synced or not) and, when the authenticator checked a PIN
    /// or biometric, `user` — which makes it multi-factor on its own.
    pub fn passkey(backup_eligible: bool, user_verified: bool) -> Self {
        let key = if backup_eligible {
            Method::SoftwareKey
        } else {
            Method::HardwareKey
        };
        let mut methods = Self(vec![key]);
        if user_verified {
            methods.add(Method::UserVerified);
        }
        methods
    }

    /// Add a method (again is a no-op).
    pub fn add(&mut self, method: Method) {
        if !self.0.contains(&method) {
            self.0.push(method);
        }
    }

    pub fn with(mut self, method: Method) -> Self {
        self.add(method);
        self
    }

    pub fn contains(&self, method: Method) -> bool {
        self.0.contains(&method)
    }

    /// Two different kinds of factor (RFC 8176 `mfa`).
    pub fn is_multi_factor(&self) -> bool {
        self.0
            .iter()
            .any(|m| self.0.iter().any(|n| m.factor() != n.factor()))
    }

    /// What the session row stores: the method names, space-separated (`mfa` is derived).
    pub fn to_stored(&self) -> String {
        self.0
            .iter()
            .map(|m| m.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The stored form back; unknown names (from a newer version) are skipped, and nothing
    /// known reads as a password sign-in, which is what every older session was.
    pub fn from_stored(stored: &str) -> Self {
        let mut methods = Self::default();
        for m in stored.split_whitespace().filter_map(Method::parse) {
            methods.add(m);
        }
        if methods.0.is_empty() {
            return Self::password();
        }
        methods
    }

    /// The ID token's `amr`: the methods, then `mfa` for a multi-factor sign-in.
    pub fn amr(&self) -> Vec<&'static str> {
        let mut amr: Vec<&'static str> = self.0.iter().map(|m| m.as_str()).collect();
        if self.is_multi_factor() {
            amr.push("mfa");
        }
        amr
    }

    /// The ID token's `acr`.
    pub fn acr(&self) -> &'static str {
        if self.is_multi_factor() {
            ACR_MFA
        } else {
            ACR_SINGLE
        }
    }
}

/// Whether an authorization request's `acr_values` (space-separated, in preference order)
/// asks for a multi-factor sign-in. Tessera treats `mfa` as required, not as a wish: a
/// password-only session is stepped up before a code is issued.
pub fn asks_for_mfa(acr_values: Option<&str>) -> bool {
    acr_values.is_some_and(|v| v.split_whitespace().any(|a| a == ACR_MFA))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_and_a_code_are_two_factors() {
        let pwd = AuthMethods::password();
        assert_eq!(pwd.amr(), ["pwd"]);
        assert_eq!(pwd.acr(), "pwd");
        let both = pwd.with(Method::Otp);
        assert_eq!(both.amr(), ["pwd", "otp", "mfa"]);
        assert_eq!(both.acr(), "mfa");
        assert_eq!(AuthMethods::from_stored(&both.to_stored()), both);
        assert_eq!(AuthMethods::from_stored(""), AuthMethods::password());
        assert_eq!(
            AuthMethods::from_stored("pwd future otp pwd").amr(),
            ["pwd", "otp", "mfa"]
        );
    }

    #[test]
    fn a_verified_passkey_is_multi_factor_and_a_bare_one_is_not() {
        let synced = AuthMethods::passkey(true, true);
        assert_eq!(synced.amr(), ["swk", "user", "mfa"]);
        assert_eq!(synced.acr(), ACR_MFA);
        let device_bound = AuthMethods::passkey(false, false);
        assert_eq!(device_bound.amr(), ["hwk"]);
        assert_eq!(device_bound.acr(), ACR_SINGLE);
        let stored = AuthMethods::from_stored(&synced.to_stored());
        assert_eq!(stored, synced);
    }

    #[test]
    fn acr_values_ask_for_mfa_only_by_name() {
        assert!(asks_for_mfa(Some("pwd mfa")));
        assert!(!asks_for_mfa(Some("mfax")));
        assert!(!asks_for_mfa(None));
    }
}
