//! Clients held to the FAPI 2.0 Security Profile (`profile` fapi2). Refusals first, most on
//! a row edited by hand so the request-time checks are seen to stand on their own: a plain
//! authorization request without PAR, a pushed request without PKCE, with PKCE plain or
//! without redirect_uri, an unauthenticated or secret-authenticated push, a token request
//! without DPoP or with an RS256 proof, client assertions signed RS256 or naming another
//! audience than the issuer, a DPoP proof of another key at refresh or for a code bound to
//! a key (RFC 9449 §10); registrations breaking each rule at the CLI and the console. Then
//! the whole walk: PAR + private_key_jwt (ES256) + PKCE S256 + DPoP, the code bound to the
//! DPoP key of the push.
use serde_json::{Value, json};
use tessera::clients::{ClientKeys, Profile, TokenAlgs};
use tessera::signing::SigningAlg;
use tessera::store::clients::ClientRow;

use crate::algorithms::add_key;
use crate::dpop::{self, Answer};
use crate::dpop_keys::{DpopKey, claims_of};
use crate::flow::{self, Browser, REDIRECT};
use crate::helpers::TestApp;
use crate::on_both_backends;
use crate::par::{authorize_url, request};
use crate::private_key_jwt::{self as pkjwt, ClientKey, json_of, post_with};

/// A registered fapi2 client and the key it signs its assertions with.
struct Fapi {
    id: String,
    key: ClientKey,
}

/// Register a fapi2 client as the profile wants it (ES256 tokens: a key of it is added).
fn fapi_client(app: &TestApp) -> Fapi {
    add_key(app, SigningAlg::Es256);
    let key = ClientKey::es256("fapi-1");
    let mut client = pkjwt::bank_app();
    client.profile = Profile::Fapi2;
    client.dpop_bound_access_tokens = true;
    client.algs = TokenAlgs {
        id_token: SigningAlg::Es256,
        access_token: SigningAlg::Es256,
    };
    let jwks = ClientKeys::parse_jwks(&key.jwks()).unwrap();
    let id = pkjwt::register_as(app, &client, jwks, true);
    Fapi { id, key }
}

/// Change a stored client as an operator editing the database would.
fn edit_row(app: &TestApp, id: &str, f: impl FnOnce(&mut ClientRow)) {
    let mut conn = app.store.conn().unwrap();
    let mut row = tessera::store::clients::by_id(&mut conn, id)
        .unwrap()
        .unwrap();
    f(&mut row);
    tessera::store::admin::update_client(&mut conn, &row).unwrap();
}

/// The claims of an assertion as FAPI 2.0 wants them: `aud` is the issuer, as a string.
fn fapi_claims(app: &TestApp, client: &str) -> Value {
    let mut claims = pkjwt::claims(app, client);
    claims["aud"] = json!(app.settings.issuer);
    claims
}

fn assertion(app: &TestApp, c: &Fapi) -> String {
    c.key.sign(&fapi_claims(app, &c.id))
}

/// Push `form` as `c`, authenticated by a fresh assertion.
async fn push(app: &TestApp, c: &Fapi, form: &[(&str, &str)]) -> (reqwest::StatusCode, Value) {
    post_with(app, "/oauth/par", &assertion(app, c), form).await
}

/// Push `form` as `c` with a DPoP proof of `dpop_key` for the PAR endpoint: the code it
/// leads to is bound to that key (RFC 9449 §10.1).
async fn push_bound(
    app: &TestApp,
    c: &Fapi,
    form: &[(&str, &str)],
    dpop_key: &DpopKey,
) -> (reqwest::StatusCode, Value) {
    let proof = dpop_key
        .proof(
            "POST",
            &app.settings.endpoint("/oauth/par"),
            app.clock.unix(),
        )
        .sign();
    let client_assertion = assertion(app, c);
    let mut form = form.to_vec();
    form.push(("client_assertion_type", pkjwt::ASSERTION_TYPE));
    form.push(("client_assertion", &client_assertion));
    json_of(
        app.http
            .post(app.url("/oauth/par"))
            .header("DPoP", proof)
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// The form redeeming `code` with the PKCE `verifier`.
fn redeem<'a>(code: &'a str, verifier: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier),
    ]
}

