//! A real third-party client against Tessera: panva's openid-client 6 on Node, as a
//! command-line app would use it (tests/js/). `scripts/test` installs it from the pinned
//! lock file and names its folder in TESSERA_TEST_OPENID_CLIENT; without it these tests
//! are reported as ignored.
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use tessera::domain::ClientKind;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use crate::device::{answer, device_client};
use crate::flow::{self, Browser};
use crate::helpers::{Backend, TestApp, spawn};
use crate::jwt;

/// A running Node script and the JSON lines it prints.
struct Script {
    child: std::process::Child,
    lines: UnboundedReceiver<String>,
}

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Script {
    fn start(name: &str, env: &[(&str, &str)]) -> Script {
        let dir = std::env::var("TESSERA_TEST_OPENID_CLIENT").expect(
            "TESSERA_TEST_OPENID_CLIENT must be set: CI must test openid-client, and tests \
             built with it set run only with it set",
        );
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/js")
            .join(name);
        let mut child = Command::new("node")
            .arg(script)
            .env("OPENID_CLIENT_DIR", dir)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run node (scripts/test installs it)");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = unbounded_channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Script { child, lines }
    }

    /// Answer the script on its standard input.
    fn send(&mut self, line: &str) {
        use std::io::Write;
        let stdin = self.child.stdin.as_mut().expect("piped stdin");
        writeln!(stdin, "{line}").expect("write to the script");
        stdin.flush().expect("flush the script's stdin");
    }

    /// The next line, which must be the step `step`.
    async fn expect(&mut self, step: &str) -> Value {
        let line = tokio::time::timeout(Duration::from_secs(60), self.lines.recv())
            .await
            .unwrap_or_else(|_| panic!("no '{step}' line from the script within 60 s"))
            .unwrap_or_else(|| panic!("the script ended before its '{step}' line"));
        let value: Value = serde_json::from_str(&line).expect("a JSON line");
        assert_eq!(value["step"], step, "{value}");
        value
    }
}

async fn device_flow_through_openid_client(app: TestApp) {
    let tv = device_client(&app, ClientKind::Public);
    let browser = Browser::new(&app);
    flow::create_user(&app, "alice");
    browser.sign_in("alice").await;
    let issuer = app.settings.issuer.clone();
    let mut script = Script::start(
        "device_flow.mjs",
        &[
            ("ISSUER", &issuer),
            ("CLIENT_ID", &tv.id),
            ("SCOPE", "openid profile email offline_access"),
        ],
    );
    let device = script.expect("device").await;
    assert_eq!(device["verification_uri"], app.url("/device"));
    let user_code = device["user_code"].as_str().unwrap();
    // The user approves on another device while openid-client polls.
    let done = answer(&browser, user_code, true).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let tokens = script.expect("tokens").await;
    assert_eq!(
        tokens["token_type"]
            .as_str()
            .map(str::to_lowercase)
            .as_deref(),
        Some("bearer")
    );
    assert_eq!(tokens["has_refresh_token"], true);
    let claims = &tokens["id_token_claims"];
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["aud"], tv.id);
    assert_eq!(claims["email"], "alice@example.com");
    let access = jwt::claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["client_id"], tv.id);
    assert_eq!(access["sub"], claims["sub"]);
    assert!(script.child.wait().expect("wait node").success());
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_openid_client),
    ignore = "TESSERA_TEST_OPENID_CLIENT not set: not tested through openid-client (scripts/test installs it)"
)]
async fn openid_client_signs_in_a_device() {
    device_flow_through_openid_client(spawn(Backend::Sqlite).await).await;
}

