//! Token exchange (RFC 8693): a service trades an access token Tessera issued for one to
//! another API it may use; with an actor token the result says who acts (`act`). Every
//! refusal first, each audited; then what an exchange issues.
use serde_json::{Value, json};
use tessera::domain::{ClientKind, GrantType};

use crate::flow::{self, token};
use crate::helpers::TestApp;
use crate::jwt;
use crate::on_both_backends;
use crate::resource_indicators::{FILES, NOTES, claims, client_with, refused, register_api};

const EXCHANGE: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS: &str = "urn:ietf:params:oauth:token-type:access_token";

/// A refused exchange: its form, the error code expected, and why.
type Case<'a> = (Vec<(&'a str, &'a str)>, &'static str, &'static str);

struct Setup {
    /// The app alice signed in to (its tokens are the subject tokens).
    web: flow::Client,
    /// The notes service: it may exchange, for the files API only.
    service: flow::Client,
}

/// Two APIs; alice; a web app whose tokens are for Tessera's own audience; a service
/// that may exchange (and get its own tokens, for actor tokens) for the files API.
fn setup(app: &TestApp) -> Setup {
    flow::create_user(app, "alice");
    register_api(app, NOTES, "Notes API", "notes:read", None);
    register_api(app, FILES, "Files API", "files:read", Some(600));
    let web = client_with(
        app,
        ClientKind::Confidential,
        &[GrantType::AuthorizationCode, GrantType::RefreshToken],
        "openid notes:read files:read",
        &[],
    );
    let service = client_with(
        app,
        ClientKind::Confidential,
        &[GrantType::TokenExchange, GrantType::ClientCredentials],
        "files:read",
        &[FILES],
    );
    Setup { web, service }
}

async fn alice_token(app: &TestApp, web: &flow::Client) -> String {
    let body = flow::tokens_for(app, web, "alice", "openid notes:read files:read").await;
    body["access_token"].as_str().unwrap().to_owned()
}

async fn exchange(
    app: &TestApp,
    client: &flow::Client,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("grant_type", EXCHANGE)];
    form.extend_from_slice(extra);
    token(app, client, &form).await
}

/// Audit entries of `action`: (actor, target, detail).
fn audited(app: &TestApp, action: &str) -> Vec<(Option<String>, Option<String>, Option<String>)> {
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
    token_exchange_refuses_clients_targets_and_token_types_and_audits_it,
    |app: TestApp| async move {
        let s = setup(&app);
        let subject = alice_token(&app, &s.web).await;
        let ok_subject = [
            ("subject_token", subject.as_str()),
            ("subject_token_type", ACCESS),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut form: Vec<(&str, &str)> = ok_subject.to_vec();
            form.extend_from_slice(extra);
            form
        };
        // A client without the grant type (the web app) may not exchange.
        let res = exchange(&app, &s.web, &with(&[("resource", FILES)])).await;
        assert_eq!(refused(res).await, (400, "unauthorized_client".to_owned()));
        let cases: [Case<'_>; 8] = [
            (
                with(&[("resource", NOTES)]),
                "invalid_target",
                "an API not on the service's list",
            ),
            (
                with(&[("audience", NOTES)]),
                "invalid_target",
                "the same, as audience",
            ),
            (
                with(&[("resource", "https://unknown.example")]),
                "invalid_target",
                "an unknown API",
            ),
            (with(&[]), "invalid_target", "no API named"),
            (
                with(&[("resource", FILES), ("audience", NOTES)]),
                "invalid_target",
                "resource and audience disagree",
            ),
            (
                vec![
                    ("subject_token", subject.as_str()),
                    (
                        "subject_token_type",
                        "urn:ietf:params:oauth:token-type:id_token",
                    ),
                    ("resource", FILES),
                ],
                "invalid_request",
                "an ID token type",
            ),
            (
                with(&[
                    ("resource", FILES),
                    (
                        "requested_token_type",
                        "urn:ietf:params:oauth:token-type:refresh_token",
                    ),
                ]),
                "invalid_request",
                "a refresh token asked for",
            ),
            (
                with(&[("resource", FILES), ("scope", "files:read admin")]),
                "invalid_scope",
                "a scope beyond the subject's",
            ),
        ];
        for (form, code, why) in &cases {
            let res = exchange(&app, &s.service, form).await;
            assert_eq!(refused(res).await, (400, (*code).to_owned()), "{why}");
        }
        // Each refusal after the client authenticated is in the audit trail, saying who
        // asked, for what, and why.
        let refusals = audited(&app, "token.exchange-refused");
        assert_eq!(refusals.len(), 1 + cases.len(), "{refusals:?}");
        let (actor, target, detail) = &refusals[0];
        assert_eq!(
            actor.as_deref(),
            Some(format!("client:{}", s.web.id).as_str())
        );
        assert_eq!(target.as_deref(), Some(FILES));
        assert!(
            detail
                .as_deref()
                .unwrap()
                .starts_with("unauthorized_client"),
            "{detail:?}"
        );
        assert!(
            refusals[1]
                .2
                .as_deref()
                .unwrap()
                .starts_with("invalid_target")
        );
        // A request whose client does not authenticate is not the trail's (the client
        // authentication throttle counts it).
        let stranger = flow::Client {
            id: s.service.id.clone(),
            secret: Some("wrong".into()),
        };
        let res = exchange(&app, &stranger, &with(&[("resource", FILES)])).await;
        assert_eq!(refused(res).await.1, "invalid_client");
        assert_eq!(
            audited(&app, "token.exchange-refused").len(),
            1 + cases.len()
        );
        assert!(audited(&app, "token.exchanged").is_empty());
    }
);

