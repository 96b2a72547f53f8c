//! The command line: `serve`, `migrate`, `user ...`, `client ...`, `keys ...`,
//! `resource ...`.
//! Each command parses all of its input before touching the database or the keys folder,
//! so bad input writes nothing; every failure is one line on stderr and a non-zero exit.
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};

mod manage;
mod registration;

use crate::admin::resources::ResourceForm;
use crate::audit::{self, AuditAction};
use crate::clients::{self, AuthMethod, AuthSettings, ClientKeys, NewClient, Profile};
use crate::clock::{SharedClock, SystemClock};
use crate::config::{DatabaseUrl, LogFormat, Settings};
use crate::django::import::{self as django_import, AdminFrom};
use crate::domain::{Email, GrantType, Password, RedirectUri, ScopeSet, Username};
use crate::resources::ResourceId;
use crate::signing::{KeyInfo, KeyState, SigningAlg};
use crate::startup::{self, Application};
use crate::store::Store;
use crate::users::{self, Bootstrap, NewUser};

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "An OpenID Connect authorization server"
)]
pub struct Cli {
    /// TOML configuration file (also TESSERA_CONFIG); TESSERA_* variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database if needed, load or create keys, serve HTTP (the default).
    Serve,
    /// Run pending database migrations and exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Manage the APIs tokens may be issued for (RFC 8707 resources).
    #[command(subcommand)]
    Resource(ResourceCommand),
    /// Initial access tokens for dynamic client registration (TESSERA_REGISTRATION=token).
    #[command(subcommand)]
    RegistrationToken(RegistrationTokenCommand),
}

#[derive(Debug, Subcommand)]
enum ResourceCommand {
    /// Register an API: its identifier is what its access tokens name in `aud`.
    Create(ResourceCreate),
    /// List registered APIs.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete an API; clients lose the right to ask tokens for it.
    Delete { identifier: String },
}