/// A service through openid-client: a token for one API (`resource`), exchanged for one to
/// another with `genericGrantRequest`, and an unknown API refused as `invalid_target`.
async fn resource_and_exchange_through_openid_client(app: TestApp) {
    use crate::resource_indicators::{FILES, NOTES, client_with, register_api};
    use tessera::domain::GrantType;
    register_api(&app, NOTES, "Notes API", "notes:read shared", None);
    register_api(&app, FILES, "Files API", "files:read shared", None);
    let service = client_with(
        &app,
        ClientKind::Confidential,
        &[GrantType::ClientCredentials, GrantType::TokenExchange],
        "notes:read files:read shared",
        &[NOTES, FILES],
    );
    let issuer = app.settings.issuer.clone();
    let secret = service.secret.clone().unwrap();
    let mut script = Script::start(
        "resource.mjs",
        &[
            ("ISSUER", &issuer),
            ("CLIENT_ID", &service.id),
            ("CLIENT_SECRET", &secret),
            ("FIRST", NOTES),
            ("SECOND", FILES),
        ],
    );
    let out = script.expect("tokens").await;
    let first = jwt::claims(out["first"].as_str().unwrap());
    assert_eq!(first["aud"], NOTES);
    assert_eq!(out["first_scope"], "notes:read shared");
    let exchanged = jwt::claims(out["exchanged"].as_str().unwrap());
    assert_eq!(exchanged["aud"], FILES);
    assert_eq!(exchanged["sub"], service.id.as_str());
    assert_eq!(out["exchanged_scope"], "shared");
    assert_eq!(
        out["issued_token_type"],
        "urn:ietf:params:oauth:token-type:access_token"
    );
    assert_eq!(out["refused"], "invalid_target");
    assert!(script.child.wait().expect("wait node").success());
}

/// An app registers itself through openid-client's `dynamicClientRegistration` (with an
/// initial access token), then signs its user in with the device flow as that client.
async fn registration_through_openid_client(app: TestApp) {
    let out = app.cli(&["registration-token", "create", "--json"], None);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let minted: Value = serde_json::from_str(out.stdout.trim()).unwrap();
    let initial = minted["token"].as_str().unwrap().to_owned();
    let browser = Browser::new(&app);
    flow::create_user(&app, "alice");
    browser.sign_in("alice").await;
    let issuer = app.settings.issuer.clone();
    let mut script = Script::start(
        "registration.mjs",
        &[
            ("ISSUER", &issuer),
            ("INITIAL_ACCESS_TOKEN", &initial),
            ("SCOPE", "openid email offline_access"),
        ],
    );
    let registered = script.expect("registered").await;
    let client_id = registered["client_id"].as_str().unwrap().to_owned();
    assert_eq!(
        registered["registration_client_uri"],
        app.url(&format!("/oauth/register/{client_id}"))
    );
    assert_eq!(registered["has_registration_access_token"], true);
    assert_eq!(registered["token_endpoint_auth_method"], "none");
    let device = script.expect("device").await;
    let done = answer(&browser, device["user_code"].as_str().unwrap(), true).await;
    assert_eq!(done.status, 200, "{}", done.body);
    let tokens = script.expect("tokens").await;
    assert_eq!(tokens["has_refresh_token"], true);
    let claims = &tokens["id_token_claims"];
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["aud"], client_id.as_str());
    assert_eq!(claims["email"], "alice@example.com");
    let access = jwt::claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["client_id"], client_id.as_str());
    assert!(script.child.wait().expect("wait node").success());
}

/// A confidential client with an ES256 key of its own: openid-client pushes the request
/// (PAR) and signs its client assertions (private_key_jwt); the client requires PAR, so the
/// plain request openid-client could have sent would be refused.
async fn par_private_key_jwt_through_openid_client(app: TestApp) {
    use base64::Engine;
    let key = crate::private_key_jwt::ClientKey::es256("app-key-1");
    let client = crate::private_key_jwt::register(
        &app,
        tessera::clients::ClientKeys::parse_jwks(&key.jwks()).unwrap(),
        true,
    );
    flow::create_user(&app, "alice");
    let browser = Browser::new(&app);
    let issuer = app.settings.issuer.clone();
    let pkcs8 = base64::engine::general_purpose::STANDARD.encode(key.pkcs8());
    let mut script = Script::start(
        "par_private_key_jwt.mjs",
        &[
            ("ISSUER", &issuer),
            ("CLIENT_ID", &client),
            ("REDIRECT_URI", flow::REDIRECT),
            ("SCOPE", "openid profile email"),
            ("KEY_PKCS8", &pkcs8),
            ("KEY_ID", &key.kid),
        ],
    );
    let step = script.expect("authorize").await;
    let url = step["url"].as_str().unwrap();
    // The browser carries only the client_id and the request_uri.
    let sent: Vec<(String, String)> = url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect();
    let mut names: Vec<&str> = sent.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["client_id", "request_uri"], "{url}");
    let page = browser.authorize(url, "alice").await;
    let callback = page.location.clone().expect("a redirect to the client");
    assert!(page.redirect_param("code").is_some(), "{callback}");
    script.send(&callback);
    let tokens = script.expect("tokens").await;
    let claims = &tokens["id_token_claims"];
    assert_eq!(claims["iss"], issuer);
    assert_eq!(claims["aud"], client);
    assert_eq!(claims["email"], "alice@example.com");
    let access = jwt::claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["client_id"], client);
    assert!(script.child.wait().expect("wait node").success());
}