on_both_backends!(
    token_exchange_refuses_garbage_foreign_revoked_and_bad_actor_tokens,
    |app: TestApp| async move {
        let s = setup(&app);
        let subject = alice_token(&app, &s.web).await;
        let now = jwt::now();
        let foreign_issuer = jwt::edit(&app, &subject, |c| {
            c.insert("iss".into(), json!("https://evil.example"));
        });
        let attacker_signed = jwt::sign_as_attacker(
            json!({"alg": "RS256", "typ": "at+jwt", "kid": jsonwebtoken::decode_header(&subject).unwrap().kid}),
            claims(&subject).as_object().unwrap(),
        );
        let expired_edit = jwt::edit(&app, &subject, |c| {
            c.insert("exp".into(), json!(now - 5));
        });
        let other = flow::tokens_for(&app, &s.web, "alice", "openid").await;
        let refresh_token = other["refresh_token"].as_str().unwrap().to_owned();
        let id_token = other["id_token"].as_str().unwrap().to_owned();
        for (bad, why) in [
            ("garbage".to_owned(), "garbage"),
            (foreign_issuer, "another issuer"),
            (attacker_signed, "signed with a key Tessera does not have"),
            (expired_edit, "expired"),
            (refresh_token, "a refresh token"),
            (id_token, "an ID token"),
        ] {
            let res = exchange(
                &app,
                &s.service,
                &[
                    ("subject_token", &bad),
                    ("subject_token_type", ACCESS),
                    ("resource", FILES),
                ],
            )
            .await;
            assert_eq!(
                refused(res).await,
                (400, "invalid_request".to_owned()),
                "subject: {why}"
            );
            let res = exchange(
                &app,
                &s.service,
                &[
                    ("subject_token", &subject),
                    ("subject_token_type", ACCESS),
                    ("actor_token", &bad),
                    ("actor_token_type", ACCESS),
                    ("resource", FILES),
                ],
            )
            .await;
            assert_eq!(
                refused(res).await,
                (400, "invalid_request".to_owned()),
                "actor: {why}"
            );
        }
        // An actor token needs its type, and only access tokens act.
        for extra in [
            vec![("actor_token", subject.as_str())],
            vec![
                ("actor_token", subject.as_str()),
                ("actor_token_type", "urn:ietf:params:oauth:token-type:jwt"),
            ],
            vec![("actor_token_type", ACCESS)],
        ] {
            let mut form = vec![
                ("subject_token", subject.as_str()),
                ("subject_token_type", ACCESS),
                ("resource", FILES),
            ];
            form.extend(extra);
            assert_eq!(
                refused(exchange(&app, &s.service, &form).await).await.1,
                "invalid_request"
            );
        }
        // A revoked subject token is refused.
        let res = app
            .http
            .post(app.url("/oauth/revoke"))
            .basic_auth(&s.web.id, s.web.secret.as_deref())
            .form(&[("token", subject.as_str())])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let res = exchange(
            &app,
            &s.service,
            &[
                ("subject_token", &subject),
                ("subject_token_type", ACCESS),
                ("resource", FILES),
            ],
        )
        .await;
        assert_eq!(refused(res).await, (400, "invalid_request".to_owned()));
        assert!(audited(&app, "token.exchanged").is_empty());
    }
);

