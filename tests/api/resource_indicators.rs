//! Resource indicators (RFC 8707) and the registry of APIs: a token asked for one API names
//! it alone in `aud`, carries only its scopes and lives as it says; anything unknown, not
//! the client's, or outside the grant is `invalid_target`. Refusals first.
use serde_json::Value;
use tessera::admin::Actor;
use tessera::admin::resources::{self as registry, ResourceForm};
use tessera::clients::{self, NewClient};
use tessera::clock::{Clock, SystemClock};
use tessera::domain::{ClientKind, GrantType, RedirectUri, ScopeSet};
use tessera::resource::{Expectations, JwksCache, TokenProblem, Verifier};
use tessera::resources::ResourceId;

use crate::flow::{self, Browser, REDIRECT, auth_url, pkce, token};
use crate::helpers::TestApp;
use crate::on_both_backends;

pub const NOTES: &str = "https://notes.example.com";
pub const FILES: &str = "https://files.example.com/api";

/// Register an API straight through the console's domain function.
pub fn register_api(app: &TestApp, identifier: &str, name: &str, scopes: &str, ttl: Option<i64>) {
    let form = ResourceForm {
        identifier: identifier.into(),
        name: name.into(),
        scopes: scopes.into(),
        access_token_ttl: ttl.map(|t| t.to_string()).unwrap_or_default(),
        alg: String::new(),
    };
    let actor = Actor {
        user_id: 0,
        username: "test".into(),
        ip: None,
    };
    let mut conn = app.store.conn().unwrap();
    registry::create(
        &mut conn,
        SystemClock.unix(),
        &actor,
        &form.parse().unwrap(),
    )
    .unwrap();
}

/// A client with its grant types, scopes and allowed resources.
pub fn client_with(
    app: &TestApp,
    kind: ClientKind,
    grants: &[GrantType],
    scopes: &str,
    resources: &[&str],
) -> flow::Client {
    let mut conn = app.store.conn().unwrap();
    let r = clients::register(
        &mut conn,
        &SystemClock,
        &NewClient {
            name: "Notes App".into(),
            kind,
            redirect_uris: vec![RedirectUri::parse(REDIRECT).unwrap()],
            post_logout_redirect_uris: Vec::new(),
            grant_types: grants.to_vec(),
            scopes: ScopeSet::parse(scopes).unwrap(),
            algs: Default::default(),
            resources: resources
                .iter()
                .map(|r| ResourceId::parse(r).unwrap())
                .collect(),
            dpop_bound_access_tokens: false,
            profile: Default::default(),
        },
    )
    .unwrap();
    flow::Client {
        id: r.client_id,
        secret: r.client_secret.map(|s| s.expose().to_owned()),
    }
}

pub fn claims(jwt: &str) -> Value {
    jsonwebtoken::dangerous::insecure_decode_claims(jwt).unwrap()
}

/// The status and OAuth error code of a refused token request.
pub async fn refused(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert!(body["error_description"].is_string(), "{body}");
    (
        status,
        body["error"].as_str().unwrap_or_default().to_owned(),
    )
}

fn machine(app: &TestApp, resources: &[&str]) -> flow::Client {
    client_with(
        app,
        ClientKind::Confidential,
        &[GrantType::ClientCredentials],
        "notes:read notes:write files:read",
        resources,
    )
}

async fn credentials(
    app: &TestApp,
    client: &flow::Client,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    token(app, client, &form).await
}

on_both_backends!(
    resource_indicators_refuse_unknown_unpermitted_and_several_resources,
    |app: TestApp| async move {
        register_api(&app, NOTES, "Notes API", "notes:read notes:write", None);
        register_api(&app, FILES, "Files API", "files:read", None);
        let client = machine(&app, &[NOTES]);
        let cases: [(&[(&str, &str)], &str); 5] = [
            (&[("resource", "https://unknown.example.com")], "unknown"),
            (&[("resource", FILES)], "registered, but not this client's"),
            (&[("resource", NOTES), ("resource", FILES)], "two resources"),
            (
                &[("resource", "https://notes.example.com/#x")],
                "a fragment",
            ),
            (&[("resource", "notes")], "not an absolute URI"),
        ];
        for (extra, why) in cases {
            let (status, error) = refused(credentials(&app, &client, extra).await).await;
            assert_eq!((status, error.as_str()), (400, "invalid_target"), "{why}");
        }
        // A resource whose scopes share nothing with what the client asks is no token.
        let res = credentials(
            &app,
            &client,
            &[("resource", NOTES), ("scope", "files:read")],
        )
        .await;
        assert_eq!(refused(res).await, (400, "invalid_scope".to_owned()));
    }
);