/// Sign `user` in through the pushed request `uri` of `c`: the code.
async fn code_for(app: &TestApp, c: &Fapi, uri: &str, user: &str) -> String {
    flow::create_user(app, user);
    let page = Browser::new(app)
        .authorize(&authorize_url(&c.id, uri), user)
        .await;
    page.redirect_param("code").expect("a code")
}

/// A token request with `client_assertion`, and `proof` in the DPoP header if given.
async fn token_with(
    app: &TestApp,
    client_assertion: &str,
    form: &[(&str, &str)],
    proof: Option<&str>,
) -> Answer {
    let mut form = form.to_vec();
    form.push(("client_assertion_type", pkjwt::ASSERTION_TYPE));
    form.push(("client_assertion", client_assertion));
    let mut req = app.http.post(app.url("/oauth/token")).form(&form);
    if let Some(proof) = proof {
        req = req.header("DPoP", proof);
    }
    let res = req.send().await.unwrap();
    Answer {
        status: res.status(),
        nonce: res
            .headers()
            .get("dpop-nonce")
            .map(|v| v.to_str().unwrap().to_owned()),
        body: res.json().await.unwrap(),
    }
}

/// A token request of `c` with a valid proof of `dpop_key`, after the nonce round trip.
async fn token(app: &TestApp, c: &Fapi, form: &[(&str, &str)], dpop_key: &DpopKey) -> Answer {
    let url = dpop::token_url(app);
    let proof = dpop_key.proof("POST", &url, app.clock.unix()).sign();
    let first = token_with(app, &assertion(app, c), form, Some(&proof)).await;
    assert_eq!(first.body["error"], "use_dpop_nonce", "{}", first.body);
    let nonce = first.nonce.expect("a DPoP-Nonce header");
    let proof = dpop_key
        .proof("POST", &url, app.clock.unix())
        .nonce(&nonce)
        .sign();
    token_with(app, &assertion(app, c), form, Some(&proof)).await
}

fn refused(answer: &Answer, status: u16, error: &str, why: &str) {
    assert_eq!(
        (answer.status.as_u16(), answer.body["error"].as_str()),
        (status, Some(error)),
        "{why}: {}",
        answer.body
    );
}

const CREDENTIALS: [(&str, &str); 2] = [("grant_type", "client_credentials"), ("scope", "openid")];

on_both_backends!(
    fapi2_authorize_without_par_is_refused,
    |app: TestApp| async move {
        let c = fapi_client(&app);
        // Even with PAR switched off in its row: the profile requires it.
        edit_row(&app, &c.id, |r| {
            r.require_pushed_authorization_requests = false
        });
        let (_, challenge) = flow::pkce();
        let url = flow::auth_url(
            &c.id,
            &[
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        );
        let page = Browser::new(&app).get(&url).await;
        assert_eq!(
            page.redirect_param("error").as_deref(),
            Some("invalid_request")
        );
        assert!(
            page.redirect_param("error_description")
                .unwrap()
                .contains("PAR"),
            "{:?}",
            page.location
        );
        assert_eq!(
            page.redirect_param("iss").as_deref(),
            Some(app.settings.issuer.as_str())
        );
        assert!(page.redirect_param("code").is_none());
    }
);

on_both_backends!(
    fapi2_pushed_request_needs_pkce_s256_and_redirect_uri,
    |app: TestApp| async move {
        let c = fapi_client(&app);
        let (_, challenge) = flow::pkce();
        let without = |names: &[&str]| {
            let mut form = request(&challenge, &[]);
            form.retain(|(k, _)| !names.contains(k));
            form
        };
        let mut plain = without(&["code_challenge_method"]);
        plain.push(("code_challenge_method", "plain"));
        for (form, says) in [
            (
                without(&["code_challenge", "code_challenge_method"]),
                "PKCE",
            ),
            (plain, "S256"),
            // One redirect URI is registered, yet FAPI 2.0 wants it named.
            (without(&["redirect_uri"]), "redirect_uri"),
        ] {
            let (status, body) = push(&app, &c, &form).await;
            assert_eq!(
                (status.as_u16(), body["error"].as_str()),
                (400, Some("invalid_request")),
                "{form:?}: {body}"
            );
            assert!(
                body["error_description"].as_str().unwrap().contains(says),
                "{body}"
            );
        }
        // The same request with all three is taken.
        let (status, body) = push(&app, &c, &request(&challenge, &[])).await;
        assert_eq!(status, 201, "{body}");
    }
);

on_both_backends!(
    fapi2_push_needs_private_key_jwt,
    |app: TestApp| async move {
        let c = fapi_client(&app);
        let (_, challenge) = flow::pkce();
        // No client authentication at all.
        let mut form = request(&challenge, &[]);
        form.push(("client_id", &c.id));
        let (status, body) = json_of(
            app.http
                .post(app.url("/oauth/par"))
                .form(&form)
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status.as_u16(), body["error"].as_str()),
            (401, Some("invalid_client")),
            "{body}"
        );
        // A secret, after the row was edited to take one: the profile still refuses it.
        let secret = tessera::secrets::SecretString::new("s3cret-of-a-hand-edit".to_owned());
        let hash = tessera::secrets::hash_secret(&secret).unwrap();
        edit_row(&app, &c.id, |r| {
            r.token_endpoint_auth_method = "client_secret_basic".into();
            r.secret_hash = Some(hash);
        });
        let (status, body) = json_of(
            app.http
                .post(app.url("/oauth/par"))
                .basic_auth(&c.id, Some(secret.expose()))
                .form(&request(&challenge, &[]))
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status.as_u16(), body["error"].as_str()),
            (401, Some("invalid_client")),
            "{body}"
        );
    }
);

