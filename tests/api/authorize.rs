//! The authorization endpoint: login and consent pages, prompt/max_age, and every refusal.
use crate::flow::{self, Browser, REDIRECT, auth_url, input, pkce};
use crate::helpers::{Backend, TestApp, spawn, spawn_with};
use crate::on_both_backends;

#[actix_web::test]
async fn unknown_client_and_unregistered_redirect_get_an_error_page_never_a_redirect() {
    let app = spawn(Backend::Sqlite).await;
    let client = flow::confidential(&app);
    let browser = Browser::new(&app);
    let cases = [
        auth_url("no-such-client", &[]),
        format!(
            "/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid&state=s",
            client.id,
            urlencode("https://evil.example/cb")
        ),
        // A prefix or a variant of the registered URI is not the registered URI.
        format!(
            "/oauth/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid",
            client.id,
            urlencode(&format!("{REDIRECT}/../x"))
        ),
        format!(
            "/oauth/authorize?response_type=code&redirect_uri={}",
            urlencode(REDIRECT)
        ),
        format!(
            "/oauth/authorize?response_type=code&client_id={0}&client_id={0}&redirect_uri={1}",
            client.id,
            urlencode(REDIRECT)
        ),
    ];
    for url in cases {
        let page = browser.get(&url).await;
        assert_eq!(page.status, 400, "{url}: {}", page.body);
        assert!(page.location.is_none(), "{url} redirected");
        assert!(
            page.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(page.body.contains("<h1>"), "a readable page");
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

on_both_backends!(
    login_consent_allow_and_remembered_consent,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let browser = Browser::new(&app);
        let url = auth_url(&client.id, &[("nonce", "n")]);

        let login = browser.get(&url).await;
        assert!(login.is_login());
        assert!(
            login.body.contains("Photo Book"),
            "the login page names the client"
        );
        // A wrong password keeps the user on the form with a message.
        let wrong = browser.login(&login, "alice", "not the password").await;
        assert_eq!(wrong.status, 401);
        assert!(wrong.body.contains("Invalid username or password"));
        assert!(
            wrong
                .body
                .contains("to continue to <strong>Photo Book</strong>"),
            "the form shown again still names the client"
        );
        let unknown = browser.login(&wrong, "nobody", "whatever-pass").await;
        assert_eq!(unknown.status, 401);
        assert!(unknown.body.contains("Invalid username or password"));

        let after = browser.login(&unknown, "alice", flow::PASSWORD).await;
        assert_eq!(after.status, 303);
        let consent = browser.get(after.location.as_deref().unwrap()).await;
        assert!(consent.is_consent());
        assert!(consent.body.contains("Photo Book"));
        assert!(
            consent.body.contains("alice Example"),
            "the consent page names the user"
        );
        assert!(consent.body.contains("See your email address"));

        let done = browser.consent(&consent, true).await;
        assert_eq!(done.status, 302);
        assert!(done.location.as_deref().unwrap().starts_with(REDIRECT));
        assert!(done.redirect_param("code").is_some());
        assert_eq!(done.redirect_param("state").as_deref(), Some("st-123"));

        // Consent is remembered: the next request goes straight back with a code.
        let again = browser.get(&url).await;
        assert_eq!(again.status, 302, "{}", again.body);
        assert!(again.redirect_param("code").is_some());

        // prompt=consent asks again anyway.
        let forced = browser
            .get(&auth_url(&client.id, &[("prompt", "consent")]))
            .await;
        assert!(forced.is_consent());

        // Asking for more than was allowed asks again.
        let more = browser
            .get(&auth_url(
                &client.id,
                &[("scope", "openid profile email phone")],
            ))
            .await;
        assert!(more.is_consent());
    }
);

on_both_backends!(
    deny_redirects_with_access_denied,
    |app: TestApp| async move {
        flow::create_user(&app, "bob");
        let client = flow::confidential(&app);
        let browser = Browser::new(&app);
        browser.sign_in("bob").await;
        let consent = browser.get(&auth_url(&client.id, &[])).await;
        let denied = browser.consent(&consent, false).await;
        assert_eq!(denied.status, 302);
        assert_eq!(
            denied.redirect_param("error").as_deref(),
            Some("access_denied")
        );
        assert_eq!(denied.redirect_param("state").as_deref(), Some("st-123"));
        assert!(denied.redirect_param("code").is_none());
    }
);

#[actix_web::test]
async fn prompt_and_max_age_behave_as_oidc_core_says() {
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "carol");
    let client = flow::confidential(&app);
    let browser = Browser::new(&app);

    // prompt=none without a session: login_required, back to the client.
    let none = browser
        .get(&auth_url(&client.id, &[("prompt", "none")]))
        .await;
    assert_eq!(none.status, 302);
    assert_eq!(
        none.redirect_param("error").as_deref(),
        Some("login_required")
    );
    assert_eq!(none.redirect_param("state").as_deref(), Some("st-123"));

    browser.sign_in("carol").await;
    // Signed in but never consented: consent_required.
    let none = browser
        .get(&auth_url(&client.id, &[("prompt", "none")]))
        .await;
    assert_eq!(
        none.redirect_param("error").as_deref(),
        Some("consent_required")
    );

    let consent = browser.get(&auth_url(&client.id, &[])).await;
    browser.consent(&consent, true).await;
    // Signed in and consented: prompt=none succeeds silently.
    let silent = browser
        .get(&auth_url(&client.id, &[("prompt", "none")]))
        .await;
    assert!(silent.redirect_param("code").is_some());

    // prompt=login and max_age=0 force a fresh login even with a session.
    for extra in [("prompt", "login"), ("max_age", "0")] {
        let page = browser.get(&auth_url(&client.id, &[extra])).await;
        assert!(page.is_login(), "{extra:?} should show the login page");
        // After signing in again the flow completes instead of looping.
        let after = browser.login(&page, "carol", flow::PASSWORD).await;
        let done = browser.get(after.location.as_deref().unwrap()).await;
        assert_eq!(done.status, 302, "{extra:?}: {}", done.body);
        assert!(done.redirect_param("code").is_some());
    }
    // A generous max_age does not.
    let ok = browser
        .get(&auth_url(&client.id, &[("max_age", "3600")]))
        .await;
    assert!(ok.redirect_param("code").is_some());

    let bad = browser
        .get(&auth_url(&client.id, &[("prompt", "none login")]))
        .await;
    assert_eq!(
        bad.redirect_param("error").as_deref(),
        Some("invalid_request")
    );
}

#[actix_web::test]
async fn errors_after_the_redirect_is_verified_go_back_to_the_client() {
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "dave");
    let public = flow::public(&app);
    let confidential = flow::confidential(&app);
    let browser = Browser::new(&app);
    browser.sign_in("dave").await;
    let cases: Vec<(String, &str)> = vec![
        (auth_url(&public.id, &[]), "invalid_request"), // public client without PKCE
        (
            auth_url(
                &public.id,
                &[
                    ("code_challenge", "abc"),
                    ("code_challenge_method", "plain"),
                ],
            ),
            "invalid_request",
        ),
        (
            auth_url(&confidential.id, &[("request", "eyJhbGciOiJub25lIn0.e30.")]),
            "request_not_supported",
        ),
        (
            auth_url(
                &confidential.id,
                &[("request_uri", "https://app.example/r")],
            ),
            "request_uri_not_supported",
        ),
        (
            auth_url(&confidential.id, &[("scope", "openid admin:everything")]),
            "invalid_scope",
        ),
        (
            auth_url(&confidential.id, &[("response_mode", "fragment")]),
            "invalid_request",
        ),
        (
            auth_url(&confidential.id, &[("max_age", "-1")]),
            "invalid_request",
        ),
        (
            auth_url(&confidential.id, &[]).replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
    ];
    for (url, error) in cases {
        let page = browser.get(&url).await;
        assert_eq!(page.status, 302, "{url}: {}", page.body);
        assert!(page.location.as_deref().unwrap().starts_with(REDIRECT));
        assert_eq!(
            page.redirect_param("error").as_deref(),
            Some(error),
            "{url}"
        );
        assert_eq!(
            page.redirect_param("state").as_deref(),
            Some("st-123"),
            "{url}"
        );
    }
}

#[actix_web::test]
async fn form_post_and_post_requests_and_ignored_parameters() {
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "erin");
    let client = flow::confidential(&app);
    let browser = Browser::new(&app);
    browser.sign_in("erin").await;
    let consent = browser.get(&auth_url(&client.id, &[])).await;
    browser.consent(&consent, true).await;

    let extras = [
        ("response_mode", "form_post"),
        ("display", "page"),
        ("ui_locales", "fr-CA en"),
        ("claims_locales", "de"),
        ("acr_values", "urn:mace:incommon:iap:silver"),
        ("unknown_param", "ignored"),
    ];
    let page = browser.get(&auth_url(&client.id, &extras)).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains(&format!("action=\"{REDIRECT}\"")),
        "{}",
        page.body
    );
    assert!(input(&page.body, "code").is_some());
    assert_eq!(input(&page.body, "state").as_deref(), Some("st-123"));
    assert_eq!(
        input(&page.body, "iss").as_deref(),
        Some(app.settings.issuer.as_str())
    );
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'nonce-"), "{csp}");

    // The request itself may be POSTed (OIDC Core §3.1.2.1).
    let form: Vec<(String, String)> = url::form_urlencoded::parse(
        auth_url(&client.id, &[])
            .split_once('?')
            .unwrap()
            .1
            .as_bytes(),
    )
    .into_owned()
    .collect();
    let posted = browser.post("/oauth/authorize", &form).await;
    assert_eq!(posted.status, 302);
    assert!(posted.redirect_param("code").is_some());
}

