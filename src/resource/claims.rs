//! The claims of a verified token, with accessors for the ones resource servers use.
use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq)]
pub struct Claims(Map<String, Value>);

impl Claims {
    pub(crate) fn new(claims: Map<String, Value>) -> Self {
        Self(claims)
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    pub fn sub(&self) -> Option<&str> {
        self.str("sub")
    }

    pub fn jti(&self) -> Option<&str> {
        self.str("jti")
    }

    /// The thumbprint of the DPoP key the token is bound to (`cnf.jkt`, RFC 9449 §6.1).
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.0.get("cnf")?.get("jkt")?.as_str()
    }

    pub fn exp(&self) -> Option<i64> {
        self.0.get("exp").and_then(Value::as_i64)
    }

    /// SimpleJWT's `user_id` claim (a string since SimpleJWT 5.4; a number before).
    pub fn user_id(&self) -> Option<String> {
        match self.0.get("user_id")? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    /// The space-separated `scope` claim as a list.
    pub fn scopes(&self) -> Vec<&str> {
        self.str("scope")
            .map(|s| s.split(' ').filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }

    pub fn into_map(self) -> Map<String, Value> {
        self.0
    }
}
