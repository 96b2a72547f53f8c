//! The device authorization grant (RFC 8628): `POST /oauth/device_authorization`, the
//! `/device` page, and polling the token endpoint. Refusals first: another client, replay,
//! expiry, denial, polling too fast, guessing user codes, CSRF, oversized input, a client
//! without the grant; then the whole flow over HTTP.
use reqwest::StatusCode;
use serde_json::Value;
use tessera::domain::{ClientKind, GrantType};

use crate::flow::{self, Browser, Client, Page};
use crate::helpers::{Backend, TestApp};
use crate::jwt;
use crate::on_both_backends;

pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const ALPHABET: &str = "BCDFGHJKLMNPQRSTVWXZ";

/// A client allowed the device grant (and refresh tokens).
pub fn device_client(app: &TestApp, kind: ClientKind) -> Client {
    flow::register(
        app,
        kind,
        &[GrantType::DeviceCode, GrantType::RefreshToken],
        &[],
    )
}

async fn json(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    let body = res.text().await.unwrap();
    let value = serde_json::from_str(&body)
        .unwrap_or_else(|e| panic!("not JSON ({e}), status {status}: {body}"));
    (status, value)
}

/// POST `/oauth/device_authorization` as `client` (Basic when it has a secret).
pub async fn start(app: &TestApp, client: &Client, scope: &str) -> (StatusCode, Value) {
    let mut form = vec![("scope", scope)];
    let mut req = app.http.post(app.url("/oauth/device_authorization"));
    match &client.secret {
        Some(secret) => req = req.basic_auth(&client.id, Some(secret)),
        None => form.push(("client_id", &client.id)),
    }
    json(req.form(&form).send().await.unwrap()).await
}

/// Start and expect success: the device code and the user code.
pub async fn started(app: &TestApp, client: &Client, scope: &str) -> (String, String) {
    let (status, body) = start(app, client, scope).await;
    assert_eq!(status, 200, "{body}");
    (
        body["device_code"].as_str().unwrap().to_owned(),
        body["user_code"].as_str().unwrap().to_owned(),
    )
}

/// One poll of the token endpoint.
pub async fn poll(app: &TestApp, client: &Client, device_code: &str) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", DEVICE_GRANT), ("device_code", device_code)];
    if client.secret.is_none() {
        form.push(("client_id", &client.id));
    }
    json(flow::token(app, client, &form).await).await
}

fn error_of(answer: &(StatusCode, Value)) -> (u16, &str) {
    (
        answer.0.as_u16(),
        answer.1["error"].as_str().unwrap_or("(no error)"),
    )
}

/// The `/device` form's fields with `user_code` set to `typed`.
fn code_form(page: &Page, typed: &str) -> Vec<(String, String)> {
    let mut form = flow::inputs(&page.body);
    form.retain(|(k, _)| k != "user_code");
    form.push(("user_code".into(), typed.into()));
    form
}

/// A signed-in browser types `typed` at `/device`: the page that answers.
pub async fn enter(browser: &Browser, typed: &str) -> Page {
    let page = browser.get("/device").await;
    assert_eq!(page.status, 200, "{}", page.body);
    browser.post("/device", &code_form(&page, typed)).await
}

/// A signed-in browser types the code and answers: the final page.
pub async fn answer(browser: &Browser, user_code: &str, allow: bool) -> Page {
    let confirm = enter(browser, user_code).await;
    assert!(
        confirm.status == 200 && confirm.body.contains("name=\"decision\""),
        "expected the confirmation page, got {}: {}",
        confirm.status,
        confirm.body
    );
    let mut form = flow::inputs(&confirm.body);
    form.push((
        "decision".into(),
        if allow { "allow" } else { "deny" }.into(),
    ));
    browser.post("/device", &form).await
}

async fn signed_in(app: &TestApp, username: &str) -> Browser {
    flow::create_user(app, username);
    let browser = Browser::new(app);
    browser.sign_in(username).await;
    browser
}

