//! The whole flow driven by a real third-party relying party library, the `openidconnect`
//! crate: it discovers Tessera, checks the ID token's signature against the JWKS, and
//! checks iss, aud, nonce, exp and at_hash itself.
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, RefreshToken, Scope, TokenResponse,
};

use crate::flow::{self, Browser, REDIRECT};
use crate::helpers::TestApp;
use crate::on_both_backends;

async fn run_flow(app: &TestApp, client: &flow::Client) {
    flow::create_user(app, "alice");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let issuer = IssuerUrl::new(app.settings.issuer.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .unwrap();
    let rp = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client.id.clone()),
        client.secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());

    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = rp
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();

    let browser = Browser::new(app);
    let page = browser.authorize(url.as_str(), "alice").await;
    assert_eq!(page.status, 302, "{}", page.body);
    assert!(page.location.as_deref().unwrap().starts_with(REDIRECT));
    assert_eq!(
        page.redirect_param("state").as_deref(),
        Some(state.secret().as_str())
    );
    assert_eq!(
        page.redirect_param("iss").as_deref(),
        Some(app.settings.issuer.as_str())
    );
    let code = page.redirect_param("code").unwrap();

    let tokens = rp
        .exchange_code(AuthorizationCode::new(code))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let id_verifier = rp.id_token_verifier();
    let claims = id_token
        .claims(&id_verifier, &nonce)
        .expect("ID token verifies");
    assert_eq!(claims.issuer().as_str(), app.settings.issuer);
    assert_eq!(
        claims.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );
    assert_eq!(
        claims.preferred_username().map(|u| u.as_str()),
        Some("alice")
    );
    assert!(claims.auth_time().is_some());
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));

    let userinfo: CoreUserInfoClaims = rp
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(
        userinfo.email().map(|e| e.as_str()),
        Some("alice@example.com")
    );

    // Refresh through the library too: rotation hands back a new refresh token.
    let refresh = tokens.refresh_token().expect("a refresh token").clone();
    let refreshed = rp
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    let rotated: &RefreshToken = refreshed.refresh_token().expect("rotated");
    assert_ne!(rotated.secret(), refresh.secret());
    assert!(
        refreshed
            .id_token()
            .unwrap()
            .claims(&id_verifier, |_: Option<&Nonce>| Ok(()))
            .is_ok()
    );
}

on_both_backends!(confidential_client_signs_in, |app: TestApp| async move {
    let client = flow::confidential(&app);
    run_flow(&app, &client).await;
});

on_both_backends!(public_pkce_client_signs_in, |app: TestApp| async move {
    let client = flow::public(&app);
    run_flow(&app, &client).await;
});
