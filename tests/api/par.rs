//! Pushed authorization requests (RFC 9126): `POST /oauth/par` and the authorization
//! endpoint's `request_uri`. Refusals first: no client authentication, a bad pushed
//! request, an oversized body, an expired `request_uri`, another client's, one used twice
//! (also by two browsers at once), a plain request from a client (or a server) that
//! requires PAR; then the whole code flow with private_key_jwt, and discovery.
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera::clients::ClientKeys;
use tessera::domain::{ClientKind, GrantType};

use crate::flow::{self, Browser, Page, REDIRECT};
use crate::helpers::TestApp;
use crate::on_both_backends;
use crate::private_key_jwt::{self as pkjwt, ClientKey, json_of, post_with};

const PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// The authorization parameters of a code flow with PKCE (the challenge of `challenge`).
pub fn request<'a>(challenge: &'a str, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", "st-par"),
        ("nonce", "n-par"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ];
    form.extend_from_slice(extra);
    form
}

/// Push as a private_key_jwt client.
async fn push(
    app: &TestApp,
    key: &ClientKey,
    client: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    post_with(app, "/oauth/par", &pkjwt::assertion(app, key, client), form).await
}

/// Push and expect a request_uri.
async fn pushed(app: &TestApp, key: &ClientKey, client: &str, challenge: &str) -> String {
    let (status, body) = push(app, key, client, &request(challenge, &[])).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["expires_in"], 60, "{body}");
    let uri = body["request_uri"].as_str().unwrap().to_owned();
    assert!(uri.starts_with(PREFIX), "{uri}");
    uri
}

pub fn authorize_url(client: &str, request_uri: &str) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("client_id", client)
        .append_pair("request_uri", request_uri)
        .finish();
    format!("/oauth/authorize?{q}")
}

fn is_error_page(page: &Page, says: &str) {
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.location.is_none(), "an error page, not a redirect");
    assert!(page.body.contains(says), "{}", page.body);
}

async fn signed_in(app: &TestApp, username: &str) -> Browser {
    flow::create_user(app, username);
    let browser = Browser::new(app);
    browser.sign_in(username).await;
    browser
}

on_both_backends!(
    par_without_client_authentication_is_refused,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = pkjwt::client_with(&app, &key);
        let (_, challenge) = flow::pkce();
        let mut form = request(&challenge, &[]);
        form.push(("client_id", &client));
        let (status, body) = json_of(
            app.http
                .post(app.url("/oauth/par"))
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status.as_u16(), body["error"].as_str()),
            (401, Some("invalid_client")),
            "{body}"
        );
        // A wrong secret from a secret client, and a bad assertion, likewise.
        let secret_client = flow::confidential(&app);
        let (status, body) = json_of(
            app.http
                .post(app.url("/oauth/par"))
                .basic_auth(&secret_client.id, Some("guess"))
                .form(&request(&challenge, &[]))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status.as_u16(), body["error"].as_str()),
            (401, Some("invalid_client")),
            "{body}"
        );
        let thief = ClientKey::es256("k1");
        let (status, _) = push(&app, &thief, &client, &request(&challenge, &[])).await;
        assert_eq!(status, 401);
        // Nothing was stored for any of them.
        use diesel::prelude::*;
        let rows: i64 = tessera::store::schema::pushed_requests::table
            .count()
            .get_result(&mut **app.store.conn().unwrap())
            .unwrap();
        assert_eq!(rows, 0);
    }
);

on_both_backends!(
    par_checks_the_request_like_the_authorization_endpoint,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = pkjwt::client_with(&app, &key);
        let (_, challenge) = flow::pkce();
        for (extra, error) in [
            (
                vec![("request_uri", "urn:ietf:params:oauth:request_uri:x")],
                "invalid_request",
            ),
            (
                vec![("scope", "openid"), ("scope", "email")],
                "invalid_request",
            ),
            (vec![("prompt", "none login")], "invalid_request"),
            (vec![("scope", "openid admin")], "invalid_scope"),
            (vec![("request", "eyJ.x.y")], "invalid_request"),
        ] {
            let mut form = request(&challenge, &[]);
            form.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
            form.extend_from_slice(&extra);
            let (status, body) = push(&app, &key, &client, &form).await;
            assert_eq!(
                (status.as_u16(), body["error"].as_str()),
                (400, Some(error)),
                "{extra:?}: {body}"
            );
        }
        let mut form = request(&challenge, &[]);
        form.retain(|(k, _)| *k != "redirect_uri");
        form.push(("redirect_uri", "https://evil.example/cb"));
        let (status, body) = push(&app, &key, &client, &form).await;
        assert_eq!(
            (status.as_u16(), body["error"].as_str()),
            (400, Some("invalid_request")),
            "{body}"
        );
        let mut form = request(&challenge, &[]);
        form.retain(|(k, _)| *k != "response_type");
        form.push(("response_type", "token"));
        let (status, _) = push(&app, &key, &client, &form).await;
        assert_eq!(status, 400);
        // A public client must use PKCE here too, and its pushed request needs no secret.
        let public = flow::public(&app);
        let mut form = request(&challenge, &[("client_id", &public.id)]);
        form.retain(|(k, _)| !k.starts_with("code_challenge"));
        let (status, body) = json_of(
            app.http
                .post(app.url("/oauth/par"))
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status.as_u16(), body["error"].as_str()),
            (400, Some("invalid_request")),
            "{body}"
        );
        // A client without the code grant may not push.
        let machine = flow::register(
            &app,
            ClientKind::Confidential,
            &[GrantType::ClientCredentials],
            &[],
        );
        let (status, body) = json_of(
            app.http
                .post(app.url("/oauth/par"))
                .basic_auth(&machine.id, machine.secret.as_deref())
                .form(&request(&challenge, &[]))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status.as_u16(), body["error"].as_str()),
            (400, Some("unauthorized_client")),
            "{body}"
        );
    }
);