/// Audit entries of `action`: (actor, target, detail).
fn audit(app: &TestApp, action: &str) -> Vec<(Option<String>, Option<String>, Option<String>)> {
    use diesel::prelude::*;
    use tessera::store::schema::audit_log;
    let mut conn = app.store.conn().unwrap();
    audit_log::table
        .filter(audit_log::action.eq(action))
        .order(audit_log::id.asc())
        .select((audit_log::actor, audit_log::target, audit_log::detail))
        .load(&mut **conn)
        .unwrap()
}

on_both_backends!(
    another_client_cannot_redeem_a_device_code,
    manual_clock,
    |app: TestApp| async move {
        let device = device_client(&app, ClientKind::Public);
        let thief = device_client(&app, ClientKind::Confidential);
        let (device_code, user_code) = started(&app, &device, "openid").await;
        let browser = signed_in(&app, "alice").await;
        let done = answer(&browser, &user_code, true).await;
        assert_eq!(done.status, 200, "{}", done.body);
        // Approved, yet another client gets nothing, however often it tries, and its
        // tries do not slow the real device down.
        for _ in 0..3 {
            assert_eq!(
                error_of(&poll(&app, &thief, &device_code).await),
                (400, "invalid_grant")
            );
        }
        let (status, tokens) = poll(&app, &device, &device_code).await;
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(
            jwt::claims(tokens["access_token"].as_str().unwrap())["client_id"],
            device.id
        );
    }
);

on_both_backends!(
    a_device_code_gives_tokens_once,
    manual_clock,
    |app: TestApp| async move {
        let device = device_client(&app, ClientKind::Public);
        let (device_code, user_code) = started(&app, &device, "openid").await;
        let browser = signed_in(&app, "alice").await;
        answer(&browser, &user_code, true).await;
        let (status, tokens) = poll(&app, &device, &device_code).await;
        assert_eq!(status, 200, "{tokens}");
        for _ in 0..2 {
            app.advance(30);
            assert_eq!(
                error_of(&poll(&app, &device, &device_code).await),
                (400, "invalid_grant")
            );
        }
        // The code cannot be answered again at the page either.
        let again = enter(&browser, &user_code).await;
        assert_eq!(again.status, 400);
        assert!(
            again
                .body
                .contains("unknown, has expired or was already used")
        );
    }
);

on_both_backends!(
    two_racing_polls_get_tokens_once,
    manual_clock,
    |app: TestApp| async move {
        let device = device_client(&app, ClientKind::Public);
        let (device_code, user_code) = started(&app, &device, "openid").await;
        let browser = signed_in(&app, "alice").await;
        answer(&browser, &user_code, true).await;
        let (a, b, c, d) = tokio::join!(
            poll(&app, &device, &device_code),
            poll(&app, &device, &device_code),
            poll(&app, &device, &device_code),
            poll(&app, &device, &device_code),
        );
        let answers = [a, b, c, d];
        let won = answers.iter().filter(|a| a.0 == 200).count();
        assert_eq!(won, 1, "{answers:?}");
        for lost in answers.iter().filter(|a| a.0 != 200) {
            assert!(
                matches!(error_of(lost), (400, "invalid_grant" | "slow_down")),
                "{lost:?}"
            );
        }
    }
);

on_both_backends!(
    an_expired_device_code_is_expired_token,
    manual_clock,
    |app: TestApp| async move {
        let device = device_client(&app, ClientKind::Public);
        let (status, body) = start(&app, &device, "openid").await;
        assert_eq!(status, 200);
        let expires_in = body["expires_in"].as_i64().unwrap();
        let device_code = body["device_code"].as_str().unwrap();
        let user_code = body["user_code"].as_str().unwrap();
        app.advance(expires_in);
        assert_eq!(
            error_of(&poll(&app, &device, device_code).await),
            (400, "expired_token")
        );
        // The user arrives too late: a readable page, nothing approved.
        let browser = signed_in(&app, "alice").await;
        let late = enter(&browser, user_code).await;
        assert_eq!(late.status, 400);
        assert!(
            late.body
                .contains("unknown, has expired or was already used")
        );
        assert!(late.body.contains("<h1>Connect a device</h1>"));
        assert!(audit(&app, "device.approved").is_empty());
    }
);