on_both_backends!(
    fapi2_token_request_without_dpop_is_refused,
    |app: TestApp| async move {
        let c = fapi_client(&app);
        // Even with DPoP switched off in its row: no bearer token for a fapi2 client.
        edit_row(&app, &c.id, |r| r.dpop_bound_access_tokens = false);
        let answer = token_with(&app, &assertion(&app, &c), &CREDENTIALS, None).await;
        refused(&answer, 400, "invalid_dpop_proof", "no proof");
        assert!(answer.body.get("access_token").is_none());
        // A proof signed RS256 is refused before any nonce is handed out.
        let mut jwk = crate::jwt::attacker_jwk();
        for member in ["kid", "alg", "use"] {
            jwk.as_object_mut().unwrap().remove(member);
        }
        let claims = json!({
            "jti": tessera::secrets::random_token(16),
            "htm": "POST",
            "htu": dpop::token_url(&app),
            "iat": app.clock.unix(),
        });
        let rs256_proof = crate::jwt::sign_as_attacker(
            json!({"typ": "dpop+jwt", "jwk": jwk}),
            claims.as_object().unwrap(),
        );
        let answer = token_with(&app, &assertion(&app, &c), &CREDENTIALS, Some(&rs256_proof)).await;
        refused(&answer, 400, "invalid_dpop_proof", "an RS256 proof");
        assert!(answer.nonce.is_none(), "{}", answer.body);
        assert!(
            answer.body["error_description"]
                .as_str()
                .unwrap()
                .contains("PS256, ES256 or EdDSA only"),
            "{}",
            answer.body
        );
        // With a proof, the same client gets a DPoP-bound token.
        let answer = token(&app, &c, &CREDENTIALS, &DpopKey::es256()).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["token_type"], "DPoP");
    }
);

