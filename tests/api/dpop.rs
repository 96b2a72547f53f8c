//! DPoP (RFC 9449) at the token endpoint: every refusal first (replay, wrong htu/htm,
//! stale or future iat, a key other than the header's, private key material, alg none and
//! HS256, a missing nonce, a DPoP-bound client without a proof, a bound refresh token with
//! another key or none), then what a valid proof gets: a `DPoP` token bound to the key.
use reqwest::StatusCode;
use serde_json::Value;

use crate::dpop_keys::{DpopKey, claims_of};
use crate::flow::{self, Browser, REDIRECT};
use crate::helpers::{TestApp, spawn_sibling};
use crate::on_both_backends;
use tessera::domain::{ClientKind, GrantType};

pub fn token_url(app: &TestApp) -> String {
    app.settings.endpoint("/oauth/token")
}

pub struct Answer {
    pub status: StatusCode,
    pub nonce: Option<String>,
    pub body: Value,
}

/// POST the token endpoint as `client`, with `proof` in the DPoP header if given.
pub async fn post_token(
    app: &TestApp,
    client: &flow::Client,
    form: &[(&str, &str)],
    proof: Option<&str>,
) -> Answer {
    post_token_at(app, &app.base, client, form, proof).await
}

/// [`post_token`] to the instance at `base`.
async fn post_token_at(
    app: &TestApp,
    base: &str,
    client: &flow::Client,
    form: &[(&str, &str)],
    proof: Option<&str>,
) -> Answer {
    let mut form = form.to_vec();
    let mut req = app.http.post(format!("{base}/oauth/token"));
    match &client.secret {
        Some(secret) => req = req.basic_auth(&client.id, Some(secret)),
        None => form.push(("client_id", &client.id)),
    }
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    let res = req.form(&form).send().await.unwrap();
    Answer {
        status: res.status(),
        nonce: res
            .headers()
            .get("dpop-nonce")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: res.json().await.unwrap(),
    }
}

/// A nonce from the server: what a proof without one is answered with.
pub async fn nonce(app: &TestApp, client: &flow::Client, key: &DpopKey) -> String {
    let proof = key.proof("POST", &token_url(app), app.clock.unix()).sign();
    let answer = post_token(
        app,
        client,
        &[("grant_type", "client_credentials")],
        Some(&proof),
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.body["error"], "use_dpop_nonce", "{}", answer.body);
    answer.nonce.expect("a DPoP-Nonce header")
}

/// A token request with a valid proof of `key` (nonce included): the answer.
pub async fn with_proof(
    app: &TestApp,
    client: &flow::Client,
    form: &[(&str, &str)],
    key: &DpopKey,
) -> Answer {
    let nonce = nonce(app, client, key).await;
    let proof = key
        .proof("POST", &token_url(app), app.clock.unix())
        .nonce(&nonce)
        .sign();
    post_token(app, client, form, Some(&proof)).await
}

pub fn machine(app: &TestApp) -> flow::Client {
    flow::register(
        app,
        ClientKind::Confidential,
        &[GrantType::ClientCredentials],
        &[],
    )
}

const CREDENTIALS: [(&str, &str); 1] = [("grant_type", "client_credentials")];

fn assert_refused(answer: &Answer, error: &str, why: &str) {
    assert_eq!(answer.status, 400, "{why}: {}", answer.body);
    assert_eq!(answer.body["error"], error, "{why}: {}", answer.body);
}