on_both_backends!(
    a_denied_device_gets_access_denied,
    manual_clock,
    |app: TestApp| async move {
        let device = device_client(&app, ClientKind::Public);
        let (device_code, user_code) = started(&app, &device, "openid profile").await;
        let browser = signed_in(&app, "alice").await;
        let done = answer(&browser, &user_code, false).await;
        assert_eq!(done.status, 200);
        assert!(done.body.contains("Device refused"), "{}", done.body);
        assert_eq!(
            error_of(&poll(&app, &device, &device_code).await),
            (400, "access_denied")
        );
        app.advance(5);
        assert_eq!(
            error_of(&poll(&app, &device, &device_code).await),
            (400, "access_denied")
        );
        let denied = audit(&app, "device.denied");
        assert_eq!(denied.len(), 1);
        assert_eq!(denied[0].0.as_deref(), Some("alice"));
        assert_eq!(denied[0].1.as_deref(), Some(device.id.as_str()));
        // A denial grants nothing: no consent is recorded for the client.
        assert!(audit(&app, "device.approved").is_empty());
    }
);

on_both_backends!(
    polling_faster_than_the_interval_slows_the_device_down,
    manual_clock,
    |app: TestApp| async move {
        let device = device_client(&app, ClientKind::Public);
        let (status, body) = start(&app, &device, "openid").await;
        assert_eq!(status, 200);
        assert_eq!(body["interval"], 5);
        let device_code = body["device_code"].as_str().unwrap();
        assert_eq!(
            error_of(&poll(&app, &device, device_code).await),
            (400, "authorization_pending")
        );
        let fast = poll(&app, &device, device_code).await;
        assert_eq!(error_of(&fast), (400, "slow_down"));
        assert!(
            fast.1["error_description"]
                .as_str()
                .unwrap()
                .contains("10 s")
        );
        // The interval is now 10 s: 10 s later is fine, 9 s after that is too early (the
        // interval grows to 15 s), and 14 s after that too (20 s).
        app.advance(10);
        assert_eq!(
            error_of(&poll(&app, &device, device_code).await),
            (400, "authorization_pending")
        );
        app.advance(9);
        assert_eq!(
            error_of(&poll(&app, &device, device_code).await),
            (400, "slow_down")
        );
        app.advance(14);
        let again = poll(&app, &device, device_code).await;
        assert_eq!(error_of(&again), (400, "slow_down"));
        assert!(
            again.1["error_description"]
                .as_str()
                .unwrap()
                .contains("20 s")
        );
        app.advance(20);
        assert_eq!(
            error_of(&poll(&app, &device, device_code).await),
            (400, "authorization_pending")
        );
    }
);

on_both_backends!(
    a_client_without_the_grant_type_is_refused,
    |app: TestApp| async move {
        let web_app = flow::confidential(&app);
        assert_eq!(
            error_of(&start(&app, &web_app, "openid").await),
            (400, "unauthorized_client")
        );
        // Nor can it poll with a code another client started.
        let device = device_client(&app, ClientKind::Public);
        let (device_code, _) = started(&app, &device, "openid").await;
        assert_eq!(
            error_of(&poll(&app, &web_app, &device_code).await),
            (400, "unauthorized_client")
        );
        // A confidential client must authenticate; a wrong secret is invalid_client.
        let tv = device_client(&app, ClientKind::Confidential);
        let bare = Client {
            id: tv.id.clone(),
            secret: None,
        };
        assert_eq!(
            error_of(&start(&app, &bare, "openid").await),
            (401, "invalid_client")
        );
        let wrong = Client {
            id: tv.id.clone(),
            secret: Some("wrong".into()),
        };
        assert_eq!(
            error_of(&start(&app, &wrong, "openid").await),
            (401, "invalid_client")
        );
        let unknown = Client {
            id: "no-such-client".into(),
            secret: None,
        };
        assert_eq!(
            error_of(&start(&app, &unknown, "openid").await),
            (401, "invalid_client")
        );
        // Scopes beyond the client's registration.
        assert_eq!(
            error_of(&start(&app, &tv, "openid admin").await),
            (400, "invalid_scope")
        );
        let (status, ok) = start(&app, &tv, "openid").await;
        assert_eq!(status, 200, "{ok}");
        // A poll without a device code.
        let res = flow::token(&app, &tv, &[("grant_type", DEVICE_GRANT)]).await;
        assert_eq!(error_of(&json(res).await), (400, "invalid_request"));
    }
);

