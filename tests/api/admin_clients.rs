//! The admin console's clients, consents, sessions, keys and audit log over HTTP: secrets
//! shown once and rotated, deletion and consent revocation killing refresh tokens, key
//! rotation and retirement showing in the JWKS at once, and the audit trail.
use serde_json::Value;

use crate::admin::{Console, audit_actions};
use crate::flow::{self, Browser, Page, REDIRECT, input};
use crate::helpers::TestApp;
use crate::on_both_backends;

/// The value of a read-only field on the secret page.
pub fn shown(page: &Page, id: &str) -> Option<String> {
    let key = format!("id=\"{id}\" value=\"");
    let start = page.body.find(&key)? + key.len();
    let rest = &page.body[start..];
    Some(flow::unescape(&rest[..rest.find('"')?]))
}

async fn client_credentials(app: &TestApp, id: &str, secret: &str) -> u16 {
    app.http
        .post(app.url("/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn refresh_status(app: &TestApp, client: &flow::Client, refresh: &str) -> (u16, Value) {
    let res = flow::token(
        app,
        client,
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    (res.status().as_u16(), res.json().await.unwrap())
}

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let jwks: Value = app.get_json("/.well-known/jwks.json").await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

on_both_backends!(
    a_client_is_registered_its_secret_shown_once_and_rotated,
    |app: TestApp| async move {
        let console = Console::root(&app).await;
        let page = console.get("/admin/clients/new").await;
        assert_eq!(page.status, 200);
        let page = console
            .post(
                "/admin/clients/new",
                &[
                    ("name", "Billing Robot"),
                    ("client_type", "confidential"),
                    ("grant_type", "client_credentials"),
                    ("scopes", "billing:read"),
                    ("access_token_ttl", "600"),
                ],
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("will not be shown again"));
        let id = shown(&page, "client_id").unwrap();
        let secret = shown(&page, "client_secret").unwrap();
        assert_eq!(client_credentials(&app, &id, &secret).await, 200);

        // The client's page never shows the secret again.
        let page = console.get(&format!("/admin/clients/{id}")).await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("Billing Robot"));
        assert!(!page.body.contains(&secret));
        assert_eq!(
            input(&page.body, "access_token_ttl").as_deref(),
            Some("600")
        );
        let list = console.get("/admin/clients").await;
        assert!(list.body.contains(&id));

        // Rotation: a new secret, shown once; the old one stops working at once.
        let page = console
            .confirm(&format!("/admin/clients/{id}/secret"))
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        let rotated = shown(&page, "client_secret").unwrap();
        assert_ne!(rotated, secret);
        assert_eq!(client_credentials(&app, &id, &secret).await, 401);
        assert_eq!(client_credentials(&app, &id, &rotated).await, 200);

        // Edit: rename, and a public client may not keep client_credentials.
        let page = console
            .post(
                &format!("/admin/clients/{id}"),
                &[
                    ("name", "Billing Robot 2"),
                    ("client_type", "public"),
                    ("grant_type", "client_credentials"),
                ],
            )
            .await;
        assert!(
            page.status == 400
                && page
                    .body
                    .contains("public client cannot use client_credentials"),
            "{}",
            page.body
        );
        let page = console
            .post(
                &format!("/admin/clients/{id}"),
                &[
                    ("name", "Billing Robot 2"),
                    ("client_type", "confidential"),
                    ("grant_type", "client_credentials"),
                    ("scopes", "billing:read billing:write"),
                ],
            )
            .await;
        assert_eq!(page.status, 303);
        let page = console.get(page.location.as_deref().unwrap()).await;
        assert!(page.body.contains("Client saved."));
        assert!(page.body.contains("Billing Robot 2"));
        assert!(page.body.contains("billing:read billing:write"));
        assert_eq!(client_credentials(&app, &id, &rotated).await, 200);

        let actions: Vec<String> = audit_actions(&app).await.into_iter().map(|a| a.0).collect();
        for a in ["client.created", "client.secret-rotated", "client.updated"] {
            assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
        }
    }
);

on_both_backends!(
    bad_client_input_gets_a_readable_400,
    |app: TestApp| async move {
        let console = Console::root(&app).await;
        for (fields, words) in [
            (
                vec![("name", ""), ("grant_type", "client_credentials")],
                "name must not be empty",
            ),
            (
                vec![("name", "A"), ("grant_type", "authorization_code")],
                "needs at least one redirect URI",
            ),
            (
                vec![
                    ("name", "A"),
                    ("grant_type", "authorization_code"),
                    ("redirect_uris", "not a uri"),
                ],
                "not an absolute URI",
            ),
            (
                vec![
                    ("name", "A"),
                    ("grant_type", "authorization_code"),
                    ("redirect_uris", "javascript:alert(1)"),
                ],
                "not allowed",
            ),
            (
                vec![("name", "A"), ("grant_type", "password")],
                "nknown grant type",
            ),
            (vec![("name", "A")], "at least one grant type"),
            (
                vec![
                    ("name", "A"),
                    ("grant_type", "client_credentials"),
                    ("scopes", "bad\"scope"),
                ],
                "not a valid scope",
            ),
            (
                vec![
                    ("name", "A"),
                    ("grant_type", "client_credentials"),
                    ("access_token_ttl", "ten"),
                ],
                "lifetime must be",
            ),
            (
                vec![
                    ("name", "A"),
                    ("grant_type", "client_credentials"),
                    ("refresh_token_ttl", "99999999999999999999"),
                ],
                "lifetime must be",
            ),
        ] {
            let page = console.post("/admin/clients/new", &fields).await;
            assert_eq!(page.status, 400, "{fields:?}: {}", page.body);
            assert!(page.body.contains(words), "{words}: {}", page.body);
        }
        // A name with markup is shown as text.
        let page = console
            .post(
                "/admin/clients/new",
                &[
                    ("name", "<script>x</script>"),
                    ("grant_type", "authorization_code"),
                    ("redirect_uris", REDIRECT),
                ],
            )
            .await;
        assert_eq!(page.status, 200);
        assert!(!page.body.contains("<script>x"));
        let page = console.get("/admin/clients/no-such-client").await;
        assert_eq!(page.status, 404);
        assert_eq!(
            console
                .get("/admin/clients/no-such-client/delete")
                .await
                .status,
            404
        );
    }
);

on_both_backends!(
    deleting_a_client_revokes_its_tokens,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let tokens = flow::tokens_for(&app, &client, "alice", "openid offline_access").await;
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let userinfo = |token: String| {
            let app = &app;
            async move {
                app.http
                    .get(app.url("/oauth/userinfo"))
                    .bearer_auth(token)
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }
        };
        assert_eq!(userinfo(access.clone()).await, 200);

        let console = Console::root(&app).await;
        let page = console
            .confirm(&format!("/admin/clients/{}/delete", client.id))
            .await;
        assert_eq!(page.status, 303);
        assert_eq!(
            page.location.as_deref(),
            Some("/admin/clients?done=client-deleted")
        );
        let (status, _) = refresh_status(&app, &client, &refresh).await;
        assert_eq!(status, 401);
        // The access token issued beside the refresh token is refused too.
        assert_eq!(userinfo(access).await, 401);
        let left: i64 = app
            .store
            .run(move |conn| {
                use diesel::prelude::*;
                use tessera::store::schema::refresh_tokens;
                Ok(refresh_tokens::table.count().get_result(conn)?)
            })
            .await
            .unwrap();
        assert_eq!(left, 0);
    }
);

on_both_backends!(
    revoking_consent_kills_the_apps_refresh_token,
    |app: TestApp| async move {
        let alice = flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let tokens = flow::tokens_for(&app, &client, "alice", "openid offline_access").await;
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let (status, body) = refresh_status(&app, &client, &refresh).await;
        assert_eq!(status, 200);
        let refresh = body["refresh_token"].as_str().unwrap().to_owned();

        let console = Console::root(&app).await;
        let page = console.get(&format!("/admin/users/{alice}")).await;
        assert!(page.body.contains("Photo Book"), "{}", page.body);
        assert!(page.body.contains("offline_access openid"), "{}", page.body);
        let page = console
            .confirm(&format!(
                "/admin/users/{alice}/consents/{}/revoke",
                client.id
            ))
            .await;
        assert_eq!(page.status, 303);
        let page = console.get(page.location.as_deref().unwrap()).await;
        assert!(page.body.contains("Consent revoked"));
        assert!(page.body.contains("has not allowed any application"));
        let (status, body) = refresh_status(&app, &client, &refresh).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );

        // The next authorization asks again.
        let b = Browser::new(&app);
        b.sign_in("alice").await;
        let page = b.get(&flow::auth_url(&client.id, &[])).await;
        assert!(page.is_consent());

        let audit = audit_actions(&app).await;
        assert!(audit.iter().any(|(a, actor, target)| a == "consent.granted"
            && actor.as_deref() == Some("alice")
            && target.as_deref() == Some(client.id.as_str())));
        assert!(audit.iter().any(|(a, _, _)| a == "consent.revoked"));
        let rows = app
            .store
            .run(|conn| tessera::store::audit::page(conn, Some("consent.granted"), 0, 10))
            .await
            .unwrap();
        assert_eq!(rows[0].ip.as_deref(), Some("127.0.0.1"));
    }
);

