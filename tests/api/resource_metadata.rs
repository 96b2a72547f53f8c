//! RFC 9728 through `tessera::resource`: an API guarded by the verifier serves its
//! protected-resource metadata and names it in every 401, so a client that knows only the
//! API finds Tessera (then RFC 8414's metadata) and gets a token the API accepts.
use actix_web::middleware::from_fn;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::Value;
use tessera::resource::{
    Authenticated, Expectations, JwksCache, ProtectedResource, Verifier, challenge,
    metadata_document,
};

use crate::flow;
use crate::helpers::TestApp;
use crate::on_both_backends;

async fn notes(token: Authenticated) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "sub": token.0.sub() }))
}

/// An API on its own port trusting `app` through the JWKS: its base URL.
fn spawn_api(app: &TestApp) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let expect = Expectations::access(&app.settings.issuer);
    serve_api(app, listener, &base, &["openid", "notes"], expect);
    base
}

/// The Notes API at `base` on `listener`: its RFC 9728 document, the challenge on every
/// 401, and `/notes` for tokens that meet `expect`.
pub(crate) fn serve_api(
    app: &TestApp,
    listener: std::net::TcpListener,
    base: &str,
    scopes: &[&str],
    expect: Expectations,
) {
    let resource = ProtectedResource::new(base, &app.settings.issuer)
        .unwrap()
        .scopes(scopes)
        .name("Notes API");
    let path = resource.metadata_path().to_owned();
    let resource = web::Data::new(resource);
    let jwks = JwksCache::new(&app.url("/.well-known/jwks.json")).unwrap();
    let verifier = web::Data::new(Verifier::new(jwks, expect));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(resource.clone())
            .app_data(verifier.clone())
            .wrap(from_fn(challenge))
            .route(&path, web::get().to(metadata_document))
            .route("/notes", web::get().to(notes))
    })
    .workers(1)
    .listen(listener)
    .unwrap();
    actix_web::rt::spawn(server.run());
}

/// The `resource_metadata` parameter of a 401's challenge.
pub(crate) fn resource_metadata(res: &reqwest::Response) -> String {
    let challenge = res
        .headers()
        .get("www-authenticate")
        .expect("a challenge")
        .to_str()
        .unwrap();
    assert!(challenge.starts_with("Bearer "), "{challenge}");
    let start = challenge
        .find("resource_metadata=\"")
        .unwrap_or_else(|| panic!("no resource_metadata in {challenge}"))
        + "resource_metadata=\"".len();
    let rest = &challenge[start..];
    rest[..rest.find('"').unwrap()].to_owned()
}

on_both_backends!(
    an_api_names_its_authorization_server_in_401s,
    |app: TestApp| async move {
        let api = spawn_api(&app);
        // The client knows only the API.
        let anonymous = app.http.get(format!("{api}/notes")).send().await.unwrap();
        assert_eq!(anonymous.status(), 401);
        let metadata_url = resource_metadata(&anonymous);
        assert_eq!(
            metadata_url,
            format!("{api}/.well-known/oauth-protected-resource")
        );
        let bad = app
            .http
            .get(format!("{api}/notes"))
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status(), 401);
        assert_eq!(resource_metadata(&bad), metadata_url);
        assert!(
            bad.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("error=\"invalid_token\"")
        );

        let res = app.http.get(&metadata_url).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let doc: Value = res.json().await.unwrap();
        assert_eq!(doc["resource"], api);
        assert_eq!(doc["resource_name"], "Notes API");
        assert_eq!(
            doc["bearer_methods_supported"],
            serde_json::json!(["header"])
        );
        let issuer = doc["authorization_servers"][0].as_str().unwrap();
        assert_eq!(issuer, app.settings.issuer);
        // RFC 8414 from there on.
        let server: Value = app
            .http
            .get(format!("{issuer}/.well-known/oauth-authorization-server"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(server["issuer"], issuer);
        assert!(server["token_endpoint"].is_string());

        // A token from that server opens the API; the 200 carries no challenge.
        flow::create_user(&app, "alice");
        let client = flow::confidential(&app);
        let tokens = flow::tokens_for(&app, &client, "alice", "openid").await;
        let ok = app
            .http
            .get(format!("{api}/notes"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status(), 200);
        assert!(ok.headers().get("www-authenticate").is_none());
    }
);
