//! The discovery document.
use serde_json::Value;

use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(discovery_document_is_complete, |app: TestApp| async move {
    let res = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("etag").is_some());
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let doc: Value = res.json().await.unwrap();
    assert_eq!(doc["issuer"], app.settings.issuer.as_str());
    assert_eq!(
        doc["jwks_uri"],
        format!("{}/.well-known/jwks.json", app.settings.issuer)
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "PS256", "ES256", "EdDSA"])
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    for field in [
        "grant_types_supported",
        "token_endpoint_auth_methods_supported",
        "scopes_supported",
        "claims_supported",
    ] {
        assert!(
            doc[field].as_array().is_some_and(|a| !a.is_empty()),
            "{field} missing or empty"
        );
    }
    assert!(
        doc["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&Value::from("openid"))
    );
});

#[actix_web::test]
async fn issuer_is_exactly_the_configured_value() {
    for issuer in ["https://id.example.com", "https://example.com/tenant/"] {
        let app = crate::helpers::spawn_with(
            crate::helpers::Backend::Sqlite,
            &[("TESSERA_ISSUER", issuer)],
        )
        .await;
        let doc: Value = app.get_json("/.well-known/openid-configuration").await;
        assert_eq!(doc["issuer"], issuer);
        assert_eq!(
            doc["jwks_uri"],
            format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/'))
        );
    }
}

/// Nothing advertised that does not exist: every endpoint URL in the document answers
/// with something other than 404 (an unauthenticated call gets a protocol error).
#[actix_web::test]
async fn every_advertised_endpoint_exists() {
    let app = crate::helpers::spawn(crate::helpers::Backend::Sqlite).await;
    let doc: Value = app.get_json("/.well-known/openid-configuration").await;
    let endpoints = [
        ("authorization_endpoint", "GET"),
        ("token_endpoint", "POST"),
        ("userinfo_endpoint", "GET"),
        ("introspection_endpoint", "POST"),
        ("revocation_endpoint", "POST"),
        ("end_session_endpoint", "GET"),
        ("jwks_uri", "GET"),
    ];
    for (field, method) in endpoints {
        let url = doc[field]
            .as_str()
            .unwrap_or_else(|| panic!("{field} missing"));
        assert!(url.starts_with(&app.settings.issuer), "{field}: {url}");
        let req = if method == "GET" {
            app.http.get(url)
        } else {
            app.http.post(url)
        };
        let status = req.send().await.unwrap().status();
        assert_ne!(status, 404, "{field} advertised but missing");
        assert!(status.as_u16() < 500, "{field}: {status}");
    }
}

#[actix_web::test]
async fn unknown_paths_get_a_json_404() {
    let app = crate::helpers::spawn(crate::helpers::Backend::Sqlite).await;
    let res = app.http.get(app.url("/no/such/path")).send().await.unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    let res = app.http.get(app.url("/oauth/token")).send().await.unwrap();
    assert_eq!(res.status(), 405, "a known path with the wrong method");
}
