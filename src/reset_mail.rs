//! Reset links by email, when a mail server is configured: "Forgot password?" (a user names
//! their account by username or email address) and the console's "Email reset link". The
//! link is an ordinary one-time link from `crate::resets`, with a shorter life. A request
//! gets the same answer whether or not the account exists: the lookup, the link and the
//! sending all happen after the answer, off the request path, so neither the page nor its
//! timing tells. Requests are counted per address (before any lookup) and per account.
use crate::audit::{self, AuditAction, Entry};
use crate::clock::SharedClock;
use crate::mail::{self, MailError, SmtpSettings};
use crate::resets;
use crate::secrets::SecretString;
use crate::store::reset_mail as store;
use crate::store::users as user_store;
use crate::store::{DbConnection, Store, StoreError};

/// How long an emailed link works: mailboxes are read, forwarded and synced, so shorter
/// than the console's default.
pub const EMAIL_TTL: i64 = 1800;
/// The window requests are counted in.
pub const WINDOW: i64 = 3600;
/// Requests per address per window, whatever they name: an office behind one address
/// still gets a few; a script sending mail to strangers does not.
pub const ADDRESS_LIMIT: i64 = 10;
/// Emails per account per window, however it was named: a mailbox is not flooded.
pub const ACCOUNT_LIMIT: i64 = 3;
/// Accounts one email address may name (several may share one); more are not mailed.
const ACCOUNTS_PER_ADDRESS: i64 = 3;
/// The longest identifier looked up; longer ones name no account.
const IDENTIFIER_MAX: usize = 254;

/// Count a request from `ip` (or from nowhere known); `false` once the address used up its
/// window. Counted before the lookup, so it says nothing about the account named.
pub fn admit(conn: &mut DbConnection, now: i64, ip: Option<&str>) -> Result<bool, StoreError> {
    let _ = store::prune(conn, now - WINDOW)?;
    let bucket = format!("address:{}", ip.unwrap_or("unknown"));
    let n = store::count(conn, &crate::secrets::digest(&bucket), now, WINDOW)?;
    Ok(n <= ADDRESS_LIMIT)
}

/// A reset email about to go out. The token is the link's secret: never logged.
#[derive(Debug)]
pub struct Outgoing {
    pub username: String,
    pub name: Option<String>,
    pub email: String,
    pub token: SecretString,
    pub expires_at: i64,
}

/// The accounts `identifier` names (a username, else an email address), active, with an
/// email address, and under their own limit: each gets a new link. Throttled ones are
/// audited and skipped.
pub fn prepare(
    conn: &mut DbConnection,
    now: i64,
    identifier: &str,
    ip: Option<&str>,
) -> Result<Vec<Outgoing>, StoreError> {
    let identifier = identifier.trim();
    if identifier.is_empty() || identifier.len() > IDENTIFIER_MAX {
        return Ok(Vec::new());
    }
    let users = match user_store::by_username(conn, identifier)? {
        Some(user) => vec![user],
        None if identifier.contains('@') => {
            store::users_by_email(conn, identifier, ACCOUNTS_PER_ADDRESS)?
        }
        None => Vec::new(),
    };
    let mut out = Vec::new();
    for user in users {
        let Some(email) = user.email.clone().filter(|_| user.is_active) else {
            continue;
        };
        let bucket = crate::secrets::digest(&format!("account:{}", user.id));
        if store::count(conn, &bucket, now, WINDOW)? > ACCOUNT_LIMIT {
            audit::record(
                conn,
                now,
                &Entry {
                    actor: None,
                    action: AuditAction::AccountResetMailThrottled,
                    target: Some(&user.username),
                    detail: Some(&format!("more than {ACCOUNT_LIMIT} in an hour")),
                    ip,
                },
            )?;
            continue;
        }
        let token = resets::issue(conn, now, user.id, EMAIL_TTL, "email")?;
        out.push(Outgoing {
            username: user.username,
            name: user.name,
            email,
            token: SecretString::new(token),
            expires_at: now + EMAIL_TTL,
        });
    }
    Ok(out)
}

/// The email carrying a link.
pub fn compose(
    smtp: &SmtpSettings,
    issuer_endpoint: &dyn Fn(&str) -> String,
    to: &Outgoing,
) -> Result<lettre::Message, MailError> {
    let link = issuer_endpoint(&resets::path(to.token.expose()));
    let greeting = mail::without_controls(to.name.as_deref().unwrap_or(&to.username));
    let body = format!(
        "Hello {greeting},\r\n\r\n\
         Someone asked to reset the password of the account \"{username}\" at\r\n\
         {issuer}.\r\n\r\n\
         To choose a new password, open this link. It works once, until\r\n\
         {expires}:\r\n\r\n\
         {link}\r\n\r\n\
         If you did not ask for this, ignore this email: your password stays as it is.\r\n",
        username = to.username,
        issuer = issuer_endpoint("/"),
        expires = crate::views::when(to.expires_at),
    );
    mail::message(
        smtp,
        to.name.as_deref(),
        &to.email,
        "Reset your password",
        body,
    )
}

/// Send one prepared email and audit the outcome (the error's text, never the link).
pub async fn deliver(
    store: &Store,
    clock: &SharedClock,
    smtp: &SmtpSettings,
    issuer_endpoint: &dyn Fn(&str) -> String,
    actor: Option<&str>,
    ip: Option<&str>,
    to: &Outgoing,
) -> Result<(), MailError> {
    let sent = match compose(smtp, issuer_endpoint, to) {
        Ok(message) => mail::send(smtp, message).await,
        Err(e) => Err(e),
    };
    let (action, detail) = match &sent {
        Ok(()) => (
            AuditAction::AccountResetMailSent,
            format!("to {}", to.email),
        ),
        Err(e) => {
            tracing::warn!(user = %to.username, server = %smtp.shown(), error = %e, "reset email not sent");
            (
                AuditAction::AccountResetMailFailed,
                format!("to {}: {e}", to.email),
            )
        }
    };
    let (username, actor, ip) = (
        to.username.clone(),
        actor.map(str::to_owned),
        ip.map(str::to_owned),
    );
    let now = clock.unix();
    let recorded = store
        .run(move |conn| {
            audit::record(
                conn,
                now,
                &Entry {
                    actor: actor.as_deref(),
                    action,
                    target: Some(&username),
                    detail: Some(&detail),
                    ip: ip.as_deref(),
                },
            )
        })
        .await;
    if let Err(e) = recorded {
        tracing::error!(error = %e, "reset email outcome not audited");
    }
    sent
}

/// A "Forgot password?" request, after its answer was sent: find the accounts, issue their
/// links, send them. Failures are logged and audited; there is nobody left to tell.
pub async fn fulfil(
    store: Store,
    clock: SharedClock,
    smtp: SmtpSettings,
    issuer: String,
    identifier: String,
    ip: Option<String>,
) {
    let now = clock.unix();
    let prepared = {
        let ip = ip.clone();
        store
            .run(move |conn| prepare(conn, now, &identifier, ip.as_deref()))
            .await
    };
    let outgoing = match prepared {
        Ok(outgoing) => outgoing,
        Err(e) => {
            tracing::error!(error = %e, "reset request not handled");
            return;
        }
    };
    if outgoing.is_empty() {
        tracing::info!("reset requested for no account with an email address");
    }
    let endpoint = |path: &str| format!("{}{}", issuer.trim_end_matches('/'), path);
    for to in &outgoing {
        let _ = deliver(&store, &clock, &smtp, &endpoint, None, ip.as_deref(), to).await;
    }
}
