//! The differential test: the same request script against Tessera and against a stock
//! Django REST Framework + SimpleJWT 5.5.1 app, comparing status codes and JSON bodies.
//! Token values differ between the two; their claim sets (less Tessera's `iss`, `sub`,
//! `aud`) must not. Both servers sign with the same RSA key, so forged tokens (expired,
//! untyped, ...) mean the same to both.
use serde_json::{Value, json};

use crate::django::{self, Django};
use crate::flow::{self, PASSWORD};
use crate::helpers::{Backend, TestApp, spawn_with};
use crate::jwt;

/// One server under test.
struct Target<'a> {
    name: &'static str,
    base: String,
    http: &'a reqwest::Client,
}

/// What one request observed, made comparable.
#[derive(Debug, PartialEq)]
struct Seen {
    step: String,
    status: u16,
    /// The scheme a 401's `WWW-Authenticate` names (DRF: `AUTH_HEADER_TYPES[0]`).
    challenge: Option<String>,
    body: Value,
}

/// Replace each JWT in a body by a description that does not depend on the server: its
/// `token_type` and claim names (less the `iss`, `sub`, `aud` only Tessera adds).
fn normalize(value: Value) -> Value {
    match value {
        Value::String(s) if s.starts_with("eyJ") && s.matches('.').count() == 2 => {
            let claims = jwt::claims(&s);
            let mut names: Vec<&str> = claims
                .keys()
                .map(String::as_str)
                .filter(|n| !["iss", "sub", "aud"].contains(n))
                .collect();
            names.sort();
            json!(format!(
                "<jwt {} {}>",
                claims["token_type"],
                names.join(",")
            ))
        }
        // Python's JSON decoder words its errors differently from serde's.
        Value::String(s) if s.starts_with("JSON parse error - ") => json!("JSON parse error - …"),
        Value::Object(map) => {
            Value::Object(map.into_iter().map(|(k, v)| (k, normalize(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(normalize).collect()),
        other => other,
    }
}

impl Target<'_> {
    async fn send(&self, step: &str, req: reqwest::RequestBuilder, log: &mut Vec<Seen>) -> Value {
        let res = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} {step}: {e}", self.name));
        let status = res.status().as_u16();
        let challenge = res
            .headers()
            .get("WWW-Authenticate")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_whitespace().next())
            .map(str::to_owned);
        let text = res.text().await.unwrap();
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{} {step}: not JSON ({status}): {text}", self.name));
        log.push(Seen {
            step: step.to_owned(),
            status,
            challenge,
            body: normalize(body.clone()),
        });
        body
    }

    async fn json(&self, step: &str, path: &str, body: Value, log: &mut Vec<Seen>) -> Value {
        let req = self.http.post(format!("{}{path}", self.base)).json(&body);
        self.send(step, req, log).await
    }

    async fn raw(
        &self,
        step: &str,
        method: reqwest::Method,
        path: &str,
        content_type: Option<&str>,
        body: &'static str,
        log: &mut Vec<Seen>,
    ) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .body(body);
        if let Some(t) = content_type {
            req = req.header("Content-Type", t);
        }
        self.send(step, req, log).await
    }

    async fn hello(
        &self,
        step: &str,
        method: reqwest::Method,
        auth: Option<&str>,
        log: &mut Vec<Seen>,
    ) {
        let mut req = self.http.request(method, format!("{}/hello/", self.base));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        self.send(step, req, log).await;
    }

    async fn pair(&self, log: &mut Vec<Seen>) -> (String, String) {
        let body = self
            .json(
                "obtain",
                "/api/token/",
                json!({"username": "alice", "password": PASSWORD}),
                log,
            )
            .await;
        (
            body["access"].as_str().expect("access").to_owned(),
            body["refresh"].as_str().expect("refresh").to_owned(),
        )
    }
}

