//! `tessera user import-django`: Django's `auth_user` rows, read from its database or from
//! `manage.py dumpdata auth.user`, become Tessera users. The Django primary key becomes the
//! Tessera id, so the `user_id` claim of every token names the same user the Django app's
//! resource servers look up, and no Tessera user can ever be issued a Django user's id.
//! Password hashes are kept as Django wrote them (checked here, verified at sign-in, then
//! replaced by Argon2id). A re-run updates the users it created and never duplicates one;
//! a bad row is one error line and the rest still import.
use chrono::{DateTime, NaiveDateTime};
use serde_json::Value;

use super::hashers::{self, DjangoHash};
use crate::config::DatabaseUrl;
use crate::domain::{Email, Username};
use crate::store::users::{self, ImportedUserRow};
use crate::store::{self, DbConnection, StoreError, django as source};

/// The `imported_from` value of users this import creates.
pub const SOURCE: &str = "django";

/// Which Django users become Tessera administrators (console access).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum AdminFrom {
    /// `is_superuser` (the default: staff may only have some model permissions in Django).
    Superuser,
    /// `is_staff` or `is_superuser`.
    Staff,
    /// Nobody: grant admin in Tessera afterwards.
    None,
}

/// A row that cannot be imported, with where it was and why: one line of output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{row}: {message}")]
pub struct RowError {
    pub row: String,
    pub message: String,
}

/// The whole import cannot run (an unreadable file or database); nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read {0}")]
    Read(String),
    #[error("{0}")]
    NotDumpdata(String),
    #[error("cannot read the Django database: {0}")]
    Source(StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One Django user, parsed and checked.
#[derive(Debug)]
pub struct DjangoUser {
    pub pk: i64,
    pub username: Username,
    /// Django's encoded hash, checked to be one Tessera verifies (or unusable).
    pub password: String,
    pub email: Option<Email>,
    pub name: Option<String>,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: Option<i64>,
    pub last_login: Option<i64>,
}

/// Who ran an import and from what, for its audit entry (never a database URL, which may
/// hold a password).
#[derive(Debug)]
pub struct ImportAudit<'a> {
    pub actor: &'a str,
    pub source: &'a str,
}

/// What a run did (or, in a dry run, would have done).
#[derive(Debug, Default)]
pub struct Report {
    pub created: usize,
    pub updated: usize,
    pub failed: Vec<RowError>,
    /// Users imported without a usable password (Django's `!...`): they cannot sign in.
    pub unusable: usize,
    pub dry_run: bool,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} created, {} updated, {} failed",
            self.created,
            self.updated,
            self.failed.len()
        )?;
        if self.unusable > 0 {
            write!(f, "; {} without a usable password", self.unusable)?;
        }
        if self.dry_run {
            write!(f, " (dry run: nothing written)")?;
        }
        Ok(())
    }
}

/// The columns of one row, from either source, before checking.
#[derive(Debug, Default)]
struct Fields {
    pk: Option<i64>,
    password: Option<String>,
    last_login: Option<String>,
    is_superuser: Option<bool>,
    username: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    is_staff: Option<bool>,
    is_active: Option<bool>,
    date_joined: Option<String>,
}

/// Django's datetimes: dumpdata's ISO 8601 (`2024-05-01T10:00:00.123Z`), PostgreSQL's text
/// (`2024-05-01 10:00:00.123456+00`), SQLite's naive UTC (`2024-05-01 10:00:00.123456`).
fn unix_time(field: &str, text: &str) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.timestamp());
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Ok(t.timestamp());
        }
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(t.and_utc().timestamp());
        }
    }
    Err(format!("{field} is not a date and time ('{text}')"))
}