on_both_backends!(
    an_admin_sees_and_ends_a_users_sessions,
    |app: TestApp| async move {
        let alice = flow::create_user(&app, "alice");
        let b = Browser::new(&app);
        b.sign_in("alice").await;
        let console = Console::root(&app).await;
        let page = console.get(&format!("/admin/users/{alice}")).await;
        let marker = format!("/admin/users/{alice}/sessions/");
        let start = page.body.find(&marker).expect("a session row") + marker.len();
        let session = page.body[start..].split('/').next().unwrap().to_owned();
        let page = console
            .confirm(&format!("/admin/users/{alice}/sessions/{session}/sign-out"))
            .await;
        assert_eq!(page.status, 303);
        assert!(b.get("/login").await.is_login());
        let page = console.get(&format!("/admin/users/{alice}")).await;
        assert!(page.body.contains("No active sessions."));
    }
);

on_both_backends!(
    key_rotation_and_retirement_show_in_the_jwks_at_once,
    manual_clock,
    |app: TestApp| async move {
        let console = Console::root(&app).await;
        let before = jwks_kids(&app).await;
        assert_eq!(before.len(), 1);
        // The seed key was made by the wall clock a moment after this server's clock was
        // set; move on so the rotated key is the newer one.
        app.advance(5);
        let page = console.post("/admin/keys/rotate", &[]).await;
        assert_eq!(page.status, 303, "{}", page.body);
        let after = jwks_kids(&app).await;
        assert_eq!(after.len(), 2);
        let new_kid = after.iter().find(|k| !before.contains(k)).unwrap().clone();
        assert_eq!(app.keys.current().active_kid(), new_kid);
        let page = console.get("/admin/keys").await;
        assert!(page.body.contains(&new_kid));
        assert!(page.body.contains(">active<"));
        assert!(page.body.contains(">retiring<"));

        let old = &before[0];
        // Tokens it signed may still be valid for a day: refused, readably.
        let page = console.confirm(&format!("/admin/keys/{old}/retire")).await;
        assert_eq!(page.status, 409);
        assert!(
            page.body.contains("may still be valid until"),
            "{}",
            page.body
        );
        // A day later they have all expired (the console session too: sign in again).
        app.advance(86_400 + 1);
        let console = Console::sign_in(&app, crate::admin::ROOT).await;
        let page = console.confirm(&format!("/admin/keys/{old}/retire")).await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert_eq!(jwks_kids(&app).await, vec![new_kid.clone()]);
        let page = console.get("/admin/keys").await;
        assert!(page.body.contains(">retired<"));
        // The last published key cannot go; a retired or unknown one is refused readably.
        let page = console
            .confirm(&format!("/admin/keys/{new_kid}/retire"))
            .await;
        assert_eq!(page.status, 409);
        assert!(page.body.contains("only published key"));
        let page = console
            .post(&format!("/admin/keys/{old}/retire"), &[("confirm", "yes")])
            .await;
        assert_eq!(page.status, 409);
        assert_eq!(console.get("/admin/keys/nope/retire").await.status, 404);

        let audit = audit_actions(&app).await;
        assert!(
            audit
                .iter()
                .any(|(a, _, t)| a == "key.rotated" && t.as_deref() == Some(new_kid.as_str()))
        );
        assert!(
            audit
                .iter()
                .any(|(a, _, t)| a == "key.retired" && t.as_deref() == Some(old.as_str()))
        );
    }
);