on_both_backends!(
    resource_indicators_narrow_audience_scope_and_lifetime,
    |app: TestApp| async move {
        register_api(&app, NOTES, "Notes API", "notes:read", Some(120));
        let client = machine(&app, &[NOTES]);
        let res = credentials(&app, &client, &[("resource", NOTES)]).await;
        assert_eq!(res.status(), 200);
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["scope"], "notes:read");
        assert_eq!(body["expires_in"], 120);
        let access = body["access_token"].as_str().unwrap();
        let c = claims(access);
        assert_eq!(c["aud"], NOTES);
        assert_eq!(c["scope"], "notes:read");
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 120);
        assert_eq!(
            jsonwebtoken::decode_header(access).unwrap().alg,
            jsonwebtoken::Algorithm::RS256
        );

        // Without a resource the token is Tessera's own, with the client's lifetime.
        let plain: Value = credentials(&app, &client, &[]).await.json().await.unwrap();
        let c = claims(plain["access_token"].as_str().unwrap());
        assert_eq!(c["aud"], app.settings.audience());
        assert_eq!(plain["expires_in"], 300);

        // The issuing client may still introspect and revoke the API's token.
        let info = crate::introspection::introspect(&app, &client, access).await;
        assert_eq!(info["active"], true, "{info}");
        assert_eq!(info["aud"], NOTES);
        let res = app
            .http
            .post(app.url("/oauth/revoke"))
            .basic_auth(&client.id, client.secret.as_deref())
            .form(&[("token", access)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        let info = crate::introspection::introspect(&app, &client, access).await;
        assert_eq!(info["active"], false, "{info}");
    }
);

/// Sign in as alice and run an authorization request to its code, checking the consent
/// page on the way: (code, verifier, consent page body).
async fn code_with(
    app: &TestApp,
    client: &flow::Client,
    extra: &[(&str, &str)],
) -> (String, String, String) {
    let browser = Browser::new(app);
    browser.sign_in("alice").await;
    let (verifier, challenge) = pkce();
    let mut params = vec![
        ("scope", "openid notes:read files:read"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        // Every run shows the consent page, so each can check what it names.
        ("prompt", "consent"),
    ];
    params.extend_from_slice(extra);
    let page = browser.get(&auth_url(&client.id, &params)).await;
    assert!(page.is_consent(), "{}: {}", page.status, page.body);
    let consent = page.body.clone();
    let done = browser.consent(&page, true).await;
    (
        done.redirect_param("code").expect("a code"),
        verifier,
        consent,
    )
}

async fn redeem(
    app: &TestApp,
    client: &flow::Client,
    code: &str,
    verifier: &str,
    resource: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ];
    if let Some(r) = resource {
        form.push(("resource", r));
    }
    token(app, client, &form).await
}

async fn refresh(
    app: &TestApp,
    client: &flow::Client,
    refresh_token: &str,
    resource: &str,
) -> reqwest::Response {
    token(
        app,
        client,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("resource", resource),
        ],
    )
    .await
}

fn web_app(app: &TestApp, resources: &[&str]) -> flow::Client {
    client_with(
        app,
        ClientKind::Confidential,
        &[GrantType::AuthorizationCode, GrantType::RefreshToken],
        "openid notes:read files:read",
        resources,
    )
}

on_both_backends!(
    resource_indicators_at_the_authorization_endpoint_refuse_what_the_client_may_not_use,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        register_api(&app, NOTES, "Notes API", "notes:read", None);
        register_api(&app, FILES, "Files API", "files:read", None);
        let client = web_app(&app, &[NOTES]);
        let browser = Browser::new(&app);
        browser.sign_in("alice").await;
        for resource in [FILES, "https://unknown.example.com", "not-a-uri"] {
            let page = browser
                .get(&auth_url(&client.id, &[("resource", resource)]))
                .await;
            assert_eq!(page.status, 302, "{resource}: {}", page.body);
            assert_eq!(
                page.redirect_param("error").as_deref(),
                Some("invalid_target")
            );
            assert_eq!(page.redirect_param("state").as_deref(), Some("st-123"));
        }
    }
);