/// openid-client's own DPoP: a public app's code flow with PKCE and a DPoP key of its own,
/// then userinfo, a refresh and `/hello/`, every request with a proof (and the nonce
/// retry openid-client does by itself at the token endpoint).
async fn dpop_through_openid_client(app: TestApp) {
    flow::create_user(&app, "alice");
    let client = flow::public(&app);
    let browser = Browser::new(&app);
    let issuer = app.settings.issuer.clone();
    let hello = app.settings.endpoint("/hello/");
    let mut script = Script::start(
        "dpop.mjs",
        &[
            ("ISSUER", &issuer),
            ("CLIENT_ID", &client.id),
            ("REDIRECT_URI", flow::REDIRECT),
            ("SCOPE", "openid profile email offline_access"),
            ("RESOURCE", &hello),
        ],
    );
    let start = script.expect("authorize").await;
    let page = browser
        .authorize(start["url"].as_str().unwrap(), "alice")
        .await;
    script.send(page.location.as_deref().expect("a redirect with the code"));
    let done = script.expect("done").await;
    assert_eq!(
        done["token_type"]
            .as_str()
            .map(str::to_lowercase)
            .as_deref(),
        Some("dpop")
    );
    assert_eq!(
        done["refreshed_token_type"]
            .as_str()
            .map(str::to_lowercase)
            .as_deref(),
        Some("dpop")
    );
    // Both access tokens are bound to the key openid-client made.
    let jkt = crate::dpop_keys::thumbprint_of(&done["public_jwk"]);
    for token in ["access_token", "refreshed_access_token"] {
        let claims = jwt::claims(done[token].as_str().unwrap());
        assert_eq!(claims["cnf"]["jkt"], jkt.as_str(), "{token}");
    }
    assert_eq!(done["userinfo"]["email"], "alice@example.com");
    assert_eq!(done["resource_status"], 200);
    assert_eq!(done["resource"]["message"], "Hello, World!");
    assert!(script.child.wait().expect("wait node").success());
}

/// openid-client as a FAPI 2.0 client of a fapi2 registration: private_key_jwt (ES256),
/// PAR with a DPoP proof (the code bound to the key), PKCE, `iss` checked, an ES256 ID
/// token, DPoP-bound tokens and a refresh with the same key.
async fn fapi2_through_openid_client(app: TestApp) {
    use base64::Engine;
    crate::algorithms::add_key(&app, tessera::signing::SigningAlg::Es256);
    let key = crate::private_key_jwt::ClientKey::es256("fapi-app-key");
    let mut registration = crate::private_key_jwt::bank_app();
    registration.profile = tessera::clients::Profile::Fapi2;
    registration.dpop_bound_access_tokens = true;
    registration.algs = tessera::clients::TokenAlgs {
        id_token: tessera::signing::SigningAlg::Es256,
        access_token: tessera::signing::SigningAlg::Es256,
    };
    let client = crate::private_key_jwt::register_as(
        &app,
        &registration,
        tessera::clients::ClientKeys::parse_jwks(&key.jwks()).unwrap(),
        true,
    );
    flow::create_user(&app, "alice");
    let issuer = app.settings.issuer.clone();
    let pkcs8 = base64::engine::general_purpose::STANDARD.encode(key.pkcs8());
    let mut script = Script::start(
        "fapi2.mjs",
        &[
            ("ISSUER", &issuer),
            ("CLIENT_ID", &client),
            ("REDIRECT_URI", flow::REDIRECT),
            ("SCOPE", "openid profile email offline_access"),
            ("KEY_PKCS8", &pkcs8),
            ("KEY_ID", &key.kid),
        ],
    );
    let step = script.expect("authorize").await;
    let page = Browser::new(&app)
        .authorize(step["url"].as_str().unwrap(), "alice")
        .await;
    let callback = page.location.clone().expect("a redirect to the client");
    assert_eq!(page.redirect_param("iss").as_deref(), Some(issuer.as_str()));
    script.send(&callback);
    let done = script.expect("done").await;
    assert_eq!(
        jwt::header(done["id_token"].as_str().unwrap())["alg"],
        "ES256"
    );
    assert_eq!(done["id_token_claims"]["aud"], client);
    let jkt = crate::dpop_keys::thumbprint_of(&done["public_jwk"]);
    for (kind, token) in [
        ("token_type", "access_token"),
        ("refreshed_token_type", "refreshed_access_token"),
    ] {
        assert_eq!(
            done[kind].as_str().map(str::to_lowercase).as_deref(),
            Some("dpop")
        );
        let claims = jwt::claims(done[token].as_str().unwrap());
        assert_eq!(claims["cnf"]["jkt"], jkt.as_str(), "{token}");
    }
    // The code was bound to the key of the proof openid-client sent with its push.
    let code: Option<String> = {
        use diesel::prelude::*;
        use tessera::store::schema::authorization_codes::dsl;
        dsl::authorization_codes
            .filter(dsl::client_id.eq(&client))
            .select(dsl::dpop_jkt)
            .get_result(&mut **app.store.conn().unwrap())
            .unwrap()
    };
    assert_eq!(code.as_deref(), Some(jkt.as_str()));
    assert!(script.child.wait().expect("wait node").success());
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_openid_client),
    ignore = "TESSERA_TEST_OPENID_CLIENT not set: not tested through openid-client (scripts/test installs it)"
)]
async fn openid_client_fapi2_walk() {
    fapi2_through_openid_client(spawn(Backend::Sqlite).await).await;
}