on_both_backends!(dpop_nonce_then_a_bound_token, |app: TestApp| async move {
    let client = machine(&app);
    let key = DpopKey::es256();
    // A first proof without a nonce: use_dpop_nonce, and the nonce to use.
    let proof = key.proof("POST", &token_url(&app), app.clock.unix()).sign();
    let first = post_token(&app, &client, &CREDENTIALS, Some(&proof)).await;
    assert_refused(&first, "use_dpop_nonce", "no nonce");
    let nonce = first.nonce.expect("a DPoP-Nonce header");
    // A nonce we never handed out is no better.
    let proof = key
        .proof("POST", &token_url(&app), app.clock.unix())
        .nonce("made-up")
        .sign();
    let made_up = post_token(&app, &client, &CREDENTIALS, Some(&proof)).await;
    assert_refused(&made_up, "use_dpop_nonce", "unknown nonce");
    assert_ne!(made_up.nonce.as_deref(), Some("made-up"));

    let proof = key
        .proof("POST", &token_url(&app), app.clock.unix())
        .nonce(&nonce)
        .sign();
    let ok = post_token(&app, &client, &CREDENTIALS, Some(&proof)).await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["token_type"], "DPoP");
    let claims = claims_of(ok.body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["jkt"], key.thumbprint().as_str());

    // Without a proof, the same client gets a plain Bearer token without cnf.
    let plain = post_token(&app, &client, &CREDENTIALS, None).await;
    assert_eq!(plain.status, 200, "{}", plain.body);
    assert_eq!(plain.body["token_type"], "Bearer");
    assert!(claims_of(plain.body["access_token"].as_str().unwrap())["cnf"].is_null());

    // An Ed25519 key works the same.
    let ed = DpopKey::ed25519();
    let answer = with_proof(&app, &client, &CREDENTIALS, &ed).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let claims = claims_of(answer.body["access_token"].as_str().unwrap());
    assert_eq!(claims["cnf"]["jkt"], ed.thumbprint().as_str());
});

on_both_backends!(dpop_replayed_proof_is_refused, |app: TestApp| async move {
    let client = machine(&app);
    let key = DpopKey::es256();
    let nonce = nonce(&app, &client, &key).await;
    let proof = key
        .proof("POST", &token_url(&app), app.clock.unix())
        .nonce(&nonce)
        .sign();
    let first = post_token(&app, &client, &CREDENTIALS, Some(&proof)).await;
    assert_eq!(first.status, 200, "{}", first.body);
    let again = post_token(&app, &client, &CREDENTIALS, Some(&proof)).await;
    assert_refused(&again, "invalid_dpop_proof", "same jti twice");
    assert!(
        again.body["error_description"]
            .as_str()
            .unwrap()
            .contains("already used")
    );

    // Another instance on the same database remembers it too.
    let sibling = spawn_sibling(&app).await;
    let there = post_token_at(&app, &sibling, &client, &CREDENTIALS, Some(&proof)).await;
    assert_refused(&there, "invalid_dpop_proof", "replay at another instance");

    // Two requests racing with one fresh proof: exactly one wins.
    let proof = key
        .proof("POST", &token_url(&app), app.clock.unix())
        .nonce(&nonce)
        .sign();
    let (a, b) = tokio::join!(
        post_token(&app, &client, &CREDENTIALS, Some(&proof)),
        post_token_at(&app, &sibling, &client, &CREDENTIALS, Some(&proof)),
    );
    let wins = [&a, &b].iter().filter(|x| x.status == 200).count();
    assert_eq!(wins, 1, "{} / {}", a.body, b.body);
});

on_both_backends!(
    dpop_proof_for_another_request_is_refused,
    manual_clock,
    |app: TestApp| async move {
        let client = machine(&app);
        let key = DpopKey::es256();
        let nonce = nonce(&app, &client, &key).await;
        let now = app.clock.unix();
        let url = token_url(&app);
        let cases = [
            (
                "wrong htu",
                key.proof("POST", &app.settings.endpoint("/oauth/userinfo"), now),
            ),
            ("wrong htm", key.proof("GET", &url, now)),
            ("stale iat", key.proof("POST", &url, now - 61)),
            ("future iat", key.proof("POST", &url, now + 61)),
        ];
        for (why, proof) in cases {
            let proof = proof.nonce(&nonce).sign();
            let answer = post_token(&app, &client, &CREDENTIALS, Some(&proof)).await;
            assert_refused(&answer, "invalid_dpop_proof", why);
        }
        // The query and fragment are not part of the comparison; the window's edges are in.
        for (why, proof) in [
            ("query", key.proof("POST", &format!("{url}?a=1#f"), now)),
            ("60 s old", key.proof("POST", &url, now - 60)),
            ("60 s ahead", key.proof("POST", &url, now + 60)),
        ] {
            let proof = proof.nonce(&nonce).sign();
            let answer = post_token(&app, &client, &CREDENTIALS, Some(&proof)).await;
            assert_eq!(answer.status, 200, "{why}: {}", answer.body);
        }
        // A proof that was fine goes stale as the clock moves on.
        let proof = key.proof("POST", &url, now).nonce(&nonce).sign();
        app.advance(61);
        let answer = post_token(&app, &client, &CREDENTIALS, Some(&proof)).await;
        assert_refused(&answer, "invalid_dpop_proof", "stale by now");
    }
);