fn check(row: String, f: Fields) -> Result<DjangoUser, RowError> {
    let fail = |message: String| RowError {
        row: row.clone(),
        message,
    };
    let pk = f.pk.ok_or_else(|| fail("no integer primary key".into()))?;
    if pk < 1 {
        return Err(fail(format!("primary key {pk} is not positive")));
    }
    let username = Username::parse(f.username.as_deref().unwrap_or_default()).map_err(&fail)?;
    let password = f.password.ok_or_else(|| fail("no password field".into()))?;
    DjangoHash::parse(&password).map_err(|e| fail(e.to_string()))?;
    let email = match f.email.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(Email::parse(raw).map_err(fail)?),
    };
    let name = [f.first_name, f.last_name]
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let time = |field: &str, value: Option<String>| {
        value
            .map(|v| unix_time(field, &v))
            .transpose()
            .map_err(&fail)
    };
    let flag = |field: &str, value: Option<bool>| {
        value.ok_or_else(|| fail(format!("{field} is not a boolean")))
    };
    Ok(DjangoUser {
        pk,
        username,
        password,
        email,
        name: Some(name).filter(|n| !n.is_empty()),
        is_active: flag("is_active", f.is_active)?,
        is_staff: flag("is_staff", f.is_staff)?,
        is_superuser: flag("is_superuser", f.is_superuser)?,
        date_joined: time("date_joined", f.date_joined)?,
        last_login: time("last_login", f.last_login)?,
    })
}

/// The rows of `manage.py dumpdata auth.user` (other models in the file are skipped).
pub fn from_dumpdata(json: &[u8]) -> Result<Vec<Result<DjangoUser, RowError>>, ImportError> {
    let value: Value = serde_json::from_slice(json)
        .map_err(|e| ImportError::NotDumpdata(format!("not a dumpdata JSON file: {e}")))?;
    let Value::Array(entries) = value else {
        return Err(ImportError::NotDumpdata(
            "not a dumpdata JSON file: expected a list of objects".into(),
        ));
    };
    let mut rows = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        let label = match entry.get("pk") {
            Some(pk) => format!("entry {} (pk {pk})", i + 1),
            None => format!("entry {}", i + 1),
        };
        let Some(model) = entry.get("model").and_then(Value::as_str) else {
            rows.push(Err(RowError {
                row: label,
                message: "not a dumpdata object (no \"model\")".into(),
            }));
            continue;
        };
        if model != "auth.user" {
            continue;
        }
        let Some(fields) = entry.get("fields").and_then(Value::as_object) else {
            rows.push(Err(RowError {
                row: label,
                message: "no \"fields\" object".into(),
            }));
            continue;
        };
        let text = |k: &str| fields.get(k).and_then(Value::as_str).map(str::to_owned);
        let flag = |k: &str| fields.get(k).and_then(Value::as_bool);
        rows.push(check(
            label,
            Fields {
                pk: entry.get("pk").and_then(Value::as_i64),
                password: text("password"),
                last_login: text("last_login"),
                is_superuser: flag("is_superuser"),
                username: text("username"),
                first_name: text("first_name"),
                last_name: text("last_name"),
                email: text("email"),
                is_staff: flag("is_staff"),
                is_active: flag("is_active"),
                date_joined: text("date_joined"),
            },
        ));
    }
    Ok(rows)
}

/// A boolean column as SQLite (`1`/`0`) or PostgreSQL (`true`/`false`) renders it as text.
fn db_bool(text: Option<&str>) -> Option<bool> {
    match text? {
        "1" | "true" | "t" => Some(true),
        "0" | "false" | "f" => Some(false),
        _ => None,
    }
}

/// The rows of `auth_user` in the Django database at `url`.
pub fn from_database(url: &DatabaseUrl) -> Result<Vec<Result<DjangoUser, RowError>>, ImportError> {
    let rows = source::auth_users(url).map_err(ImportError::Source)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let label = format!("pk {}", r.id.as_deref().unwrap_or("NULL"));
            check(
                label,
                Fields {
                    pk: r.id.as_deref().and_then(|s| s.parse().ok()),
                    password: r.password,
                    last_login: r.last_login,
                    is_superuser: db_bool(r.is_superuser.as_deref()),
                    username: r.username,
                    first_name: r.first_name,
                    last_name: r.last_name,
                    email: r.email,
                    is_staff: db_bool(r.is_staff.as_deref()),
                    is_active: db_bool(r.is_active.as_deref()),
                    date_joined: r.date_joined,
                },
            )
        })
        .collect())
}

enum Applied {
    Created,
    Updated,
}

/// A row refused (a taken id or username), or a fault that stops the run.
enum Refused {
    Row(String),
    Store(StoreError),
}

impl From<StoreError> for Refused {
    fn from(e: StoreError) -> Self {
        Refused::Store(e)
    }
}

