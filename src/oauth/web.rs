//! oxide-auth's view of an HTTP exchange at the authorization endpoint. Tessera hands the
//! flow a request it has already checked and captures the response as data, so the route
//! can deliver it: `iss`, `form_post`, readable error pages.
//!
//! oxide-auth-actix's own request type is not used: it turns every flow error into a 500.
use std::borrow::Cow;

use oxide_auth::endpoint::{NormalizedParameter, QueryParameter, WebRequest, WebResponse};
use url::Url;

/// Why oxide-auth could not read the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebError {
    /// A form body was needed and there was none.
    NoBody,
}

/// A request as the flows see it.
#[derive(Debug, Default)]
pub struct FlowRequest {
    pub query: NormalizedParameter,
    pub body: Option<NormalizedParameter>,
    pub authorization: Option<String>,
}

impl FlowRequest {
    /// Parameters from `(name, value)` pairs. A repeated name is "poisoned" (reads as absent),
    /// which RFC 6749 §3.1 requires: parameters must not be included more than once.
    pub fn params<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> NormalizedParameter {
        let mut p = NormalizedParameter::new();
        for (k, v) in pairs {
            p.insert_or_poison(Cow::Owned(k.to_owned()), Cow::Owned(v.to_owned()));
        }
        p
    }
}

impl WebRequest for FlowRequest {
    type Error = WebError;
    type Response = FlowResponse;

    fn query(&mut self) -> Result<Cow<'_, dyn QueryParameter + 'static>, WebError> {
        Ok(Cow::Borrowed(&self.query as &dyn QueryParameter))
    }

    fn urlbody(&mut self) -> Result<Cow<'_, dyn QueryParameter + 'static>, WebError> {
        self.body
            .as_ref()
            .map(|b| Cow::Borrowed(b as &dyn QueryParameter))
            .ok_or(WebError::NoBody)
    }

    fn authheader(&mut self) -> Result<Option<Cow<'_, str>>, WebError> {
        Ok(self.authorization.as_deref().map(Cow::Borrowed))
    }
}

/// What the solicitor wants shown instead of finishing the flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Interaction {
    /// The user must sign in (again).
    Login,
    /// The user must allow or deny the client.
    Consent,
    /// Send this OIDC error (`login_required`, `consent_required`, ...) to the client.
    Error(&'static str),
}

/// A response as the flows produce it, kept as data. Starts as 200: oxide-auth sets a
/// status only when it is not.
#[derive(Debug)]
pub struct FlowResponse {
    pub status: u16,
    pub location: Option<Url>,
    pub www_authenticate: Option<String>,
    pub json: Option<String>,
    pub text: Option<String>,
    pub interaction: Option<Interaction>,
}

impl Default for FlowResponse {
    fn default() -> Self {
        Self {
            status: 200,
            location: None,
            www_authenticate: None,
            json: None,
            text: None,
            interaction: None,
        }
    }
}

impl FlowResponse {
    pub fn interaction(kind: Interaction) -> Self {
        Self {
            interaction: Some(kind),
            ..Default::default()
        }
    }
}

impl WebResponse for FlowResponse {
    type Error = WebError;

    fn ok(&mut self) -> Result<(), WebError> {
        self.status = 200;
        Ok(())
    }

    fn redirect(&mut self, url: Url) -> Result<(), WebError> {
        self.status = 302;
        self.location = Some(url);
        Ok(())
    }

    fn client_error(&mut self) -> Result<(), WebError> {
        self.status = 400;
        Ok(())
    }

    fn unauthorized(&mut self, header_value: &str) -> Result<(), WebError> {
        self.status = 401;
        self.www_authenticate = Some(header_value.to_owned());
        Ok(())
    }

    fn body_text(&mut self, text: &str) -> Result<(), WebError> {
        self.text = Some(text.to_owned());
        Ok(())
    }

    fn body_json(&mut self, data: &str) -> Result<(), WebError> {
        self.json = Some(data.to_owned());
        Ok(())
    }
}
