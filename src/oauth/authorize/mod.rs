//! The authorization endpoint (RFC 6749 §4.1, OIDC Core §3.1.2): validate the client and
//! redirect URI before anything else, then let oxide-auth's flow run with Tessera's
//! solicitor deciding about login and consent.
use std::sync::Arc;

use oxide_auth::endpoint::AuthorizationFlow;
use oxide_auth::frontends::simple::endpoint::{Error as FlowError, Generic, Vacant};
use oxide_auth::frontends::simple::extensions::{AddonList, Extended, Pkce};
use url::Url;

pub mod params;
pub mod pushed;

pub use params::{AuthorizeParams, Decision, Prompt};
use params::{Delivery, Target, single};

use super::authorizer::CodeStore;
use super::context::{AuthzFacts, Ctx};
use super::registrar::DbRegistrar;
use super::tokens;
use super::web::{FlowRequest, Interaction};
use crate::clients::Client;
use crate::config::Settings;
use crate::resources;
use crate::second_factor::policy;
use crate::sessions::SignedIn;
use crate::signing::KeySet;
use crate::store::PooledConn;

#[derive(Debug)]
pub struct AuthorizeRequest {
    /// All parameters, from the query (GET) or the form (POST), consent fields removed.
    pub params: Vec<(String, String)>,
    pub signed_in: Option<SignedIn>,
    /// Present when this is the consent form coming back (its CSRF token already checked).
    pub decision: Option<Decision>,
    /// The client's address, for the audit log.
    pub ip: Option<String>,
}

/// What the route should do.
#[derive(Debug)]
pub enum Outcome {
    /// A readable error page; never a redirect to an unverified URI.
    ErrorPage {
        status: u16,
        title: String,
        message: String,
    },
    /// Send the browser to the client: by 302, or with `form_post` by an auto-submitted form.
    Redirect {
        url: Url,
        form_post: Option<FormPost>,
    },
    Login(LoginPage),
    /// The signed-in user must add a second factor first (the second step, or setting one
    /// up), then come back to `return_to`.
    StepUp {
        return_to: String,
    },
    Consent(ConsentPage),
}

#[derive(Debug)]
pub struct FormPost {
    pub action: String,
    pub fields: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct LoginPage {
    pub client_name: String,
    pub login_hint: Option<String>,
    /// Where to come back to after signing in: this authorization request.
    pub return_to: String,
}

#[derive(Debug)]
pub struct ConsentPage {
    pub client_name: String,
    pub username: String,
    pub display_name: String,
    pub scopes: Vec<String>,
    pub params: Vec<(String, String)>,
    pub csrf_token: String,
    /// The APIs (RFC 8707 resources) asked for: (name, identifier).
    pub apis: Vec<(String, String)>,
}

pub struct AuthorizeDeps {
    pub conn: PooledConn,
    pub now: i64,
    pub settings: Arc<Settings>,
    pub keys: Arc<KeySet>,
}

fn error_page(status: u16, title: &str, message: impl Into<String>) -> Outcome {
    Outcome::ErrorPage {
        status,
        title: title.to_owned(),
        message: message.into(),
    }
}

/// The verified target for errors and codes: the client and its exactly-registered URI.
struct Respond<'a> {
    redirect_uri: &'a str,
    state: Option<&'a str>,
    form_post: bool,
    issuer: &'a str,
}

impl Respond<'_> {
    fn deliver(&self, mut url: Url) -> Outcome {
        // RFC 9207: name the issuer in the response, against mix-up attacks.
        url.query_pairs_mut().append_pair("iss", self.issuer);
        if !self.form_post {
            return Outcome::Redirect {
                url,
                form_post: None,
            };
        }
        let base: Vec<(String, String)> = Url::parse(self.redirect_uri)
            .map(|u| u.query_pairs().into_owned().collect())
            .unwrap_or_default();
        let fields = url
            .query_pairs()
            .into_owned()
            .filter(|pair| !base.contains(pair))
            .collect();
        Outcome::Redirect {
            form_post: Some(FormPost {
                action: self.redirect_uri.to_owned(),
                fields,
            }),
            url,
        }
    }

    fn error(&self, code: &str, description: &str) -> Outcome {
        let Ok(mut url) = Url::parse(self.redirect_uri) else {
            return error_page(
                400,
                "Invalid redirect URI",
                "The client's redirect URI is not a valid URL.",
            );
        };
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("error", code)
                .append_pair("error_description", description);
            if let Some(state) = self.state {
                q.append_pair("state", state);
            }
        }
        self.deliver(url)
    }
}

