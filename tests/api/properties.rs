//! Property-based fuzzing of every parser that faces the network: the token endpoint's
//! form and `Authorization` header, JWT decoding, redirect URIs, authorization parameters
//! and the SimpleJWT bodies. Each property holds for every generated input and nothing
//! panics. `PROPTEST_CASES` sets how many inputs each property gets (CI keeps the
//! default; `scripts/fuzz` runs many more).
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use proptest::prelude::*;
use tessera::domain::{RedirectUri, ScopeSet};
use tessera::oauth::authorize::AuthorizeParams;
use tessera::oauth::client_auth;
use tessera::oauth::grants::GrantRequest;
use tessera::resource::{self, Expectations};
use tessera::simplejwt::input;

fn config() -> ProptestConfig {
    ProptestConfig {
        // Each case is microseconds; keep the default run quick but meaningful.
        cases: std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(512),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Field names the parsers look for, mixed with noise, so generated forms hit real paths.
fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("grant_type".to_owned()),
        Just("code".to_owned()),
        Just("redirect_uri".to_owned()),
        Just("code_verifier".to_owned()),
        Just("refresh_token".to_owned()),
        Just("scope".to_owned()),
        Just("client_id".to_owned()),
        Just("client_secret".to_owned()),
        Just("prompt".to_owned()),
        Just("max_age".to_owned()),
        Just("code_challenge".to_owned()),
        Just("code_challenge_method".to_owned()),
        Just("response_mode".to_owned()),
        Just("state".to_owned()),
        ".{0,12}",
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("authorization_code".to_owned()),
        Just("refresh_token".to_owned()),
        Just("client_credentials".to_owned()),
        Just("S256".to_owned()),
        Just("none login".to_owned()),
        Just("openid email".to_owned()),
        "[A-Za-z0-9._~-]{43,50}",
        "-?[0-9]{1,20}",
        ".{0,64}",
    ]
}

fn form() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((name(), value()), 0..8)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_token_form_parses_or_gets_a_protocol_error(form in form()) {
        match GrantRequest::parse(&form) {
            Ok(request) => {
                let grant = request.grant_type().as_str();
                let sent: Vec<&str> = form
                    .iter()
                    .filter(|(k, _)| k == "grant_type")
                    .map(|(_, v)| v.as_str())
                    .collect();
                prop_assert_eq!(sent, vec![grant]);
            }
            Err(e) => prop_assert!(
                ["invalid_request", "unsupported_grant_type", "invalid_scope"].contains(&e.code()),
                "{}", e
            ),
        }
    }

    #[test]
    fn basic_credentials_round_trip_through_their_encoding(
        id in "[ -~]{1,24}",
        secret in "[ -~]{0,24}",
    ) {
        // RFC 6749 §2.3.1: both parts form-urlencoded, then Basic.
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let header = format!("Basic {}", STANDARD.encode(format!("{}:{}", enc(&id), enc(&secret))));
        let auth = client_auth::presented(Some(&header), &[]).unwrap().unwrap();
        prop_assert_eq!(auth.client_id, id);
        let presented = match auth.credential {
            client_auth::Credential::Secret(s) => s.expose().to_owned(),
            _ => String::new(),
        };
        prop_assert_eq!(presented, secret);
    }

    #[test]
    fn any_authorization_header_is_parsed_or_refused(header in ".{0,80}", basic in ".{0,60}") {
        for h in [header, format!("Basic {basic}"), format!("Basic {}", STANDARD.encode(&basic))] {
            if let Err(e) = client_auth::presented(Some(&h), &[]) {
                prop_assert!(["invalid_client", "invalid_request"].contains(&e.code()));
            }
        }
    }

    #[test]
    fn garbage_never_decodes_as_a_token(token in ".{0,200}", parts in prop::collection::vec("[A-Za-z0-9_-]{0,60}", 3)) {
        let key = resource::VerifyingKey::rs256(&[0xc5; 256], &[1, 0, 1]);
        let expect = Expectations::access("https://issuer.example");
        prop_assert!(resource::decode(&token, &key, &expect, 0).is_err());
        prop_assert!(resource::decode(&parts.join("."), &key, &expect, 0).is_err());
        prop_assert!(resource::token_kid(&token).is_err() || token.split('.').count() == 3);
    }

    #[test]
    fn forged_headers_are_refused(alg in "[A-Za-z0-9]{2,6}", extra in ".{0,40}") {
        // Any header but one of our algorithms is refused before a key is chosen, whatever
        // else it says (whether it is the key's algorithm is checked once the key is found).
        let header = serde_json::json!({ "alg": alg, "kid": "k", "x": extra });
        let token = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(b"{}")
        );
        let kid = resource::token_kid(&token);
        prop_assert!(kid.is_err() || ["RS256", "PS256", "ES256", "EdDSA"].contains(&alg.as_str()));
    }

    #[test]
    fn accepted_redirect_uris_are_absolute_without_fragments(raw in ".{0,80}") {
        if let Ok(uri) = RedirectUri::parse(&raw) {
            let url = url::Url::parse(uri.as_str()).unwrap();
            prop_assert!(url.fragment().is_none());
            prop_assert!(!["javascript", "data", "file", "vbscript"].contains(&url.scheme()));
            prop_assert_eq!(uri.as_str(), raw.as_str());
        }
    }

    #[test]
    fn scope_sets_round_trip(raw in "[ -~]{0,60}") {
        if let Ok(set) = ScopeSet::parse(&raw) {
            let again = ScopeSet::parse(&set.to_string()).unwrap();
            prop_assert_eq!(again, set);
        }
    }

    #[test]
    fn authorization_parameters_parse_or_name_the_problem(params in form()) {
        match AuthorizeParams::parse(&params) {
            Ok(p) => {
                prop_assert!(p.max_age.is_none_or(|m| m >= 0));
                prop_assert!(!(p.prompt.none && (p.prompt.login || p.prompt.consent)));
            }
            Err(refusal) => prop_assert!(
                ["invalid_request", "request_not_supported", "request_uri_not_supported"]
                    .contains(&refusal.code)
            ),
        }
    }

    #[test]
    fn simplejwt_bodies_parse_or_get_drf_errors(
        content_type in prop_oneof![
            Just("application/json".to_owned()),
            Just("application/x-www-form-urlencoded".to_owned()),
            Just("application/json; charset=utf-8".to_owned()),
            Just("multipart/form-data; boundary=X".to_owned()),
            Just("multipart/form-data".to_owned()),
            ".{0,30}",
        ],
        body in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        // The parser is async (multipart streams); a current-thread runtime drives it.
        let parsed = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(input::parse(Some(&content_type), &body));
        if let Ok(parsed) = parsed {
            // Whatever parsed, reading the fields answers or names the field errors.
            let _ = input::fields(&parsed, &["username", "password"]);
        }
    }
}
