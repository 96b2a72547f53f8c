//! Settings: built-in defaults, then an optional TOML file, then `TESSERA_*` environment variables.
//!
//! Every value is checked here, once; a wrong one becomes a one-line error naming the setting.
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

/// A bad setting: the message names the setting and says what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid {setting}: {reason}")]
    Invalid { setting: String, reason: String },
    #[error("cannot read config file {path}: {reason}")]
    File { path: PathBuf, reason: String },
}

fn invalid(setting: &str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting: setting.to_owned(),
        reason: reason.into(),
    }
}

/// Which database engine a URL selects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// Path of the SQLite file (`sqlite://tessera.db` -> `tessera.db`).
    Sqlite(String),
    /// A libpq connection URL, passed through unchanged.
    Postgres(String),
}

impl DatabaseUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path, e.g. sqlite://tessera.db".into());
            }
            Ok(Self::Sqlite(path.to_owned()))
        } else if let Some(path) = raw.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err("sqlite: needs a file path, e.g. sqlite://tessera.db".into());
            }
            Ok(Self::Sqlite(path.to_owned()))
        } else if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            Url::parse(raw).map_err(|e| format!("not a valid PostgreSQL URL ({e})"))?;
            Ok(Self::Postgres(raw.to_owned()))
        } else {
            Err(format!(
                "expected sqlite://PATH or postgres://..., got '{}'",
                crate::secrets::redact_url(raw)
            ))
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            Self::Sqlite(_) => "sqlite",
            Self::Postgres(_) => "postgres",
        }
    }
}

/// Log output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// The validated settings of one Tessera process.
#[derive(Clone, Debug)]
pub struct Settings {
    pub listen: SocketAddr,
    /// Exactly as configured (no slash added or removed): it is the `iss` of every token.
    pub issuer: String,
    pub database_url: DatabaseUrl,
    pub database_pool_size: u32,
    pub keys_dir: PathBuf,
    pub keys_reload_interval: Duration,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub authorization_code_ttl: Duration,
    pub session_ttl: Duration,
    pub workers: usize,
    pub trusted_proxies: Vec<IpAddr>,
    pub log_format: LogFormat,
    pub jwks_max_age: Duration,
    /// The `aud` of access tokens; defaults to the issuer.
    pub access_token_audience: Option<String>,
    /// Where `/metrics` is served apart from the main listener (so a proxy never exposes
    /// it); `None` serves it on the main listener.
    pub metrics_listen: Option<SocketAddr>,
    /// After SIGTERM, how long `/readyz` answers 503 while requests are still served, so a
    /// load balancer takes the instance out before it stops accepting connections.
    pub shutdown_drain: Duration,
    /// How long a new key is published before it signs, so resource servers that cache the
    /// JWKS (for its max-age) know it before they see a token it signed.
    pub key_activation_delay: Duration,
    /// Publish a new signing key once the newest is this old; `None` (default): by hand.
    pub key_rotation_interval: Option<Duration>,
    /// Seals the signing keys' private parts in the database; `None`: the file `kek` in
    /// the keys folder (see `crate::kek`).
    pub key_encryption_key: Option<crate::kek::Kek>,
    /// SimpleJWT's settings for the `/api/token/` API (`TESSERA_SIMPLEJWT_*`).
    pub simplejwt: crate::simplejwt::settings::SimpleJwtSettings,
    /// How long a just-rotated refresh token, presented again, gets the same successor
    /// pair instead of revoking its family; zero turns the grace off.
    pub refresh_grace: Duration,
    /// Failed sign-ins per account and address before the throttle locks (4× per address,
    /// 10× per account: see `crate::throttle`).
    pub login_free_failures: u32,
    /// The longest a throttled bucket stays locked; zero turns the throttle off.
    pub login_max_lockout: Duration,
    /// The longest a request waits for a database connection (and PostgreSQL's connect
    /// timeout): past it, the request answers 503 instead of hanging through an outage.
    pub database_timeout: Duration,
    /// How long a client may take to send a request's head before it gets 408.
    pub client_request_timeout: Duration,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive: Duration,
    /// The mail server reset emails go through (`smtp_url`, `smtp_from`, `smtp_timeout`);
    /// `None`: Tessera sends no email and offers no "Forgot password?".
    pub smtp: Option<crate::mail::SmtpSettings>,
    /// Dynamic client registration (RFC 7591): off, open or by initial access token, and
    /// what a self-registered client may get (`registration*` settings).
    pub registration: crate::registration::policy::RegistrationPolicy,
    /// Every client must push its authorization requests (RFC 9126 §5); off by default,
    /// when only clients registered with it must.
    pub require_par: bool,
}