on_both_backends!(
    oversized_input_is_refused_plainly,
    |app: TestApp| async move {
        let device = device_client(&app, ClientKind::Public);
        let (device_code, user_code) = started(&app, &device, "openid").await;
        let huge = "B".repeat(20_000);
        assert_eq!(
            error_of(&poll(&app, &device, &huge).await),
            (400, "invalid_grant")
        );
        let scope = "x".repeat(70_000);
        let res = app
            .http
            .post(app.url("/oauth/device_authorization"))
            .form(&[("client_id", device.id.as_str()), ("scope", &scope)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 413);
        let (_, body) = json(res).await;
        assert_eq!(body["error"], "invalid_request");
        let browser = signed_in(&app, "alice").await;
        let page = enter(&browser, &huge).await;
        assert_eq!(page.status, 400);
        assert!(page.body.contains("That is not a device code"));
        assert!(!page.body.contains(&huge[..100]));
        let long = &huge[..2_000];
        let page = browser.get(&format!("/device?user_code={long}")).await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains(&huge[..100]));
        // The real code still works after all that.
        assert_eq!(answer(&browser, &user_code, true).await.status, 200);
        assert_eq!(poll(&app, &device, &device_code).await.0, 200);
    }
);

on_both_backends!(
    the_device_page_needs_a_session_and_its_csrf_token,
    |app: TestApp| async move {
        let device = device_client(&app, ClientKind::Public);
        let (device_code, user_code) = started(&app, &device, "openid").await;
        let anonymous = Browser::new(&app);
        let to_login = anonymous
            .post("/device", &[("user_code".into(), user_code.clone())])
            .await;
        assert_eq!(to_login.status, 303);
        assert!(to_login.location.unwrap().starts_with("/login?return_to="));

        let browser = signed_in(&app, "alice").await;
        let confirm = enter(&browser, &user_code).await;
        let mut forged = flow::inputs(&confirm.body);
        forged.retain(|(k, _)| k != "csrf_token");
        forged.push(("decision".into(), "allow".into()));
        let no_token = browser.post("/device", &forged).await;
        assert_eq!(no_token.status, 400);
        assert!(no_token.body.contains("This form has expired"));
        forged.push(("csrf_token".into(), "guessed".into()));
        let wrong_token = browser.post("/device", &forged).await;
        assert_eq!(wrong_token.status, 400);
        // Another user's token is no better.
        let mallory = signed_in(&app, "mallory").await;
        let theirs = mallory.get("/device").await;
        let mut cross = flow::inputs(&theirs.body);
        cross.retain(|(k, _)| k != "user_code");
        cross.push(("user_code".into(), user_code.clone()));
        cross.push(("decision".into(), "allow".into()));
        let cross_site = browser.post("/device", &cross).await;
        assert_eq!(cross_site.status, 400);
        // A decision in a link (GET) decides nothing.
        let link = browser
            .get(&format!("/device?user_code={user_code}&decision=allow"))
            .await;
        assert_eq!(link.status, 200);
        assert!(!link.body.contains("name=\"decision\""));
        assert_eq!(
            error_of(&poll(&app, &device, &device_code).await),
            (400, "authorization_pending")
        );
        assert!(audit(&app, "device.approved").is_empty());
    }
);

