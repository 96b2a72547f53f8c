//! Dynamic client registration (RFC 7591) and management (RFC 7592). Refusals first:
//! registration when off; without, with a wrong, expired or revoked initial access token;
//! redirect URIs, grant types and scopes outside the policy; malformed and oversized
//! metadata; too many registrations from one address; management with a wrong token,
//! another client's token, a rotated token, after DELETE, of a console-created client, and
//! two concurrent updates with one token; a private_key_jwt client's keys outside the policy,
//! malformed, or private. Then registrations that work, a code flow with the new client, a
//! private_key_jwt client authenticating with the keys it registered, the console's marker and token list, discovery and the CLI.
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera::clock::{Clock, ManualClock, SystemClock};

use crate::admin::{Console, audit_actions};
use crate::flow::{self, Client, REDIRECT};
use crate::helpers::{Backend, TestApp, spawn_with, spawn_with_clock};
use crate::on_both_backends;
use crate::private_key_jwt::{ClientKey, claims, post_with, serve_jwks};

async fn open(backend: Backend) -> TestApp {
    spawn_with(backend, &[("TESSERA_REGISTRATION", "open")]).await
}

async fn gated(backend: Backend) -> TestApp {
    let clock = ManualClock::at(SystemClock.unix());
    spawn_with_clock(backend, &[("TESSERA_REGISTRATION", "token")], clock).await
}

/// Open registration where an address may register 4 times before it waits (the address
/// bucket takes 4× the free failures), on a clock that stands still.
async fn throttled(backend: Backend) -> TestApp {
    let clock: Arc<ManualClock> = ManualClock::at(SystemClock.unix());
    spawn_with_clock(
        backend,
        &[
            ("TESSERA_REGISTRATION", "open"),
            ("TESSERA_LOGIN_FREE_FAILURES", "1"),
        ],
        clock,
    )
    .await
}

async fn answer(res: reqwest::Response) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.text().await.unwrap();
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("not JSON ({e}), status {status}: {body}"))
    };
    (status, value, headers)
}

/// POST `/oauth/register` with `metadata`, and `token` as Bearer when given.
async fn register(
    app: &TestApp,
    token: Option<&str>,
    metadata: &Value,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut req = app.http.post(app.url("/oauth/register")).json(metadata);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    answer(req.send().await.unwrap()).await
}

/// A native app's metadata: public, loopback redirect, code flow with refresh tokens.
fn native_app() -> Value {
    json!({
        "client_name": "Terminal Notes",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "scope": "openid profile email",
        "client_uri": "https://notes.example/",
        "contacts": ["ops@notes.example"],
    })
}

/// Register and expect 201: the answer.
async fn registered(app: &TestApp, token: Option<&str>, metadata: &Value) -> Value {
    let (status, body, _) = register(app, token, metadata).await;
    assert_eq!(status, 201, "{body}");
    body
}

fn error_of(status: StatusCode, body: &Value) -> (u16, String) {
    (
        status.as_u16(),
        body["error"].as_str().unwrap_or("(no error)").to_owned(),
    )
}

/// A request to a registration URI with `token` as Bearer.
fn manage(
    app: &TestApp,
    method: reqwest::Method,
    uri: &str,
    token: Option<&str>,
) -> reqwest::RequestBuilder {
    let mut req = app.http.request(method, uri);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req
}

fn clients_count(app: &TestApp) -> i64 {
    use diesel::prelude::*;
    use tessera::store::schema::clients;
    let mut conn = app.store.conn().unwrap();
    clients::table.count().get_result(&mut **conn).unwrap()
}