on_both_backends!(dpop_forged_proofs_are_refused, |app: TestApp| async move {
    let client = machine(&app);
    let key = DpopKey::es256();
    let other = DpopKey::es256();
    let nonce = nonce(&app, &client, &key).await;
    let fresh = || {
        key.proof("POST", &token_url(&app), app.clock.unix())
            .nonce(&nonce)
    };

    let by_other = fresh().signed_by(&other).sign();
    let mut leaky = fresh();
    leaky.header["jwk"]["d"] = key.d.clone().into();
    let leaky = leaky.sign();
    let none = fresh().unsigned();
    // The classic confusion: HMAC keyed with something public.
    let hs256 = fresh().sign_hs256(key.jwk["x"].as_str().unwrap().as_bytes());
    let mut wrong_typ = fresh();
    wrong_typ.header["typ"] = "JWT".into();
    let wrong_typ = wrong_typ.sign();
    let mut no_jwk = fresh();
    no_jwk.header.as_object_mut().unwrap().remove("jwk");
    let no_jwk = no_jwk.sign();
    let mut no_jti = fresh();
    no_jti.claims.as_object_mut().unwrap().remove("jti");
    let no_jti = no_jti.sign();
    for (why, proof) in [
        ("signed by a key other than its jwk", by_other),
        ("private key in the jwk", leaky),
        ("alg none", none),
        ("alg HS256", hs256),
        ("typ JWT", wrong_typ),
        ("no jwk", no_jwk),
        ("no jti", no_jti),
        ("not a JWT", "garbage".to_owned()),
        ("too long", "a".repeat(9000)),
    ] {
        let answer = post_token(&app, &client, &CREDENTIALS, Some(&proof)).await;
        assert_refused(&answer, "invalid_dpop_proof", why);
    }
    // Two DPoP headers are refused too.
    let res = app
        .http
        .post(app.url("/oauth/token"))
        .basic_auth(&client.id, client.secret.as_deref())
        .header("DPoP", fresh().sign())
        .header("DPoP", fresh().sign())
        .form(&CREDENTIALS)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"], "invalid_dpop_proof");
});

on_both_backends!(dpop_bound_client_needs_a_proof, |app: TestApp| async move {
    // Registered through the CLI with --dpop.
    let out = app.cli(
        &[
            "client",
            "create",
            "--name",
            "Bound",
            "--grant-type",
            "client_credentials",
            "--dpop",
            "--json",
        ],
        None,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let created: Value = serde_json::from_str(&out.stdout).unwrap();
    let client = flow::Client {
        id: created["client_id"].as_str().unwrap().to_owned(),
        secret: created["client_secret"].as_str().map(str::to_owned),
    };
    let answer = post_token(&app, &client, &CREDENTIALS, None).await;
    assert_refused(
        &answer,
        "invalid_dpop_proof",
        "bound client without a proof",
    );
    let answer = with_proof(&app, &client, &CREDENTIALS, &DpopKey::es256()).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.body["token_type"], "DPoP");
});

