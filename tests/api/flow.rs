//! Fixtures for the single sign-on tests: users, clients, and a cookie-keeping "browser"
//! that signs in and answers the consent page over plain HTTP.
use reqwest::header::LOCATION;
use tessera::clients::{self, NewClient};
use tessera::clock::SystemClock;
use tessera::domain::{ClientKind, GrantType, Password, RedirectUri, ScopeSet, Username};
use tessera::users::{self, NewUser};
use url::Url;

use crate::helpers::TestApp;

pub const REDIRECT: &str = "http://127.0.0.1:9999/callback";
pub const PASSWORD: &str = "correct horse battery";

pub fn create_user(app: &TestApp, username: &str) -> i64 {
    let mut conn = app.store.conn().unwrap();
    users::create(
        &mut conn,
        &SystemClock,
        &NewUser {
            username: Username::parse(username).unwrap(),
            password: Password::parse(PASSWORD).unwrap(),
            email: Some(tessera::domain::Email::parse(&format!("{username}@example.com")).unwrap()),
            name: Some(format!("{username} Example")),
            is_admin: false,
        },
    )
    .unwrap()
    .id
}

pub struct Client {
    pub id: String,
    pub secret: Option<String>,
}

pub fn register(
    app: &TestApp,
    kind: ClientKind,
    grants: &[GrantType],
    post_logout: &[&str],
) -> Client {
    register_signed(
        app,
        kind,
        grants,
        post_logout,
        clients::TokenAlgs::default(),
    )
}

/// Like [`register`], with the algorithms its ID and access tokens are signed with.
pub fn register_signed(
    app: &TestApp,
    kind: ClientKind,
    grants: &[GrantType],
    post_logout: &[&str],
    algs: clients::TokenAlgs,
) -> Client {
    let mut conn = app.store.conn().unwrap();
    let r = clients::register(
        &mut conn,
        &SystemClock,
        &NewClient {
            name: "Photo Book".into(),
            kind,
            redirect_uris: vec![RedirectUri::parse(REDIRECT).unwrap()],
            post_logout_redirect_uris: post_logout
                .iter()
                .map(|u| RedirectUri::parse(u).unwrap())
                .collect(),
            grant_types: grants.to_vec(),
            scopes: ScopeSet::parse(clients::DEFAULT_SCOPES).unwrap(),
            algs,
            resources: Vec::new(),
            dpop_bound_access_tokens: false,
            profile: Default::default(),
        },
    )
    .unwrap();
    Client {
        id: r.client_id,
        secret: r.client_secret.map(|s| s.expose().to_owned()),
    }
}

pub fn confidential(app: &TestApp) -> Client {
    register(
        app,
        ClientKind::Confidential,
        &[GrantType::AuthorizationCode, GrantType::RefreshToken],
        &[],
    )
}

pub fn public(app: &TestApp) -> Client {
    register(
        app,
        ClientKind::Public,
        &[GrantType::AuthorizationCode, GrantType::RefreshToken],
        &[],
    )
}

/// Undo askama's HTML escaping of attribute values.
pub fn unescape(s: &str) -> String {
    s.replace("&#38;", "&")
        .replace("&amp;", "&")
        .replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&#60;", "<")
        .replace("&lt;", "<")
        .replace("&#62;", ">")
        .replace("&gt;", ">")
}

/// Hidden and text inputs of the first form in `html`, as (name, value).
pub fn inputs(html: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for tag in html.split("<input").skip(1) {
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        let attr = |name: &str| {
            let key = format!("{name}=\"");
            tag.find(&key).map(|i| {
                let rest = &tag[i + key.len()..];
                unescape(&rest[..rest.find('"').unwrap_or(rest.len())])
            })
        };
        if let (Some(n), Some(v)) = (attr("name"), attr("value")) {
            out.push((n, v));
        }
    }
    out
}