/// The script both servers run. `app` signs the forged tokens.
async fn script(t: &Target<'_>, app: &TestApp) -> Vec<Seen> {
    use reqwest::Method;
    let mut log = Vec::new();
    let l = &mut log;
    let json_type = Some("application/json");

    // Obtaining a pair.
    t.pair(l).await;
    let form = t
        .http
        .post(format!("{}/api/token/", t.base))
        .form(&[("username", "alice"), ("password", PASSWORD)]);
    t.send("obtain form", form, l).await;
    let bodies = [
        json!({"username": "alice", "password": "wrong"}),
        json!({"username": "bob", "password": PASSWORD}),
        json!({"username": "nobody", "password": PASSWORD}),
        json!({}),
        json!({"username": "alice"}),
        Value::Null,
        json!([1]),
        json!("alice"),
        json!(7),
        json!({"username": null, "password": "  "}),
        json!({"username": true, "password": {"a": 1}}),
        json!({"username": ["alice"], "password": PASSWORD}),
        json!({"username": 1.5, "password": "a\u{0}b"}),
        json!({"username": " alice ", "password": PASSWORD}),
    ];
    for body in bodies {
        t.json(&format!("obtain {body}"), "/api/token/", body, l)
            .await;
    }
    for (content_type, body) in [
        (json_type, "{bad"),
        (json_type, ""),
        (Some("text/plain"), "username=alice"),
        (None, "username=alice"),
        (
            Some("application/x-www-form-urlencoded"),
            "username=&password=x",
        ),
    ] {
        let step = format!("obtain raw {content_type:?} {body}");
        t.raw(&step, Method::POST, "/api/token/", content_type, body, l)
            .await;
    }
    // multipart/form-data, as DRF's MultiPartParser reads it.
    let part = |name: &str, filename: &str, value: &str| {
        format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n{value}\r\n"
        )
    };
    for (step, content_type, body) in [
        (
            "obtain multipart",
            "multipart/form-data; boundary=XyZ",
            format!(
                "{}{}--XyZ--\r\n",
                part("username", "", "alice"),
                part("password", "", PASSWORD)
            ),
        ),
        (
            "obtain multipart with a file",
            "multipart/form-data; boundary=XyZ",
            format!(
                "{}{}--XyZ--\r\n",
                part("username", "", "alice"),
                part("password", "; filename=\"pw.txt\"", PASSWORD)
            ),
        ),
        (
            "obtain multipart missing a field",
            "multipart/form-data; boundary=XyZ",
            format!("{}--XyZ--\r\n", part("username", "", "alice")),
        ),
        (
            "obtain multipart without a boundary",
            "multipart/form-data",
            format!("{}--XyZ--\r\n", part("username", "", "alice")),
        ),
    ] {
        let req = t
            .http
            .post(format!("{}/api/token/", t.base))
            .header("Content-Type", content_type)
            .body(body);
        t.send(step, req, l).await;
    }
    for (method, path) in [
        (Method::GET, "/api/token/"),
        (Method::PUT, "/api/token/"),
        (Method::DELETE, "/api/token/refresh/"),
        (Method::GET, "/api/token/verify/"),
        (Method::PATCH, "/api/token/blacklist/"),
    ] {
        let step = format!("{method} {path}");
        t.raw(&step, method, path, None, "", l).await;
    }

    // Refreshing, with rotation and the blacklist.
    let (access, refresh) = t.pair(l).await;
    let now = jwt::now();
    let forged = [
        (
            "expired",
            jwt::edit(app, &refresh, |c| {
                c.insert("exp".into(), json!(now - 60));
            }),
        ),
        (
            "no exp",
            jwt::edit(app, &refresh, |c| {
                c.remove("exp");
            }),
        ),
        (
            "no type",
            jwt::edit(app, &refresh, |c| {
                c.remove("token_type");
            }),
        ),
        ("alg none", jwt::alg_none(&refresh)),
        ("hs256", jwt::hs256_with_public_key(app, &refresh)),
    ];
    t.json("refresh {}", "/api/token/refresh/", json!({}), l)
        .await;
    t.json(
        "refresh garbage",
        "/api/token/refresh/",
        json!({"refresh": "garbage"}),
        l,
    )
    .await;
    t.json(
        "refresh with access",
        "/api/token/refresh/",
        json!({"refresh": access}),
        l,
    )
    .await;
    for (what, token) in &forged {
        t.json(
            &format!("refresh {what}"),
            "/api/token/refresh/",
            json!({"refresh": token}),
            l,
        )
        .await;
    }
    t.json(
        "refresh",
        "/api/token/refresh/",
        json!({"refresh": refresh}),
        l,
    )
    .await;
    t.json(
        "refresh again",
        "/api/token/refresh/",
        json!({"refresh": refresh}),
        l,
    )
    .await;
    t.json(
        "verify rotated",
        "/api/token/verify/",
        json!({"token": refresh}),
        l,
    )
    .await;
    t.json(
        "blacklist rotated",
        "/api/token/blacklist/",
        json!({"refresh": refresh}),
        l,
    )
    .await;

    // Verifying.
    let (access, refresh) = t.pair(l).await;
    let multipart = t
        .http
        .post(format!("{}/api/token/verify/", t.base))
        .header("Content-Type", "multipart/form-data; boundary=XyZ")
        .body(format!("{}--XyZ--\r\n", part("token", "", &refresh)));
    t.send("verify multipart", multipart, l).await;
    t.json("verify {}", "/api/token/verify/", json!({}), l)
        .await;
    t.json(
        "verify access",
        "/api/token/verify/",
        json!({"token": access}),
        l,
    )
    .await;
    t.json(
        "verify refresh",
        "/api/token/verify/",
        json!({"token": refresh}),
        l,
    )
    .await;
    t.json(
        "verify garbage",
        "/api/token/verify/",
        json!({"token": "a.b.c"}),
        l,
    )
    .await;
    t.json(
        "verify null",
        "/api/token/verify/",
        json!({"token": null}),
        l,
    )
    .await;
    for (what, token) in [
        (
            "expired",
            jwt::edit(app, &access, |c| {
                c.insert("exp".into(), json!(now - 60));
            }),
        ),
        (
            "untyped",
            jwt::edit(app, &access, |c| {
                c.remove("token_type");
            }),
        ),
        (
            "no exp",
            jwt::edit(app, &access, |c| {
                c.remove("exp");
            }),
        ),
        (
            "no jti",
            jwt::edit(app, &access, |c| {
                c.remove("jti");
            }),
        ),
        ("alg none", jwt::alg_none(&access)),
    ] {
        t.json(
            &format!("verify {what}"),
            "/api/token/verify/",
            json!({"token": token}),
            l,
        )
        .await;
    }
    let verify_form = t
        .http
        .post(format!("{}/api/token/verify/", t.base))
        .form(&[("token", access.as_str())]);
    t.send("verify form", verify_form, l).await;

    // Blacklisting (logging out).
    let (access, refresh) = t.pair(l).await;
    t.json("blacklist {}", "/api/token/blacklist/", json!({}), l)
        .await;
    t.json(
        "blacklist access",
        "/api/token/blacklist/",
        json!({"refresh": access}),
        l,
    )
    .await;
    t.json(
        "blacklist",
        "/api/token/blacklist/",
        json!({"refresh": refresh}),
        l,
    )
    .await;
    t.json(
        "blacklist again",
        "/api/token/blacklist/",
        json!({"refresh": refresh}),
        l,
    )
    .await;
    t.json(
        "refresh blacklisted",
        "/api/token/refresh/",
        json!({"refresh": refresh}),
        l,
    )
    .await;
    t.json(
        "verify blacklisted",
        "/api/token/verify/",
        json!({"token": refresh}),
        l,
    )
    .await;
    t.json(
        "verify access after logout",
        "/api/token/verify/",
        json!({"token": access}),
        l,
    )
    .await;

    // The protected resource.
    let (access, refresh) = t.pair(l).await;
    let bearer = |token: &str| format!("Bearer {token}");
    let expired = jwt::edit(app, &access, |c| {
        c.insert("exp".into(), json!(now - 60));
    });
    let anonymous = jwt::edit(app, &access, |c| {
        c.remove("user_id");
    });
    let untyped = jwt::edit(app, &access, |c| {
        c.remove("token_type");
    });
    for (step, auth) in [
        ("hello without a token", None),
        ("hello", Some(bearer(&access))),
        ("hello refresh", Some(bearer(&refresh))),
        ("hello expired", Some(bearer(&expired))),
        ("hello no user", Some(bearer(&anonymous))),
        ("hello untyped", Some(bearer(&untyped))),
        ("hello alg none", Some(bearer(&jwt::alg_none(&access)))),
        ("hello garbage", Some("Bearer garbage".to_owned())),
        ("hello three parts", Some(format!("Bearer {access} x"))),
        ("hello bare scheme", Some("Bearer".to_owned())),
        ("hello basic", Some("Basic YWxpY2U6eA==".to_owned())),
        ("hello lowercase scheme", Some(format!("bearer {access}"))),
        ("hello JWT scheme", Some(format!("JWT {access}"))),
        ("hello Token scheme", Some(format!("Token {access}"))),
        ("hello bare JWT scheme", Some("JWT".to_owned())),
    ] {
        t.hello(step, Method::GET, auth.as_deref(), l).await;
    }
    t.hello("hello POST anonymous", Method::POST, None, l).await;
    t.hello("hello POST", Method::POST, Some(&bearer(&access)), l)
        .await;

    // multipart/form-data at the two endpoints not yet sent one.
    let (_, refresh) = t.pair(l).await;
    for (step, path) in [
        ("refresh multipart", "/api/token/refresh/"),
        ("blacklist multipart", "/api/token/blacklist/"),
        ("blacklist multipart again", "/api/token/blacklist/"),
    ] {
        let req = t
            .http
            .post(format!("{}{path}", t.base))
            .header("Content-Type", "multipart/form-data; boundary=XyZ")
            .body(format!("{}--XyZ--\r\n", part("refresh", "", &refresh)));
        t.send(step, req, l).await;
    }
    log
}

