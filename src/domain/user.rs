//! User-facing identifiers: username, email, password.
use crate::secrets::SecretString;

/// A login name: 1-150 characters of letters, digits and `@ . + - _` (Django's rule, so
/// usernames migrated from a Django app stay valid).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() {
            return Err("username must not be empty".into());
        }
        if raw.chars().count() > 150 {
            return Err("username must be at most 150 characters".into());
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_alphanumeric() || "@.+-_".contains(*c)))
        {
            return Err(format!(
                "username may contain only letters, digits and @ . + - _ (found '{bad}')"
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email address, checked loosely (one `@`, something either side, no spaces): the
/// only real check is a message that arrives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        let valid = match trimmed.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !trimmed.chars().any(char::is_whitespace)
                    && trimmed.len() <= 254
            }
            None => false,
        };
        if valid {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(format!("'{raw}' is not an email address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8 to 1024 characters (the upper bound keeps hashing cheap to refuse).
#[derive(Clone, Debug)]
pub struct Password(SecretString);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let n = raw.chars().count();
        if n < 8 {
            return Err("password must be at least 8 characters".into());
        }
        if n > 1024 {
            return Err("password must be at most 1024 characters".into());
        }
        Ok(Self(SecretString::new(raw)))
    }

    pub fn secret(&self) -> &SecretString {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_djangos_rule() {
        assert!(Username::parse("alice.smith+ops@example").is_ok());
        assert!(Username::parse("").is_err());
        assert!(Username::parse("has space").is_err());
        assert!(Username::parse(&"a".repeat(151)).is_err());
    }

    #[test]
    fn emails_are_checked_loosely() {
        assert!(Email::parse("a@example.com").is_ok());
        assert!(Email::parse("nope").is_err());
        assert!(Email::parse("a@b@c.com").is_err());
        assert!(Email::parse("a b@c.com").is_err());
    }

    #[test]
    fn passwords_have_a_minimum_length() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("long enough").is_ok());
    }
}