on_both_backends!(
    the_audit_log_pages_and_filters_entries,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        let b = Browser::new(&app);
        for _ in 0..3 {
            let login = b.get("/login").await;
            assert_eq!(b.login(&login, "alice", "wrong password").await.status, 401);
        }
        let console = Console::root(&app).await;
        let page = console.get("/admin/audit").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("login.failed"));
        assert!(page.body.contains("127.0.0.1"));
        let page = console.get("/admin/audit?action=user.").await;
        assert!(!page.body.contains("login.failed"));
        // Unknown filters and pages show everything, never an error.
        let page = console
            .get("/admin/audit?action=%27%20OR%201%3D1&page=-4")
            .await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("login.failed"));
        // Enough entries for a second page.
        {
            let mut conn = app.store.conn().unwrap();
            for i in 0..60 {
                tessera::audit::record(
                    &mut conn,
                    i,
                    &tessera::audit::Entry {
                        actor: Some("seed"),
                        action: tessera::audit::AuditAction::UserUpdated,
                        target: Some("x"),
                        detail: None,
                        ip: None,
                    },
                )
                .unwrap();
            }
        }
        let page = console.get("/admin/audit").await;
        assert!(page.body.contains("Page 1 of 2"));
        assert!(page.body.contains("/admin/audit?page=2"));
        let page = console.get("/admin/audit?page=2").await;
        assert!(page.body.contains("Page 2 of 2"));
        let overview = console.get("/admin/").await;
        assert!(overview.body.contains("Recent activity"));
    }
);

on_both_backends!(
    deleting_a_user_revokes_what_was_issued_to_them,
    |app: TestApp| async move {
        let alice = flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let tokens = flow::tokens_for(&app, &client, "alice", "openid offline_access").await;
        let access = tokens["access_token"].as_str().unwrap().to_owned();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let console = Console::root(&app).await;
        let page = console
            .confirm(&format!("/admin/users/{alice}/delete"))
            .await;
        assert_eq!(page.status, 303);
        let res = app
            .http
            .get(app.url("/oauth/userinfo"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401);
        let (status, body) = refresh_status(&app, &client, &refresh).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
        assert_eq!(
            console.get(&format!("/admin/users/{alice}")).await.status,
            404
        );
    }
);