/// SimpleJWT's two refresh settings, on Tessera's side and the reference's.
const ROTATING: [(&str, &str); 0] = [];
const SIMPLEJWT_DEFAULTS: [(&str, &str); 2] = [
    ("TESSERA_SIMPLEJWT_ROTATE_REFRESH_TOKENS", "false"),
    ("TESSERA_SIMPLEJWT_BLACKLIST_AFTER_ROTATION", "false"),
];

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_django),
    ignore = "TESSERA_TEST_DJANGO_PYTHON not set: not compared with Django SimpleJWT"
)]
async fn simplejwt_endpoints_answer_as_django_simplejwt_does() {
    compare(&ROTATING, &[("REF_ROTATE", "1")]).await;
}

#[actix_web::test]
#[cfg_attr(
    not(tessera_test_django),
    ignore = "TESSERA_TEST_DJANGO_PYTHON not set: not compared with Django SimpleJWT"
)]
async fn with_simplejwts_default_refresh_settings_tessera_answers_as_simplejwt_does() {
    compare(&SIMPLEJWT_DEFAULTS, &[("REF_ROTATE", "0")]).await;
}

/// An app that changed `AUTH_HEADER_TYPES` and named its users otherwise in tokens: the
/// `Bearer` steps of the script become "no credentials", `JWT` and `Token` ones count, every
/// 401 challenges with `JWT`, and tokens carry `uid` (the username) instead of `user_id`.
#[actix_web::test]
#[cfg_attr(
    not(tessera_test_django),
    ignore = "TESSERA_TEST_DJANGO_PYTHON not set: not compared with Django SimpleJWT"
)]
async fn with_other_header_types_and_user_claim_tessera_answers_as_simplejwt_does() {
    compare(
        &[
            ("TESSERA_SIMPLEJWT_AUTH_HEADER_TYPES", "JWT,Token"),
            ("TESSERA_SIMPLEJWT_USER_ID_CLAIM", "uid"),
            ("TESSERA_SIMPLEJWT_USER_ID_FIELD", "username"),
        ],
        &[
            ("REF_ROTATE", "1"),
            ("REF_AUTH_HEADER_TYPES", "JWT,Token"),
            ("REF_USER_ID_CLAIM", "uid"),
            ("REF_USER_ID_FIELD", "username"),
        ],
    )
    .await;
}