pub fn authorize(deps: AuthorizeDeps, req: AuthorizeRequest) -> Outcome {
    // `outer` is the request as the browser sent it, where login and consent come back to;
    // `p` the parameters that count: the pushed ones when it names a `request_uri`.
    let outer = &req.params;
    let asked = match Target::parse(outer) {
        Ok(t) => t,
        Err(message) => return error_page(400, "Invalid request", message),
    };
    let (settings, keys, now) = (deps.settings.clone(), deps.keys, deps.now);
    let ctx = Ctx::new(deps.conn, now, deps.settings);
    let client = match ctx.borrow_mut().client(&asked.client_id) {
        Ok(Some(c)) => c,
        Ok(None) => {
            return error_page(
                400,
                "Unknown application",
                "No application is registered with this client_id.",
            );
        }
        Err(e) => {
            tracing::error!(error = %e, "authorize: client lookup failed");
            return error_page(
                503,
                "Temporarily unavailable",
                "Please try again in a moment.",
            );
        }
    };
    let pushed = match pushed::resolve(&mut ctx.borrow_mut().conn, &client, outer, now) {
        Ok(pushed) => pushed,
        Err(page) => return *page,
    };
    let p: &[(String, String)] = pushed.as_ref().map_or(outer, |f| &f.params);
    let redirect_uri = match Target::parse(p).map(|t| t.redirect_uri) {
        Err(message) => return error_page(400, "Invalid request", message),
        Ok(uri) => uri,
    };
    let redirect_uri = match redirect_uri {
        Some(uri) if client.has_redirect_uri(&uri) => uri,
        Some(_) => {
            return error_page(
                400,
                "Redirect URI not registered",
                "The redirect_uri does not exactly match one registered for this application, so Tessera will not send you there.",
            );
        }
        None if client.redirect_uris.len() == 1 && !client.profile.is_fapi2() => {
            client.redirect_uris[0].as_str().to_owned()
        }
        None => return error_page(400, "Invalid request", "redirect_uri is required."),
    };
    // From here on errors go back to the client, whose redirect URI is verified.
    let delivery = Delivery::parse(p);
    let target = Respond {
        redirect_uri: &redirect_uri,
        state: delivery.state.as_deref(),
        form_post: delivery.form_post,
        issuer: &settings.issuer,
    };
    if pushed.is_none() && (client.must_push() || settings.require_par) {
        return target.error(
            "invalid_request",
            "this client must push its authorization requests first (PAR, RFC 9126)",
        );
    }
    let params = match AuthorizeParams::parse(p) {
        Ok(params) => params,
        Err(refusal) => return target.error(refusal.code, &refusal.description),
    };
    // A sign-in after the request was pushed answers its prompt=login and max_age: the
    // pushed parameters cannot drop them as a returning plain request does.
    let signed_in_since_push = |s: &SignedIn| {
        pushed
            .as_ref()
            .is_some_and(|f| s.session.auth_time >= f.created_at)
    };
    if client.requires_pkce() && params.code_challenge.is_none() {
        return target.error("invalid_request", pkce_required(&client));
    }
    let prompt = params.prompt;
    // RFC 8707 §2: each resource must be registered and one this client may use.
    let mut apis = Vec::new();
    for asked in &params.resources {
        let found = resources::by_identifier(&mut ctx.borrow_mut().conn, asked.as_str());
        match found {
            Ok(Some(api)) if client.may_target(asked.as_str()) => {
                apis.push((api.name, api.identifier));
            }
            Ok(_) => {
                return target.error(
                    "invalid_target",
                    &format!("'{asked}' is not a resource this client may ask for"),
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "authorize: resource lookup failed");
                return error_page(
                    503,
                    "Temporarily unavailable",
                    "Please try again in a moment.",
                );
            }
        }
    }

    // OIDC Core §3.1.2.1: the ID token names the user the client expects. With
    // prompt=none a session of anyone else must not be used silently.
    let hinted = match &params.id_token_hint {
        None => None,
        Some(hint) => match tokens::verify_id_token_hint(&keys, &settings.issuer, hint, now) {
            Ok(claims) => claims
                .get("sub")
                .and_then(|s| s.as_str())
                .map(str::to_owned),
            Err(_) => {
                return target.error(
                    "invalid_request",
                    "id_token_hint is not an ID token issued by this server",
                );
            }
        },
    };
    let signed_in = req.signed_in.filter(|s| s.user.is_active);
    if prompt.none
        && let (Some(sub), Some(s)) = (&hinted, &signed_in)
        && *sub != s.user.subject
    {
        return target.error(
            "login_required",
            "the signed-in user is not the one id_token_hint names",
        );
    }
    // max_age=0 means "authenticate now", like prompt=login.
    let too_old = |s: &SignedIn| {
        !signed_in_since_push(s)
            && params
                .max_age
                .is_some_and(|m| m == 0 || now - s.session.auth_time > m)
    };
    let must_login = signed_in.as_ref().is_none_or(too_old)
        || (prompt.login
            && req.decision.is_none()
            && !signed_in.as_ref().is_some_and(signed_in_since_push));
    if must_login {
        if prompt.none {
            return target.error("login_required", "the user is not signed in");
        }
        return Outcome::Login(LoginPage {
            client_name: client.name.clone(),
            login_hint: params.login_hint.clone(),
            return_to: return_to(outer),
        });
    }
    let Some(signed_in) = signed_in else {
        return error_page(500, "Something went wrong", "Please try again.");
    };
    // A password-only session is stepped up when the request asks for a second factor or
    // the administrators' policy requires one of this user.
    let methods = signed_in.methods();
    if !methods.is_multi_factor() {
        let required = params.wants_mfa
            || match policy::current(&mut ctx.borrow_mut().conn) {
                Ok(p) => p.covers(&signed_in.user),
                Err(e) => {
                    tracing::error!(error = %e, "authorize: second-factor policy lookup failed");
                    return error_page(
                        503,
                        "Temporarily unavailable",
                        "Please try again in a moment.",
                    );
                }
            };
        if required {
            if prompt.none {
                return target.error(
                    "interaction_required",
                    "a second factor is required and the user must provide it",
                );
            }
            return Outcome::StepUp {
                return_to: return_to(outer),
            };
        }
    }

    ctx.borrow_mut().authz = Some(AuthzFacts {
        user_id: signed_in.user.id,
        auth_time: signed_in.session.auth_time,
        redirect_uri: redirect_uri.clone(),
        requested_scope: params.scope.clone().unwrap_or_default(),
        nonce: params.nonce.clone(),
        claims_request: params.claims.clone(),
        session_id: Some(signed_in.session.id_hash.clone()),
        methods,
        dpop_jkt: params.dpop_jkt.clone(),
        resources: (!apis.is_empty()).then(|| {
            apis.iter()
                .map(|(_, id)| id.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        }),
    });
    let solicitor = super::solicitor::Solicitor {
        ctx: ctx.clone(),
        user: signed_in.user.clone(),
        decision: req.decision,
        force_consent: prompt.consent,
        prompt_none: prompt.none,
        ip: req.ip.clone(),
    };
    let mut addons = AddonList::new();
    addons.push_code(if client.requires_pkce() {
        Pkce::required()
    } else {
        Pkce::optional()
    });
    let endpoint = Extended::extend_with(
        Generic {
            registrar: DbRegistrar(ctx.clone()),
            authorizer: CodeStore(ctx.clone()),
            issuer: Vacant,
            solicitor,
            scopes: Vacant,
            response: Vacant,
        },
        addons,
    );
    let mut request = FlowRequest {
        query: FlowRequest::params(p.iter().map(|(k, v)| (k.as_str(), v.as_str()))),
        body: None,
        authorization: None,
    };
    // oxide-auth binds the redirect URI from the query; a request that left it out (one
    // registered URI) gets the bound one filled in.
    if single(p, "redirect_uri").ok().flatten().is_none() {
        request
            .query
            .insert_or_poison("redirect_uri".into(), redirect_uri.clone().into());
    }
    // One answer per pushed request: claimed before the flow runs, so of two racing
    // authorizations one proceeds; given back if the flow only asks the user something.
    if let Some(found) = &pushed {
        match pushed::claim(&mut ctx.borrow_mut().conn, found) {
            Ok(()) => {}
            Err(page) => return *page,
        }
    }
    let result = AuthorizationFlow::prepare(endpoint).and_then(|mut flow| flow.execute(request));
    let consent = || consent_page(&client, &signed_in, &params, outer, apis);
    let outcome = flow_outcome(result, &ctx, &client, outer, &target, consent);
    if let Some(found) = &pushed
        && !matches!(outcome, Outcome::Redirect { .. })
    {
        pushed::release(&mut ctx.borrow_mut().conn, found);
    }
    outcome
}

/// Why a request without `code_challenge` is refused.
pub fn pkce_required(client: &Client) -> &'static str {
    if client.is_public() {
        "public clients must use PKCE (code_challenge with S256)"
    } else {
        "this client's profile (FAPI 2.0) requires PKCE (code_challenge with S256)"
    }
}

