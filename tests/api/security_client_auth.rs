//! Failed client authentication at `/oauth/token`, `/oauth/introspect` and `/oauth/revoke`
//! is throttled per client_id and address and per client_id, counted in the database
//! (shared by instances, pruned), audited, and never a way to lock a client out for good.
use reqwest::Response;
use serde_json::Value;
use tessera::domain::{ClientKind, GrantType};
use tessera::store::maintenance::prune;

use crate::flow::{self, Client};
use crate::helpers::{TestApp, spawn_sibling};
use crate::metrics::{scrape, value};
use crate::on_both_backends;
use crate::security_login::{ATTACKER, VICTIM};

/// A confidential machine client: the right secret gets a token straight away.
pub fn machine(app: &TestApp) -> Client {
    flow::register(
        app,
        ClientKind::Confidential,
        &[GrantType::ClientCredentials],
        &[],
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Basic,
    Post,
}

/// POST `form` to `path` on `base` from `ip`, authenticating as `id` with `secret`.
async fn call(
    app: &TestApp,
    base: &str,
    path: &str,
    ip: &str,
    method: Method,
    (id, secret): (&str, &str),
    form: &[(&str, &str)],
) -> Response {
    let mut form: Vec<(&str, &str)> = form.to_vec();
    let req = app
        .http
        .post(format!("{base}{path}"))
        .header("X-Forwarded-For", ip);
    let req = match method {
        Method::Basic => req.basic_auth(id, Some(secret)),
        Method::Post => {
            form.push(("client_id", id));
            form.push(("client_secret", secret));
            req
        }
    };
    req.form(&form).send().await.unwrap()
}

/// A client_credentials token request: status, Retry-After and the JSON body.
pub async fn token_from(
    app: &TestApp,
    ip: &str,
    id: &str,
    secret: &str,
) -> (u16, Option<String>, Value) {
    answer(
        call(
            app,
            &app.base,
            "/oauth/token",
            ip,
            Method::Basic,
            (id, secret),
            &[("grant_type", "client_credentials")],
        )
        .await,
    )
    .await
}

async fn answer(res: Response) -> (u16, Option<String>, Value) {
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = res.json().await.unwrap_or(Value::Null);
    (status, retry, body)
}

pub fn is_throttled(body: &Value) -> bool {
    body["error"] == "invalid_client"
        && body["error_description"]
            .as_str()
            .is_some_and(|d| d.starts_with("too many failed authentications for this client"))
}

/// Audit entries of `action`: (target, detail, ip).
pub fn audit(app: &TestApp, action: &str) -> Vec<(String, String, String)> {
    use diesel::prelude::*;
    use tessera::store::schema::audit_log;
    let mut conn = app.store.conn().unwrap();
    audit_log::table
        .filter(audit_log::action.eq(action))
        .order(audit_log::id.asc())
        .select((
            audit_log::target.assume_not_null(),
            audit_log::detail.assume_not_null(),
            audit_log::ip.assume_not_null(),
        ))
        .load(&mut **conn)
        .unwrap()
}

fn throttle_rows(app: &TestApp, kind: &str) -> i64 {
    use diesel::prelude::*;
    use tessera::store::schema::login_throttle;
    let mut conn = app.store.conn().unwrap();
    login_throttle::table
        .filter(login_throttle::kind.eq(kind))
        .count()
        .get_result(&mut **conn)
        .unwrap()
}

on_both_backends!(
    @spawn wrong_client_secrets_lock_the_client_at_that_address_only,
    crate::security_login::spawn_behind_proxy,
    |app: TestApp| async move {
        let client = machine(&app);
        let secret = client.secret.clone().unwrap();
        // Five free failures, by either method, then growing locks.
        for method in [Method::Basic, Method::Post, Method::Basic, Method::Post, Method::Basic] {
            let res = call(
                &app, &app.base, "/oauth/token", ATTACKER, method, (&client.id, "guess"),
                &[("grant_type", "client_credentials")],
            )
            .await;
            let (status, retry, body) = answer(res).await;
            assert_eq!((status, retry), (401, None), "{body}");
            assert_eq!(body["error_description"], "unknown client or wrong credentials");
        }
        let (status, retry, _) = token_from(&app, ATTACKER, &client.id, "guess").await;
        assert_eq!((status, retry), (401, None), "the sixth failure locks, and is answered");

        // Locked: even the right secret is refused, unchecked, with a clear description,
        // whichever method carries it and at every endpoint that authenticates clients.
        let (status, retry, body) = token_from(&app, ATTACKER, &client.id, &secret).await;
        assert_eq!((status, retry.as_deref()), (401, Some("1")), "{body}");
        assert!(is_throttled(&body), "{body}");
        assert!(
            body["error_description"].as_str().unwrap().contains("(client and address)"),
            "{body}"
        );
        for (path, form) in [
            ("/oauth/token", vec![("grant_type", "client_credentials")]),
            ("/oauth/introspect", vec![("token", "x")]),
            ("/oauth/revoke", vec![("token", "x")]),
        ] {
            for method in [Method::Basic, Method::Post] {
                let res =
                    call(&app, &app.base, path, ATTACKER, method, (&client.id, &secret), &form).await;
                let (status, retry, body) = answer(res).await;
                assert_eq!((status, retry.as_deref()), (401, Some("1")), "{path} {method:?}");
                assert!(is_throttled(&body), "{path} {method:?}: {body}");
            }
        }

        // The client, calling from its own address, is not locked out by the attacker.
        let (status, _, body) = token_from(&app, VICTIM, &client.id, &secret).await;
        assert_eq!(status, 200, "{body}");
        for path in ["/oauth/introspect", "/oauth/revoke"] {
            let res = call(
                &app, &app.base, path, VICTIM, Method::Post, (&client.id, &secret),
                &[("token", "x")],
            )
            .await;
            assert_eq!(res.status(), 200, "{path}");
        }

        // Guesses refused while locked were not counted: after the lock, one more failure
        // locks for 2 s (the next doubling), not for 2^many.
        for _ in 0..10 {
            assert!(is_throttled(&token_from(&app, ATTACKER, &client.id, "guess").await.2));
        }
        app.advance(1);
        assert_eq!(token_from(&app, ATTACKER, &client.id, "guess").await.0, 401);
        let (status, retry, body) = token_from(&app, ATTACKER, &client.id, &secret).await;
        assert_eq!((status, retry.as_deref()), (401, Some("2")), "the lock doubles: {body}");
        // The lock is temporary: once it ends the right secret works and starts afresh.
        app.advance(2);
        let (status, _, body) = token_from(&app, ATTACKER, &client.id, &secret).await;
        assert_eq!(status, 200, "{body}");
        let (status, retry, body) = token_from(&app, ATTACKER, &client.id, "guess").await;
        assert_eq!((status, retry), (401, None), "{body}");

        // Each lock is audited with the client and the address.
        let locks = audit(&app, "throttle.locked");
        let target = format!("client {}", client.id);
        assert_eq!(
            locks,
            [
                (target.clone(), "client and address locked for 1 s".to_owned(), ATTACKER.to_owned()),
                (target, "client and address locked for 2 s".to_owned(), ATTACKER.to_owned()),
            ]
        );

        // And counted in /metrics: 1 + 6 + 10 + 1 throttled answers above.
        let s = scrape(&app, &app.url("/metrics")).await;
        assert_eq!(
            value(&s, "tessera_throttled_total", &[("via", "client_auth")]),
            Some(18.0)
        );
    }
);

on_both_backends!(
    @spawn unknown_client_ids_are_throttled_like_known_ones,
    crate::security_login::spawn_behind_proxy,
    |app: TestApp| async move {
        // The throttle must not tell which client ids exist.
        let client = machine(&app);
        for id in [client.id.as_str(), "no-such-client"] {
            for _ in 0..6 {
                let (status, _, body) = token_from(&app, ATTACKER, id, "guess").await;
                assert_eq!(status, 401);
                assert_eq!(body["error_description"], "unknown client or wrong credentials");
            }
            let (status, retry, body) = token_from(&app, ATTACKER, id, "guess").await;
            assert_eq!((status, retry.as_deref()), (401, Some("1")), "{id}");
            assert!(is_throttled(&body), "{id}: {body}");
        }
    }
);

on_both_backends!(
    @spawn a_public_client_cannot_be_locked_out,
    crate::security_login::spawn_behind_proxy,
    |app: TestApp| async move {
        // A public client has no secret to guess; sending it one is a mistake, not a guess,
        // and must not let anyone lock out every user of the app.
        let public = flow::public(&app);
        for _ in 0..30 {
            let (status, _, body) = token_from(&app, ATTACKER, &public.id, "guess").await;
            assert_eq!(status, 401);
            assert_eq!(body["error_description"], "unknown client or wrong credentials");
        }
        assert_eq!(throttle_rows(&app, "client"), 0);
    }
);

/// A server behind the loopback proxy where one failure is free per client and address
/// (so the client's own bucket locks after ten).
pub async fn spawn_strict(backend: crate::helpers::Backend) -> TestApp {
    crate::helpers::spawn_with_clock(
        backend,
        &[
            ("TESSERA_TRUSTED_PROXIES", "127.0.0.1"),
            ("TESSERA_LOGIN_FREE_FAILURES", "1"),
        ],
        tessera::clock::ManualClock::at(tessera::clock::Clock::unix(&tessera::clock::SystemClock)),
    )
    .await
}

on_both_backends!(
    @spawn failures_from_many_addresses_lock_the_client_but_not_where_it_works,
    crate::security_client_auth::spawn_strict,
    |app: TestApp| async move {
        let client = machine(&app);
        let secret = client.secret.clone().unwrap();
        // The client works from its own address (a known device from now on).
        assert_eq!(token_from(&app, VICTIM, &client.id, &secret).await.0, 200);
        // Eleven addresses, one wrong guess each: no narrow bucket locks, the client's does.
        for i in 1..=11 {
            let ip = format!("198.51.100.{i}");
            let (status, retry, body) = token_from(&app, &ip, &client.id, "guess").await;
            assert_eq!((status, retry), (401, None), "{ip}: {body}");
        }
        // A new address is refused now, even with the right secret...
        let (status, retry, body) = token_from(&app, "192.0.2.77", &client.id, &secret).await;
        assert_eq!((status, retry.as_deref()), (401, Some("1")), "{body}");
        assert!(body["error_description"].as_str().unwrap().contains("(client)"), "{body}");
        // ...but where the client authenticated before, it keeps working.
        let (status, _, body) = token_from(&app, VICTIM, &client.id, &secret).await;
        assert_eq!(status, 200, "{body}");
        let locks = audit(&app, "throttle.locked");
        assert_eq!(
            locks.last().map(|(t, d, _)| (t.as_str(), d.as_str())),
            Some((format!("client {}", client.id).as_str(), "client locked for 1 s"))
        );
    }
);

on_both_backends!(
    @spawn instances_on_one_database_share_the_counts,
    crate::security_login::spawn_behind_proxy,
    |app: TestApp| async move {
        let other = spawn_sibling(&app).await;
        let client = machine(&app);
        let secret = client.secret.clone().unwrap();
        let guess = |base: String| {
            let (app, id) = (&app, client.id.clone());
            async move {
                let res = call(
                    app, &base, "/oauth/token", ATTACKER, Method::Basic, (&id, "guess"),
                    &[("grant_type", "client_credentials")],
                )
                .await;
                answer(res).await
            }
        };
        // Three failures at each instance: six in all, so the lock is on.
        for base in [&app.base, &other, &app.base, &other, &app.base, &other] {
            assert_eq!(guess(base.clone()).await.0, 401);
        }
        for base in [&app.base, &other] {
            let res = call(
                &app, base, "/oauth/token", ATTACKER, Method::Basic, (&client.id, &secret),
                &[("grant_type", "client_credentials")],
            )
            .await;
            let (status, retry, body) = answer(res).await;
            assert_eq!((status, retry.as_deref()), (401, Some("1")), "{base}: {body}");
            assert!(is_throttled(&body), "{base}: {body}");
        }
    }
);

on_both_backends!(
    @spawn client_buckets_are_pruned_once_quiet,
    crate::security_login::spawn_behind_proxy,
    |app: TestApp| async move {
        let client = machine(&app);
        for _ in 0..7 {
            token_from(&app, ATTACKER, &client.id, "guess").await;
        }
        assert_eq!(throttle_rows(&app, "client"), 2);
        let now = app.clock.unix();
        let mut conn = app.store.conn().unwrap();
        // Still counting (and locked): kept.
        assert_eq!(prune(&mut conn, now, 0).unwrap().throttle, 0);
        assert_eq!(throttle_rows(&app, "client"), 2);
        // A quiet day later both buckets go.
        assert_eq!(prune(&mut conn, now + 86_400 + 1, 0).unwrap().throttle, 2);
        assert_eq!(throttle_rows(&app, "client"), 0);
    }
);
