//! `private_key_jwt` client authentication (RFC 7523, OIDC Core §9) at the token,
//! introspection and revocation endpoints. Refusals first: a replayed assertion (also
//! concurrently), a wrong audience, expired or too long-lived assertions, `iss` != `sub`,
//! an unknown `kid`, another key, `alg` none and HS256 keyed with the public key, a secret
//! from a private_key_jwt client and an assertion from a secret client, the throttle; then
//! what works: the grants, introspection, revocation, keys at a `jwks_uri`, the CLI.
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tessera::clients::{self, AuthMethod, AuthSettings, ClientKeys, NewClient};
use tessera::clock::SystemClock;
use tessera::domain::{ClientKind, GrantType, RedirectUri, ScopeSet};

use crate::flow::REDIRECT;
use crate::helpers::TestApp;
use crate::on_both_backends;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A client's ES256 key pair, generated per test.
pub struct ClientKey {
    pub kid: String,
    pkcs8: Vec<u8>,
    x: String,
    y: String,
}

impl ClientKey {
    pub fn es256(kid: &str) -> Self {
        tessera::signing::install_crypto_provider();
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .unwrap()
            .as_ref()
            .to_vec();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8).unwrap();
        // An uncompressed P-256 point: 0x04, x, y.
        let point = pair.public_key().as_ref().to_vec();
        Self {
            kid: kid.to_owned(),
            x: URL_SAFE_NO_PAD.encode(&point[1..33]),
            y: URL_SAFE_NO_PAD.encode(&point[33..65]),
            pkcs8,
        }
    }

    /// The private key, PKCS#8 DER.
    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn public_jwk(&self) -> Value {
        json!({"kty": "EC", "crv": "P-256", "kid": self.kid, "use": "sig",
               "x": self.x, "y": self.y})
    }

    pub fn jwks(&self) -> String {
        json!({"keys": [self.public_jwk()]}).to_string()
    }

    /// Sign `claims` with this key, naming `kid` in the header.
    pub fn sign_as(&self, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&self.pkcs8)).unwrap()
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_as(&self.kid, claims)
    }
}

/// The claims of a good assertion for `client_id` at `app`'s token endpoint.
pub fn claims(app: &TestApp, client_id: &str) -> Value {
    let now = app.clock.unix();
    json!({
        "iss": client_id,
        "sub": client_id,
        "aud": app.url("/oauth/token"),
        "iat": now,
        "exp": now + 60,
        "jti": tessera::secrets::random_token(16),
    })
}

/// A good assertion for `client_id`, signed with `key`.
pub fn assertion(app: &TestApp, key: &ClientKey, client_id: &str) -> String {
    key.sign(&claims(app, client_id))
}

/// The registration the private_key_jwt tests use: a confidential bank app with the code,
/// refresh and client_credentials grants.
pub fn bank_app() -> NewClient {
    NewClient {
        name: "Bank App".into(),
        kind: ClientKind::Confidential,
        redirect_uris: vec![RedirectUri::parse(REDIRECT).unwrap()],
        post_logout_redirect_uris: vec![],
        grant_types: vec![
            GrantType::AuthorizationCode,
            GrantType::RefreshToken,
            GrantType::ClientCredentials,
        ],
        scopes: ScopeSet::parse(clients::DEFAULT_SCOPES).unwrap(),
        algs: clients::TokenAlgs::default(),
        resources: vec![],
        dpop_bound_access_tokens: false,
        profile: Default::default(),
    }
}

/// Register `client` as a private_key_jwt client with `keys`.
pub fn register_as(
    app: &TestApp,
    client: &NewClient,
    keys: ClientKeys,
    require_par: bool,
) -> String {
    let mut conn = app.store.conn().unwrap();
    clients::register_with(
        &mut conn,
        &SystemClock,
        client,
        &AuthSettings {
            method: AuthMethod::PrivateKeyJwt,
            keys: Some(keys),
            require_par,
        },
    )
    .unwrap()
    .client_id
}

/// Register a private_key_jwt client with `keys`.
pub fn register(app: &TestApp, keys: ClientKeys, require_par: bool) -> String {
    register_as(app, &bank_app(), keys, require_par)
}

/// A private_key_jwt client with an inline JWKS holding `key`.
pub fn client_with(app: &TestApp, key: &ClientKey) -> String {
    register(app, ClientKeys::parse_jwks(&key.jwks()).unwrap(), false)
}