/// What oxide-auth's answer means for the route.
fn flow_outcome(
    result: Result<super::web::FlowResponse, FlowError<super::web::FlowRequest>>,
    ctx: &super::context::Shared,
    client: &Client,
    outer: &[(String, String)],
    target: &Respond<'_>,
    consent: impl FnOnce() -> Outcome,
) -> Outcome {
    let p = outer;
    match result {
        Ok(resp) => match resp.interaction {
            Some(Interaction::Consent) => consent(),
            Some(Interaction::Error(code)) => {
                target.error(code, "the user must interact with Tessera")
            }
            Some(Interaction::Login) => Outcome::Login(LoginPage {
                client_name: client.name.clone(),
                login_hint: None,
                return_to: return_to(p),
            }),
            None => match resp.location {
                Some(url) => target.deliver(url),
                None => error_page(500, "Something went wrong", "Please try again."),
            },
        },
        Err(FlowError::OAuth(oxide_auth::endpoint::OAuthError::DenySilently)) => error_page(
            400,
            "Invalid request",
            "The authorization request is not valid for this application.",
        ),
        Err(e) => {
            let fault = ctx.borrow().fault.clone();
            tracing::error!(error = ?e, fault = ?fault, "authorize flow failed");
            error_page(500, "Something went wrong", "Please try again in a moment.")
        }
    }
}

/// The authorization request to come back to after login, without the parts that forced
/// the login (or it would force it again).
fn return_to(params: &[(String, String)]) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        if k != "prompt" && k != "max_age" {
            q.append_pair(k, v);
        }
    }
    format!("/oauth/authorize?{}", q.finish())
}

fn consent_page(
    client: &Client,
    signed_in: &SignedIn,
    asked: &AuthorizeParams,
    params: &[(String, String)],
    apis: Vec<(String, String)>,
) -> Outcome {
    let scopes = asked
        .scope
        .as_deref()
        .unwrap_or("")
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    Outcome::Consent(ConsentPage {
        client_name: client.name.clone(),
        username: signed_in.user.username.clone(),
        display_name: signed_in
            .user
            .name
            .clone()
            .unwrap_or_else(|| signed_in.user.username.clone()),
        scopes,
        params: params
            .iter()
            .filter(|(k, _)| k != "prompt")
            .cloned()
            .collect(),
        csrf_token: signed_in.session.csrf_token.clone(),
        apis,
    })
}