on_both_backends!(
    fapi2_assertion_signed_rs256_or_for_another_audience_is_refused,
    |app: TestApp| async move {
        add_key(&app, SigningAlg::Es256);
        // The client's JWKS holds an RS256 key beside its ES256 one: RS256 is still refused.
        let key = ClientKey::es256("fapi-1");
        let jwks = json!({"keys": [key.public_jwk(), crate::jwt::attacker_jwk()]}).to_string();
        let mut client = pkjwt::bank_app();
        client.profile = Profile::Fapi2;
        client.dpop_bound_access_tokens = true;
        client.algs = TokenAlgs {
            id_token: SigningAlg::Es256,
            access_token: SigningAlg::Es256,
        };
        let id = pkjwt::register_as(&app, &client, ClientKeys::parse_jwks(&jwks).unwrap(), true);
        let c = Fapi { id, key };
        let dpop_key = DpopKey::es256();
        let claims = fapi_claims(&app, &c.id);
        let rs256 = crate::jwt::sign_as_attacker(
            json!({"kid": crate::jwt::attacker_key().1}),
            claims.as_object().unwrap(),
        );
        let proof = dpop_key
            .proof("POST", &dpop::token_url(&app), app.clock.unix())
            .sign();
        let answer = token_with(&app, &rs256, &CREDENTIALS, Some(&proof)).await;
        refused(&answer, 401, "invalid_client", "an RS256 assertion");
        // FAPI 2.0 §5.3.2.1: the issuer only, and as a string.
        for aud in [json!(app.url("/oauth/token")), json!([app.settings.issuer])] {
            let mut claims = fapi_claims(&app, &c.id);
            claims["aud"] = aud.clone();
            let answer = token_with(&app, &c.key.sign(&claims), &CREDENTIALS, Some(&proof)).await;
            refused(&answer, 401, "invalid_client", &format!("aud {aud}"));
        }
        // A client without the profile may still name the token endpoint (OIDC Core §9).
        let plain = pkjwt::client_with(&app, &c.key);
        let (status, body) = post_with(
            &app,
            "/oauth/token",
            &pkjwt::assertion(&app, &c.key, &plain),
            &CREDENTIALS,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        // And the fapi2 client's own ES256 assertion to the issuer is taken.
        let answer = token(&app, &c, &CREDENTIALS, &dpop_key).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
);

/// `tessera client create --profile fapi2` with `extra` and the JWKS at `jwks`.
fn create(app: &TestApp, jwks: &str, extra: &[&str]) -> crate::helpers::CliOutput {
    let mut args = vec![
        "client",
        "create",
        "--name",
        "FAPI Bank",
        "--redirect-uri",
        REDIRECT,
        "--profile",
        "fapi2",
        "--jwks",
        jwks,
    ];
    args.extend_from_slice(extra);
    args.push("--json");
    app.cli(&args, None)
}

fn client_count(app: &TestApp) -> usize {
    tessera::store::admin::clients_all(&mut app.store.conn().unwrap())
        .unwrap()
        .len()
}

on_both_backends!(
    fapi2_cli_refuses_each_broken_rule_in_one_line,
    |app: TestApp| async move {
        let key = ClientKey::es256("cli-1");
        let jwks_path = app.dir.path().join("jwks.json");
        std::fs::write(&jwks_path, key.jwks()).unwrap();
        let rs256_path = app.dir.path().join("rs256.json");
        std::fs::write(
            &rs256_path,
            json!({"keys": [crate::jwt::attacker_jwk()]}).to_string(),
        )
        .unwrap();
        let jwks = jwks_path.to_str().unwrap();
        let good = ["--require-par", "--dpop"];
        let with = |extra: &[&'static str]| {
            let mut all = good.to_vec();
            all.extend_from_slice(extra);
            all
        };
        let before = client_count(&app);
        for (args, says) in [
            (vec!["--dpop"], "must require pushed authorization requests"),
            (vec!["--require-par"], "must have DPoP-bound tokens"),
            (
                with(&["--auth-method", "client_secret_basic"]),
                // A JWKS with a secret method is refused before the profile is looked at.
                "only for clients using private_key_jwt",
            ),
            (
                with(&["--id-token-alg", "RS256"]),
                "ID tokens must be signed with PS256 or ES256",
            ),
            (
                with(&["--access-token-alg", "EdDSA"]),
                "access tokens must be signed with PS256 or ES256",
            ),
            (
                with(&[
                    "--grant-type",
                    "urn:ietf:params:oauth:grant-type:device_code",
                ]),
                "may use only the authorization_code",
            ),
            // With the default algorithm (ES256) and no ES256 key yet: how to make one.
            (good.to_vec(), "tessera keys rotate --alg ES256"),
        ] {
            let out = create(&app, jwks, &args);
            assert_ne!(out.code, 0, "{args:?}");
            assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
            assert_eq!(out.stderr.trim().lines().count(), 1, "{}", out.stderr);
        }
        // Public, and secret-based without a JWKS.
        let out = app.cli(
            &[
                "client",
                "create",
                "--name",
                "P",
                "--redirect-uri",
                REDIRECT,
                "--profile",
                "fapi2",
                "--public",
                "--require-par",
                "--dpop",
            ],
            None,
        );
        assert!(
            out.stderr.contains("must be confidential"),
            "{}",
            out.stderr
        );
        let out = app.cli(
            &[
                "client",
                "create",
                "--name",
                "S",
                "--redirect-uri",
                REDIRECT,
                "--profile",
                "fapi2",
                "--require-par",
                "--dpop",
            ],
            None,
        );
        assert!(
            out.stderr
                .contains("must authenticate with private_key_jwt, not client_secret_basic"),
            "{}",
            out.stderr
        );
        let out = create(&app, rs256_path.to_str().unwrap(), &good);
        assert!(
            out.stderr.contains("needs a PS256, ES256 or EdDSA key"),
            "{}",
            out.stderr
        );
        let out = app.cli(
            &["client", "create", "--name", "X", "--profile", "fapi3"],
            None,
        );
        assert!(out.stderr.contains("use none or fapi2"), "{}", out.stderr);
        assert_eq!(client_count(&app), before, "nothing written");

        // Once an ES256 key signs, the same command registers the client, ES256 by default.
        let out = app.cli(&["keys", "rotate", "--alg", "ES256"], None);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let out = create(&app, jwks, &good);
        assert_eq!(out.code, 0, "{}", out.stderr);
        let created: Value = serde_json::from_str(&out.stdout).unwrap();
        assert!(created["client_secret"].is_null(), "{created}");
        let id = created["client_id"].as_str().unwrap();
        let row = tessera::store::clients::by_id(&mut app.store.conn().unwrap(), id)
            .unwrap()
            .unwrap();
        assert_eq!(row.profile, "fapi2");
        assert_eq!(row.id_token_signed_response_alg, "ES256");
        assert_eq!(row.access_token_signed_response_alg, "ES256");
        let list: Value =
            serde_json::from_str(&app.cli(&["client", "list", "--json"], None).stdout).unwrap();
        let listed = list
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["client_id"] == id)
            .unwrap();
        assert_eq!(listed["profile"], "fapi2");
        let text = app.cli(&["client", "list"], None).stdout;
        assert!(
            text.lines()
                .any(|l| l.starts_with(id) && l.contains("fapi2")),
            "{text}"
        );
    }
);

on_both_backends!(
    fapi2_console_form_explains_each_broken_rule,
    |app: TestApp| async move {
        add_key(&app, SigningAlg::Es256);
        // The console compares whole seconds with the key's activation instant.
        actix_web::rt::time::sleep(std::time::Duration::from_millis(1100)).await;
        let console = crate::admin::Console::root(&app).await;
        let page = console.get("/admin/clients/new").await;
        assert!(page.body.contains("name=\"profile\""), "{}", page.body);
        let key = ClientKey::es256("console-1");
        let jwks = key.jwks();
        let base = vec![
            ("name", "Console FAPI Bank"),
            ("client_type", "confidential"),
            ("redirect_uris", REDIRECT),
            ("grant_type", "authorization_code"),
            ("grant_type", "refresh_token"),
            ("auth_method", "private_key_jwt"),
            ("jwks", jwks.as_str()),
            ("profile", "fapi2"),
        ];
        let good = [("require_par", "on"), ("dpop_bound_access_tokens", "on")];
        for (extra, says) in [
            (
                vec![("dpop_bound_access_tokens", "on")],
                "must require pushed",
            ),
            (vec![("require_par", "on")], "must have DPoP-bound tokens"),
            (
                [&good[..], &[("id_token_alg", "RS256")]].concat(),
                "ID tokens must be signed with PS256 or ES256, not RS256.",
            ),
            (
                [
                    &good[..],
                    &[(
                        "grant_type",
                        "urn:ietf:params:oauth:grant-type:token-exchange",
                    )],
                ]
                .concat(),
                "may use only the authorization_code",
            ),
        ] {
            let mut form = base.clone();
            form.extend(extra.iter().copied());
            let page = console.post("/admin/clients/new", &form).await;
            assert_eq!(page.status, 400, "{extra:?}: {}", page.body);
            assert!(page.body.contains("role=\"alert\""), "{}", page.body);
            assert!(page.body.contains(says), "{extra:?}: {}", page.body);
        }
        let mut form = base.clone();
        form.retain(|(k, _)| *k != "auth_method" && *k != "jwks");
        form.extend(good);
        let page = console.post("/admin/clients/new", &form).await;
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(
            page.body
                .contains("A fapi2 client must authenticate with private_key_jwt"),
            "{}",
            page.body
        );

        let mut form = base.clone();
        form.extend(good);
        let page = console.post("/admin/clients/new", &form).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let rows = tessera::store::admin::clients_all(&mut app.store.conn().unwrap()).unwrap();
        let row = rows.iter().find(|r| r.name == "Console FAPI Bank").unwrap();
        assert_eq!(
            (
                row.profile.as_str(),
                row.id_token_signed_response_alg.as_str()
            ),
            ("fapi2", "ES256")
        );
        // The list and the edit form show the profile; an edit breaking a rule is refused.
        let list = console.get("/admin/clients").await;
        assert!(list.body.contains("FAPI 2.0"), "{}", list.body);
        let path = format!("/admin/clients/{}", row.id);
        let page = console.get(&path).await;
        assert!(
            page.body.contains("<option value=\"fapi2\" selected>"),
            "{}",
            page.body
        );
        let mut form = base.clone();
        form.push(("require_par", "on"));
        let page = console.post(&path, &form).await;
        assert_eq!(page.status, 400, "{}", page.body);
        assert!(
            page.body.contains("must have DPoP-bound tokens"),
            "{}",
            page.body
        );
    }
);

on_both_backends!(
    fapi2_code_flow_with_par_private_key_jwt_pkce_and_dpop,
    |app: TestApp| async move {
        let c = fapi_client(&app);
        let dpop_key = DpopKey::es256();
        let (verifier, challenge) = flow::pkce();
        // The push carries a DPoP proof: the code is bound to its key (RFC 9449 §10.1).
        let (status, body) = push_bound(&app, &c, &request(&challenge, &[]), &dpop_key).await;
        assert_eq!(status, 201, "{body}");
        assert!(body["expires_in"].as_i64().unwrap() < 600, "{body}");
        let uri = body["request_uri"].as_str().unwrap();
        flow::create_user(&app, "dora");
        let page = Browser::new(&app)
            .authorize(&authorize_url(&c.id, uri), "dora")
            .await;
        assert_eq!(
            page.redirect_param("iss").as_deref(),
            Some(app.settings.issuer.as_str())
        );
        assert_eq!(page.redirect_param("state").as_deref(), Some("st-par"));
        let code = page.redirect_param("code").expect("a code");
        let answer = token(&app, &c, &redeem(&code, &verifier), &dpop_key).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["token_type"], "DPoP");
        let access = answer.body["access_token"].as_str().unwrap();
        assert_eq!(crate::jwt::header(access)["alg"], "ES256");
        assert_eq!(
            claims_of(access)["cnf"]["jkt"],
            dpop_key.thumbprint().as_str()
        );
        let id_token = answer.body["id_token"].as_str().unwrap();
        assert_eq!(crate::jwt::header(id_token)["alg"], "ES256");
        assert_eq!(claims_of(id_token)["nonce"], "n-par");

        // The refresh token stays bound to the DPoP key: another key is refused, and nothing
        // changes; the key itself gets a new pair, bound again.
        let refresh = answer.body["refresh_token"].as_str().unwrap().to_owned();
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.as_str()),
        ];
        let answer = token(&app, &c, &form, &DpopKey::es256()).await;
        refused(&answer, 400, "invalid_grant", "refresh with another key");
        let answer = token(&app, &c, &form, &dpop_key).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.body["token_type"], "DPoP");
        let access = answer.body["access_token"].as_str().unwrap();
        assert_eq!(
            claims_of(access)["cnf"]["jkt"],
            dpop_key.thumbprint().as_str()
        );
    }
);