#[actix_web::test]
async fn login_hint_prefills_the_form() {
    let app = spawn(Backend::Sqlite).await;
    let client = flow::confidential(&app);
    let page = Browser::new(&app)
        .get(&auth_url(
            &client.id,
            &[("login_hint", "frank@example.com")],
        ))
        .await;
    assert!(page.is_login());
    assert_eq!(
        input(&page.body, "username").as_deref(),
        Some("frank@example.com")
    );
}

#[actix_web::test]
async fn forms_are_csrf_protected_and_pages_cannot_be_framed() {
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "gina");
    let client = flow::confidential(&app);
    let browser = Browser::new(&app);
    let login = browser.get(&auth_url(&client.id, &[])).await;
    assert_eq!(login.headers["x-frame-options"], "DENY");
    assert!(
        login.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );

    // Login without the CSRF token is refused.
    let mut form = flow::inputs(&login.body);
    form.retain(|(k, _)| k != "csrf_token" && k != "username");
    form.push(("username".into(), "gina".into()));
    form.push(("password".into(), flow::PASSWORD.into()));
    let refused = browser.post("/login", &form).await;
    assert_eq!(refused.status, 400);
    assert!(
        refused
            .headers
            .get("set-cookie")
            .is_none_or(|c| !c.to_str().unwrap().starts_with("tessera_session="))
    );

    // Consent with a forged CSRF token is refused and grants nothing.
    // The refusal rendered a fresh form (and CSRF cookie); signing in from it works.
    let after = browser.login(&refused, "gina", flow::PASSWORD).await;
    let session_cookie = after
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tessera_session="))
        .unwrap();
    assert!(session_cookie.contains("HttpOnly"));
    assert!(session_cookie.contains("SameSite=Lax"));
    assert!(
        !session_cookie.contains("Secure"),
        "http issuer: no Secure flag"
    );
    let consent = browser.get(after.location.as_deref().unwrap()).await;
    let mut form = flow::inputs(&consent.body);
    form.retain(|(k, _)| k != "csrf_token");
    form.push(("csrf_token".into(), "forged".into()));
    form.push(("decision".into(), "allow".into()));
    let forged = browser.post("/oauth/authorize", &form).await;
    assert_eq!(forged.status, 400);
    assert!(forged.location.is_none());
    assert!(
        browser.get(&auth_url(&client.id, &[])).await.is_consent(),
        "nothing was remembered"
    );
}

