//! `/admin/audit`: the audit log, newest first, paged, filtered by kind of action.
use actix_web::{HttpRequest, HttpResponse};

use super::guard::Admin;
use super::pages::{self, AuditItem};
use super::render;
use crate::admin::{self, AdminError};

const PER_PAGE: i64 = 50;

/// The filter menu: (action prefix, label).
const FILTERS: [(&str, &str); 13] = [
    ("", "Everything"),
    ("login", "Sign-ins (and failures)"),
    ("consent.", "Consents"),
    ("device.", "Device sign-ins (allowed, denied)"),
    ("user.", "User changes"),
    ("client.", "Client changes"),
    ("key.", "Key changes"),
    ("session.", "Sessions"),
    ("throttle.", "Throttling locks"),
    ("account.", "Changes users made to their own account"),
    ("settings.", "Server settings"),
    ("resource.", "Resource (API) changes"),
    ("token.", "Token exchanges (issued, refused)"),
];

pub async fn list(admin: Admin, req: HttpRequest) -> Result<HttpResponse, AdminError> {
    let query = super::super::web::query_pairs(&req);
    let field = |name| super::super::web::field(&query, name);
    // Only the menu's own values filter; anything else shows everything.
    let filter = FILTERS
        .iter()
        .map(|(k, _)| *k)
        .find(|k| Some(*k) == field("action"))
        .unwrap_or("");
    let page = field("page").map(str::to_owned);
    let (rows, paging) = admin::run(&admin.state.store, move |conn| {
        admin::audit_page(
            conn,
            (!filter.is_empty()).then_some(filter),
            page.as_deref(),
            PER_PAGE,
        )
    })
    .await?;
    Ok(render(&pages::Audit {
        chrome: admin.chrome("audit", &req),
        pager: pages::Pager::new("/admin/audit", &[("action", filter)], &paging),
        filter: filter.to_owned(),
        filters: FILTERS.to_vec(),
        entries: rows.iter().map(AuditItem::from).collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::FILTERS;
    use crate::audit::AuditAction;

    #[test]
    fn every_action_has_a_filter() {
        for action in AuditAction::ALL {
            let shown = FILTERS
                .iter()
                .any(|(prefix, _)| !prefix.is_empty() && action.as_str().starts_with(prefix));
            assert!(shown, "no filter shows {action}");
        }
    }
}
