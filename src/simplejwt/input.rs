//! Request bodies as Django REST Framework reads them: JSON or form-encoded, fields checked
//! the way its `CharField` checks them, with its error messages.
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::SimpleJwtError;

/// Validation errors by field, in the order the fields are declared (DRF's order).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<(String, Vec<String>)>);

impl FieldErrors {
    pub fn non_field(message: &str) -> Self {
        Self(vec![(
            "non_field_errors".to_owned(),
            vec![message.to_owned()],
        )])
    }
}

impl Serialize for FieldErrors {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (field, messages) in &self.0 {
            map.serialize_entry(field, messages)?;
        }
        map.end()
    }
}

/// A parsed request body.
#[derive(Debug)]
pub enum Body {
    Json(Value),
    Form(Vec<(String, String)>),
    /// No body: DRF sees no data at all.
    Empty,
}

/// Parse a body as DRF's default parsers would (JSON, form; multipart is not supported).
pub fn parse(content_type: Option<&str>, bytes: &[u8]) -> Result<Body, SimpleJwtError> {
    if bytes.is_empty() {
        return Ok(Body::Empty);
    }
    // Under WSGI a missing Content-Type is an empty one, which no parser takes.
    let content_type = content_type.unwrap_or("");
    let media = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match media.as_str() {
        "application/json" => serde_json::from_slice(bytes)
            .map(Body::Json)
            .map_err(|e| SimpleJwtError::Parse(format!("JSON parse error - {e}"))),
        "application/x-www-form-urlencoded" => Ok(Body::Form(
            url::form_urlencoded::parse(bytes).into_owned().collect(),
        )),
        _ => Err(SimpleJwtError::UnsupportedMediaType(
            content_type.to_owned(),
        )),
    }
}

/// Python's name for the type of a JSON value, for DRF's "Expected a dictionary" message.
fn python_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// One `CharField`: present, not null, a string (numbers are taken as their text), not
/// blank once trimmed, without NUL characters.
fn char_field(raw: Option<&Value>) -> Result<String, &'static str> {
    let text = match raw {
        None => return Err("This field is required."),
        Some(Value::Null) => return Err("This field may not be null."),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(_) => return Err("Not a valid string."),
    };
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("This field may not be blank.");
    }
    if trimmed.contains('\0') {
        return Err("Null characters are not allowed.");
    }
    Ok(trimmed.to_owned())
}

/// The raw value of `name` in an object or form body.
fn raw_field(body: &Body, name: &str) -> Option<Value> {
    match body {
        Body::Json(Value::Object(map)) => map.get(name).cloned(),
        // A repeated form key: DRF's QueryDict answers with the last value.
        Body::Form(pairs) => pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| Value::String(v.clone())),
        Body::Json(_) | Body::Empty => None,
    }
}

/// The named string fields of a body, or DRF's 400 body describing every bad one.
pub fn fields(body: &Body, names: &[&str]) -> Result<Vec<String>, SimpleJwtError> {
    match body {
        Body::Json(Value::Null) => {
            return Err(SimpleJwtError::Fields(FieldErrors::non_field(
                "No data provided",
            )));
        }
        Body::Json(other) if !other.is_object() => {
            return Err(SimpleJwtError::Fields(FieldErrors::non_field(&format!(
                "Invalid data. Expected a dictionary, but got {}.",
                python_type(other)
            ))));
        }
        _ => {}
    }
    let mut values = Vec::with_capacity(names.len());
    let mut errors = FieldErrors::default();
    for name in names {
        match char_field(raw_field(body, name).as_ref()) {
            Ok(v) => values.push(v),
            Err(message) => errors
                .0
                .push(((*name).to_owned(), vec![message.to_owned()])),
        }
    }
    if errors.0.is_empty() {
        Ok(values)
    } else {
        Err(SimpleJwtError::Fields(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors_of(body: Body, names: &[&str]) -> String {
        match fields(&body, names) {
            Err(SimpleJwtError::Fields(e)) => serde_json::to_string(&e).unwrap(),
            other => panic!("expected field errors, got {other:?}"),
        }
    }

    #[test]
    fn reports_each_field_in_declared_order() {
        let body = Body::Json(json!({"password": "  ", "username": null}));
        assert_eq!(
            errors_of(body, &["username", "password"]),
            r#"{"username":["This field may not be null."],"password":["This field may not be blank."]}"#
        );
    }

    #[test]
    fn numbers_are_text_and_whitespace_is_trimmed() {
        let body = Body::Json(json!({"username": 15, "password": " pw "}));
        assert_eq!(
            fields(&body, &["username", "password"]).unwrap(),
            vec!["15".to_owned(), "pw".to_owned()]
        );
    }

    #[test]
    fn refuses_non_objects_like_drf() {
        assert_eq!(
            errors_of(Body::Json(json!([1])), &["token"]),
            r#"{"non_field_errors":["Invalid data. Expected a dictionary, but got list."]}"#
        );
        assert_eq!(
            errors_of(Body::Json(Value::Null), &["token"]),
            r#"{"non_field_errors":["No data provided"]}"#
        );
    }

    #[test]
    fn form_repeats_take_the_last_value() {
        let body = parse(
            Some("application/x-www-form-urlencoded"),
            b"refresh=a&refresh=b",
        )
        .unwrap();
        assert_eq!(fields(&body, &["refresh"]).unwrap(), vec!["b".to_owned()]);
    }

    #[test]
    fn unknown_media_types_are_refused_but_empty_bodies_are_not() {
        assert!(matches!(
            parse(Some("text/plain"), b"x"),
            Err(SimpleJwtError::UnsupportedMediaType(t)) if t == "text/plain"
        ));
        assert!(matches!(parse(Some("text/plain"), b""), Ok(Body::Empty)));
        assert!(matches!(
            parse(None, b"x"),
            Err(SimpleJwtError::UnsupportedMediaType(t)) if t.is_empty()
        ));
    }
}