impl Settings {
    /// The audience access tokens are issued for.
    pub fn audience(&self) -> &str {
        self.access_token_audience
            .as_deref()
            .unwrap_or(&self.issuer)
    }

    /// An absolute URL under the issuer, e.g. `endpoint("/oauth/token")`.
    pub fn endpoint(&self, path: &str) -> String {
        format!("{}{}", self.issuer.trim_end_matches('/'), path)
    }

    /// Whether cookies must carry `Secure`: the issuer is served over https.
    pub fn is_https(&self) -> bool {
        self.issuer.starts_with("https://")
    }
}

/// The TOML file's shape; every field optional, unknown keys rejected so typos surface.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<String>,
    issuer: Option<String>,
    database_url: Option<String>,
    database_pool_size: Option<toml::Value>,
    keys_dir: Option<String>,
    keys_reload_interval: Option<toml::Value>,
    access_token_ttl: Option<toml::Value>,
    refresh_token_ttl: Option<toml::Value>,
    authorization_code_ttl: Option<toml::Value>,
    session_ttl: Option<toml::Value>,
    workers: Option<toml::Value>,
    trusted_proxies: Option<toml::Value>,
    log_format: Option<String>,
    jwks_max_age: Option<toml::Value>,
    access_token_audience: Option<String>,
    metrics_listen: Option<String>,
    shutdown_drain: Option<toml::Value>,
    key_activation_delay: Option<toml::Value>,
    key_rotation_interval: Option<toml::Value>,
    key_encryption_key: Option<String>,
    /// `[simplejwt]`: read by `simplejwt::settings`.
    simplejwt: Option<toml::Table>,
    refresh_grace: Option<toml::Value>,
    login_free_failures: Option<toml::Value>,
    login_max_lockout: Option<toml::Value>,
    database_timeout: Option<toml::Value>,
    client_request_timeout: Option<toml::Value>,
    keep_alive: Option<toml::Value>,
    smtp_url: Option<String>,
    smtp_from: Option<String>,
    smtp_timeout: Option<toml::Value>,
    registration: Option<String>,
    registration_redirect_uris: Option<toml::Value>,
    registration_scopes: Option<toml::Value>,
    registration_grant_types: Option<toml::Value>,
    registration_resources: Option<toml::Value>,
    require_par: Option<toml::Value>,
}

/// Every setting's name, in file form; the environment variable is `TESSERA_` + upper case.
pub const SETTINGS: &[&str] = &[
    "listen",
    "issuer",
    "database_url",
    "database_pool_size",
    "keys_dir",
    "keys_reload_interval",
    "access_token_ttl",
    "refresh_token_ttl",
    "authorization_code_ttl",
    "session_ttl",
    "workers",
    "trusted_proxies",
    "log_format",
    "jwks_max_age",
    "access_token_audience",
    "metrics_listen",
    "shutdown_drain",
    "key_activation_delay",
    "key_rotation_interval",
    "key_encryption_key",
    "refresh_grace",
    "login_free_failures",
    "login_max_lockout",
    "database_timeout",
    "client_request_timeout",
    "keep_alive",
    "smtp_url",
    "smtp_from",
    "smtp_timeout",
    "registration",
    "registration_redirect_uris",
    "registration_scopes",
    "registration_grant_types",
    "registration_resources",
    "require_par",
];

/// Raw values as strings, keyed by setting name, with where each came from.
struct Raw {
    values: HashMap<&'static str, (String, String)>,
}

impl Raw {
    fn get(&self, key: &str) -> Option<(&str, &str)> {
        self.values
            .get(key)
            .map(|(v, origin)| (v.as_str(), origin.as_str()))
    }
}

fn toml_to_string(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Array(items) => items
            .iter()
            .map(toml_to_string)
            .collect::<Vec<_>>()
            .join(","),
        other => other.to_string(),
    }
}