pub fn input(html: &str, name: &str) -> Option<String> {
    inputs(html)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// A user agent with a cookie jar that does not follow redirects.
pub struct Browser {
    pub http: reqwest::Client,
    pub base: String,
}

pub struct Page {
    pub status: u16,
    pub location: Option<String>,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn is_login(&self) -> bool {
        matches!(self.status, 200 | 400 | 401) && self.body.contains("action=\"/login\"")
    }

    pub fn is_consent(&self) -> bool {
        self.status == 200 && self.body.contains("name=\"decision\"")
    }

    /// The query parameters of the redirect.
    pub fn redirect_params(&self) -> Vec<(String, String)> {
        let url = Url::parse(self.location.as_deref().expect("a redirect")).unwrap();
        url.query_pairs().into_owned().collect()
    }

    pub fn redirect_param(&self, name: &str) -> Option<String> {
        self.redirect_params()
            .into_iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        Browser {
            http: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.base.clone(),
        }
    }

    async fn page(res: reqwest::Response) -> Page {
        Page {
            status: res.status().as_u16(),
            location: res
                .headers()
                .get(LOCATION)
                .map(|v| v.to_str().unwrap().to_owned()),
            headers: res.headers().clone(),
            body: res.text().await.unwrap(),
        }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') {
            format!("{}{url}", self.base)
        } else {
            url.to_owned()
        }
    }

    pub async fn get(&self, url: &str) -> Page {
        Self::page(self.http.get(self.absolute(url)).send().await.unwrap()).await
    }

    pub async fn post(&self, url: &str, form: &[(String, String)]) -> Page {
        Self::page(
            self.http
                .post(self.absolute(url))
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Submit the login form shown on `page`.
    pub async fn login(&self, page: &Page, username: &str, password: &str) -> Page {
        assert!(
            page.is_login(),
            "expected the login page, got {}: {}",
            page.status,
            page.body
        );
        let mut form = inputs(&page.body);
        form.retain(|(k, _)| k != "username");
        form.push(("username".into(), username.into()));
        form.push(("password".into(), password.into()));
        self.post("/login", &form).await
    }

    /// Sign in at `/login` directly.
    pub async fn sign_in(&self, username: &str) {
        let page = self.get("/login").await;
        let done = self.login(&page, username, PASSWORD).await;
        assert_eq!(done.status, 303, "{}", done.body);
    }

    /// Press Allow or Deny on the consent `page`.
    pub async fn consent(&self, page: &Page, allow: bool) -> Page {
        assert!(
            page.is_consent(),
            "expected the consent page, got {}: {}",
            page.status,
            page.body
        );
        let mut form = inputs(&page.body);
        form.push((
            "decision".into(),
            if allow { "allow" } else { "deny" }.into(),
        ));
        self.post("/oauth/authorize", &form).await
    }

    /// Run an authorization request to its redirect: sign in and allow as needed.
    pub async fn authorize(&self, auth_url: &str, username: &str) -> Page {
        let mut page = self.get(auth_url).await;
        if page.is_login() {
            let after = self.login(&page, username, PASSWORD).await;
            assert_eq!(after.status, 303, "login failed: {}", after.body);
            page = self.get(after.location.as_deref().unwrap()).await;
        }
        if page.is_consent() {
            page = self.consent(&page, true).await;
        }
        page
    }
}

/// An authorization URL for `client` with the given extra parameters.
pub fn auth_url(client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("state", "st-123");
    let has_scope = extra.iter().any(|(k, _)| *k == "scope");
    if !has_scope {
        q.append_pair("scope", "openid profile email");
    }
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    format!("/oauth/authorize?{}", q.finish())
}

/// S256 PKCE pair (verifier, challenge).
pub fn pkce() -> (String, String) {
    use base64::Engine;
    use sha2::Digest;
    let verifier = tessera::secrets::random_token(32);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

/// POST the token endpoint with Basic auth (when the client has a secret) and `form`.
pub async fn token(app: &TestApp, client: &Client, form: &[(&str, &str)]) -> reqwest::Response {
    let mut req = app.http.post(app.url("/oauth/token")).form(form);
    if let Some(secret) = &client.secret {
        req = req.basic_auth(&client.id, Some(secret));
    }
    req.send().await.unwrap()
}

/// Sign in, consent and exchange the code: the token response JSON.
pub async fn tokens_for(
    app: &TestApp,
    client: &Client,
    username: &str,
    scope: &str,
) -> serde_json::Value {
    let browser = Browser::new(app);
    let (verifier, challenge) = pkce();
    let url = auth_url(
        &client.id,
        &[
            ("scope", scope),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            ("nonce", "n-1"),
        ],
    );
    let page = browser.authorize(&url, username).await;
    let code = page.redirect_param("code").expect("a code");
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", verifier.as_str()),
    ];
    if client.secret.is_none() {
        form.push(("client_id", client.id.as_str()));
    }
    let res = token(app, client, &form).await;
    assert_eq!(res.status(), 200);
    res.json().await.unwrap()
}

/// The status userinfo answers for `access_token`: whether Tessera still accepts it.
pub async fn userinfo_status(app: &TestApp, access_token: &str) -> u16 {
    app.http
        .get(app.url("/oauth/userinfo"))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}