pub async fn json_of(res: reqwest::Response) -> (StatusCode, Value) {
    let status = res.status();
    let body = res.text().await.unwrap();
    let value = serde_json::from_str(&body).unwrap_or(Value::String(body));
    (status, value)
}

/// POST `path` with `form` plus the assertion fields.
pub async fn post_with(
    app: &TestApp,
    path: &str,
    assertion: &str,
    form: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form = form.to_vec();
    form.push(("client_assertion_type", ASSERTION_TYPE));
    form.push(("client_assertion", assertion));
    json_of(
        app.http
            .post(app.url(path))
            .form(&form)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// A client_credentials grant authenticated by `assertion`.
async fn grant(app: &TestApp, assertion: &str) -> (StatusCode, Value) {
    post_with(
        app,
        "/oauth/token",
        assertion,
        &[("grant_type", "client_credentials"), ("scope", "openid")],
    )
    .await
}

fn refused(answer: &(StatusCode, Value)) {
    assert_eq!(answer.0, 401, "{}", answer.1);
    assert_eq!(answer.1["error"], "invalid_client", "{}", answer.1);
}

on_both_backends!(
    private_key_jwt_replayed_assertion_is_refused,
    manual_clock,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = client_with(&app, &key);
        let jwt = assertion(&app, &key, &client);
        let first = grant(&app, &jwt).await;
        assert_eq!(first.0, 200, "{}", first.1);
        refused(&grant(&app, &jwt).await);
        // Still refused just before it expires, on another endpoint too.
        app.advance(50);
        refused(&post_with(&app, "/oauth/introspect", &jwt, &[("token", "x")]).await);
    }
);

on_both_backends!(
    private_key_jwt_concurrent_replays_one_wins,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = client_with(&app, &key);
        let jwt = assertion(&app, &key, &client);
        let requests: Vec<_> = (0..6)
            .map(|_| {
                let (http, url, jwt) = (app.http.clone(), app.url("/oauth/token"), jwt.clone());
                actix_web::rt::spawn(async move {
                    let form = [
                        ("grant_type", "client_credentials"),
                        ("client_assertion_type", ASSERTION_TYPE),
                        ("client_assertion", jwt.as_str()),
                    ];
                    json_of(http.post(url).form(&form).send().await.unwrap()).await
                })
            })
            .collect();
        let mut answers = Vec::new();
        for request in requests {
            answers.push(request.await.unwrap());
        }
        let ok = answers.iter().filter(|a| a.0 == 200).count();
        assert_eq!(ok, 1, "{answers:?}");
        answers.iter().filter(|a| a.0 != 200).for_each(refused);
    }
);

on_both_backends!(
    private_key_jwt_wrong_audience_is_refused,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = client_with(&app, &key);
        for aud in [
            json!("https://other.example"),
            json!(app.url("/oauth/userinfo")),
            json!([]),
            Value::Null,
        ] {
            let mut c = claims(&app, &client);
            c["aud"] = aud.clone();
            refused(&grant(&app, &key.sign(&c)).await);
        }
        // The issuer itself and a list naming the token endpoint are taken.
        let mut c = claims(&app, &client);
        c["aud"] = json!(app.settings.issuer);
        assert_eq!(grant(&app, &key.sign(&c)).await.0, 200);
        let mut c = claims(&app, &client);
        c["aud"] = json!(["https://other.example", app.url("/oauth/token")]);
        assert_eq!(grant(&app, &key.sign(&c)).await.0, 200);
    }
);

on_both_backends!(
    private_key_jwt_expired_or_long_lived_assertion_is_refused,
    manual_clock,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = client_with(&app, &key);
        let now = app.clock.unix();
        // Expired (past the 30 s leeway).
        let mut c = claims(&app, &client);
        c["iat"] = json!(now - 200);
        c["exp"] = json!(now - 100);
        refused(&grant(&app, &key.sign(&c)).await);
        // Valid for more than five minutes: refused, its jti would be kept too long.
        let mut c = claims(&app, &client);
        c["exp"] = json!(now + 600);
        refused(&grant(&app, &key.sign(&c)).await);
        // No exp at all.
        let mut c = claims(&app, &client);
        c.as_object_mut().unwrap().remove("exp");
        refused(&grant(&app, &key.sign(&c)).await);
        // Issued in the future.
        let mut c = claims(&app, &client);
        c["iat"] = json!(now + 120);
        c["exp"] = json!(now + 180);
        refused(&grant(&app, &key.sign(&c)).await);
        // No jti.
        let mut c = claims(&app, &client);
        c.as_object_mut().unwrap().remove("jti");
        refused(&grant(&app, &key.sign(&c)).await);
        // A good one made now expires once the clock passes it.
        let jwt = assertion(&app, &key, &client);
        app.advance(120);
        refused(&grant(&app, &jwt).await);
    }
);