#[actix_web::test]
#[cfg_attr(
    not(all(tessera_test_openid_client, tessera_test_postgres)),
    ignore = "TESSERA_TEST_OPENID_CLIENT or TESSERA_TEST_POSTGRES_URL not set"
)]
async fn openid_client_fapi2_walk_postgres() {
    fapi2_through_openid_client(spawn(Backend::Postgres).await).await;
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_openid_client),
    ignore = "TESSERA_TEST_OPENID_CLIENT not set: not tested through openid-client (scripts/test installs it)"
)]
async fn openid_client_resource_indicators_and_token_exchange() {
    resource_and_exchange_through_openid_client(spawn(Backend::Sqlite).await).await;
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_openid_client),
    ignore = "TESSERA_TEST_OPENID_CLIENT not set: not tested through openid-client (scripts/test installs it)"
)]
async fn openid_client_par_private_key_jwt_sqlite() {
    par_private_key_jwt_through_openid_client(spawn(Backend::Sqlite).await).await;
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_openid_client),
    ignore = "TESSERA_TEST_OPENID_CLIENT not set: not tested through openid-client (scripts/test installs it)"
)]
async fn openid_client_registration_then_device_flow() {
    let app =
        crate::helpers::spawn_with(Backend::Sqlite, &[("TESSERA_REGISTRATION", "token")]).await;
    registration_through_openid_client(app).await;
}

#[actix_web::test]
#[cfg_attr(
    any(not(tessera_test_openid_client), not(tessera_test_postgres)),
    ignore = "needs TESSERA_TEST_OPENID_CLIENT and TESSERA_TEST_POSTGRES_URL"
)]
async fn openid_client_registration_then_device_flow_on_postgres() {
    let app =
        crate::helpers::spawn_with(Backend::Postgres, &[("TESSERA_REGISTRATION", "token")]).await;
    registration_through_openid_client(app).await;
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_openid_client),
    ignore = "TESSERA_TEST_OPENID_CLIENT not set: not tested through openid-client (scripts/test installs it)"
)]
async fn openid_client_dpop_code_flow() {
    dpop_through_openid_client(spawn(Backend::Sqlite).await).await;
}

#[actix_web::test]
#[cfg_attr(
    not(all(tessera_test_openid_client, tessera_test_postgres)),
    ignore = "TESSERA_TEST_OPENID_CLIENT or TESSERA_TEST_POSTGRES_URL not set"
)]
async fn openid_client_par_private_key_jwt_postgres() {
    par_private_key_jwt_through_openid_client(spawn(Backend::Postgres).await).await;
}

#[actix_web::test]
#[cfg_attr(
    not(all(tessera_test_openid_client, tessera_test_postgres)),
    ignore = "TESSERA_TEST_OPENID_CLIENT or TESSERA_TEST_POSTGRES_URL not set"
)]
async fn openid_client_dpop_code_flow_postgres() {
    dpop_through_openid_client(spawn(Backend::Postgres).await).await;
}
