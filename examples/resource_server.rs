//! A separate resource server that trusts Tessera's access tokens through the JWKS alone:
//! no database, no shared secret, only HTTP to `<issuer>/.well-known/jwks.json`.
//!
//! ```sh
//! TESSERA_ISSUER=http://127.0.0.1:8080 cargo run --example resource_server
//! curl -H "Authorization: Bearer $ACCESS" http://127.0.0.1:8081/hello/
//! ```
//!
//! Settings (environment): `TESSERA_ISSUER` (required), `RESOURCE_AUDIENCE` (defaults to
//! the issuer, as Tessera's `TESSERA_ACCESS_TOKEN_AUDIENCE` does), `RESOURCE_LISTEN`
//! (default `127.0.0.1:8081`), `RESOURCE_LEEWAY` (seconds of clock skew, default 30).
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::json;
use tessera::resource::{Authenticated, Expectations, JwksCache, Verifier};

async fn hello(token: Authenticated) -> HttpResponse {
    let claims = token.0;
    HttpResponse::Ok().json(json!({
        "message": "Hello, World!",
        "sub": claims.sub(),
        "user_id": claims.user_id(),
        "scope": claims.scopes(),
    }))
}

fn setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let Some(issuer) = setting("TESSERA_ISSUER") else {
        eprintln!("error: set TESSERA_ISSUER to Tessera's issuer URL");
        std::process::exit(2);
    };
    let audience = setting("RESOURCE_AUDIENCE").unwrap_or_else(|| issuer.clone());
    let listen = setting("RESOURCE_LISTEN").unwrap_or_else(|| "127.0.0.1:8081".to_owned());
    let leeway = match setting("RESOURCE_LEEWAY").map(|v| v.parse::<i64>()) {
        None => 30,
        Some(Ok(v)) if v >= 0 => v,
        Some(_) => {
            eprintln!("error: RESOURCE_LEEWAY must be a whole number of seconds");
            std::process::exit(2);
        }
    };
    let jwks_url = format!("{}/.well-known/jwks.json", issuer.trim_end_matches('/'));
    let jwks = match JwksCache::new(&jwks_url) {
        Ok(j) => j,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let verifier = web::Data::new(Verifier::new(
        jwks,
        Expectations::access(&issuer)
            .audience(&audience)
            .leeway(leeway),
    ));
    let server = HttpServer::new(move || {
        App::new()
            .app_data(verifier.clone())
            .route("/hello/", web::get().to(hello))
    })
    .bind(&listen)?;
    // The tests (and scripts) read this line to find the port when RESOURCE_LISTEN ends in :0.
    for addr in server.addrs() {
        println!("resource server listening on http://{addr}, trusting {jwks_url}");
    }
    server.run().await
}
