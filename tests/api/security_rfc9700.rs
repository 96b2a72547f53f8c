//! Threats of RFC 9700 (OAuth 2.0 Security Best Current Practice) that Tessera defends,
//! one test per section, named after it.
use serde_json::Value;

use crate::flow::{self, Browser, REDIRECT, auth_url, pkce, token, tokens_for};
use crate::helpers::TestApp;
use crate::on_both_backends;

on_both_backends!(
    rfc9700_2_1_redirect_uris_match_exactly,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let browser = Browser::new(&app);
        browser.sign_in("alice").await;
        for near in [
            "http://127.0.0.1:9999/callback/",
            "http://127.0.0.1:9999/callback?x=1",
            "http://127.0.0.1:9999/callbackx",
            "http://127.0.0.1:9998/callback",
            "https://127.0.0.1:9999/callback",
            "http://127.0.0.1:9999/CALLBACK",
        ] {
            let url = auth_url(&client.id, &[]).replace(
                &url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
                &url::form_urlencoded::byte_serialize(near.as_bytes()).collect::<String>(),
            );
            let page = browser.get(&url).await;
            assert_eq!(page.status, 400, "{near}");
            assert!(page.location.is_none(), "{near} must not be redirected to");
        }
    }
);

on_both_backends!(
    rfc9700_2_1_1_a_pkce_downgrade_is_refused,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let browser = Browser::new(&app);
        // The attacker stripped the challenge from the request, then sends a verifier.
        let page = browser.authorize(&auth_url(&client.id, &[]), "alice").await;
        let code = page.redirect_param("code").unwrap();
        let (verifier, _) = pkce();
        let res = token(
            &app,
            &client,
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ],
        )
        .await;
        assert_eq!(res.status(), 400);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");
    }
);

on_both_backends!(
    rfc9700_4_4_2_authorization_responses_name_the_issuer,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let browser = Browser::new(&app);
        let page = browser.authorize(&auth_url(&client.id, &[]), "alice").await;
        assert_eq!(
            page.redirect_param("iss").as_deref(),
            Some(app.settings.issuer.as_str())
        );
        let denied = browser
            .get(&auth_url(&client.id, &[("prompt", "consent")]))
            .await;
        let denied = browser.consent(&denied, false).await;
        assert_eq!(
            denied.redirect_param("iss").as_deref(),
            Some(app.settings.issuer.as_str()),
            "error responses too"
        );
        // RFC 9207 §3: clients learn from the metadata that a missing `iss` is an attack.
        let discovery: Value = app.get_json("/.well-known/openid-configuration").await;
        assert_eq!(
            discovery["authorization_response_iss_parameter_supported"],
            true
        );
    }
);

on_both_backends!(
    rfc9700_4_5_a_replayed_code_revokes_what_it_issued,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let browser = Browser::new(&app);
        let page = browser.authorize(&auth_url(&client.id, &[]), "alice").await;
        let code = page.redirect_param("code").unwrap();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ];
        let first: Value = token(&app, &client, &form).await.json().await.unwrap();
        let access = first["access_token"].as_str().unwrap();
        assert_eq!(flow::userinfo_status(&app, access).await, 200);
        assert_eq!(token(&app, &client, &form).await.status(), 400);
        assert_eq!(flow::userinfo_status(&app, access).await, 401);
    }
);

on_both_backends!(
    rfc9700_4_11_tessera_is_no_open_redirector,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let browser = Browser::new(&app);
        browser.sign_in("alice").await;
        // An unknown client with any redirect_uri: an error page.
        let page = browser
            .get("/oauth/authorize?response_type=code&client_id=nobody&redirect_uri=https%3A%2F%2Fevil.example%2F")
            .await;
        assert_eq!(page.status, 400);
        assert!(page.location.is_none());
        // return_to after login stays on Tessera.
        for target in [
            "https://evil.example/",
            "//evil.example/",
            "/admin//evil.example",
            "/admin/\\evil.example",
            "/\\evil.example",
        ] {
            let q = url::form_urlencoded::byte_serialize(target.as_bytes()).collect::<String>();
            let page = browser.get(&format!("/login?return_to={q}")).await;
            assert!(page.location.is_none(), "{target} -> {:?}", page.location);
        }
    }
);

on_both_backends!(
    rfc9700_4_14_2_a_reused_refresh_token_revokes_its_family,
    manual_clock,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let first = tokens_for(&app, &client, "alice", "openid offline_access").await;
        let r1 = first["refresh_token"].as_str().unwrap();
        let refresh = |rt: String| {
            let (app, client) = (&app, &client);
            async move {
                token(
                    app,
                    client,
                    &[("grant_type", "refresh_token"), ("refresh_token", &rt)],
                )
                .await
            }
        };
        let second: Value = refresh(r1.to_owned()).await.json().await.unwrap();
        // Past the refresh grace (default 5 s), the old token is a stolen copy.
        app.advance(5);
        assert_eq!(refresh(r1.to_owned()).await.status(), 400);
        let r2 = second["refresh_token"].as_str().unwrap().to_owned();
        assert_eq!(refresh(r2).await.status(), 400);
        let a2 = second["access_token"].as_str().unwrap();
        assert_eq!(flow::userinfo_status(&app, a2).await, 401);
    }
);

on_both_backends!(
    rfc9700_4_16_pages_cannot_be_framed,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let browser = Browser::new(&app);
        browser.sign_in("alice").await;
        let consent = browser.get(&auth_url(&client.id, &[])).await;
        assert!(consent.is_consent());
        assert_eq!(consent.headers["x-frame-options"], "DENY");
        let csp = consent.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }
);