on_both_backends!(
    fapi2_code_bound_to_a_dpop_key_needs_that_key,
    |app: TestApp| async move {
        let c = fapi_client(&app);
        let (bound, other) = (DpopKey::es256(), DpopKey::es256());
        // A proof at PAR whose key is not the dpop_jkt also sent: refused there.
        let (_, challenge) = flow::pkce();
        let jkt = bound.thumbprint();
        let (status, body) = push_bound(
            &app,
            &c,
            &request(&challenge, &[("dpop_jkt", &jkt)]),
            &other,
        )
        .await;
        assert_eq!(
            (status.as_u16(), body["error"].as_str()),
            (400, Some("invalid_dpop_proof")),
            "{body}"
        );
        // A code bound by the PAR proof, redeemed with another key: refused.
        let (verifier, challenge) = flow::pkce();
        let (status, body) = push_bound(&app, &c, &request(&challenge, &[]), &bound).await;
        assert_eq!(status, 201, "{body}");
        let code = code_for(&app, &c, body["request_uri"].as_str().unwrap(), "erin").await;
        let answer = token(&app, &c, &redeem(&code, &verifier), &other).await;
        refused(
            &answer,
            400,
            "invalid_grant",
            "a bound code with another key",
        );
        assert!(
            answer.body["error_description"]
                .as_str()
                .unwrap()
                .contains("bound to a DPoP key"),
            "{}",
            answer.body
        );
        // A code bound by dpop_jkt alone, redeemed with that key: tokens bound to it.
        let (verifier, challenge) = flow::pkce();
        let (status, body) = push(&app, &c, &request(&challenge, &[("dpop_jkt", &jkt)])).await;
        assert_eq!(status, 201, "{body}");
        let code = code_for(&app, &c, body["request_uri"].as_str().unwrap(), "fred").await;
        let answer = token(&app, &c, &redeem(&code, &verifier), &bound).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let access = answer.body["access_token"].as_str().unwrap();
        assert_eq!(claims_of(access)["cnf"]["jkt"], jkt.as_str());
        // A malformed dpop_jkt is refused at the push.
        let (status, body) = push(&app, &c, &request(&challenge, &[("dpop_jkt", "abc")])).await;
        assert_eq!(
            (status.as_u16(), body["error"].as_str()),
            (400, Some("invalid_request")),
            "{body}"
        );
    }
);