/// Wrong user codes lock the user (per account and address) after the free failures;
/// while locked even the right code is refused, and the lock is audited.
async fn guessing_is_throttled(backend: Backend) {
    let app = crate::helpers::spawn_with(
        backend,
        &[
            ("TESSERA_LOGIN_FREE_FAILURES", "3"),
            ("TESSERA_LOGIN_MAX_LOCKOUT", "600"),
        ],
    )
    .await;
    let device = device_client(&app, ClientKind::Public);
    let (device_code, user_code) = started(&app, &device, "openid").await;
    let browser = signed_in(&app, "alice").await;
    // Typos that cannot be codes are not guesses and do not count.
    for typo in ["", "BCDF", "hello world", "AAAA-AAAA"] {
        let page = enter(&browser, typo).await;
        assert_eq!(page.status, 400, "{typo}");
        assert!(page.body.contains("That is not a device code"));
    }
    // Codes that are well formed but wrong do.
    let wrong: Vec<String> = (0..4)
        .map(|i| {
            let four = ALPHABET.chars().nth(i).unwrap().to_string().repeat(4);
            let code = format!("{four}-{four}");
            assert_ne!(code, user_code);
            code
        })
        .collect();
    for (i, guess) in wrong.iter().enumerate() {
        let page = enter(&browser, guess).await;
        assert_eq!(page.status, 400, "guess {i}");
        assert!(page.body.contains("unknown, has expired"), "guess {i}");
    }
    let locked = enter(&browser, &user_code).await;
    assert_eq!(locked.status, 429, "{}", locked.body);
    assert!(locked.headers.get("retry-after").is_some());
    assert!(locked.body.contains("Too many wrong codes"));
    let locks = audit(&app, "throttle.locked");
    assert!(
        locks
            .iter()
            .any(|(_, target, _)| target.as_deref() == Some("user-code alice")),
        "{locks:?}"
    );
    // Someone else at the same address is not locked out by alice's guesses.
    let bob = signed_in(&app, "bob").await;
    assert_eq!(answer(&bob, &user_code, false).await.status, 200);
    assert_eq!(
        error_of(&poll(&app, &device, &device_code).await),
        (400, "access_denied")
    );
}

mod user_code_guessing_is_throttled {
    use super::*;

    #[actix_web::test]
    async fn sqlite() {
        guessing_is_throttled(Backend::Sqlite).await;
    }

    #[actix_web::test]
    #[cfg_attr(
        not(tessera_test_postgres),
        ignore = "TESSERA_TEST_POSTGRES_URL not set: PostgreSQL not tested"
    )]
    async fn postgres() {
        guessing_is_throttled(Backend::Postgres).await;
    }
}