#[actix_web::test]
async fn session_cookie_is_secure_under_an_https_issuer() {
    let app = spawn_with(
        Backend::Sqlite,
        &[("TESSERA_ISSUER", "https://id.example.com")],
    )
    .await;
    flow::create_user(&app, "hank");
    let browser = Browser::new(&app);
    let page = browser.get("/login").await;
    let done = browser.login(&page, "hank", flow::PASSWORD).await;
    let cookie = done
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("tessera_session="))
        .unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[actix_web::test]
async fn public_clients_must_use_s256() {
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "ivy");
    let client = flow::public(&app);
    let (_, challenge) = pkce();
    let browser = Browser::new(&app);
    let page = browser
        .authorize(
            &auth_url(
                &client.id,
                &[
                    ("code_challenge", &challenge),
                    ("code_challenge_method", "S256"),
                ],
            ),
            "ivy",
        )
        .await;
    assert!(page.redirect_param("code").is_some());
}

#[actix_web::test]
async fn id_token_hint_must_name_the_signed_in_user_for_prompt_none() {
    let app = spawn(Backend::Sqlite).await;
    flow::create_user(&app, "alice");
    flow::create_user(&app, "bob");
    let client = flow::confidential(&app);
    let alice_id_token = flow::tokens_for(&app, &client, "alice", "openid").await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob_id_token = flow::tokens_for(&app, &client, "bob", "openid").await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Alice's browser, signed in and consented.
    let browser = Browser::new(&app);
    browser.sign_in("alice").await;
    let consent = browser.get(&auth_url(&client.id, &[])).await;
    browser.consent(&consent, true).await;

    let silent = |hint: String| {
        let url = auth_url(&client.id, &[("prompt", "none"), ("id_token_hint", &hint)]);
        let browser = &browser;
        async move { browser.get(&url).await }
    };
    let same_user = silent(alice_id_token.clone()).await;
    assert!(
        same_user.redirect_param("code").is_some(),
        "{}",
        same_user.body
    );
    // An expired ID token is still a fine hint.
    let expired = crate::jwt::edit(&app, &alice_id_token, |c| {
        c.insert("exp".into(), serde_json::json!(crate::jwt::now() - 3600));
    });
    assert!(silent(expired).await.redirect_param("code").is_some());

    let other_user = silent(bob_id_token).await;
    assert_eq!(
        other_user.redirect_param("error").as_deref(),
        Some("login_required")
    );
    let forged = silent(crate::jwt::alg_none(&alice_id_token)).await;
    assert_eq!(
        forged.redirect_param("error").as_deref(),
        Some("invalid_request")
    );
}
