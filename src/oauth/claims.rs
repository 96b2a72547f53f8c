//! Which user claims a token or userinfo response carries, by granted scope (OIDC Core §5.4)
//! and by the `claims` request parameter (§5.5).
use serde_json::{Map, Value};

use crate::store::users::UserRow;

/// Claims each standard scope releases.
fn scope_claims(scope: &str) -> &'static [&'static str] {
    match scope {
        "profile" => &[
            "name",
            "family_name",
            "given_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
        "email" => &["email", "email_verified"],
        "address" => &["address"],
        "phone" => &["phone_number", "phone_number_verified"],
        _ => &[],
    }
}

/// The value of one claim for `user`, if the user has it.
fn claim(user: &UserRow, profile: &Map<String, Value>, name: &str) -> Option<Value> {
    match name {
        "name" => user.name.clone().map(Value::from),
        "preferred_username" => Some(Value::from(user.username.clone())),
        "email" => user.email.clone().map(Value::from),
        "email_verified" => user
            .email
            .as_ref()
            .map(|_| Value::from(user.email_verified)),
        "updated_at" => Some(Value::from(user.updated_at)),
        "phone_number_verified" => profile.get("phone_number").map(|_| {
            profile
                .get("phone_number_verified")
                .cloned()
                .unwrap_or(Value::Bool(false))
        }),
        other => profile.get(other).cloned(),
    }
}

/// The user claims for a space-separated `scope`, plus any individually requested `extra`.
pub fn user_claims(user: &UserRow, scope: &str, extra: &[String]) -> Map<String, Value> {
    let profile: Map<String, Value> = serde_json::from_str(&user.profile).unwrap_or_default();
    let mut out = Map::new();
    let names = scope
        .split(' ')
        .flat_map(|s| scope_claims(s).iter().copied())
        .chain(extra.iter().map(String::as_str));
    for name in names {
        if out.contains_key(name) {
            continue;
        }
        if let Some(value) = claim(user, &profile, name) {
            out.insert(name.to_owned(), value);
        }
    }
    out
}

/// The claim names a `claims` request parameter asks for under `member` ("id_token" or
/// "userinfo"). Malformed input asks for nothing.
pub fn requested(claims_param: Option<&str>, member: &str) -> Vec<String> {
    let Some(raw) = claims_param else {
        return Vec::new();
    };
    let Ok(Value::Object(root)) = serde_json::from_str::<Value>(raw) else {
        return Vec::new();
    };
    match root.get(member) {
        Some(Value::Object(m)) => m.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> UserRow {
        UserRow {
            id: 7,
            subject: "sub-7".into(),
            username: "alice".into(),
            password_hash: String::new(),
            email: Some("alice@example.com".into()),
            email_verified: true,
            name: Some("Alice".into()),
            profile: r#"{"given_name":"Alice","phone_number":"+1 555","address":{"country":"NZ"}}"#
                .into(),
            is_admin: false,
            is_active: true,
            created_at: 1,
            updated_at: 2,
            last_login_at: None,
            imported_from: None,
            must_change_password: false,
        }
    }

    #[test]
    fn scopes_release_their_claims_only() {
        let c = user_claims(&user(), "openid email", &[]);
        assert_eq!(c.len(), 2);
        assert_eq!(c["email"], "alice@example.com");
        assert_eq!(c["email_verified"], true);
        let c = user_claims(&user(), "openid profile phone address", &[]);
        assert_eq!(c["name"], "Alice");
        assert_eq!(c["given_name"], "Alice");
        assert_eq!(c["preferred_username"], "alice");
        assert_eq!(c["phone_number_verified"], false);
        assert_eq!(c["address"]["country"], "NZ");
        assert!(!c.contains_key("email"));
    }

    #[test]
    fn the_claims_parameter_adds_single_claims() {
        let extra = requested(
            Some(r#"{"id_token":{"email":{"essential":true}}}"#),
            "id_token",
        );
        assert_eq!(extra, vec!["email".to_owned()]);
        let c = user_claims(&user(), "openid", &extra);
        assert_eq!(c["email"], "alice@example.com");
        assert!(requested(Some("not json"), "id_token").is_empty());
    }
}