/// Dynamic registration never makes a fapi2 client, and a client an administrator made
/// fapi2 cannot undo its settings through its registration URI (RFC 7592).
async fn self_registered_clients_are_not_fapi2(app: TestApp) {
    let metadata = json!({
        "client_name": "Self-made",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code"],
        "token_endpoint_auth_method": "none",
        "profile": "fapi2",
    });
    let res = app
        .http
        .post(app.url("/oauth/register"))
        .json(&metadata)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(res).await;
    assert_eq!(status, 201, "{body}");
    let id = body["client_id"].as_str().unwrap().to_owned();
    let row = tessera::store::clients::by_id(&mut app.store.conn().unwrap(), &id)
        .unwrap()
        .unwrap();
    assert_eq!(row.profile, "none");
    edit_row(&app, &id, |r| r.profile = "fapi2".into());
    let mut update = metadata.clone();
    update["client_id"] = json!(id);
    let res = app
        .http
        .put(body["registration_client_uri"].as_str().unwrap())
        .bearer_auth(body["registration_access_token"].as_str().unwrap())
        .json(&update)
        .send()
        .await
        .unwrap();
    let (status, body) = json_of(res).await;
    assert_eq!(
        (status.as_u16(), body["error"].as_str()),
        (400, Some("invalid_client_metadata")),
        "{body}"
    );
}

on_both_backends!(
    @spawn fapi2_profile_is_not_for_self_registered_clients,
    open_registration,
    self_registered_clients_are_not_fapi2
);

async fn open_registration(backend: crate::helpers::Backend) -> TestApp {
    crate::helpers::spawn_with(backend, &[("TESSERA_REGISTRATION", "open")]).await
}

on_both_backends!(
    fapi2_discovery_lists_ps256_and_es256,
    |app: TestApp| async move {
        let d: Value = app.get_json("/.well-known/openid-configuration").await;
        for field in [
            "token_endpoint_auth_signing_alg_values_supported",
            "dpop_signing_alg_values_supported",
            "id_token_signing_alg_values_supported",
        ] {
            let algs = d[field].as_array().unwrap();
            for alg in ["PS256", "ES256"] {
                assert!(algs.contains(&json!(alg)), "{field}: {algs:?}");
            }
        }
        assert_eq!(d["authorization_response_iss_parameter_supported"], true);
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
    }
);