impl Settings {
    /// Load settings from the process environment and an optional file
    /// (`file` wins over `TESSERA_CONFIG`).
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let env: HashMap<String, String> = std::env::vars().collect();
        Self::load_from(file, &env)
    }

    /// Load settings from an explicit environment map (tests pass their own).
    pub fn load_from(
        file: Option<&Path>,
        env: &HashMap<String, String>,
    ) -> Result<Self, ConfigError> {
        let mut raw = Raw {
            values: HashMap::new(),
        };
        let mut simplejwt = HashMap::new();
        let config_path = file
            .map(Path::to_path_buf)
            .or_else(|| env.get("TESSERA_CONFIG").map(PathBuf::from));
        if let Some(path) = config_path {
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError::File {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            let parsed: FileSettings = toml::from_str(&text).map_err(|e| ConfigError::File {
                path: path.clone(),
                reason: e.message().to_owned(),
            })?;
            let origin = path.display().to_string();
            let mut put = |key: &'static str, value: Option<String>| {
                if let Some(v) = value {
                    raw.values.insert(key, (v, format!("{key} in {origin}")));
                }
            };
            put("listen", parsed.listen);
            put("issuer", parsed.issuer);
            put("database_url", parsed.database_url);
            put(
                "database_pool_size",
                parsed.database_pool_size.as_ref().map(toml_to_string),
            );
            put("keys_dir", parsed.keys_dir);
            put(
                "keys_reload_interval",
                parsed.keys_reload_interval.as_ref().map(toml_to_string),
            );
            put(
                "access_token_ttl",
                parsed.access_token_ttl.as_ref().map(toml_to_string),
            );
            put(
                "refresh_token_ttl",
                parsed.refresh_token_ttl.as_ref().map(toml_to_string),
            );
            put(
                "authorization_code_ttl",
                parsed.authorization_code_ttl.as_ref().map(toml_to_string),
            );
            put(
                "session_ttl",
                parsed.session_ttl.as_ref().map(toml_to_string),
            );
            put("workers", parsed.workers.as_ref().map(toml_to_string));
            put(
                "trusted_proxies",
                parsed.trusted_proxies.as_ref().map(toml_to_string),
            );
            put("log_format", parsed.log_format);
            put(
                "jwks_max_age",
                parsed.jwks_max_age.as_ref().map(toml_to_string),
            );
            put("access_token_audience", parsed.access_token_audience);
            put("metrics_listen", parsed.metrics_listen);
            put(
                "shutdown_drain",
                parsed.shutdown_drain.as_ref().map(toml_to_string),
            );
            put(
                "key_activation_delay",
                parsed.key_activation_delay.as_ref().map(toml_to_string),
            );
            put(
                "key_rotation_interval",
                parsed.key_rotation_interval.as_ref().map(toml_to_string),
            );
            put("key_encryption_key", parsed.key_encryption_key);
            for (key, value) in parsed.simplejwt.unwrap_or_default() {
                let at = format!("simplejwt.{key} in {origin}");
                simplejwt.insert(key, (toml_to_string(&value), at));
            }
            put(
                "refresh_grace",
                parsed.refresh_grace.as_ref().map(toml_to_string),
            );
            put(
                "login_free_failures",
                parsed.login_free_failures.as_ref().map(toml_to_string),
            );
            put(
                "login_max_lockout",
                parsed.login_max_lockout.as_ref().map(toml_to_string),
            );
            put(
                "database_timeout",
                parsed.database_timeout.as_ref().map(toml_to_string),
            );
            put(
                "client_request_timeout",
                parsed.client_request_timeout.as_ref().map(toml_to_string),
            );
            put("keep_alive", parsed.keep_alive.as_ref().map(toml_to_string));
            put("smtp_url", parsed.smtp_url);
            put("smtp_from", parsed.smtp_from);
            put(
                "smtp_timeout",
                parsed.smtp_timeout.as_ref().map(toml_to_string),
            );
            put("registration", parsed.registration);
            put(
                "registration_redirect_uris",
                parsed
                    .registration_redirect_uris
                    .as_ref()
                    .map(toml_to_string),
            );
            put(
                "registration_scopes",
                parsed.registration_scopes.as_ref().map(toml_to_string),
            );
            put(
                "registration_grant_types",
                parsed.registration_grant_types.as_ref().map(toml_to_string),
            );
            put(
                "registration_resources",
                parsed.registration_resources.as_ref().map(toml_to_string),
            );
            put(
                "require_par",
                parsed.require_par.as_ref().map(toml_to_string),
            );
        }
        for key in crate::simplejwt::settings::NAMES {
            let var = format!("TESSERA_SIMPLEJWT_{}", key.to_uppercase());
            if let Some(v) = env.get(&var) {
                simplejwt.insert(key.to_owned(), (v.clone(), var));
            }
        }
        if let Some(key) = simplejwt
            .keys()
            .find(|k| !crate::simplejwt::settings::NAMES.contains(&k.as_str()))
        {
            return Err(invalid(&format!("simplejwt.{key}"), "unknown setting"));
        }
        let simplejwt = crate::simplejwt::settings::SimpleJwtSettings::parse(&simplejwt)
            .map_err(|(origin, reason)| invalid(&origin, reason))?;
        for key in SETTINGS {
            let var = format!("TESSERA_{}", key.to_uppercase());
            if let Some(v) = env.get(&var) {
                raw.values.insert(key, (v.clone(), var));
            }
        }
        Ok(Settings {
            simplejwt,
            ..Self::from_raw(&raw)?
        })
    }

    fn from_raw(raw: &Raw) -> Result<Self, ConfigError> {
        let listen = parse_with(raw, "listen", "127.0.0.1:8080", |s| {
            s.parse::<SocketAddr>()
                .map_err(|_| format!("expected HOST:PORT such as 127.0.0.1:8080, got '{s}'"))
        })?;
        let issuer = parse_with(raw, "issuer", "http://127.0.0.1:8080", parse_issuer)?;
        let database_url = parse_with(
            raw,
            "database_url",
            "sqlite://tessera.db",
            DatabaseUrl::parse,
        )?;
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let workers = parse_with(raw, "workers", &cores.to_string(), |s| {
            positive::<usize>(s, "a positive number of worker threads")
        })?;
        let default_pool = (workers * 4).clamp(4, 32).to_string();
        let database_pool_size = parse_with(raw, "database_pool_size", &default_pool, |s| {
            positive::<u32>(s, "a positive number of connections")
        })?;
        let keys_dir = parse_with(raw, "keys_dir", "keys", |s| {
            if s.is_empty() {
                Err("expected a directory path".to_owned())
            } else {
                Ok(PathBuf::from(s))
            }
        })?;
        let keys_reload_interval = parse_with(raw, "keys_reload_interval", "2", duration_ms_ok)?;
        let access_token_ttl = parse_with(raw, "access_token_ttl", "300", seconds)?;
        let refresh_token_ttl = parse_with(raw, "refresh_token_ttl", "86400", seconds)?;
        let authorization_code_ttl = parse_with(raw, "authorization_code_ttl", "60", |s| {
            let d = seconds(s)?;
            if d > Duration::from_secs(60) {
                return Err(format!(
                    "authorization codes may live at most 60 seconds, got {s}"
                ));
            }
            Ok(d)
        })?;
        let session_ttl = parse_with(raw, "session_ttl", "28800", seconds)?;
        let jwks_max_age = parse_with(raw, "jwks_max_age", "300", |s| {
            s.trim()
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("expected a number of seconds, got '{s}'"))
        })?;
        let trusted_proxies = parse_with(raw, "trusted_proxies", "", |s| {
            s.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.parse::<IpAddr>()
                        .map_err(|_| format!("expected comma-separated IP addresses, got '{p}'"))
                })
                .collect()
        })?;
        let log_format = parse_with(raw, "log_format", "text", |s| match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("expected 'text' or 'json', got '{other}'")),
        })?;
        // Capped so pruning knows when sealed rotation answers are dead (see
        // store::maintenance::MAX_REFRESH_GRACE); a longer window would only help thieves.
        let refresh_grace = parse_with(raw, "refresh_grace", "5", |s| {
            let max = crate::store::maintenance::MAX_REFRESH_GRACE;
            match s.trim().parse::<u64>() {
                Ok(n) if n <= max.unsigned_abs() => Ok(Duration::from_secs(n)),
                _ => Err(format!(
                    "expected a number of seconds from 0 (off) to {max}, got '{s}'"
                )),
            }
        })?;
        let login_free_failures = parse_with(raw, "login_free_failures", "5", |s| {
            positive::<u32>(s, "a positive number of failed sign-ins")
        })?;
        let login_max_lockout = parse_with(raw, "login_max_lockout", "900", |s| {
            s.trim()
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("expected a number of seconds (0 turns it off), got '{s}'"))
        })?;
        let database_timeout = parse_with(raw, "database_timeout", "5", |s| {
            bounded_seconds(s, 0.5, 60.0)
        })?;
        let client_request_timeout = parse_with(raw, "client_request_timeout", "5", |s| {
            bounded_seconds(s, 0.1, 300.0)
        })?;
        let keep_alive = parse_with(raw, "keep_alive", "5", |s| bounded_seconds(s, 0.1, 3600.0))?;
        let access_token_audience = match raw.get("access_token_audience") {
            Some(("", origin)) => return Err(invalid(origin, "must not be empty")),
            Some((v, _)) => Some(v.to_owned()),
            None => None,
        };
        let metrics_listen = match raw.get("metrics_listen") {
            None | Some(("", _)) => None,
            Some((v, origin)) => Some(v.parse::<SocketAddr>().map_err(|_| {
                invalid(
                    origin,
                    format!("expected HOST:PORT such as 127.0.0.1:9090, got '{v}'"),
                )
            })?),
        };
        let shutdown_drain = parse_with(raw, "shutdown_drain", "0", |s| {
            match s.trim().parse::<f64>() {
                Ok(n) if n.is_finite() && (0.0..=300.0).contains(&n) => {
                    Ok(Duration::from_secs_f64(n))
                }
                _ => Err(format!("expected 0 to 300 seconds, got '{s}'")),
            }
        })?;
        // Default: a JWKS fetched just before the rotation is stale for at most its max-age;
        // a minute more covers clocks and slow refetches.
        let default_delay = (jwks_max_age.as_secs() + 60).to_string();
        let key_activation_delay = parse_with(raw, "key_activation_delay", &default_delay, |s| {
            s.trim()
                .parse::<u64>()
                .map(Duration::from_secs)
                .map_err(|_| format!("expected a number of seconds, got '{s}'"))
        })?;
        let key_rotation_interval = match raw.get("key_rotation_interval") {
            None | Some(("", _)) | Some(("0", _)) => None,
            Some((v, origin)) => {
                let every = seconds(v).map_err(|e| invalid(origin, e))?;
                // Rotating faster than a key can activate would never let one sign.
                if every <= key_activation_delay {
                    return Err(invalid(
                        origin,
                        format!(
                            "must be longer than the key activation delay ({} s), got {v}",
                            key_activation_delay.as_secs()
                        ),
                    ));
                }
                Some(every)
            }
        };
        // Never echoed back: the value is a secret, the error says what shape it must have.
        let key_encryption_key = match raw.get("key_encryption_key") {
            None | Some(("", _)) => None,
            Some((v, origin)) => {
                Some(crate::kek::Kek::parse(v).map_err(|e| invalid(origin, e.to_string()))?)
            }
        };
        let smtp = smtp(raw)?;
        let registration = registration(raw)?;
        let require_par = parse_with(raw, "require_par", "false", |s| {
            match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" | "on" => Ok(true),
                "false" | "0" | "no" | "off" => Ok(false),
                _ => Err(format!("expected true or false, got '{s}'")),
            }
        })?;
        Ok(Settings {
            require_par,
            registration,
            smtp,
            database_timeout,
            client_request_timeout,
            keep_alive,
            key_encryption_key,
            key_rotation_interval,
            key_activation_delay,
            shutdown_drain,
            metrics_listen,
            access_token_audience,
            simplejwt: Default::default(),
            refresh_grace,
            login_free_failures,
            login_max_lockout,
            listen,
            issuer,
            database_url,
            database_pool_size,
            keys_dir,
            keys_reload_interval,
            access_token_ttl,
            refresh_token_ttl,
            authorization_code_ttl,
            session_ttl,
            workers,
            trusted_proxies,
            log_format,
            jwks_max_age,
        })
    }
}