on_both_backends!(
    resource_indicators_bind_the_grant_and_refresh_may_switch_within_it,
    |app: TestApp| async move {
        flow::create_user(&app, "alice");
        register_api(&app, NOTES, "Notes API", "notes:read", None);
        register_api(&app, FILES, "Files API", "files:read", Some(90));
        let client = web_app(&app, &[NOTES, FILES]);

        // A grant for the notes API alone: the consent page names it.
        let (code, verifier, consent) = code_with(&app, &client, &[("resource", NOTES)]).await;
        assert!(consent.contains("Notes API"), "{consent}");
        assert!(!consent.contains("Files API"));
        // The code cannot be redeemed for an API the grant did not name...
        let res = redeem(&app, &client, &code, &verifier, Some(FILES)).await;
        assert_eq!(refused(res).await, (400, "invalid_target".to_owned()));
        let (code, verifier, _) = code_with(&app, &client, &[("resource", NOTES)]).await;
        let body: Value = redeem(&app, &client, &code, &verifier, Some(NOTES))
            .await
            .json()
            .await
            .unwrap();
        let notes_token = body["access_token"].as_str().unwrap().to_owned();
        assert_eq!(claims(&notes_token)["aud"], NOTES);
        assert_eq!(body["scope"], "notes:read");
        // The ID token is still the client's, with the user's claims.
        assert_eq!(
            claims(body["id_token"].as_str().unwrap())["aud"],
            client.id.as_str()
        );
        // ...nor can its refresh token.
        let refresh_token = body["refresh_token"].as_str().unwrap();
        let res = refresh(&app, &client, refresh_token, FILES).await;
        assert_eq!(refused(res).await, (400, "invalid_target".to_owned()));
        // A token for the notes API is not one for Tessera's userinfo.
        assert_eq!(flow::userinfo_status(&app, &notes_token).await, 401);

        // A grant naming both APIs: each refresh may pick either.
        let (code, verifier, consent) =
            code_with(&app, &client, &[("resource", NOTES), ("resource", FILES)]).await;
        assert!(consent.contains("Notes API") && consent.contains("Files API"));
        let body: Value = redeem(&app, &client, &code, &verifier, Some(NOTES))
            .await
            .json()
            .await
            .unwrap();
        let res = refresh(
            &app,
            &client,
            body["refresh_token"].as_str().unwrap(),
            FILES,
        )
        .await;
        assert_eq!(res.status(), 200);
        let next: Value = res.json().await.unwrap();
        let files = claims(next["access_token"].as_str().unwrap());
        assert_eq!(files["aud"], FILES);
        assert_eq!(files["scope"], "files:read");
        assert_eq!(next["expires_in"], 90);
        // Two resources in one token request are refused.
        let res = token(
            &app,
            &client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", next["refresh_token"].as_str().unwrap()),
                ("resource", NOTES),
                ("resource", FILES),
            ],
        )
        .await;
        assert_eq!(refused(res).await, (400, "invalid_target".to_owned()));
    }
);

on_both_backends!(
    resource_indicators_a_token_for_one_api_is_refused_by_another,
    |app: TestApp| async move {
        register_api(&app, NOTES, "Notes API", "notes:read", None);
        register_api(&app, FILES, "Files API", "files:read", None);
        let client = machine(&app, &[NOTES, FILES]);
        let issue = |resource: &'static str| {
            let (app, client) = (&app, &client);
            async move {
                let body: Value = credentials(app, client, &[("resource", resource)])
                    .await
                    .json()
                    .await
                    .unwrap();
                body["access_token"].as_str().unwrap().to_owned()
            }
        };
        let for_notes = issue(NOTES).await;
        let for_files = issue(FILES).await;
        let verifier_for = |api: &str| {
            let jwks = JwksCache::new(&app.url("/.well-known/jwks.json")).unwrap();
            Verifier::new(
                jwks,
                Expectations::access(&app.settings.issuer).audience(api),
            )
        };
        let notes_api = verifier_for(NOTES);
        let files_api = verifier_for(FILES);
        assert_eq!(
            notes_api.verify(&for_notes).await.unwrap().sub(),
            Some(client.id.as_str())
        );
        assert_eq!(
            files_api.verify(&for_files).await.unwrap().sub(),
            Some(client.id.as_str())
        );
        assert_eq!(
            notes_api.verify(&for_files).await.unwrap_err(),
            TokenProblem::Invalid
        );
        assert_eq!(
            files_api.verify(&for_notes).await.unwrap_err(),
            TokenProblem::Invalid
        );
        // A verifier left at the default audience (the issuer) refuses both.
        let jwks = JwksCache::new(&app.url("/.well-known/jwks.json")).unwrap();
        let default = Verifier::new(jwks, Expectations::access(&app.settings.issuer));
        assert_eq!(
            default.verify(&for_notes).await.unwrap_err(),
            TokenProblem::Invalid
        );
    }
);