#[derive(Debug, Subcommand)]
enum RegistrationTokenCommand {
    /// Mint an initial access token; it is printed once.
    Create {
        /// Seconds until it stops working (60 to a year); without it, until revoked.
        #[arg(long, value_name = "SECS")]
        expires: Option<i64>,
        /// Print {"id":..,"token":..,"expires_at":..} instead of text.
        #[arg(long)]
        json: bool,
    },
    /// List initial access tokens (never the tokens themselves).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Stop a token from admitting further registrations.
    Revoke {
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

#[derive(Debug, Args)]
struct ResourceCreate {
    /// The API's identifier, an absolute http(s) URI (e.g. https://api.example.com).
    #[arg(long, value_name = "URI")]
    identifier: String,
    /// A name people read (shown on the consent page).
    #[arg(long)]
    name: String,
    /// A scope its tokens may carry; repeat or space-separate.
    #[arg(long = "scope", value_name = "SCOPE", required = true)]
    scopes: Vec<String>,
    /// Lifetime of its access tokens in seconds (60 to 86400); default: the client's.
    #[arg(long, value_name = "SECS")]
    access_token_ttl: Option<String>,
    /// The algorithm its access tokens are signed with: RS256 (default), PS256, ES256 or
    /// EdDSA. A key of that algorithm must sign already.
    #[arg(long, value_name = "ALG", default_value = "RS256")]
    alg: String,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create(UserCreate),
    /// Import Django's `auth_user` rows: same ids, password hashes kept (upgraded to Argon2id
    /// at each user's first sign-in). Re-running updates; it never duplicates.
    ImportDjango(ImportDjango),
    /// List users.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Set a user's password, read from standard input; their sessions are signed out.
    SetPassword {
        username: String,
        /// Read the password from standard input (required: passwords never go on the
        /// command line).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Disable a user: no sign-in, no refresh, signed out everywhere.
    Disable { username: String },
    /// Let a disabled user sign in again.
    Enable { username: String },
    /// Print a one-time link at which the user chooses a new password (older links of the
    /// user stop working).
    ResetLink {
        username: String,
        /// How long the link works, in seconds (60 to 604800).
        #[arg(long, value_name = "SECS")]
        ttl: Option<String>,
    },
}

#[derive(Debug, Args)]
struct ImportDjango {
    /// The Django database (sqlite://PATH or postgres://...), read-only.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "dumpdata",
        required_unless_present = "dumpdata"
    )]
    database_url: Option<String>,
    /// The output of `manage.py dumpdata auth.user` (JSON).
    #[arg(long, value_name = "FILE")]
    dumpdata: Option<PathBuf>,
    /// Which Django users become Tessera administrators.
    #[arg(long, value_enum, default_value = "superuser")]
    admin_from: AdminFrom,
    /// Check everything and print what would happen; write nothing.
    #[arg(long)]
    dry_run: bool,
}

#[derive(Debug, Args)]
struct UserCreate {
    #[arg(long)]
    username: String,
    #[arg(long)]
    email: Option<String>,
    /// Full name (the `name` claim).
    #[arg(long)]
    name: Option<String>,
    /// Make the user an administrator.
    #[arg(long)]
    admin: bool,
    /// Read the password from standard input (required: passwords never go on the command line).
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Register a client; prints its client_id and, for confidential clients, its secret once.
    Create(ClientCreate),
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Delete a client; everything issued to it is revoked.
    Delete {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
    },
    /// Give a confidential client a new secret (shown once); the old one stops working.
    RotateSecret {
        #[arg(allow_hyphen_values = true)]
        client_id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
struct ClientCreate {
    #[arg(long)]
    name: String,
    /// A redirect URI; repeat for several.
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// A post-logout redirect URI; repeat for several.
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// A public client (SPA, mobile app): no secret, PKCE required. The same as
    /// `--auth-method none`.
    #[arg(long)]
    public: bool,
    /// How the client authenticates: client_secret_basic (default for confidential
    /// clients), client_secret_post, private_key_jwt (with --jwks or --jwks-uri) or none.
    #[arg(long, value_name = "METHOD")]
    auth_method: Option<String>,
    /// A file holding the client's public keys (a JWKS) for private_key_jwt.
    #[arg(long, value_name = "FILE", conflicts_with = "jwks_uri")]
    jwks: Option<PathBuf>,
    /// Where the client publishes its public keys (a JWKS URL, https) for private_key_jwt.
    #[arg(long, value_name = "URL")]
    jwks_uri: Option<String>,
    /// Take authorization requests from this client only by PAR (RFC 9126).
    #[arg(long)]
    require_par: bool,
    /// Allowed grant type; repeat for several (default: authorization_code and refresh_token).
    #[arg(long = "grant-type", value_name = "GRANT")]
    grant_types: Vec<String>,
    /// Allowed scope; repeat or space-separate (default: openid profile email address phone offline_access).
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// The algorithm its ID tokens are signed with (id_token_signed_response_alg): RS256
    /// (default; ES256 with --profile fapi2), PS256, ES256 or EdDSA. A key of that
    /// algorithm must sign already.
    #[arg(long, value_name = "ALG", value_parser = parse_alg)]
    id_token_alg: Option<SigningAlg>,
    /// The algorithm its access tokens are signed with: RS256 (default; ES256 with
    /// --profile fapi2), PS256, ES256 or EdDSA. A key of that algorithm must sign already.
    #[arg(long, value_name = "ALG", value_parser = parse_alg)]
    access_token_alg: Option<SigningAlg>,
    /// The security profile the client is held to: none (default) or fapi2 (the FAPI 2.0
    /// Security Profile: private_key_jwt, --require-par, --dpop, PS256 or ES256 tokens).
    #[arg(long, value_name = "PROFILE", default_value = "none", value_parser = Profile::parse)]
    profile: Profile,
    /// A registered resource (API) it may ask tokens for; repeat for several.
    #[arg(long = "resource", value_name = "URI")]
    resources: Vec<String>,
    /// Sender-constrained tokens only (RFC 9449 dpop_bound_access_tokens): every token
    /// request of this client must carry a DPoP proof.
    #[arg(long)]
    dpop: bool,
    /// Print {"client_id":..,"client_secret":..} instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List signing keys with their state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Publish a new key now; it signs after the activation delay (TESSERA_KEY_ACTIVATION_DELAY),
    /// and older keys of its algorithm stay published until retired.
    Rotate {
        /// The key's algorithm: RS256 (the default, for everything), PS256, ES256 (P-256)
        /// or EdDSA (Ed25519). Each algorithm has its own keys.
        #[arg(long, value_name = "ALG", default_value = "RS256", value_parser = parse_alg)]
        alg: SigningAlg,
    },
    /// Stop publishing a key.
    Retire {
        /// Key id; thumbprints may begin with '-', which is accepted as a value here.
        #[arg(allow_hyphen_values = true)]
        kid: String,
        /// Retire now even if tokens it signed are still valid (a leaked key): they stop
        /// verifying at once.
        #[arg(long)]
        force: bool,
    },
}

fn parse_alg(raw: &str) -> Result<SigningAlg, String> {
    SigningAlg::parse(raw)
}

/// A failed command: its one-line message.
#[derive(Debug)]
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            // One line, whatever the cause printed (libpq's errors span several).
            let line = message.split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!("error: {line}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Failure> {
    let settings = Settings::load(cli.config.as_deref())?;
    let clock: SharedClock = Arc::new(SystemClock);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings, clock),
        Command::Migrate => {
            let store = Store::connect(&settings.database_url, 1)?;
            let applied = store.migrate()?;
            if applied.is_empty() {
                println!("database is up to date");
            } else {
                println!(
                    "applied {} migration(s): {}",
                    applied.len(),
                    applied.join(", ")
                );
            }
            Ok(())
        }
        Command::User(UserCommand::Create(args)) => user_create(&settings, &clock, args),
        Command::User(UserCommand::ImportDjango(args)) => import_django(&settings, &clock, args),
        Command::Client(ClientCommand::Create(args)) => client_create(&settings, &clock, args),
        Command::User(UserCommand::List { json }) => manage::user_list(&settings, json),
        Command::User(UserCommand::SetPassword {
            username,
            password_stdin,
        }) => {
            if !password_stdin {
                return Err(Failure(
                    "pass --password-stdin and the password on standard input".into(),
                ));
            }
            let password = read_password_from_stdin()?;
            manage::user_set_password(&settings, &clock, &username, &password)
        }
        Command::User(UserCommand::Disable { username }) => {
            manage::user_set_active(&settings, &clock, &username, false)
        }
        Command::User(UserCommand::Enable { username }) => {
            manage::user_set_active(&settings, &clock, &username, true)
        }
        Command::User(UserCommand::ResetLink { username, ttl }) => {
            manage::user_reset_link(&settings, &clock, &username, ttl.as_deref())
        }
        Command::Client(ClientCommand::List { json }) => manage::client_list(&settings, json),
        Command::Client(ClientCommand::Delete { client_id }) => {
            manage::client_delete(&settings, &clock, &client_id)
        }
        Command::Client(ClientCommand::RotateSecret { client_id, json }) => {
            manage::client_rotate_secret(&settings, &clock, &client_id, json)
        }
        Command::Keys(cmd) => keys(&settings, &clock, cmd),
        Command::Resource(ResourceCommand::Create(args)) => {
            let form = ResourceForm {
                identifier: args.identifier,
                name: args.name,
                scopes: args.scopes.join(" "),
                access_token_ttl: args.access_token_ttl.unwrap_or_default(),
                alg: args.alg,
            };
            manage::resource_create(&settings, &clock, &form)
        }
        Command::Resource(ResourceCommand::List { json }) => manage::resource_list(&settings, json),
        Command::Resource(ResourceCommand::Delete { identifier }) => {
            manage::resource_delete(&settings, &clock, &identifier)
        }
        Command::RegistrationToken(RegistrationTokenCommand::Create { expires, json }) => {
            registration::create(&settings, &clock, expires, json)
        }
        Command::RegistrationToken(RegistrationTokenCommand::List { json }) => {
            registration::list(&settings, &clock, json)
        }
        Command::RegistrationToken(RegistrationTokenCommand::Revoke { id }) => {
            registration::revoke(&settings, &clock, &id)
        }
    }
}

fn serve(settings: Settings, clock: SharedClock) -> Result<(), Failure> {
    crate::telemetry::init(settings.log_format);
    let admin_password = match std::env::var("TESSERA_ADMIN_PASSWORD") {
        Ok(raw) => Some(
            Password::parse(&raw)
                .map_err(|e| Failure(format!("invalid TESSERA_ADMIN_PASSWORD: {e}")))?,
        ),
        Err(_) => None,
    };
    let prepared = startup::prepare(&settings, &clock, admin_password)?;
    if let Bootstrap::Created { password } = &prepared.bootstrap {
        let sign_in = settings.endpoint("/admin/");
        match password {
            // JSON logs are parsed line by line: the one-time password is one event there,
            // not a block of text that breaks the stream.
            Some(p) if settings.log_format == LogFormat::Json => tracing::warn!(
                username = "admin",
                password = %p.expose(),
                sign_in = %sign_in,
                "created the first administrator; this password is shown once: sign in and choose a new one (Tessera asks at first sign-in)"
            ),
            Some(p) => eprintln!(
                "\nCreated the first administrator.\n  username: admin\n  password: {}\n  sign in at: {sign_in}\nThis password is shown once; at first sign-in Tessera asks you to choose a new one.\n",
                p.expose()
            ),
            None => {
                eprintln!(
                    "Created the first administrator 'admin' with TESSERA_ADMIN_PASSWORD; sign in at {sign_in} and choose a new password."
                )
            }
        }
    }
    let issuer = settings.issuer.clone();
    let backend = settings.database_url.backend_name();
    actix_web::rt::System::new().block_on(async move {
        let app = Application::start(settings, prepared, clock)?;
        app.stop_on_signals()?;
        tracing::info!(
            "tessera listening on http://{} (issuer {issuer}, database {backend})",
            app.addr()
        );
        app.run_until_stopped().await?;
        tracing::info!("tessera stopped");
        Ok(())
    })
}

fn read_password_from_stdin() -> Result<Password, Failure> {
    let mut raw = String::new();
    std::io::stdin()
        .read_to_string(&mut raw)
        .map_err(|e| Failure(format!("cannot read the password from stdin: {e}")))?;
    let line = raw.strip_suffix('\n').unwrap_or(&raw);
    let line = line.strip_suffix('\r').unwrap_or(line);
    if line.contains('\n') {
        return Err(Failure(
            "the password on stdin must be a single line".into(),
        ));
    }
    Password::parse(line).map_err(Failure)
}

fn user_create(settings: &Settings, clock: &SharedClock, args: UserCreate) -> Result<(), Failure> {
    if !args.password_stdin {
        return Err(Failure(
            "--password-stdin is required: pipe the password on standard input".into(),
        ));
    }
    let username = Username::parse(&args.username)?;
    let email = args.email.as_deref().map(Email::parse).transpose()?;
    let name = args
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty());
    let password = read_password_from_stdin()?;
    let store = Store::connect(&settings.database_url, 1)?;
    store.migrate()?;
    let mut conn = store.conn()?;
    let user = users::create(
        &mut conn,
        clock.as_ref(),
        &NewUser {
            username,
            password,
            email,
            name,
            is_admin: args.admin,
        },
    )?;
    println!(
        "created user '{}' (id {}, sub {}{})",
        user.username,
        user.id,
        user.subject,
        if user.is_admin { ", admin" } else { "" }
    );
    Ok(())
}