on_both_backends!(
    private_key_jwt_iss_must_equal_sub,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = client_with(&app, &key);
        let other = client_with(&app, &ClientKey::es256("k2"));
        let mut c = claims(&app, &client);
        c["iss"] = json!(other);
        refused(&grant(&app, &key.sign(&c)).await);
        let mut c = claims(&app, &client);
        c.as_object_mut().unwrap().remove("iss");
        refused(&grant(&app, &key.sign(&c)).await);
        // A client_id field naming another client than the assertion's subject.
        let answer = post_with(
            &app,
            "/oauth/token",
            &assertion(&app, &key, &client),
            &[("grant_type", "client_credentials"), ("client_id", &other)],
        )
        .await;
        refused(&answer);
    }
);

on_both_backends!(
    private_key_jwt_unknown_kid_or_wrong_key_is_refused,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = client_with(&app, &key);
        // A kid the client never registered.
        refused(&grant(&app, &key.sign_as("k9", &claims(&app, &client))).await);
        // Another key, claiming the registered kid.
        let thief = ClientKey::es256("k1");
        refused(&grant(&app, &thief.sign(&claims(&app, &client))).await);
        // Another client's key, under its own registration: its kid is not this client's.
        let other_key = ClientKey::es256("other");
        client_with(&app, &other_key);
        refused(&grant(&app, &other_key.sign(&claims(&app, &client))).await);
    }
);

on_both_backends!(
    private_key_jwt_alg_none_and_hs256_with_the_public_key_are_refused,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = client_with(&app, &key);
        let c = claims(&app, &client);
        let payload = URL_SAFE_NO_PAD.encode(c.to_string());
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"k1"}"#);
        refused(&grant(&app, &format!("{none_header}.{payload}.")).await);
        // HS256 keyed with what an attacker can read: the registered public JWK.
        for secret in [key.jwks(), key.public_jwk().to_string(), key.x.clone()] {
            let mut header = Header::new(jsonwebtoken::Algorithm::HS256);
            header.kid = Some("k1".into());
            let forged = jsonwebtoken::encode(
                &header,
                &claims(&app, &client),
                &EncodingKey::from_secret(secret.as_bytes()),
            )
            .unwrap();
            refused(&grant(&app, &forged).await);
        }
        // An assertion type other than jwt-bearer.
        let answer = json_of(
            app.http
                .post(app.url("/oauth/token"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:saml2-bearer",
                    ),
                    ("client_assertion", &assertion(&app, &key, &client)),
                ])
                .send()
                .await
                .unwrap(),
        )
        .await;
        refused(&answer);
    }
);

on_both_backends!(
    private_key_jwt_client_cannot_use_a_secret_and_vice_versa,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = client_with(&app, &key);
        // A private_key_jwt client has no secret: whatever it sends as one is refused.
        for secret in ["", "guess", &key.jwks()] {
            let res = app
                .http
                .post(app.url("/oauth/token"))
                .basic_auth(&client, Some(secret))
                .form(&[("grant_type", "client_credentials")])
                .send()
                .await
                .unwrap();
            refused(&json_of(res).await);
        }
        // Its bare client_id is not enough either.
        let res = app
            .http
            .post(app.url("/oauth/token"))
            .form(&[("grant_type", "client_credentials"), ("client_id", &client)])
            .send()
            .await
            .unwrap();
        refused(&json_of(res).await);
        // A secret client cannot sign in with an assertion, even one signed well.
        let secret_client = crate::flow::register(
            &app,
            ClientKind::Confidential,
            &[GrantType::ClientCredentials],
            &[],
        );
        refused(&grant(&app, &key.sign(&claims(&app, &secret_client.id))).await);
        // Two methods at once are refused.
        let (status, body) = json_of(
            app.http
                .post(app.url("/oauth/token"))
                .basic_auth(&client, Some("x"))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("client_assertion_type", ASSERTION_TYPE),
                    ("client_assertion", &assertion(&app, &key, &client)),
                ])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(
            (status.as_u16(), body["error"].as_str()),
            (400, Some("invalid_request"))
        );
    }
);