/// Dynamic registration's mode and what self-registered clients may get.
fn registration(raw: &Raw) -> Result<crate::registration::policy::RegistrationPolicy, ConfigError> {
    use crate::registration::policy::{self as p, RegistrationPolicy};
    Ok(RegistrationPolicy {
        mode: parse_with(raw, "registration", "off", p::Mode::parse)?,
        redirect_uris: parse_with(
            raw,
            "registration_redirect_uris",
            p::DEFAULT_REDIRECT_URIS,
            p::parse_patterns,
        )?,
        scopes: parse_with(
            raw,
            "registration_scopes",
            p::DEFAULT_SCOPES,
            p::parse_scopes,
        )?,
        grant_types: parse_with(
            raw,
            "registration_grant_types",
            p::DEFAULT_GRANT_TYPES,
            p::parse_grant_types,
        )?,
        resources: parse_with(raw, "registration_resources", "", p::parse_resources)?,
    })
}

/// The mail server, when `smtp_url` is set: then `smtp_from` must be too (a made-up sender
/// is what spam filters drop first). The URL's password is never echoed.
fn smtp(raw: &Raw) -> Result<Option<crate::mail::SmtpSettings>, ConfigError> {
    let timeout = parse_with(raw, "smtp_timeout", "10", |s| {
        bounded_seconds(s, 1.0, 120.0)
    })?;
    let Some((url, url_origin)) = raw.get("smtp_url").filter(|(v, _)| !v.is_empty()) else {
        return Ok(None);
    };
    let Some((from, from_origin)) = raw.get("smtp_from").filter(|(v, _)| !v.trim().is_empty())
    else {
        return Err(invalid(
            "TESSERA_SMTP_FROM",
            "required when an SMTP URL is set: the From address of reset emails, \
             e.g. 'Tessera <noreply@example.com>'",
        ));
    };
    crate::mail::SmtpSettings::parse(url, from, timeout)
        .map(Some)
        .map_err(|e| match e {
            crate::mail::SettingsError::Url(reason) => invalid(url_origin, reason),
            crate::mail::SettingsError::From(reason) => invalid(from_origin, reason),
        })
}