/// Max size of a dumpdata file: far above any user table, far below trouble.
const MAX_DUMPDATA_BYTES: u64 = 512 * 1024 * 1024;

fn import_django(
    settings: &Settings,
    clock: &SharedClock,
    args: ImportDjango,
) -> Result<(), Failure> {
    let (rows, source) = match (&args.database_url, &args.dumpdata) {
        (Some(url), _) => {
            let url =
                DatabaseUrl::parse(url).map_err(|e| Failure(format!("--database-url: {e}")))?;
            // The audit log names the kind of database, never its URL (it may hold a password).
            let source = match &url {
                DatabaseUrl::Sqlite(_) => "django database (sqlite)",
                DatabaseUrl::Postgres(_) => "django database (postgres)",
            };
            (django_import::from_database(&url)?, source.to_owned())
        }
        (None, Some(path)) => {
            let shown = path.display();
            let size = std::fs::metadata(path)
                .map_err(|e| Failure(format!("cannot read {shown}: {e}")))?
                .len();
            if size > MAX_DUMPDATA_BYTES {
                return Err(Failure(format!("{shown} is larger than 512 MiB")));
            }
            let bytes =
                std::fs::read(path).map_err(|e| Failure(format!("cannot read {shown}: {e}")))?;
            let rows = django_import::from_dumpdata(&bytes)
                .map_err(|e| Failure(format!("{shown}: {e}")))?;
            (rows, format!("django dumpdata {shown}"))
        }
        (None, None) => {
            return Err(Failure("give --database-url URL or --dumpdata FILE".into()));
        }
    };
    let store = Store::connect(&settings.database_url, 1)?;
    store.migrate()?;
    let mut conn = store.conn()?;
    let actor = shell_actor();
    let audit = django_import::ImportAudit {
        actor: &actor,
        source: &source,
    };
    let report = django_import::import(
        &mut conn,
        clock.unix(),
        rows,
        args.admin_from,
        args.dry_run,
        &audit,
    )?;
    for failure in &report.failed {
        // One line per row, whatever a value contained.
        let line = failure
            .to_string()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        eprintln!("error: {line}");
    }
    println!("imported from Django: {report}");
    if report.failed.is_empty() {
        Ok(())
    } else {
        Err(Failure(format!(
            "{} row(s) not imported; fix them and run the import again",
            report.failed.len()
        )))
    }
}