on_both_backends!(
    resource_indicators_cli_registers_lists_and_deletes_apis,
    |app: TestApp| async move {
        let out = app.cli(
            &[
                "resource",
                "create",
                "--identifier",
                NOTES,
                "--name",
                "Notes API",
                "--scope",
                "notes:read",
                "--scope",
                "notes:write",
                "--access-token-ttl",
                "600",
            ],
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        // Refusals: one line, non-zero, nothing written.
        for (args, why) in [
            (
                vec![
                    "resource",
                    "create",
                    "--identifier",
                    NOTES,
                    "--name",
                    "Again",
                    "--scope",
                    "x",
                ],
                "already registered",
            ),
            (
                vec![
                    "resource",
                    "create",
                    "--identifier",
                    "https://a.example/?q",
                    "--name",
                    "Q",
                    "--scope",
                    "x",
                ],
                "query",
            ),
            (
                vec![
                    "resource",
                    "create",
                    "--identifier",
                    "https://b.example",
                    "--name",
                    "B",
                    "--scope",
                    "x",
                    "--access-token-ttl",
                    "5",
                ],
                "ttl too short",
            ),
            (
                vec![
                    "resource",
                    "create",
                    "--identifier",
                    "https://c.example",
                    "--name",
                    "C",
                    "--scope",
                    "x",
                    "--alg",
                    "ES256",
                ],
                "no ES256 key",
            ),
            (
                vec![
                    "client",
                    "create",
                    "--name",
                    "X",
                    "--grant-type",
                    "client_credentials",
                    "--resource",
                    "https://unknown.example",
                ],
                "unknown resource",
            ),
        ] {
            let out = app.cli(&args, None);
            assert_ne!(out.code, 0, "{why}: {}", out.stdout);
            assert_eq!(
                out.stderr.trim().lines().count(),
                1,
                "{why}: {}",
                out.stderr
            );
            assert!(out.stderr.starts_with("error: "), "{why}: {}", out.stderr);
        }
        let list = app.cli(&["resource", "list", "--json"], None);
        let list: Value = serde_json::from_str(&list.stdout).unwrap();
        assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
        assert_eq!(list[0]["identifier"], NOTES);
        assert_eq!(list[0]["scope"], "notes:read notes:write");
        assert_eq!(list[0]["access_token_ttl"], 600);
        assert_eq!(list[0]["alg"], "RS256");

        let out = app.cli(
            &[
                "client",
                "create",
                "--name",
                "Worker",
                "--grant-type",
                "client_credentials",
                "--scope",
                "notes:read",
                "--resource",
                NOTES,
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
        let res = credentials(&app, &client, &[("resource", NOTES)]).await;
        assert_eq!(res.status(), 200);

        let out = app.cli(&["resource", "delete", NOTES], None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        // Deleted: no client may ask for it, and no client lists it.
        let res = credentials(&app, &client, &[("resource", NOTES)]).await;
        assert_eq!(refused(res).await, (400, "invalid_target".to_owned()));
        let clients: Value =
            serde_json::from_str(&app.cli(&["client", "list", "--json"], None).stdout).unwrap();
        assert_eq!(clients[0]["resources"], serde_json::json!([]));
        let out = app.cli(&["resource", "delete", NOTES], None);
        assert_ne!(out.code, 0);
        // Audited as the shell's changes.
        use diesel::prelude::*;
        use tessera::store::schema::audit_log;
        let mut conn = app.store.conn().unwrap();
        let actions: Vec<String> = audit_log::table
            .filter(audit_log::action.like("resource.%"))
            .order(audit_log::id.asc())
            .select(audit_log::action)
            .load(&mut **conn)
            .unwrap();
        assert_eq!(actions, ["resource.created", "resource.deleted"]);
    }
);

on_both_backends!(
    resource_indicators_console_registers_edits_and_deletes_apis,
    |app: TestApp| async move {
        let console = crate::admin::Console::root(&app).await;
        let page = console.get("/admin/resources").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("No APIs are registered yet"));
        // Refusals: the form again with why, nothing stored.
        for (fields, words) in [
            (
                vec![
                    ("identifier", "notes"),
                    ("name", "Notes API"),
                    ("scopes", "notes:read"),
                ],
                "absolute http(s) URI",
            ),
            (
                vec![
                    ("identifier", NOTES),
                    ("name", ""),
                    ("scopes", "notes:read"),
                ],
                "name must be",
            ),
            (
                vec![("identifier", NOTES), ("name", "Notes API"), ("scopes", "")],
                "at least one scope",
            ),
            (
                vec![
                    ("identifier", NOTES),
                    ("name", "Notes API"),
                    ("scopes", "notes:read"),
                    ("alg", "EdDSA"),
                ],
                "no EdDSA signing key",
            ),
        ] {
            let page = console.post("/admin/resources/new", &fields).await;
            assert_eq!(page.status, 400, "{words}: {}", page.body);
            assert!(page.body.contains(words), "{words}: {}", page.body);
        }
        // Without the session's CSRF token nothing happens.
        let forged = console
            .browser
            .post(
                "/admin/resources/new",
                &[
                    ("identifier".into(), NOTES.into()),
                    ("name".into(), "Notes API".into()),
                    ("scopes".into(), "notes:read".into()),
                ],
            )
            .await;
        assert_ne!(forged.status, 303, "{}", forged.body);
        assert!(
            registry::list(&mut app.store.conn().unwrap())
                .unwrap()
                .is_empty()
        );

        let page = console
            .post(
                "/admin/resources/new",
                &[
                    ("identifier", NOTES),
                    ("name", "Notes API"),
                    ("scopes", "notes:read"),
                    ("access_token_ttl", "120"),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
        let page = console.get("/admin/resources").await;
        assert!(page.body.contains("Notes API") && page.body.contains(NOTES));
        let again = console
            .post(
                "/admin/resources/new",
                &[("identifier", NOTES), ("name", "Again"), ("scopes", "x")],
            )
            .await;
        assert_eq!(again.status, 400);
        assert!(again.body.contains("already registered"), "{}", again.body);

        // Edit: the identifier stays whatever the form says.
        let edit = format!("/admin/resources/edit?id={}", urlencoding(NOTES));
        let page = console.get(&edit).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let page = console
            .post(
                &edit,
                &[
                    ("identifier", FILES),
                    ("name", "Notes"),
                    ("scopes", "notes:read notes:write"),
                    ("access_token_ttl", ""),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "{}", page.body);
        let stored = registry::get(&mut app.store.conn().unwrap(), NOTES).unwrap();
        assert_eq!(stored.name, "Notes");
        assert_eq!(stored.scopes.to_string(), "notes:read notes:write");
        assert_eq!(stored.access_token_ttl, None);

        // The client form takes the resources a client may use, and refuses unknown ones.
        let page = console
            .post(
                "/admin/clients/new",
                &[
                    ("name", "Worker"),
                    ("client_type", "confidential"),
                    ("grant_type", "client_credentials"),
                    ("scopes", "notes:read"),
                    ("resources", "https://unknown.example"),
                ],
            )
            .await;
        assert_eq!(page.status, 400);
        assert!(page.body.contains("is registered"), "{}", page.body);
        let page = console
            .post(
                "/admin/clients/new",
                &[
                    ("name", "Worker"),
                    ("client_type", "confidential"),
                    ("grant_type", "client_credentials"),
                    ("scopes", "notes:read"),
                    ("resources", NOTES),
                ],
            )
            .await;
        assert_eq!(page.status, 200, "{}", page.body);

        let delete = format!("/admin/resources/delete?id={}", urlencoding(NOTES));
        let page = console.confirm(&delete).await;
        assert_eq!(page.status, 303, "{}", page.body);
        assert!(
            registry::list(&mut app.store.conn().unwrap())
                .unwrap()
                .is_empty()
        );
        let actions: Vec<String> = crate::admin::audit_actions(&app)
            .await
            .into_iter()
            .map(|(action, _, _)| action)
            .filter(|a| a.starts_with("resource."))
            .collect();
        assert_eq!(
            actions,
            ["resource.deleted", "resource.updated", "resource.created"]
        );
    }
);

fn urlencoding(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