on_both_backends!(
    private_key_jwt_at_introspection_and_revocation,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = client_with(&app, &key);
        let (status, tokens) = grant(&app, &assertion(&app, &key, &client)).await;
        assert_eq!(status, 200, "{tokens}");
        let access = tokens["access_token"].as_str().unwrap();
        let jwt = assertion(&app, &key, &client);
        let (status, info) = post_with(&app, "/oauth/introspect", &jwt, &[("token", access)]).await;
        assert_eq!(
            (status.as_u16(), &info["active"]),
            (200, &json!(true)),
            "{info}"
        );
        // The same assertion again: a replay, at any endpoint.
        refused(&post_with(&app, "/oauth/introspect", &jwt, &[("token", access)]).await);
        refused(&post_with(&app, "/oauth/revoke", &jwt, &[("token", access)]).await);
        // Addressed to the endpoint it is presented at: taken.
        let mut c = claims(&app, &client);
        c["aud"] = json!(app.url("/oauth/revoke"));
        let (status, _) =
            post_with(&app, "/oauth/revoke", &key.sign(&c), &[("token", access)]).await;
        assert_eq!(status, 200);
        let (_, info) = post_with(
            &app,
            "/oauth/introspect",
            &assertion(&app, &key, &client),
            &[("token", access)],
        )
        .await;
        assert_eq!(info["active"], json!(false), "{info}");
        // A wrong key at introspection is refused like at the token endpoint.
        let thief = ClientKey::es256("k1");
        refused(
            &post_with(
                &app,
                "/oauth/introspect",
                &thief.sign(&claims(&app, &client)),
                &[("token", access)],
            )
            .await,
        );
    }
);

on_both_backends!(
    @spawn private_key_jwt_failed_assertions_are_throttled,
    crate::security_client_auth::spawn_strict,
    |app: TestApp| async move {
        let key = ClientKey::es256("k1");
        let client = client_with(&app, &key);
        let thief = ClientKey::es256("k1");
        for _ in 0..2 {
            refused(&grant(&app, &thief.sign(&claims(&app, &client))).await);
        }
        // Locked now: even a good assertion waits, and the answer says how long.
        let res = app
            .http
            .post(app.url("/oauth/token"))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", &assertion(&app, &key, &client)),
            ])
            .send()
            .await
            .unwrap();
        assert!(res.headers().contains_key("retry-after"));
        refused(&json_of(res).await);
    }
);