fn client_create(
    settings: &Settings,
    clock: &SharedClock,
    args: ClientCreate,
) -> Result<(), Failure> {
    let redirect_uris = args
        .redirect_uris
        .iter()
        .map(|u| RedirectUri::parse(u))
        .collect::<Result<Vec<_>, _>>()?;
    let post_logout_redirect_uris = args
        .post_logout_redirect_uris
        .iter()
        .map(|u| RedirectUri::parse(u))
        .collect::<Result<Vec<_>, _>>()?;
    let mut grant_types = Vec::new();
    for g in &args.grant_types {
        let g = GrantType::parse(g)?;
        if !grant_types.contains(&g) {
            grant_types.push(g);
        }
    }
    if grant_types.is_empty() {
        grant_types = vec![GrantType::AuthorizationCode, GrantType::RefreshToken];
    }
    let scopes = if args.scopes.is_empty() {
        ScopeSet::parse(clients::DEFAULT_SCOPES)?
    } else {
        ScopeSet::parse(&args.scopes.join(" "))?
    };
    let asked = args
        .auth_method
        .as_deref()
        .map(AuthMethod::parse)
        .transpose()
        .map_err(|e| Failure(format!("--auth-method: {e}")))?;
    let method = match (args.public, asked) {
        (true, None | Some(AuthMethod::None)) => AuthMethod::None,
        (true, Some(_)) => {
            return Err(Failure(
                "--public means --auth-method none; leave one of them out".to_owned(),
            ));
        }
        (false, Some(m)) => m,
        (false, None) if args.jwks.is_some() || args.jwks_uri.is_some() => {
            AuthMethod::PrivateKeyJwt
        }
        (false, None) => AuthMethod::ClientSecretBasic,
    };
    let keys = match (&args.jwks, &args.jwks_uri) {
        (Some(path), _) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
            Some(ClientKeys::parse_jwks(&text).map_err(|e| Failure(format!("--jwks: {e}")))?)
        }
        (None, Some(uri)) => {
            Some(ClientKeys::parse_uri(uri).map_err(|e| Failure(format!("--jwks-uri: {e}")))?)
        }
        (None, None) => None,
    };
    let auth = AuthSettings {
        method,
        keys,
        require_par: args.require_par,
    };
    let new = NewClient {
        name: args.name,
        kind: auth.kind(),
        redirect_uris,
        post_logout_redirect_uris,
        grant_types,
        scopes,
        algs: clients::TokenAlgs {
            id_token: args
                .id_token_alg
                .unwrap_or(args.profile.default_token_alg()),
            access_token: args
                .access_token_alg
                .unwrap_or(args.profile.default_token_alg()),
        },
        resources: args
            .resources
            .iter()
            .map(|r| ResourceId::parse(r))
            .collect::<Result<Vec<_>, _>>()?,
        dpop_bound_access_tokens: args.dpop,
        profile: args.profile,
    };
    new.validate()?;
    auth.validate(new.kind).map_err(Failure)?;
    new.check_profile(&auth)?;
    let store = Store::connect(&settings.database_url, 1)?;
    store.migrate()?;
    // RS256 always has a key (the server creates one at start); others must exist.
    if new.algs != clients::TokenAlgs::default() {
        new.algs
            .check_keys(&crate::signing::stored_keys(&store, clock.now())?)?;
    }
    let mut conn = store.conn()?;
    let registered = clients::register_with(&mut conn, clock.as_ref(), &new, &auth)?;
    let secret = registered.client_secret.as_ref().map(|s| s.expose());
    if args.json {
        println!(
            "{}",
            serde_json::json!({ "client_id": registered.client_id, "client_secret": secret })
        );
    } else {
        println!("client_id: {}", registered.client_id);
        if let Some(secret) = secret {
            println!("client_secret: {secret}");
            println!("The secret is shown once and stored only as a hash; keep it now.");
        }
    }
    Ok(())
}