on_both_backends!(par_oversized_body_is_refused, |app: TestApp| async move {
    let key = ClientKey::es256("k1");
    let client = pkjwt::client_with(&app, &key);
    let (_, challenge) = flow::pkce();
    let big = "x".repeat(20 * 1024);
    let (status, body) = push(
        &app,
        &key,
        &client,
        &request(&challenge, &[("state", &big)]),
    )
    .await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_request")),
        "{body}"
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("larger"),
        "{body}"
    );
    // Past the server's body limit: 413, still JSON.
    let huge = "x".repeat(80 * 1024);
    let (status, _) = push(
        &app,
        &key,
        &client,
        &request(&challenge, &[("state", &huge)]),
    )
    .await;
    assert_eq!(status, 413);
});

on_both_backends!(
    par_request_uri_expires,
    manual_clock,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = pkjwt::client_with(&app, &key);
        let (_, challenge) = flow::pkce();
        let uri = pushed(&app, &key, &client, &challenge).await;
        let browser = signed_in(&app, "alice").await;
        app.advance(61);
        is_error_page(&browser.get(&authorize_url(&client, &uri)).await, "expired");
    }
);

on_both_backends!(
    par_request_uri_of_another_client_is_refused,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = pkjwt::client_with(&app, &key);
        let other = pkjwt::client_with(&app, &ClientKey::es256("k2"));
        let (_, challenge) = flow::pkce();
        let uri = pushed(&app, &key, &client, &challenge).await;
        let browser = signed_in(&app, "alice").await;
        is_error_page(
            &browser.get(&authorize_url(&other, &uri)).await,
            "not known",
        );
        // Made-up request_uris are refused the same way.
        let made_up = format!("{PREFIX}{}", tessera::secrets::random_token(32));
        is_error_page(
            &browser.get(&authorize_url(&client, &made_up)).await,
            "not known",
        );
        // One not issued by Tessera is not fetched: refused back to the client.
        let page = browser
            .get(&authorize_url(&client, "https://evil.example/req"))
            .await;
        assert_eq!(
            page.redirect_param("error").as_deref(),
            Some("request_uri_not_supported")
        );
        // The real owner still can use it: the refusals did not spend it.
        let page = browser
            .authorize(&authorize_url(&client, &uri), "alice")
            .await;
        assert!(page.redirect_param("code").is_some(), "{:?}", page.location);
    }
);

on_both_backends!(par_request_uri_is_used_once, |app: TestApp| async move {
    let key = ClientKey::es256("k1");
    let client = pkjwt::client_with(&app, &key);
    let (_, challenge) = flow::pkce();
    let uri = pushed(&app, &key, &client, &challenge).await;
    let browser = signed_in(&app, "alice").await;
    let page = browser
        .authorize(&authorize_url(&client, &uri), "alice")
        .await;
    assert!(page.redirect_param("code").is_some(), "{:?}", page.location);
    is_error_page(
        &browser.get(&authorize_url(&client, &uri)).await,
        "already used",
    );
    // Two browsers at once with a fresh one (consent already given): one code only.
    let uri = pushed(&app, &key, &client, &challenge).await;
    let second = Browser::new(&app);
    second.sign_in("alice").await;
    let url = authorize_url(&client, &uri);
    let (a, b) = tokio::join!(browser.get(&url), second.get(&url));
    let codes = [&a, &b]
        .iter()
        .filter(|p| p.location.is_some() && p.redirect_param("code").is_some())
        .count();
    assert_eq!(codes, 1, "{} {}", a.status, b.status);
});

on_both_backends!(
    par_plain_request_refused_when_the_client_requires_par,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = pkjwt::register(&app, ClientKeys::parse_jwks(&key.jwks()).unwrap(), true);
        let (_, challenge) = flow::pkce();
        let browser = signed_in(&app, "alice").await;
        let plain = flow::auth_url(
            &client,
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        );
        let page = browser.get(&plain).await;
        assert_eq!(page.status, 302, "{}", page.body);
        assert!(page.location.as_deref().unwrap().starts_with(REDIRECT));
        assert_eq!(
            page.redirect_param("error").as_deref(),
            Some("invalid_request")
        );
        assert!(
            page.redirect_param("error_description")
                .unwrap()
                .contains("PAR")
        );
        assert_eq!(page.redirect_param("state").as_deref(), Some("st-123"));
        // Pushed, the same client is served.
        let uri = pushed(&app, &key, &client, &challenge).await;
        let page = browser
            .authorize(&authorize_url(&client, &uri), "alice")
            .await;
        assert!(page.redirect_param("code").is_some(), "{:?}", page.location);
        // Others are not affected.
        let other = flow::confidential(&app);
        let page = browser.get(&flow::auth_url(&other.id, &[])).await;
        assert!(page.is_consent(), "{}", page.body);
    }
);