/// Serve `body` as a JWKS at `http://127.0.0.1:PORT/jwks` until the test ends.
pub async fn serve_jwks(body: String) -> String {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let body = body.clone();
        App::new().route(
            "/jwks",
            web::get().to(move || {
                let body = body.clone();
                async move {
                    HttpResponse::Ok()
                        .content_type("application/json")
                        .body(body)
                }
            }),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    format!("http://127.0.0.1:{port}/jwks")
}

on_both_backends!(
    private_key_jwt_keys_from_a_jwks_uri,
    |app: TestApp| async move {
        let key = ClientKey::es256("remote-1");
        let uri = serve_jwks(key.jwks()).await;
        let client = register(&app, ClientKeys::parse_uri(&uri).unwrap(), false);
        let (status, body) = grant(&app, &assertion(&app, &key, &client)).await;
        assert_eq!(status, 200, "{body}");
        // Another key under the published kid is still refused.
        let thief = ClientKey::es256("remote-1");
        refused(&grant(&app, &thief.sign(&claims(&app, &client))).await);
        // A kid the JWKS does not have (the refetch interval keeps it from being fetched again).
        refused(&grant(&app, &key.sign_as("remote-2", &claims(&app, &client))).await);
    }
);

on_both_backends!(
    private_key_jwt_jwks_uri_that_is_too_large_gives_no_key,
    |app: TestApp| async move {
        let key = ClientKey::es256("big");
        // A JWKS padded past the fetch cap: not read, so no key.
        let padded = json!({"keys": [key.public_jwk()], "pad": "x".repeat(300 * 1024)});
        let uri = serve_jwks(padded.to_string()).await;
        let client = register(&app, ClientKeys::parse_uri(&uri).unwrap(), false);
        refused(&grant(&app, &assertion(&app, &key, &client)).await);
    }
);

on_both_backends!(
    private_key_jwt_cli_registers_and_refuses_bad_input,
    |app: TestApp| async move {
        let key = ClientKey::es256("cli-1");
        let jwks = app.dir.path().join("client-jwks.json");
        std::fs::write(&jwks, key.jwks()).unwrap();
        let jwks_arg = jwks.to_str().unwrap();
        let out = app.cli(
            &[
                "client",
                "create",
                "--name",
                "CLI Bank",
                "--redirect-uri",
                REDIRECT,
                "--grant-type",
                "client_credentials",
                "--auth-method",
                "private_key_jwt",
                "--jwks",
                jwks_arg,
                "--require-par",
                "--json",
            ],
            None,
        );
        assert_eq!(out.code, 0, "{}", out.stderr);
        let printed: Value = serde_json::from_str(out.stdout.trim()).unwrap();
        assert_eq!(printed["client_secret"], Value::Null, "{printed}");
        let client = printed["client_id"].as_str().unwrap();
        let (status, body) = grant(&app, &assertion(&app, &key, client)).await;
        assert_eq!(status, 200, "{body}");
        let stored = tessera::clients::by_id(&mut app.store.conn().unwrap(), client)
            .unwrap()
            .unwrap();
        assert!(stored.require_par);
        assert_eq!(stored.auth_method, AuthMethod::PrivateKeyJwt);

        let private = app.dir.path().join("private-jwks.json");
        let mut leaked = key.public_jwk();
        leaked["d"] = json!("c2VjcmV0");
        std::fs::write(&private, json!({"keys": [leaked]}).to_string()).unwrap();
        for (args, says) in [
            (vec!["--auth-method", "private_key_jwt"], "JWKS"),
            (vec!["--jwks", private.to_str().unwrap()], "private"),
            (vec!["--jwks-uri", "http://app.example/jwks"], "https"),
            (
                vec!["--auth-method", "client_secret_post", "--jwks", jwks_arg],
                "only for",
            ),
            (vec!["--auth-method", "client_secret_jwt"], "not supported"),
            (
                vec!["--public", "--auth-method", "private_key_jwt"],
                "--public",
            ),
        ] {
            let mut all = vec![
                "client",
                "create",
                "--name",
                "Bad",
                "--grant-type",
                "client_credentials",
            ];
            all.extend(args.iter().copied());
            let out = app.cli(&all, None);
            assert_ne!(out.code, 0, "{args:?} was accepted");
            assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
            assert_eq!(out.stderr.trim_end().lines().count(), 1, "{}", out.stderr);
            assert!(out.stderr.contains(says), "{args:?}: {}", out.stderr);
        }
    }
);

on_both_backends!(
    private_key_jwt_console_registers_and_explains_bad_keys,
    |app: TestApp| async move {
        let console = crate::admin::Console::root(&app).await;
        let key = ClientKey::es256("console-1");
        let jwks = key.jwks();
        let mut leaked = key.public_jwk();
        leaked["d"] = json!("c2VjcmV0");
        let leaked = json!({"keys": [leaked]}).to_string();
        let base = [
            ("name", "Console Bank"),
            ("client_type", "confidential"),
            ("grant_type", "client_credentials"),
            ("auth_method", "private_key_jwt"),
        ];
        for (extra, says) in [
            (vec![], "JWKS"),
            (vec![("jwks", leaked.as_str())], "private"),
            (vec![("jwks", "{not json")], "not valid JSON"),
            (vec![("jwks_uri", "http://app.example/jwks")], "https"),
            (
                vec![
                    ("jwks", jwks.as_str()),
                    ("jwks_uri", "https://app.example/jwks"),
                ],
                "not both",
            ),
        ] {
            let mut form = base.to_vec();
            form.extend(extra.iter().copied());
            let page = console.post("/admin/clients/new", &form).await;
            assert_eq!(page.status, 400, "{extra:?}: {}", page.body);
            assert!(page.body.contains("role=\"alert\""), "{}", page.body);
            assert!(page.body.contains(says), "{extra:?}: {}", page.body);
        }
        let mut form = base.to_vec();
        form.extend([("jwks", jwks.as_str()), ("require_par", "on")]);
        let page = console.post("/admin/clients/new", &form).await;
        assert_eq!(page.status, 200, "{}", page.body);
        let rows = tessera::store::admin::clients_all(&mut app.store.conn().unwrap()).unwrap();
        let row = rows.iter().find(|r| r.name == "Console Bank").unwrap();
        assert_eq!(row.token_endpoint_auth_method, "private_key_jwt");
        assert!(row.require_pushed_authorization_requests && row.secret_hash.is_none());
        let (status, body) = grant(&app, &assertion(&app, &key, &row.id)).await;
        assert_eq!(status, 200, "{body}");
        // Its page shows how it authenticates and offers no secret to rotate.
        let page = console.get(&format!("/admin/clients/{}", row.id)).await;
        assert!(page.body.contains("private_key_jwt"), "{}", page.body);
        assert!(!page.body.contains("Rotate secret"), "{}", page.body);
    }
);