/// Run the script against Tessera configured with `tessera` and SimpleJWT configured with
/// `reference` (REF_* settings, see tests/simplejwt_ref); every step must answer alike.
async fn compare(tessera: &[(&str, &str)], reference: &[(&str, &str)]) {
    let python = django::python();
    // The refresh grace is Tessera's deliberate difference (docs/simplejwt.md): off here,
    // so a second refresh with a rotated token answers as SimpleJWT's blacklist does.
    let mut env = tessera.to_vec();
    env.push(("TESSERA_REFRESH_GRACE", "0"));
    let app = spawn_with(Backend::Sqlite, &env).await;
    let alice = flow::create_user(&app, "alice");
    let bob = flow::create_user(&app, "bob");
    crate::simplejwt::set_active(&app, bob, false);
    assert!(alice > 0);
    let key = app.dir.path().join("reference-signing-key.pem");
    std::fs::write(&key, jwt::active_key_pem(&app)).unwrap();
    let key = key.display().to_string();
    let mut settings = vec![("REF_MODE", "mirror"), ("REF_SIGNING_KEY", key.as_str())];
    settings.extend_from_slice(reference);
    let reference = Django::start(
        &python,
        &settings,
        &[
            &format!("alice:{PASSWORD}"),
            &format!("bob:{PASSWORD}:inactive"),
        ],
    );
    let http = reqwest::Client::new();
    let ours_target = Target {
        name: "tessera",
        base: app.base.clone(),
        http: &http,
    };
    let django = Target {
        name: "django",
        base: reference.base.clone(),
        http: &http,
    };
    let ours = script(&ours_target, &app).await;
    let theirs = script(&django, &app).await;
    assert_eq!(ours.len(), theirs.len());
    let mut differences = Vec::new();
    for (a, b) in ours.iter().zip(&theirs) {
        if a != b {
            differences.push(format!(
                "{}:\n  tessera {} {:?} {}\n  django  {} {:?} {}",
                a.step, a.status, a.challenge, a.body, b.status, b.challenge, b.body
            ));
        }
    }
    assert!(
        differences.is_empty(),
        "{} of {} steps differ:\n{}",
        differences.len(),
        ours.len(),
        differences.join("\n")
    );
    eprintln!(
        "{} steps answered alike by Tessera and SimpleJWT 5.5.1",
        ours.len()
    );
}