fn parse_with<T>(
    raw: &Raw,
    key: &'static str,
    default: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<T, ConfigError> {
    match raw.get(key) {
        Some((value, origin)) => parse(value).map_err(|reason| invalid(origin, reason)),
        None => parse(default).map_err(|reason| invalid(key, reason)),
    }
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(s: &str, what: &str) -> Result<T, String> {
    match s.trim().parse::<T>() {
        Ok(n) if n > T::default() => Ok(n),
        _ => Err(format!("expected {what}, got '{s}'")),
    }
}

fn seconds(s: &str) -> Result<Duration, String> {
    positive::<u64>(s, "a positive number of seconds").map(Duration::from_secs)
}

/// Seconds between `min` and `max`, fractions allowed.
fn bounded_seconds(s: &str, min: f64, max: f64) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && (min..=max).contains(&n) => Ok(Duration::from_secs_f64(n)),
        _ => Err(format!("expected {min} to {max} seconds, got '{s}'")),
    }
}

/// Seconds, fractions allowed (tests reload keys every few milliseconds).
fn duration_ms_ok(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n > 0.0 && n <= 86_400.0 => Ok(Duration::from_secs_f64(n)),
        _ => Err(format!("expected a positive number of seconds, got '{s}'")),
    }
}

fn parse_issuer(s: &str) -> Result<String, String> {
    let url = Url::parse(s).map_err(|_| format!("expected an absolute http(s) URL, got '{s}'"))?;
    if url.scheme() != "https" && url.scheme() != "http" {
        return Err(format!(
            "the issuer must be an http or https URL, got '{s}'"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "the issuer must not have a query or fragment, got '{s}'"
        ));
    }
    if url.host_str().is_none() {
        return Err(format!("the issuer needs a host, got '{s}'"));
    }
    Ok(s.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_match_the_design() {
        let s = Settings::load_from(None, &env(&[])).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.issuer, "http://127.0.0.1:8080");
        assert_eq!(
            s.endpoint("/oauth/token"),
            "http://127.0.0.1:8080/oauth/token"
        );
        assert_eq!(s.database_url, DatabaseUrl::Sqlite("tessera.db".to_owned()));
        assert_eq!(s.keys_dir, PathBuf::from("keys"));
        assert_eq!(s.access_token_ttl, Duration::from_secs(300));
        assert_eq!(s.refresh_token_ttl, Duration::from_secs(86400));
        assert_eq!(s.refresh_grace, Duration::from_secs(5));
        assert!(s.workers >= 1);
    }

    #[test]
    fn env_wins_over_file_and_file_over_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tessera.toml");
        std::fs::write(
            &path,
            "access_token_ttl = 600\nrefresh_token_ttl = 1000\ntrusted_proxies = [\"10.0.0.1\"]\n",
        )
        .unwrap();
        let s =
            Settings::load_from(Some(&path), &env(&[("TESSERA_ACCESS_TOKEN_TTL", "120")])).unwrap();
        assert_eq!(s.access_token_ttl, Duration::from_secs(120));
        assert_eq!(s.refresh_token_ttl, Duration::from_secs(1000));
        assert_eq!(
            s.trusted_proxies,
            vec!["10.0.0.1".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn a_bad_value_names_the_setting() {
        let err = Settings::load_from(None, &env(&[("TESSERA_ACCESS_TOKEN_TTL", "soon")]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "invalid TESSERA_ACCESS_TOKEN_TTL: expected a positive number of seconds, got 'soon'"
        );
        let err = Settings::load_from(None, &env(&[("TESSERA_DATABASE_URL", "mysql://x")]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("invalid TESSERA_DATABASE_URL:"), "{err}");
        let err = Settings::load_from(None, &env(&[("TESSERA_ISSUER", "ftp://x")]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("invalid TESSERA_ISSUER:"), "{err}");
    }

    #[test]
    fn the_refresh_grace_is_zero_to_a_minute() {
        let grace = |v: &str| {
            Settings::load_from(None, &env(&[("TESSERA_REFRESH_GRACE", v)]))
                .map(|s| s.refresh_grace.as_secs())
                .map_err(|e| e.to_string())
        };
        assert_eq!(grace("0"), Ok(0));
        assert_eq!(grace("60"), Ok(60));
        assert!(
            grace("61")
                .unwrap_err()
                .starts_with("invalid TESSERA_REFRESH_GRACE:")
        );
        assert!(grace("-1").is_err());
        assert!(grace("soon").is_err());
    }

    #[test]
    fn unknown_file_keys_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tessera.toml");
        std::fs::write(&path, "acess_token_ttl = 600\n").unwrap();
        let err = Settings::load_from(Some(&path), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("acess_token_ttl"), "{err}");
    }

    #[test]
    fn a_file_value_error_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tessera.toml");
        std::fs::write(&path, "workers = 0\n").unwrap();
        let err = Settings::load_from(Some(&path), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("invalid workers in "), "{err}");
    }

    #[test]
    fn the_key_encryption_key_comes_from_the_file_or_the_environment_never_echoed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tessera.toml");
        let hex = "11".repeat(32);
        std::fs::write(&path, format!("key_encryption_key = \"{hex}\"\n")).unwrap();
        let from_file = Settings::load_from(Some(&path), &env(&[])).unwrap();
        let expected = crate::kek::Kek::parse(&hex).unwrap().id();
        assert_eq!(
            from_file.key_encryption_key.as_ref().map(|k| k.id()),
            Some(expected)
        );
        let other = "22".repeat(32);
        let from_env = Settings::load_from(
            Some(&path),
            &env(&[("TESSERA_KEY_ENCRYPTION_KEY", other.as_str())]),
        )
        .unwrap();
        assert_eq!(
            from_env.key_encryption_key.map(|k| k.id()),
            Some(crate::kek::Kek::parse(&other).unwrap().id()),
            "the environment wins"
        );
        assert!(
            !format!("{from_file:?}").contains(&hex),
            "Debug shows the KEK"
        );

        std::fs::write(&path, "key_encryption_key = \"hunter2\"\n").unwrap();
        let err = Settings::load_from(Some(&path), &env(&[]))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("invalid key_encryption_key in "), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        assert!(
            Settings::load_from(None, &env(&[]))
                .unwrap()
                .key_encryption_key
                .is_none()
        );
    }

    #[test]
    fn postgres_passwords_are_not_echoed() {
        assert_eq!(
            crate::secrets::redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
    }
}