fn mint(app: &TestApp, extra: &[&str]) -> (String, String) {
    let mut args = vec!["registration-token", "create", "--json"];
    args.extend_from_slice(extra);
    let out = app.cli(&args, None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    (
        v["id"].as_str().unwrap().to_owned(),
        v["token"].as_str().unwrap().to_owned(),
    )
}

on_both_backends!(registration_is_off_by_default, |app: TestApp| async move {
    let (status, body, _) = register(&app, None, &native_app()).await;
    assert_eq!(error_of(status, &body).0, 404, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .contains("not enabled"),
        "{body}"
    );
    let (status, _, _) = answer(
        manage(
            &app,
            reqwest::Method::GET,
            &app.url("/oauth/register/x"),
            Some("t"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    for doc in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        let d: Value = app.get_json(doc).await;
        assert!(d.get("registration_endpoint").is_none(), "{doc}: {d}");
    }
    assert_eq!(clients_count(&app), 0);
});

on_both_backends!(@spawn registration_needs_a_live_initial_token, gated, |app: TestApp| async move {
    // None, a made-up one, and the wrong scheme: 401 invalid_token with a Bearer challenge.
    let (status, body, headers) = register(&app, None, &native_app()).await;
    assert_eq!(error_of(status, &body), (401, "invalid_token".into()));
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer "),
        "{headers:?}"
    );
    let (status, body, _) = register(&app, Some("not-a-token"), &native_app()).await;
    assert_eq!(error_of(status, &body), (401, "invalid_token".into()));
    let res = app
        .http
        .post(app.url("/oauth/register"))
        .basic_auth("x", Some("y"))
        .json(&native_app())
        .send()
        .await
        .unwrap();
    let (status, body, _) = answer(res).await;
    assert_eq!(error_of(status, &body), (401, "invalid_token".into()));

    // Expired: a token minted for 60 s, a minute and a second later.
    let (_, short) = mint(&app, &["--expires", "60"]);
    // The CLI mints on the wall clock, which has moved on since the server's clock was set.
    app.advance(3_600);
    let (status, body, _) = register(&app, Some(&short), &native_app()).await;
    assert_eq!(error_of(status, &body), (401, "invalid_token".into()));

    // Revoked: works once, then not after `registration-token revoke`.
    let (id, token) = mint(&app, &[]);
    registered(&app, Some(&token), &native_app()).await;
    let out = app.cli(&["registration-token", "revoke", &id], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (status, body, _) = register(&app, Some(&token), &native_app()).await;
    assert_eq!(error_of(status, &body), (401, "invalid_token".into()));
    // Revoking twice is a one-line error, not a success.
    let out = app.cli(&["registration-token", "revoke", &id], None);
    assert_ne!(out.code, 0);
    assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);

    assert_eq!(clients_count(&app), 1, "only the one with a live token registered");
    let actions = audit_actions(&app).await;
    let refused = actions
        .iter()
        .filter(|(a, _, _)| a == "client.registration-refused")
        .count();
    assert_eq!(refused, 5, "each refusal is audited: {actions:?}");
    assert!(actions.iter().any(|(a, _, _)| a == "client.registered"));
    assert!(actions.iter().any(|(a, _, _)| a == "client.registration-token-revoked"));
});

on_both_backends!(@spawn redirect_uris_outside_the_policy_are_refused, open, |app: TestApp| async move {
    for uris in [
        json!(["http://app.example/cb"]),
        json!(["javascript:alert(1)"]),
        json!(["https://app.example/cb#frag"]),
        json!(["com.example.app:/cb"]),
        json!(["/relative"]),
        json!(["https://a.example/cb https://b.example/cb"]),
        json!([]),
    ] {
        let mut m = native_app();
        m["redirect_uris"] = uris.clone();
        let (status, body, _) = register(&app, None, &m).await;
        assert_eq!(
            error_of(status, &body),
            (400, "invalid_redirect_uri".into()),
            "{uris}: {body}"
        );
    }
    // Post-logout redirect URIs answer to the same policy.
    let mut m = native_app();
    m["post_logout_redirect_uris"] = json!(["http://app.example/bye"]);
    let (status, body, _) = register(&app, None, &m).await;
    assert_eq!(error_of(status, &body), (400, "invalid_redirect_uri".into()));
    assert_eq!(clients_count(&app), 0);
});

on_both_backends!(@spawn metadata_outside_the_policy_is_refused, open, |app: TestApp| async move {
    let cases: Vec<(&str, Value)> = vec![
        ("grant_types", json!(["client_credentials"])),
        ("grant_types", json!(["password"])),
        ("scope", json!("openid address")),
        ("scope", json!("openid bad\"scope")),
        ("token_endpoint_auth_method", json!("private_key_jwt")),
        ("token_endpoint_auth_method", json!("tls_client_auth")),
        ("jwks_uri", json!("https://notes.example/jwks")),
        ("jwks", json!({"keys": []})),
        ("response_types", json!(["token"])),
        ("response_types", json!([])),
        ("client_name", json!("   ")),
        ("client_name", json!("x".repeat(201))),
        ("client_name", json!(42)),
        ("logo_uri", json!("javascript:alert(1)")),
        ("id_token_signed_response_alg", json!("none")),
        ("id_token_signed_response_alg", json!("ES256")),
    ];
    for (field, value) in cases {
        let mut m = native_app();
        m[field] = value.clone();
        let (status, body, _) = register(&app, None, &m).await;
        assert_eq!(
            error_of(status, &body),
            (400, "invalid_client_metadata".into()),
            "{field}={value}: {body}"
        );
        assert!(body["error_description"].as_str().is_some_and(|d| !d.is_empty()));
    }
    // private_key_jwt without keys says what is missing.
    let mut m = native_app();
    m["token_endpoint_auth_method"] = json!("private_key_jwt");
    let (_, body, _) = register(&app, None, &m).await;
    assert!(body["error_description"].as_str().unwrap().contains("JWKS"), "{body}");
    // Not JSON, or not an object.
    for raw in ["client_name=x", "[1,2]", ""] {
        let res = app
            .http
            .post(app.url("/oauth/register"))
            .header("content-type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        let (status, body, _) = answer(res).await;
        assert_eq!(error_of(status, &body), (400, "invalid_client_metadata".into()), "{raw}");
    }
    assert_eq!(clients_count(&app), 0);
});

on_both_backends!(@spawn oversized_metadata_is_refused_unread, open, |app: TestApp| async move {
    let mut m = native_app();
    m["client_uri"] = json!(format!("https://notes.example/{}", "a".repeat(20_000)));
    let (status, body, _) = register(&app, None, &m).await;
    assert_eq!(error_of(status, &body), (413, "invalid_request".into()), "{body}");
    // Under the body cap, too many redirect URIs or contacts are still refused.
    let mut m = native_app();
    m["redirect_uris"] = json!((0..21).map(|i| format!("https://a.example/{i}")).collect::<Vec<_>>());
    let (status, body, _) = register(&app, None, &m).await;
    assert_eq!(error_of(status, &body), (400, "invalid_redirect_uri".into()));
    let mut m = native_app();
    m["contacts"] = json!((0..11).map(|i| format!("c{i}@x.example")).collect::<Vec<_>>());
    let (status, body, _) = register(&app, None, &m).await;
    assert_eq!(error_of(status, &body), (400, "invalid_client_metadata".into()));
    assert_eq!(clients_count(&app), 0);
});

on_both_backends!(@spawn one_address_cannot_register_without_limit, throttled, |app: TestApp| async move {
    // Refused attempts count as well as registrations.
    let mut bad = native_app();
    bad["redirect_uris"] = json!(["http://app.example/cb"]);
    register(&app, None, &bad).await;
    for _ in 0..4 {
        let (status, body, _) = register(&app, None, &native_app()).await;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(status, 201, "{body}");
    }
    let (status, body, headers) = register(&app, None, &native_app()).await;
    assert_eq!(status, 429, "{body}");
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    assert!(clients_count(&app) <= 4, "{}", clients_count(&app));
    // The wait passes.
    app.advance(3_600);
    registered(&app, None, &native_app()).await;
});

on_both_backends!(@spawn management_needs_the_clients_own_token, open, |app: TestApp| async move {
    let a = registered(&app, None, &native_app()).await;
    let b = registered(&app, None, &native_app()).await;
    let a_uri = a["registration_client_uri"].as_str().unwrap().to_owned();
    let a_token = a["registration_access_token"].as_str().unwrap().to_owned();
    let b_token = b["registration_access_token"].as_str().unwrap().to_owned();
    assert_eq!(a_uri, app.url(&format!("/oauth/register/{}", a["client_id"].as_str().unwrap())));
    for (token, why) in [
        (None, "no token"),
        (Some("wrong"), "a wrong token"),
        (Some(b_token.as_str()), "another client's token"),
    ] {
        for method in [reqwest::Method::GET, reqwest::Method::PUT, reqwest::Method::DELETE] {
            let mut req = manage(&app, method.clone(), &a_uri, token);
            if method == reqwest::Method::PUT {
                let mut m = native_app();
                m["client_id"] = a["client_id"].clone();
                m["client_name"] = json!("Hijacked");
                req = req.json(&m);
            }
            let (status, body, headers) = answer(req.send().await.unwrap()).await;
            assert_eq!(
                error_of(status, &body),
                (401, "invalid_token".into()),
                "{method} with {why}: {body}"
            );
            assert!(headers.contains_key("www-authenticate"));
        }
    }
    // Still there, unchanged.
    let (status, body, _) = answer(
        manage(&app, reqwest::Method::GET, &a_uri, Some(&a_token)).send().await.unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_name"], "Terminal Notes");
    assert!(body.get("registration_access_token").is_none(), "{body}");
    assert!(body.get("client_secret").is_none(), "{body}");

    // A client an administrator registered is not managed here, whatever the token.
    let console = flow::public(&app);
    let uri = app.url(&format!("/oauth/register/{}", console.id));
    for token in [a_token.as_str(), "anything"] {
        let (status, body, _) =
            answer(manage(&app, reqwest::Method::DELETE, &uri, Some(token)).send().await.unwrap())
                .await;
        assert_eq!(error_of(status, &body), (401, "invalid_token".into()));
    }
    let (status, body, _) = answer(
        manage(&app, reqwest::Method::GET, &app.url("/oauth/register/no-such-client"), Some(&a_token))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(error_of(status, &body), (401, "invalid_token".into()));
    assert_eq!(clients_count(&app), 3);
});

on_both_backends!(@spawn delete_revokes_the_client_and_its_token, open, |app: TestApp| async move {
    flow::create_user(&app, "alice");
    let reg = registered(&app, None, &native_app()).await;
    let client = Client {
        id: reg["client_id"].as_str().unwrap().to_owned(),
        secret: None,
    };
    let tokens = flow::tokens_for(&app, &client, "alice", "openid profile").await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(flow::userinfo_status(&app, &access).await, 200);
    let uri = reg["registration_client_uri"].as_str().unwrap();
    let token = reg["registration_access_token"].as_str().unwrap();
    let res = manage(&app, reqwest::Method::DELETE, uri, Some(token)).send().await.unwrap();
    assert_eq!(res.status(), 204);
    // Gone: the token manages nothing, and what was issued to the client is revoked.
    for method in [reqwest::Method::GET, reqwest::Method::DELETE] {
        let (status, body, _) = answer(manage(&app, method, uri, Some(token)).send().await.unwrap()).await;
        assert_eq!(error_of(status, &body), (401, "invalid_token".into()));
    }
    assert_eq!(flow::userinfo_status(&app, &access).await, 401);
    let res = flow::token(
        &app,
        &client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
            ("client_id", client.id.as_str()),
        ],
    )
    .await;
    assert!(res.status().is_client_error());
    let actions = audit_actions(&app).await;
    assert!(actions.iter().any(|(a, _, _)| a == "client.unregistered"), "{actions:?}");
});

on_both_backends!(@spawn an_update_rotates_the_token_and_is_checked_like_a_registration, open, |app: TestApp| async move {
    let reg = registered(&app, None, &native_app()).await;
    let id = reg["client_id"].as_str().unwrap().to_owned();
    let uri = reg["registration_client_uri"].as_str().unwrap().to_owned();
    let old = reg["registration_access_token"].as_str().unwrap().to_owned();
    let put = |token: String, body: Value| {
        let req = manage(&app, reqwest::Method::PUT, &uri, Some(token.as_str())).json(&body);
        async move { answer(req.send().await.unwrap()).await }
    };
    // Refused updates change nothing and keep the token.
    let mut outside = native_app();
    outside["client_id"] = json!(id);
    outside["redirect_uris"] = json!(["http://app.example/cb"]);
    let (status, body, _) = put(old.clone(), outside).await;
    assert_eq!(error_of(status, &body), (400, "invalid_redirect_uri".into()));
    let (status, body, _) = put(old.clone(), native_app()).await;
    assert_eq!(error_of(status, &body), (400, "invalid_request".into()), "no client_id");
    let mut other = native_app();
    other["client_id"] = json!("someone-else");
    let (status, body, _) = put(old.clone(), other).await;
    assert_eq!(error_of(status, &body), (400, "invalid_request".into()));

    // A good update: the new metadata, a new token; the old token stops working.
    let mut m = native_app();
    m["client_id"] = json!(id);
    m["client_name"] = json!("Terminal Notes 2");
    m["token_endpoint_auth_method"] = json!("client_secret_post");
    let (status, body, _) = put(old.clone(), m.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_name"], "Terminal Notes 2");
    assert_eq!(body["token_endpoint_auth_method"], "client_secret_post");
    // Turned confidential: its first secret, shown now.
    let secret = body["client_secret"].as_str().expect("a new secret").to_owned();
    assert_eq!(body["client_secret_expires_at"], 0);
    let new = body["registration_access_token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    let (status, _, _) = put(old.clone(), m.clone()).await;
    assert_eq!(status, 401);
    let (status, body, _) = answer(manage(&app, reqwest::Method::GET, &uri, Some(&new)).send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["client_name"], "Terminal Notes 2");
    // A wrong client_secret in the body is refused; the right one is accepted.
    m["client_secret"] = json!("wrong");
    let (status, body, _) = put(new.clone(), m.clone()).await;
    assert_eq!(error_of(status, &body), (400, "invalid_request".into()));
    m["client_secret"] = json!(secret);
    let (status, body, _) = put(new.clone(), m.clone()).await;
    assert_eq!(status, 200, "{body}");
    let newest = body["registration_access_token"].as_str().unwrap().to_owned();

    // Two updates at once with one token: exactly one wins, the other is refused.
    m.as_object_mut().unwrap().remove("client_secret");
    let (a, b) = tokio::join!(put(newest.clone(), m.clone()), put(newest.clone(), m.clone()));
    let mut statuses = [a.0.as_u16(), b.0.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 401], "{:?} {:?}", a.1, b.1);
    let winner = if a.0 == 200 { a.1 } else { b.1 };
    let token = winner["registration_access_token"].as_str().unwrap();
    let (status, _, _) = answer(manage(&app, reqwest::Method::GET, &uri, Some(token)).send().await.unwrap()).await;
    assert_eq!(status, 200);
    let actions = audit_actions(&app).await;
    assert!(actions.iter().any(|(a, _, _)| a == "client.registration-updated"));
});

on_both_backends!(@spawn a_registered_client_signs_a_user_in, open, |app: TestApp| async move {
    let d: Value = app.get_json("/.well-known/oauth-authorization-server").await;
    assert_eq!(d["registration_endpoint"], app.url("/oauth/register"));
    let d: Value = app.get_json("/.well-known/openid-configuration").await;
    assert_eq!(d["registration_endpoint"], app.url("/oauth/register"));

    let (status, reg, headers) = register(&app, None, &native_app()).await;
    assert_eq!(status, 201, "{reg}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(reg["client_name"], "Terminal Notes");
    assert_eq!(reg["redirect_uris"], json!([REDIRECT]));
    assert_eq!(reg["grant_types"], json!(["authorization_code", "refresh_token"]));
    assert_eq!(reg["response_types"], json!(["code"]));
    assert_eq!(reg["token_endpoint_auth_method"], "none");
    assert_eq!(reg["scope"], "openid profile email");
    assert_eq!(reg["client_uri"], "https://notes.example/");
    assert_eq!(reg["contacts"], json!(["ops@notes.example"]));
    assert!(reg["client_id_issued_at"].as_i64().unwrap() > 0);
    assert!(reg.get("client_secret").is_none(), "a public client has no secret");
    assert!(reg["registration_access_token"].as_str().unwrap().len() >= 43);
    flow::create_user(&app, "alice");
    let public = Client { id: reg["client_id"].as_str().unwrap().to_owned(), secret: None };
    let tokens = flow::tokens_for(&app, &public, "alice", "openid email").await;
    assert!(tokens["id_token"].is_string());

    // Confidential, with the defaults RFC 7591 names: client_secret_basic, authorization_code.
    let reg = registered(
        &app,
        None,
        &json!({ "client_name": "Web Notes", "redirect_uris": [REDIRECT] }),
    )
    .await;
    assert_eq!(reg["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(reg["grant_types"], json!(["authorization_code"]));
    assert_eq!(reg["client_secret_expires_at"], 0);
    // No scope asked: the policy's scopes.
    assert_eq!(reg["scope"], "openid profile email offline_access");
    let web = Client {
        id: reg["client_id"].as_str().unwrap().to_owned(),
        secret: Some(reg["client_secret"].as_str().unwrap().to_owned()),
    };
    let tokens = flow::tokens_for(&app, &web, "alice", "openid").await;
    assert!(tokens["access_token"].is_string());

    // The console lists both, marked self-registered; an admin-created client is not.
    let admin_made = flow::confidential(&app);
    let console = Console::root(&app).await;
    let page = console.get("/admin/clients").await;
    assert_eq!(page.status, 200);
    assert_eq!(page.body.matches("self-registered</span>").count(), 2, "{}", page.body);
    assert!(page.body.contains(&admin_made.id));
    let actions = audit_actions(&app).await;
    let registered_entries: Vec<_> = actions.iter().filter(|(a, _, _)| a == "client.registered").collect();
    assert_eq!(registered_entries.len(), 2, "{actions:?}");
});

on_both_backends!(@spawn admins_mint_and_revoke_initial_tokens_in_the_console, gated, |app: TestApp| async move {
    let console = Console::root(&app).await;
    let page = console.get("/admin/registration").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("token"), "{}", page.body);
    // A bad lifetime is a readable refusal, nothing minted.
    let page = console.post("/admin/registration/tokens", &[("expires", "5")]).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(page.body.contains("60"), "{}", page.body);
    let page = console.post("/admin/registration/tokens", &[("expires", "")]).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let token = page
        .body
        .split("id=\"initial_token\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the token, shown once")
        .to_owned();
    // Shown once: the list page does not carry it.
    let list = console.get("/admin/registration").await;
    assert!(!list.body.contains(&token));
    let reg = registered(&app, Some(&token), &native_app()).await;
    assert!(reg["client_id"].is_string());
    let list = console.get("/admin/registration").await;
    let revoke = list
        .body
        .split("href=\"")
        .filter_map(|s| s.split('"').next())
        .find(|h| h.starts_with("/admin/registration/tokens/") && h.ends_with("/revoke"))
        .expect("a revoke link")
        .to_owned();
    let done = console.confirm(&revoke).await;
    assert_eq!(done.status, 303, "{}", done.body);
    let (status, body, _) = register(&app, Some(&token), &native_app()).await;
    assert_eq!(error_of(status, &body), (401, "invalid_token".into()));
    let actions = audit_actions(&app).await;
    for action in ["client.registration-token-created", "client.registration-token-revoked"] {
        assert!(
            actions.iter().any(|(a, actor, _)| a == action && actor.as_deref() == Some("root")),
            "{action}: {actions:?}"
        );
    }
});

#[actix_web::test]
async fn registration_cli_refuses_bad_input_in_one_line() {
    let app = gated(Backend::Sqlite).await;
    for args in [
        vec!["registration-token", "create", "--expires", "10"],
        vec!["registration-token", "create", "--expires", "abc"],
        vec!["registration-token", "revoke", "no-such-id"],
    ] {
        let out = app.cli(&args, None);
        assert_ne!(out.code, 0, "{args:?}");
        assert!(!out.stderr.trim().is_empty(), "{args:?}");
    }
    let out = app.cli(&["registration-token", "create"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.contains("shown once"), "{}", out.stdout);
    let out = app.cli(&["registration-token", "list", "--json"], None);
    let rows: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["live"], true);
    assert!(rows[0].get("token").is_none());
}

/// A server-side app that signs its client assertions with its own key.
fn keyed_app(key: &ClientKey) -> Value {
    json!({
        "client_name": "Ledger Sync",
        "redirect_uris": ["https://ledger.example/cb"],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "private_key_jwt",
        "jwks": {"keys": [key.public_jwk()]},
    })
}

/// Whether `client_id`'s assertion signed with `key` authenticates it at introspection.
async fn authenticates(app: &TestApp, key: &ClientKey, client_id: &str) -> bool {
    let jwt = key.sign(&claims(app, client_id));
    let (status, body) = post_with(app, "/oauth/introspect", &jwt, &[("token", "x")]).await;
    match status.as_u16() {
        200 => {
            assert_eq!(body["active"], json!(false), "{body}");
            true
        }
        401 => false,
        other => panic!("introspection answered {other}: {body}"),
    }
}

on_both_backends!(@spawn private_key_jwt_registrations_refuse_bad_keys, open, |app: TestApp| async move {
    let key = ClientKey::es256("ledger-1");
    let mut private = key.public_jwk();
    private["d"] = json!("c2VjcmV0");
    let cases: Vec<(&str, Value)> = vec![
        // Tessera would fetch it: only where redirect URIs may point.
        ("jwks_uri", json!("http://intranet.example/jwks")),
        ("jwks_uri", json!("ftp://ledger.example/jwks")),
        ("jwks_uri", json!(42)),
        ("token_endpoint_auth_method", json!("client_secret_jwt")),
        ("jwks", json!("{\"keys\": []}")),
        ("jwks", json!({"keys": [private]})),
        ("jwks", json!({"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "h"}]})),
        ("jwks", json!({"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}]})),
    ];
    for (field, value) in cases {
        let mut m = keyed_app(&key);
        m.as_object_mut().unwrap().remove("jwks");
        m[field] = value.clone();
        let (status, body, _) = register(&app, None, &m).await;
        assert_eq!(
            error_of(status, &body),
            (400, "invalid_client_metadata".into()),
            "{field}={value}: {body}"
        );
    }
    // Both at once is ambiguous.
    let mut m = keyed_app(&key);
    m["jwks_uri"] = json!("https://ledger.example/jwks");
    let (status, body, _) = register(&app, None, &m).await;
    assert_eq!(error_of(status, &body), (400, "invalid_client_metadata".into()), "{body}");
    assert_eq!(clients_count(&app), 0);
});

on_both_backends!(@spawn a_private_key_jwt_client_registers_and_authenticates_with_its_keys, open, |app: TestApp| async move {
    let key = ClientKey::es256("ledger-1");
    let reg = registered(&app, None, &keyed_app(&key)).await;
    let id = reg["client_id"].as_str().unwrap().to_owned();
    assert_eq!(reg["token_endpoint_auth_method"], "private_key_jwt", "{reg}");
    assert!(reg.get("client_secret").is_none(), "no secret for a key-based client: {reg}");
    assert_eq!(reg["jwks"]["keys"][0]["kid"], "ledger-1", "{reg}");
    assert!(authenticates(&app, &key, &id).await);
    // Another key under the registered kid is not the client.
    assert!(!authenticates(&app, &ClientKey::es256("ledger-1"), &id).await);

    // RFC 7592 read shows the same keys and settings.
    let uri = reg["registration_client_uri"].as_str().unwrap().to_owned();
    let token = reg["registration_access_token"].as_str().unwrap().to_owned();
    let (status, read, _) = answer(manage(&app, reqwest::Method::GET, &uri, Some(&token)).send().await.unwrap()).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["jwks"], reg["jwks"]);
    assert_eq!(read["require_pushed_authorization_requests"], false);

    // Moved to keys it publishes (a loopback URL is inside the default policy), pushing its
    // requests and binding its tokens with DPoP.
    let next = ClientKey::es256("ledger-2");
    let jwks_uri = serve_jwks(next.jwks()).await;
    let mut m = keyed_app(&next);
    m.as_object_mut().unwrap().remove("jwks");
    m["jwks_uri"] = json!(jwks_uri);
    m["client_id"] = json!(id);
    m["require_pushed_authorization_requests"] = json!(true);
    m["dpop_bound_access_tokens"] = json!(true);
    let put = manage(&app, reqwest::Method::PUT, &uri, Some(&token)).json(&m);
    let (status, body, _) = answer(put.send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["jwks_uri"], json!(jwks_uri));
    assert!(body.get("jwks").is_none(), "{body}");
    assert_eq!(body["require_pushed_authorization_requests"], true);
    assert_eq!(body["dpop_bound_access_tokens"], true);
    assert!(authenticates(&app, &next, &id).await);
    assert!(!authenticates(&app, &key, &id).await, "the old key is gone");
    let token = body["registration_access_token"].as_str().unwrap().to_owned();

    // Turned to a secret: one is issued now; turned back to keys: the secret stops working.
    let mut m = json!({
        "client_id": id,
        "client_name": "Ledger Sync",
        "redirect_uris": ["https://ledger.example/cb"],
        "token_endpoint_auth_method": "client_secret_basic",
    });
    let put = manage(&app, reqwest::Method::PUT, &uri, Some(&token)).json(&m);
    let (status, body, _) = answer(put.send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let secret = body["client_secret"].as_str().expect("a secret for client_secret_basic").to_owned();
    let token = body["registration_access_token"].as_str().unwrap().to_owned();
    let introspect = |secret: String| {
        let req = app
            .http
            .post(app.url("/oauth/introspect"))
            .basic_auth(&id, Some(secret))
            .form(&[("token", "x")]);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(introspect(secret.clone()).await, 200);
    m["token_endpoint_auth_method"] = json!("private_key_jwt");
    m["jwks"] = json!({"keys": [key.public_jwk()]});
    let put = manage(&app, reqwest::Method::PUT, &uri, Some(&token)).json(&m);
    let (status, body, _) = answer(put.send().await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("client_secret").is_none(), "{body}");
    assert_eq!(introspect(secret).await, 401);
    assert!(authenticates(&app, &key, &id).await);
});
