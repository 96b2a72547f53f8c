//! The walk an MCP client makes (the Model Context Protocol's authorization): it knows only
//! an API's URL. The API's 401 names its protected-resource metadata (RFC 9728), which names
//! Tessera; Tessera's RFC 8414 metadata names the registration endpoint; the client
//! registers itself (RFC 7591), runs the code flow with PKCE and `resource` (RFC 8707), and
//! the API accepts the token, whose audience is that API alone.
use std::net::TcpListener;

use serde_json::{Value, json};
use tessera::resource::Expectations;

use crate::flow::{self, Browser, REDIRECT};
use crate::helpers::{Backend, TestApp, spawn_with};
use crate::jwt;
use crate::resource_metadata::{resource_metadata, serve_api};

async fn get_json(app: &TestApp, url: &str) -> Value {
    let res = app.http.get(url).send().await.unwrap();
    assert_eq!(res.status(), 200, "{url}");
    res.json().await.unwrap()
}

async fn token(app: &TestApp, form: &[(&str, &str)]) -> (u16, Value) {
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .form(form)
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn walk(backend: Backend) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let api = format!("http://{}", listener.local_addr().unwrap());
    let app = spawn_with(
        backend,
        &[
            ("TESSERA_REGISTRATION", "open"),
            ("TESSERA_REGISTRATION_SCOPES", "openid notes offline_access"),
            ("TESSERA_REGISTRATION_RESOURCES", &api),
        ],
    )
    .await;
    let out = app.cli(
        &[
            "resource",
            "create",
            "--identifier",
            &api,
            "--name",
            "Notes API",
            "--scope",
            "notes",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // The API accepts only tokens whose audience is itself.
    let expect = Expectations::access(&app.settings.issuer).audience(&api);
    serve_api(&app, listener, &api, &["notes"], expect);
    flow::create_user(&app, "alice");

    // The client knows only the API: its 401 says where to read about it.
    let res = app.http.get(format!("{api}/notes")).send().await.unwrap();
    assert_eq!(res.status(), 401);
    let protected = get_json(&app, &resource_metadata(&res)).await;
    assert_eq!(protected["resource"], api.as_str());
    let issuer = protected["authorization_servers"][0]
        .as_str()
        .expect("an authorization server")
        .to_owned();
    assert_eq!(issuer, app.settings.issuer);

    let server = get_json(
        &app,
        &format!("{issuer}/.well-known/oauth-authorization-server"),
    )
    .await;
    assert_eq!(server["issuer"], issuer.as_str());
    assert!(
        server["code_challenge_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("S256"))
    );
    let registration_endpoint = server["registration_endpoint"]
        .as_str()
        .expect("registration is open, so the metadata names it")
        .to_owned();

    // It registers itself as a public client.
    let res = app
        .http
        .post(&registration_endpoint)
        .json(&json!({
            "client_name": "An MCP client",
            "redirect_uris": [REDIRECT],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "scope": "openid notes offline_access",
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let registered: Value = res.json().await.unwrap();
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    assert!(registered.get("client_secret").is_none_or(Value::is_null));

    // The code flow with PKCE, naming the API at both endpoints.
    let browser = Browser::new(&app);
    let (verifier, code_challenge) = flow::pkce();
    let url = flow::auth_url(
        &client_id,
        &[
            ("scope", "openid notes offline_access"),
            ("code_challenge", &code_challenge),
            ("code_challenge_method", "S256"),
            ("resource", &api),
        ],
    );
    let page = browser.authorize(&url, "alice").await;
    let code = page.redirect_param("code").expect("a code");
    let (status, tokens) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("client_id", &client_id),
            ("resource", &api),
        ],
    )
    .await;
    assert_eq!(status, 200, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let claims = jwt::claims(&access);
    assert_eq!(claims["aud"], api.as_str());
    assert_eq!(claims["client_id"], client_id.as_str());
    assert_eq!(tokens["scope"], "notes");

    let ok = app
        .http
        .get(format!("{api}/notes"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    // A refresh may name the API again, but no API the policy did not give the client.
    let refresh = tokens["refresh_token"].as_str().expect("offline_access");
    let other = "https://payments.example.com";
    let (status, refused) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &client_id),
            ("resource", other),
        ],
    )
    .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (400, Some("invalid_target"))
    );
    let (status, again) = token(
        &app,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("client_id", &client_id),
            ("resource", &api),
        ],
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        jwt::claims(again["access_token"].as_str().unwrap())["aud"],
        api.as_str()
    );

    // A token for Tessera itself (no `resource`) does not open the API.
    let (verifier, code_challenge) = flow::pkce();
    let url = flow::auth_url(
        &client_id,
        &[
            ("scope", "openid notes"),
            ("code_challenge", &code_challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let page = browser.authorize(&url, "alice").await;
    let code = page.redirect_param("code").expect("a code");
    let (status, plain) = token(
        &app,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
            ("client_id", &client_id),
        ],
    )
    .await;
    assert_eq!(status, 200, "{plain}");
    let refused = app
        .http
        .get(format!("{api}/notes"))
        .bearer_auth(plain["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

#[actix_web::test]
async fn mcp_client_walk_from_an_api_to_its_token() {
    walk(Backend::Sqlite).await;
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_postgres),
    ignore = "TESSERA_TEST_POSTGRES_URL not set: PostgreSQL not tested"
)]
async fn mcp_client_walk_from_an_api_to_its_token_on_postgres() {
    walk(Backend::Postgres).await;
}