fn apply(
    conn: &mut DbConnection,
    now: i64,
    user: &DjangoUser,
    admin_from: AdminFrom,
) -> Result<Applied, Refused> {
    let is_admin = match admin_from {
        AdminFrom::Superuser => user.is_superuser,
        AdminFrom::Staff => user.is_superuser || user.is_staff,
        AdminFrom::None => false,
    };
    let existing = users::by_id(conn, user.pk)?;
    let mut row = ImportedUserRow {
        id: user.pk,
        username: user.username.as_str(),
        email: user.email.as_ref().map(Email::as_str),
        name: user.name.as_deref(),
        is_admin,
        is_active: user.is_active,
        created_at: user.date_joined.unwrap_or(now),
        updated_at: now,
        last_login_at: user.last_login,
        imported_from: SOURCE,
    };
    // Checked before writing: on PostgreSQL a failed insert aborts the savepoint, and
    // nothing more could be asked inside it.
    if let Some(other) = users::by_username(conn, user.username.as_str())?
        && other.id != user.pk
    {
        return Err(Refused::Row(format!(
            "username '{}' is taken by Tessera user {}",
            other.username, other.id
        )));
    }
    let taken = |e: StoreError| match e {
        StoreError::Conflict => Refused::Row(format!("id {} is taken", user.pk)),
        other => Refused::Store(other),
    };
    match existing {
        None => {
            let subject = uuid::Uuid::new_v4().to_string();
            users::insert_imported(conn, &row, &subject, &user.password).map_err(taken)?;
            Ok(Applied::Created)
        }
        Some(current) if current.imported_from.as_deref() == Some(SOURCE) => {
            // Once the user signed in here, Tessera's Argon2id hash (and any password set
            // here) is the current one; before that, Django's may have changed.
            let password =
                hashers::is_django_hash(&current.password_hash).then_some(user.password.as_str());
            row.last_login_at = row.last_login_at.max(current.last_login_at);
            users::update_imported(conn, &row, password).map_err(taken)?;
            Ok(Applied::Updated)
        }
        Some(current) => Err(Refused::Row(format!(
            "id {} belongs to Tessera user '{}', which was not imported from Django \
             (import into a database that has no users of its own)",
            user.pk, current.username
        ))),
    }
}

/// A dry run ends by rolling back everything it did.
enum Outcome {
    Rollback(Report),
    Failed(StoreError),
}

impl From<StoreError> for Outcome {
    fn from(e: StoreError) -> Self {
        Outcome::Failed(e)
    }
}