async fn spawn_requiring_par(backend: crate::helpers::Backend) -> TestApp {
    crate::helpers::spawn_with(backend, &[("TESSERA_REQUIRE_PAR", "true")]).await
}

on_both_backends!(
    @spawn par_required_by_the_server,
    crate::par::spawn_requiring_par,
    |app: TestApp| async move {
        let discovery: Value = app.get_json("/.well-known/openid-configuration").await;
        assert_eq!(discovery["require_pushed_authorization_requests"], true);
        let other = flow::confidential(&app);
        let browser = signed_in(&app, "bob").await;
        let page = browser.get(&flow::auth_url(&other.id, &[])).await;
        assert_eq!(page.redirect_param("error").as_deref(), Some("invalid_request"));
        // A secret client pushes with HTTP Basic and is served.
        let (_, challenge) = flow::pkce();
        let (status, body) = json_of(
            app.http
                .post(app.url("/oauth/par"))
                .basic_auth(&other.id, other.secret.as_deref())
                .form(&request(&challenge, &[]))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let uri = body["request_uri"].as_str().unwrap();
        let page = browser.authorize(&authorize_url(&other.id, uri), "bob").await;
        assert!(page.redirect_param("code").is_some(), "{:?}", page.location);
    }
);

on_both_backends!(
    par_code_flow_with_private_key_jwt,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = pkjwt::register(&app, ClientKeys::parse_jwks(&key.jwks()).unwrap(), true);
        let (verifier, challenge) = flow::pkce();
        let uri = pushed(&app, &key, &client, &challenge).await;
        flow::create_user(&app, "carol");
        let browser = Browser::new(&app);
        // Not signed in: the login page comes back to the pushed request, which still counts
        // (prompt=login would not loop: the sign-in is newer than the push).
        let page = browser
            .authorize(&authorize_url(&client, &uri), "carol")
            .await;
        assert_eq!(page.redirect_param("state").as_deref(), Some("st-par"));
        assert_eq!(
            page.redirect_param("iss").as_deref(),
            Some(app.settings.issuer.as_str())
        );
        let code = page.redirect_param("code").expect("a code");
        let (status, tokens) = post_with(
            &app,
            "/oauth/token",
            &pkjwt::assertion(&app, &key, &client),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
        )
        .await;
        assert_eq!(status, 200, "{tokens}");
        let id_token = tokens["id_token"].as_str().unwrap();
        let claims = crate::jwt::claims(id_token);
        assert_eq!(claims["nonce"], "n-par");
        assert_eq!(claims["aud"], json!(client));
        // A pushed prompt=login sends the user to sign in once, then goes on.
        let (_, challenge) = flow::pkce();
        let (status, body) = push(
            &app,
            &key,
            &client,
            &request(&challenge, &[("prompt", "login")]),
        )
        .await;
        assert_eq!(status, 201, "{body}");
        let page = browser
            .authorize(
                &authorize_url(&client, body["request_uri"].as_str().unwrap()),
                "carol",
            )
            .await;
        assert!(
            page.redirect_param("code").is_some(),
            "{:?} {}",
            page.location,
            page.body
        );
    }
);

on_both_backends!(
    par_discovery_advertises_par_and_assertions,
    |app: TestApp| async move {
        for path in [
            "/.well-known/openid-configuration",
            "/.well-known/oauth-authorization-server",
        ] {
            let d: Value = app.get_json(path).await;
            assert_eq!(
                d["pushed_authorization_request_endpoint"],
                app.url("/oauth/par")
            );
            assert_eq!(d["require_pushed_authorization_requests"], false);
            let methods = d["token_endpoint_auth_methods_supported"]
                .as_array()
                .unwrap();
            assert!(methods.contains(&json!("private_key_jwt")), "{methods:?}");
            assert!(
                !methods.contains(&json!("client_secret_jwt")),
                "{methods:?}"
            );
            let algs = d["token_endpoint_auth_signing_alg_values_supported"]
                .as_array()
                .unwrap();
            assert!(
                algs.contains(&json!("ES256")) && !algs.iter().any(|a| a == "none" || a == "HS256"),
                "{algs:?}"
            );
            for endpoint in ["introspection", "revocation"] {
                let m = d[format!("{endpoint}_endpoint_auth_methods_supported")]
                    .as_array()
                    .unwrap();
                assert!(
                    m.contains(&json!("private_key_jwt")) && !m.contains(&json!("none")),
                    "{m:?}"
                );
            }
        }
    }
);