fn keys(settings: &Settings, clock: &SharedClock, cmd: KeysCommand) -> Result<(), Failure> {
    let store = Store::connect(&settings.database_url, 2)?;
    store.migrate()?;
    let (dir, opened) = startup::open_keys(settings, &store, clock)?;
    if let Some(path) = &opened.generated_kek {
        eprintln!(
            "note: generated the key-encryption key {}; back it up with the database",
            path.display()
        );
    }
    match cmd {
        KeysCommand::List { json } => {
            let now = clock.now();
            let keys = dir.list(now)?;
            let broken = dir.broken(now)?;
            let problem = |kid: &str| {
                broken
                    .iter()
                    .find(|(k, _)| k.kid == kid)
                    .map(|(_, why)| why.as_str())
            };
            // A file that does not load is not what its name says: show it as broken.
            let state = |k: &KeyInfo| match problem(&k.kid) {
                Some(_) => "broken",
                None => k.state.as_str(),
            };
            if json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        let mut row = serde_json::json!({
                            "kid": k.kid,
                            "alg": k.alg.as_str(),
                            "state": state(k),
                            "created": k.created.to_rfc3339(),
                            "activates": k.activates.to_rfc3339(),
                        });
                        if let Some(why) = problem(&k.kid) {
                            row["problem"] = why.into();
                        }
                        row
                    })
                    .collect();
                println!("{}", serde_json::Value::Array(rows));
            } else if keys.is_empty() {
                println!("no signing keys in the database");
            } else {
                println!(
                    "{:<45} {:<6} {:<10} {:<24} SIGNS FROM",
                    "KID", "ALG", "STATE", "CREATED"
                );
                for k in &keys {
                    println!(
                        "{:<45} {:<6} {:<10} {:<24} {}",
                        k.kid,
                        k.alg.as_str(),
                        state(k),
                        k.created.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                        k.activates.format("%Y-%m-%d %H:%M:%S UTC")
                    );
                }
            }
            match broken.first() {
                Some((key, why)) => Err(Failure(format!("signing key '{}': {why}", key.kid))),
                None => Ok(()),
            }
        }
        KeysCommand::Rotate { alg } => {
            // Rotating past a broken key would leave keys no server can start from.
            if let Some((key, why)) = dir.broken(clock.now())?.first() {
                return Err(Failure(format!(
                    "signing key '{kid}': {why}; mend it or retire it (`tessera keys retire {kid} --force`) before rotating",
                    kid = key.kid
                )));
            }
            let key = dir.generate(alg, clock.now())?;
            // RS256 keys print as they always did (scripts read this line).
            let what = match alg {
                SigningAlg::Rs256 => "key".to_owned(),
                other => format!("{other} key"),
            };
            if key.state == KeyState::Active {
                println!("new active {what} {}", key.kid);
            } else {
                println!(
                    "new {what} {} published; it signs from {} (after the activation delay)",
                    key.kid,
                    key.activates.format("%Y-%m-%d %H:%M:%S UTC")
                );
            }
            audit_key_change(settings, clock, AuditAction::KeyRotated, &key.kid);
            Ok(())
        }
        KeysCommand::Retire { kid, force } => {
            let guard = if force {
                None
            } else {
                let mut conn = store.conn()?;
                Some(crate::admin::keys::token_lifetime(&mut conn, settings)?)
            };
            let key = dir.retire(&kid, clock.now(), guard)?;
            debug_assert_eq!(key.state, KeyState::Retired);
            println!("retired key {}", key.kid);
            audit_key_change(settings, clock, AuditAction::KeyRetired, &key.kid);
            Ok(())
        }
    }
}

/// Who the audit log says acted in a command: the shell user.
fn shell_actor() -> String {
    match std::env::var("USER") {
        Ok(user) if !user.is_empty() => format!("cli:{user}"),
        _ => "cli".to_owned(),
    }
}

/// Best effort: note a key change made from the command line in the audit log. The change
/// is done either way; a database that is absent or unreachable only earns a warning.
fn audit_key_change(settings: &Settings, clock: &SharedClock, what: AuditAction, kid: &str) {
    if let DatabaseUrl::Sqlite(path) = &settings.database_url
        && !std::path::Path::new(path).exists()
    {
        return;
    }
    let actor = shell_actor();
    let result = Store::connect(&settings.database_url, 1)
        .and_then(|store| store.conn())
        .and_then(|mut conn| {
            audit::record(
                &mut conn,
                clock.unix(),
                &audit::Entry {
                    actor: Some(&actor),
                    action: what,
                    target: Some(kid),
                    detail: Some("tessera keys"),
                    ip: None,
                },
            )
        });
    if let Err(e) = result {
        eprintln!("warning: the key change is done but not in the audit log: {e}");
    }
}