/// A code for `client` (public, PKCE): (code, verifier).
pub async fn code_for(app: &TestApp, client: &flow::Client, user: &str) -> (String, String) {
    let browser = Browser::new(app);
    let (verifier, challenge) = flow::pkce();
    let url = flow::auth_url(
        &client.id,
        &[
            ("scope", "openid profile offline_access"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let page = browser.authorize(&url, user).await;
    (page.redirect_param("code").expect("a code"), verifier)
}

on_both_backends!(
    dpop_public_refresh_is_bound_to_the_key,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::public(&app);
        let key = DpopKey::es256();
        let (code, verifier) = code_for(&app, &client, "alice").await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ];
        let answer = with_proof(&app, &client, &form, &key).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["token_type"], "DPoP");
        let refresh = answer.body["refresh_token"].as_str().unwrap().to_owned();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ];

        // Without a proof, or with another key: refused, and nothing changes.
        let answer = post_token(&app, &client, &form, None).await;
        assert_refused(&answer, "invalid_grant", "bound refresh without a proof");
        let answer = with_proof(&app, &client, &form, &DpopKey::es256()).await;
        assert_refused(&answer, "invalid_grant", "bound refresh with another key");

        // With its key: a new pair, still bound.
        let answer = with_proof(&app, &client, &form, &key).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["token_type"], "DPoP");
        let claims = claims_of(answer.body["access_token"].as_str().unwrap());
        assert_eq!(claims["cnf"]["jkt"], key.thumbprint().as_str());
        let next = answer.body["refresh_token"].as_str().unwrap().to_owned();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", next.as_str()),
        ];
        let answer = post_token(&app, &client, &form, None).await;
        assert_refused(&answer, "invalid_grant", "the successor is bound too");
    }
);

on_both_backends!(
    dpop_confidential_refresh_is_not_bound,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let key = DpopKey::es256();
        let (code, verifier) = code_for(&app, &client, "alice").await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
        ];
        let answer = with_proof(&app, &client, &form, &key).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["token_type"], "DPoP");
        // RFC 9449 §5: the client's own authentication binds its refresh token already.
        let refresh = answer.body["refresh_token"].as_str().unwrap().to_owned();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ];
        let answer = post_token(&app, &client, &form, None).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["token_type"], "Bearer");
    }
);

on_both_backends!(
    dpop_discovery_lists_the_algorithms,
    |app: TestApp| async move {
        let doc: Value = app.get_json("/.well-known/openid-configuration").await;
        assert_eq!(
            doc["dpop_signing_alg_values_supported"],
            serde_json::json!(["RS256", "PS256", "ES256", "EdDSA"])
        );
    }
);

on_both_backends!(
    dpop_console_sets_a_client_bound,
    |app: TestApp| async move {
        let console = crate::admin::Console::root(&app).await;
        let page = console
            .post(
                "/admin/clients/new",
                &[
                    ("name", "Bound Robot"),
                    ("client_type", "confidential"),
                    ("grant_type", "client_credentials"),
                    ("dpop_bound_access_tokens", "on"),
                ],
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        let client = flow::Client {
            id: crate::admin_clients::shown(&page, "client_id").unwrap(),
            secret: crate::admin_clients::shown(&page, "client_secret"),
        };
        let answer = post_token(&app, &client, &CREDENTIALS, None).await;
        assert_refused(&answer, "invalid_dpop_proof", "bound by the console");
        let page = console.get(&format!("/admin/clients/{}", client.id)).await;
        assert!(
            page.body
                .contains("name=\"dpop_bound_access_tokens\" checked"),
            "the client's page shows the setting"
        );

        // Unticked on the client's page: proofs become optional again.
        let page = console
            .post(
                &format!("/admin/clients/{}", client.id),
                &[
                    ("name", "Bound Robot"),
                    ("client_type", "confidential"),
                    ("grant_type", "client_credentials"),
                ],
            )
            .await;
        assert!(page.status < 400, "{}", page.body);
        let answer = post_token(&app, &client, &CREDENTIALS, None).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["token_type"], "Bearer");
    }
);

on_both_backends!(
    dpop_remembered_proofs_and_nonces_are_pruned,
    |app: TestApp| async move {
        use tessera::store::maintenance::prune;
        let client = machine(&app);
        // One nonce handed out and one proof remembered.
        let answer = with_proof(&app, &client, &CREDENTIALS, &DpopKey::es256()).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let now = app.clock.unix();
        let mut conn = app.store.conn().unwrap();
        // Within the proof's window and the nonce's life, both are kept.
        assert_eq!(prune(&mut conn, now + 5, 0).unwrap().dpop, 0);
        // The proof is past its window after a minute; the nonce lives five.
        assert_eq!(prune(&mut conn, now + 120, 0).unwrap().dpop, 1);
        assert_eq!(prune(&mut conn, now + 400, 0).unwrap().dpop, 1);
    }
);
