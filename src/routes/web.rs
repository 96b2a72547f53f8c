//! Small HTTP helpers shared by the page and OAuth routes: form parsing, cookies, CSRF.
use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};

use crate::config::Settings;
use crate::secrets;

/// `application/x-www-form-urlencoded` pairs, repeats kept (so repeats can be refused).
pub fn form_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

pub fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    form_pairs(req.query_string().as_bytes())
}

/// The one value of `name`, if it appears exactly once.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let mut it = pairs.iter().filter(|(k, _)| k == name);
    match (it.next(), it.next()) {
        (Some((_, v)), None) => Some(v.as_str()),
        _ => None,
    }
}

/// A cookie of Tessera's: HttpOnly, SameSite=Lax, Secure when served over https.
pub fn cookie(
    settings: &Settings,
    name: &'static str,
    value: String,
    max_age: i64,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .http_only(true)
        .secure(settings.is_https())
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::seconds(max_age))
        .finish()
}

/// An expired cookie, to remove one.
pub fn removal(settings: &Settings, name: &'static str) -> Cookie<'static> {
    let mut c = cookie(settings, name, String::new(), 0);
    c.make_removal();
    c
}

pub fn cookie_value(req: &HttpRequest, name: &str) -> Option<String> {
    req.cookie(name)
        .map(|c| c.value().to_owned())
        .filter(|v| !v.is_empty())
}

/// CSRF tokens compare in constant time; a missing one never matches.
pub fn csrf_ok(expected: &str, presented: Option<&str>) -> bool {
    presented.is_some_and(|p| {
        !expected.is_empty() && secrets::constant_time_eq(expected.as_bytes(), p.as_bytes())
    })
}

/// The client's address for the session list (proxy-aware, see `extract::client_ip`).
pub fn client_ip(req: &HttpRequest, settings: &Settings) -> Option<String> {
    let forwarded = req
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    crate::extract::client_ip(
        req.peer_addr().map(|a| a.ip()),
        forwarded,
        &settings.trusted_proxies,
    )
    .map(|ip| ip.to_string())
}

/// Only local authorization requests, the device page, the account page and admin console
/// pages may be returned to after login (no open redirect). No control character at all (not only CR and LF): the value
/// becomes a `Location` header, which refuses them, and a refused header is a 500.
pub fn safe_return_to(raw: Option<&str>) -> Option<String> {
    raw.filter(|r| {
        !r.chars().any(char::is_control)
            && (r.starts_with("/oauth/authorize?")
                || *r == "/device"
                || r.starts_with("/device?")
                || *r == "/account"
                || (r.starts_with("/admin/") && !r.contains("//") && !r.contains('\\')))
    })
    .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::safe_return_to;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2048, failure_persistence: None, ..ProptestConfig::default() })]

        /// Whatever comes in, what goes out can be a `Location` header and stays on this
        /// server: a path of ours, no scheme, no host, no control characters.
        #[test]
        fn return_to_only_leads_home(
            prefix in prop_oneof![
                Just("/oauth/authorize?".to_owned()),
                Just("/admin/".to_owned()),
                Just("/device?".to_owned()),
                Just("//".to_owned()),
                Just("/\\\\".to_owned()),
                Just("https://".to_owned()),
                ".{0,8}",
            ],
            rest in ".{0,40}",
        ) {
            let raw = format!("{prefix}{rest}");
            if let Some(target) = safe_return_to(Some(&raw)) {
                prop_assert!(actix_web::http::header::HeaderValue::from_str(&target).is_ok());
                prop_assert!(target.starts_with('/') && !target.starts_with("//"));
                prop_assert!(!target.starts_with("/\\"));
                prop_assert!(!target.chars().any(char::is_control));
            }
        }
    }
}