on_both_backends!(
    a_tv_signs_its_user_in_over_http,
    manual_clock,
    |app: TestApp| async move {
        let tv = device_client(&app, ClientKind::Confidential);
        let (status, body) = start(&app, &tv, "openid profile offline_access").await;
        assert_eq!(status, 200, "{body}");
        let user_code = body["user_code"].as_str().unwrap();
        assert_eq!(user_code.len(), 9);
        assert!(
            user_code.chars().enumerate().all(|(i, c)| if i == 4 {
                c == '-'
            } else {
                ALPHABET.contains(c)
            }),
            "{user_code}"
        );
        assert_eq!(body["verification_uri"], app.url("/device"));
        assert_eq!(
            body["verification_uri_complete"],
            app.url(&format!("/device?user_code={user_code}"))
        );
        assert_eq!(body["expires_in"], 600);
        assert_eq!(body["interval"], 5);
        let device_code = body["device_code"].as_str().unwrap();
        assert!(device_code.len() >= 43);
        assert_eq!(
            error_of(&poll(&app, &tv, device_code).await),
            (400, "authorization_pending")
        );

        // The user opens the complete link on a phone: sign in first, then the code is
        // already filled in; they still press Continue and Allow.
        flow::create_user(&app, "alice");
        let phone = Browser::new(&app);
        let link = body["verification_uri_complete"].as_str().unwrap();
        let first = phone.get(link).await;
        assert_eq!(first.status, 303);
        let login = phone.get(first.location.as_deref().unwrap()).await;
        let signed = phone.login(&login, "alice", flow::PASSWORD).await;
        assert_eq!(signed.status, 303, "{}", signed.body);
        let back = signed.location.unwrap();
        assert!(back.starts_with("/device?user_code="), "{back}");
        let form = phone.get(&back).await;
        assert_eq!(form.status, 200);
        assert_eq!(
            flow::input(&form.body, "user_code").as_deref(),
            Some(user_code)
        );
        // Typed again in lower case without the hyphen, it is the same code.
        let typed = user_code.replace('-', "").to_lowercase();
        let confirm = phone.post("/device", &code_form(&form, &typed)).await;
        assert_eq!(confirm.status, 200, "{}", confirm.body);
        assert!(confirm.body.contains("Allow Photo Book?"));
        assert!(confirm.body.contains(user_code));
        assert!(
            confirm
                .body
                .contains("Sign you in with your Tessera account")
        );
        assert!(confirm.body.contains("See your name and basic profile"));
        let mut decide = flow::inputs(&confirm.body);
        decide.push(("decision".into(), "allow".into()));
        let done = phone.post("/device", &decide).await;
        assert_eq!(done.status, 200);
        assert!(done.body.contains("Device connected"));

        // After the interval, tokens.
        app.advance(5);
        let (status, tokens) = poll(&app, &tv, device_code).await;
        assert_eq!(status, 200, "{tokens}");
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["scope"], "openid profile offline_access");
        let access = jwt::claims(tokens["access_token"].as_str().unwrap());
        assert_eq!(access["client_id"], tv.id);
        let id_token = jwt::claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id_token["aud"], tv.id);
        assert_eq!(id_token["sub"], access["sub"]);
        assert_eq!(id_token["name"], "alice Example");
        assert!(id_token["sid"].is_string());
        // The refresh token works like any other.
        let refresh = tokens["refresh_token"].as_str().unwrap();
        let res = flow::token(
            &app,
            &tv,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await;
        assert_eq!(res.status(), 200);
        // The access token opens userinfo.
        let info: Value = app
            .http
            .get(app.url("/oauth/userinfo"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["sub"], access["sub"]);

        let approved = audit(&app, "device.approved");
        assert_eq!(approved.len(), 1);
        assert_eq!(approved[0].0.as_deref(), Some("alice"));
        assert_eq!(approved[0].1.as_deref(), Some(tv.id.as_str()));
        assert_eq!(
            approved[0].2.as_deref(),
            Some("openid profile offline_access")
        );
        // The account page lists the TV among the applications alice allowed.
        let account = phone.get("/account").await;
        assert!(account.body.contains("Photo Book"), "{}", account.body);
    }
);

on_both_backends!(
    discovery_names_the_device_endpoint_and_rfc_8414_answers,
    |app: TestApp| async move {
        let oidc: Value = app.get_json("/.well-known/openid-configuration").await;
        assert_eq!(
            oidc["device_authorization_endpoint"],
            app.url("/oauth/device_authorization")
        );
        let grants: Vec<&str> = oidc["grant_types_supported"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(grants.contains(&DEVICE_GRANT), "{grants:?}");
        let oauth: Value = app
            .get_json("/.well-known/oauth-authorization-server")
            .await;
        assert_eq!(oauth, oidc);
        assert_eq!(oauth["issuer"], app.settings.issuer);
    }
);

on_both_backends!(
    the_cli_registers_a_device_client,
    |app: TestApp| async move {
        let out = app.cli(
            &[
                "client",
                "create",
                "--name",
                "Living-room TV",
                "--public",
                "--grant-type",
                DEVICE_GRANT,
                "--json",
            ],
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let created: Value = serde_json::from_str(&out.stdout).unwrap();
        let tv = Client {
            id: created["client_id"].as_str().unwrap().to_owned(),
            secret: None,
        };
        assert_eq!(start(&app, &tv, "openid").await.0, 200);
        let bad = app.cli(
            &[
                "client",
                "create",
                "--name",
                "x",
                "--grant-type",
                "device_code",
            ],
            None,
        );
        assert_ne!(bad.code, 0);
        assert!(bad.stderr.contains(DEVICE_GRANT), "{}", bad.stderr);
    }
);
