//! The owner solicitor: after the request is validated, decides between finishing the
//! flow (consent given now or remembered), showing the consent page, or an OIDC error
//! (`consent_required` under `prompt=none`).
use oxide_auth::endpoint::{OwnerConsent, OwnerSolicitor, Solicitation};

use super::authorize::params::Decision;
use super::context::Shared;
use super::web::{FlowRequest, FlowResponse, Interaction, WebError};
use crate::audit::{self, AuditAction};
use crate::store::consents;
use crate::store::users::UserRow;

pub(super) struct Solicitor {
    pub(super) ctx: Shared,
    pub(super) user: UserRow,
    pub(super) decision: Option<Decision>,
    pub(super) force_consent: bool,
    pub(super) prompt_none: bool,
    pub(super) ip: Option<String>,
}

impl OwnerSolicitor<FlowRequest> for Solicitor {
    fn check_consent(
        &mut self,
        _: &mut FlowRequest,
        s: Solicitation,
    ) -> OwnerConsent<FlowResponse> {
        let requested = s.pre_grant().scope.clone();
        let client_id = s.pre_grant().client_id.clone();
        let mut ctx = self.ctx.borrow_mut();
        let now = ctx.now;
        let stored = match consents::scope_of(&mut ctx.conn, self.user.id, &client_id) {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => {
                ctx.fail(e);
                return OwnerConsent::Error(WebError::NoBody);
            }
        };
        let owner = self.user.id.to_string();
        match self.decision {
            Some(Decision::Allow) => {
                let mut union: Vec<&str> = stored.split(' ').filter(|s| !s.is_empty()).collect();
                for s in requested.iter() {
                    if !union.contains(&s) {
                        union.push(s);
                    }
                }
                let union = union.join(" ");
                if let Err(e) =
                    consents::upsert(&mut ctx.conn, self.user.id, &client_id, &union, now)
                {
                    ctx.fail(e);
                    return OwnerConsent::Error(WebError::NoBody);
                }
                let entry = audit::Entry {
                    actor: Some(self.user.username.as_str()),
                    action: AuditAction::ConsentGranted,
                    target: Some(client_id.as_str()),
                    detail: Some(union.as_str()),
                    ip: self.ip.as_deref(),
                };
                if let Err(e) = audit::record(&mut ctx.conn, now, &entry) {
                    ctx.fail(e);
                    return OwnerConsent::Error(WebError::NoBody);
                }
                OwnerConsent::Authorized(owner)
            }
            Some(Decision::Deny) => OwnerConsent::Denied,
            None => {
                let covered = requested.iter().all(|s| stored.split(' ').any(|g| g == s));
                if covered && !self.force_consent {
                    OwnerConsent::Authorized(owner)
                } else if self.prompt_none {
                    OwnerConsent::InProgress(FlowResponse::interaction(Interaction::Error(
                        "consent_required",
                    )))
                } else {
                    OwnerConsent::InProgress(FlowResponse::interaction(Interaction::Consent))
                }
            }
        }
    }
}
