//! Request bodies as Django REST Framework reads them: JSON, form-encoded or multipart (its
//! three default parsers), fields checked the way its `CharField` checks them, with its
//! error messages.
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
    /// `multipart/form-data`: each part's name, and its text (`None` for a file part, which
    /// DRF puts beside the text fields, where a `CharField` finds it not a string).
    Multipart(Vec<(String, Option<String>)>),
    /// No body: DRF sees no data at all.
    Empty,
}

/// The most a multipart body may hold (a token request is a few kilobytes), and one part.
const MAX_MULTIPART: u64 = 64 * 1024;
const MAX_PART: u64 = 16 * 1024;

fn multipart_error(reason: impl std::fmt::Display) -> SimpleJwtError {
    SimpleJwtError::Parse(format!("Multipart form parse error - {reason}"))
}

/// A `multipart/form-data` body, already in memory, read part by part within the limits.
async fn multipart(content_type: &str, bytes: &[u8]) -> Result<Body, SimpleJwtError> {
    // Django's words when the boundary is missing.
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| multipart_error("Invalid boundary in multipart: None"))?;
    let limits = multer::SizeLimit::new()
        .whole_stream(MAX_MULTIPART)
        .per_field(MAX_PART);
    let data = actix_web::web::Bytes::copy_from_slice(bytes);
    let stream = futures_util::stream::once(async move { Ok::<_, std::io::Error>(data) });
    let mut reader = multer::Multipart::with_constraints(
        stream,
        boundary,
        multer::Constraints::new().size_limit(limits),
    );
    let mut parts = Vec::new();
    while let Some(field) = reader.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        let is_file = field.file_name().is_some();
        let text = field.text().await.map_err(multipart_error)?;
        parts.push((name, (!is_file).then_some(text)));
    }
    Ok(Body::Multipart(parts))
}

/// Parse a body as DRF's default parsers would (JSON, form, multipart).
pub async fn parse(content_type: Option<&str>, bytes: &[u8]) -> Result<Body, SimpleJwtError> {
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
        "multipart/form-data" => multipart(content_type, bytes).await,
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
        // Files are merged after the text fields, so a file of that name wins.
        Body::Multipart(parts) => {
            let mut named = parts.iter().filter(|(k, _)| k == name).peekable();
            named.peek()?;
            match named.clone().any(|(_, v)| v.is_none()) {
                true => Some(Value::Array(Vec::new())),
                false => named.last().and_then(|(_, v)| v.clone()).map(Value::String),
            }
        }
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

    fn parse_now(content_type: Option<&str>, bytes: &[u8]) -> Result<Body, SimpleJwtError> {
        futures_util::FutureExt::now_or_never(parse(content_type, bytes))
            .expect("parsing an in-memory body never waits")
    }

    const BOUNDARY: &str = "multipart/form-data; boundary=XyZ";

    fn part(name: &str, file: bool, value: &str) -> String {
        let filename = if file { "; filename=\"a.txt\"" } else { "" };
        format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n{value}\r\n"
        )
    }

    #[test]
    fn multipart_fields_are_read_like_form_fields() {
        let body = format!(
            "{}{}--XyZ--\r\n",
            part("username", false, " alice "),
            part("password", false, "pw")
        );
        let body = parse_now(Some(BOUNDARY), body.as_bytes()).unwrap();
        assert_eq!(
            fields(&body, &["username", "password"]).unwrap(),
            vec!["alice".to_owned(), "pw".to_owned()]
        );
    }

    #[test]
    fn a_file_part_is_not_a_string() {
        let body = format!(
            "{}{}--XyZ--\r\n",
            part("username", false, "alice"),
            part("username", true, "x")
        );
        let body = parse_now(Some(BOUNDARY), body.as_bytes()).unwrap();
        assert_eq!(
            errors_of(body, &["username"]),
            r#"{"username":["Not a valid string."]}"#
        );
    }

    #[test]
    fn multipart_refuses_missing_boundaries_and_oversized_parts() {
        let no_boundary = parse_now(Some("multipart/form-data"), b"--x\r\n");
        assert!(matches!(
            no_boundary,
            Err(SimpleJwtError::Parse(m)) if m == "Multipart form parse error - Invalid boundary in multipart: None"
        ));
        let big = format!(
            "{}--XyZ--\r\n",
            part("password", false, &"a".repeat(20_000))
        );
        assert!(matches!(
            parse_now(Some(BOUNDARY), big.as_bytes()),
            Err(SimpleJwtError::Parse(m)) if m.starts_with("Multipart form parse error - ")
        ));
        let truncated = "--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nvalue";
        assert!(matches!(
            parse_now(Some(BOUNDARY), truncated.as_bytes()),
            Err(SimpleJwtError::Parse(_))
        ));
    }

    #[test]
    fn form_repeats_take_the_last_value() {
        let body = parse_now(
            Some("application/x-www-form-urlencoded"),
            b"refresh=a&refresh=b",
        )
        .unwrap();
        assert_eq!(fields(&body, &["refresh"]).unwrap(), vec!["b".to_owned()]);
    }

    #[test]
    fn unknown_media_types_are_refused_but_empty_bodies_are_not() {
        assert!(matches!(
            parse_now(Some("text/plain"), b"x"),
            Err(SimpleJwtError::UnsupportedMediaType(t)) if t == "text/plain"
        ));
        assert!(matches!(
            parse_now(Some("text/plain"), b""),
            Ok(Body::Empty)
        ));
        assert!(matches!(
            parse_now(None, b"x"),
            Err(SimpleJwtError::UnsupportedMediaType(t)) if t.is_empty()
        ));
    }
}