on_both_backends!(
    token_exchange_refuses_an_expired_subject_token,
    manual_clock,
    |app: TestApp| async move {
        let s = setup(&app);
        let subject = alice_token(&app, &s.web).await;
        app.advance(300);
        let res = exchange(
            &app,
            &s.service,
            &[
                ("subject_token", &subject),
                ("subject_token_type", ACCESS),
                ("resource", FILES),
            ],
        )
        .await;
        assert_eq!(refused(res).await, (400, "invalid_request".to_owned()));
    }
);

on_both_backends!(
    token_exchange_issues_a_narrowed_token_with_the_actor_chain,
    |app: TestApp| async move {
        let s = setup(&app);
        let subject = alice_token(&app, &s.web).await;
        let sub = claims(&subject)["sub"].clone();
        let res = exchange(
            &app,
            &s.service,
            &[
                ("subject_token", &subject),
                ("subject_token_type", ACCESS),
                ("resource", FILES),
                ("requested_token_type", ACCESS),
            ],
        )
        .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["issued_token_type"], ACCESS);
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["scope"], "files:read");
        assert!(body.get("refresh_token").is_none(), "{body}");
        assert!(body.get("id_token").is_none(), "{body}");
        let c = claims(body["access_token"].as_str().unwrap());
        assert_eq!(c["aud"], FILES);
        assert_eq!(c["sub"], sub);
        assert_eq!(c["client_id"], s.service.id.as_str());
        assert_eq!(c["scope"], "files:read");
        assert_eq!(c["token_type"], "access");
        assert!(c.get("act").is_none(), "{c}");
        // It never outlives the subject token (300 s, the files API says 600).
        assert!(c["exp"].as_i64().unwrap() <= claims(&subject)["exp"].as_i64().unwrap());
        assert!(body["expires_in"].as_i64().unwrap() <= 300);

        // With an actor: the service's own token says who acts for alice.
        let own: Value = token(&app, &s.service, &[("grant_type", "client_credentials")])
            .await
            .json()
            .await
            .unwrap();
        let actor = own["access_token"].as_str().unwrap();
        let delegated: Value = exchange(
            &app,
            &s.service,
            &[
                ("subject_token", &subject),
                ("subject_token_type", ACCESS),
                ("actor_token", actor),
                ("actor_token_type", ACCESS),
                ("audience", FILES),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
        let delegated = delegated["access_token"].as_str().unwrap().to_owned();
        let c = claims(&delegated);
        assert_eq!(c["sub"], sub);
        assert_eq!(c["act"], json!({ "sub": s.service.id }));

        // Exchanged again with another actor, the earlier actor nests inside.
        let other = client_with(
            &app,
            ClientKind::Confidential,
            &[GrantType::TokenExchange, GrantType::ClientCredentials],
            "files:read",
            &[FILES],
        );
        let other_token: Value = token(&app, &other, &[("grant_type", "client_credentials")])
            .await
            .json()
            .await
            .unwrap();
        let chained: Value = exchange(
            &app,
            &other,
            &[
                ("subject_token", &delegated),
                ("subject_token_type", ACCESS),
                ("actor_token", other_token["access_token"].as_str().unwrap()),
                ("actor_token_type", ACCESS),
                ("resource", FILES),
            ],
        )
        .await
        .json()
        .await
        .unwrap();
        let c = claims(chained["access_token"].as_str().unwrap());
        assert_eq!(
            c["act"],
            json!({ "sub": other.id, "act": { "sub": s.service.id } })
        );
        assert_eq!(c["sub"], sub);

        let issued = audited(&app, "token.exchanged");
        assert_eq!(issued.len(), 3, "{issued:?}");
        assert_eq!(
            issued[0].0.as_deref(),
            Some(format!("client:{}", s.service.id).as_str())
        );
        assert_eq!(issued[0].1.as_deref(), Some(FILES));

        // Discovery says it can.
        let doc: Value = app.get_json("/.well-known/openid-configuration").await;
        let grants = doc["grant_types_supported"].as_array().unwrap();
        assert!(grants.iter().any(|g| g == EXCHANGE), "{doc}");
        let doc: Value = app
            .get_json("/.well-known/oauth-authorization-server")
            .await;
        assert!(
            doc["grant_types_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|g| g == EXCHANGE)
        );
    }
);