/// Write `rows` (already parsed; bad ones are reported) in one transaction: each row in its
/// own savepoint, so a refused row leaves the others in. A dry run rolls everything back
/// and reports what would have happened, conflicts included.
pub fn import(
    conn: &mut DbConnection,
    now: i64,
    rows: Vec<Result<DjangoUser, RowError>>,
    admin_from: AdminFrom,
    dry_run: bool,
    audit: &ImportAudit<'_>,
) -> Result<Report, StoreError> {
    let outcome = store::transaction(conn, |conn| {
        let mut report = Report {
            dry_run,
            ..Report::default()
        };
        for row in rows {
            let user = match row {
                Ok(user) => user,
                Err(e) => {
                    report.failed.push(e);
                    continue;
                }
            };
            let label = format!("pk {} ('{}')", user.pk, user.username.as_str());
            // A refused row rolls back to its savepoint and leaves nothing behind.
            let applied = store::transaction(conn, |conn| apply(conn, now, &user, admin_from));
            match applied {
                Ok(Applied::Created) => report.created += 1,
                Ok(Applied::Updated) => report.updated += 1,
                Err(Refused::Row(message)) => {
                    report.failed.push(RowError {
                        row: label,
                        message,
                    });
                    continue;
                }
                Err(Refused::Store(e)) => return Err(Outcome::Failed(e)),
            }
            if DjangoHash::parse(&user.password).is_ok_and(|h| h == DjangoHash::Unusable) {
                report.unusable += 1;
            }
        }
        users::advance_id_sequence(conn)?;
        // In the same transaction: a run is in the log exactly when its users are, and a
        // dry run leaves neither.
        let detail = format!(
            "{} created, {} updated, {} failed",
            report.created,
            report.updated,
            report.failed.len()
        );
        crate::audit::record(
            conn,
            now,
            &crate::audit::Entry {
                actor: Some(audit.actor),
                action: crate::audit::AuditAction::UsersImported,
                target: Some(audit.source),
                detail: Some(&detail),
                ip: None,
            },
        )?;
        if dry_run {
            Err(Outcome::Rollback(report))
        } else {
            Ok(report)
        }
    });
    match outcome {
        Ok(report) | Err(Outcome::Rollback(report)) => Ok(report),
        Err(Outcome::Failed(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "pbkdf2_sha256$1000$seasalt1$0UvS6l9UWQG4zEMeKWDwJFnUyGmC4VWfwUskGdk54Es=";

    fn entry(pk: Value, fields: Value) -> Value {
        serde_json::json!({"model": "auth.user", "pk": pk, "fields": fields})
    }

    fn good(username: &str) -> Value {
        serde_json::json!({
            "password": HASH, "last_login": null, "is_superuser": false,
            "username": username, "first_name": "Ada", "last_name": "Lovelace",
            "email": "ada@example.com", "is_staff": false, "is_active": true,
            "date_joined": "2024-05-01T10:00:00.123Z", "groups": [], "user_permissions": []
        })
    }

    #[test]
    fn reads_dumpdata_rows_and_reports_each_bad_one() {
        let mut bad_hash = good("bob");
        bad_hash["password"] = "md5$x$y".into();
        let mut bad_name = good("no spaces allowed");
        bad_name["username"] = "no spaces allowed".into();
        let mut bad_time = good("carol");
        bad_time["date_joined"] = "yesterday".into();
        let mut bad_flag = good("dave");
        bad_flag["is_active"] = "yes".into();
        let file = serde_json::json!([
            entry(1.into(), good("ada")),
            entry(2.into(), bad_hash),
            entry(3.into(), bad_name),
            entry("x".into(), good("eve")),
            entry(5.into(), bad_time),
            entry(6.into(), bad_flag),
            {"model": "auth.group", "pk": 1, "fields": {"name": "staff"}},
            {"pk": 9},
            entry(0.into(), good("zero")),
        ]);
        let rows = from_dumpdata(file.to_string().as_bytes()).unwrap();
        assert_eq!(rows.len(), 8, "the group is skipped");
        let ada = rows[0].as_ref().unwrap();
        assert_eq!(ada.pk, 1);
        assert_eq!(ada.name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(ada.date_joined, Some(1_714_557_600));
        let errors: Vec<String> = rows[1..]
            .iter()
            .map(|r| r.as_ref().unwrap_err().to_string())
            .collect();
        assert!(
            errors[0].starts_with("entry 2 (pk 2): password hasher 'md5'"),
            "{}",
            errors[0]
        );
        assert!(
            errors[1].starts_with("entry 3 (pk 3): username may contain only"),
            "{}",
            errors[1]
        );
        assert_eq!(errors[2], "entry 4 (pk \"x\"): no integer primary key");
        assert_eq!(
            errors[3],
            "entry 5 (pk 5): date_joined is not a date and time ('yesterday')"
        );
        assert_eq!(errors[4], "entry 6 (pk 6): is_active is not a boolean");
        assert_eq!(
            errors[5],
            "entry 8 (pk 9): not a dumpdata object (no \"model\")"
        );
        assert_eq!(errors[6], "entry 9 (pk 0): primary key 0 is not positive");
    }

    #[test]
    fn refuses_files_that_are_not_dumpdata() {
        for file in [&b"{}"[..], b"not json", b"\"auth.user\""] {
            assert!(matches!(
                from_dumpdata(file),
                Err(ImportError::NotDumpdata(_))
            ));
        }
    }

    #[test]
    fn reads_every_datetime_django_writes() {
        for (text, expected) in [
            ("2024-05-01T10:00:00Z", 1_714_557_600),
            ("2024-05-01T10:00:00.123Z", 1_714_557_600),
            ("2024-05-01T12:00:00+02:00", 1_714_557_600),
            ("2024-05-01 10:00:00.123456+00", 1_714_557_600),
            ("2024-05-01 10:00:00.123456", 1_714_557_600),
            ("2024-05-01 10:00:00", 1_714_557_600),
            ("2024-05-01T10:00:00", 1_714_557_600),
        ] {
            assert_eq!(unix_time("t", text), Ok(expected), "{text}");
        }
    }
}
