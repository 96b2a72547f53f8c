//! Assembling a Tessera process: storage, keys, the first admin, then the HTTP server.
//! The CLI and the tests call these same functions.
use crate::resource::Verifier;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::dev::Server;
use actix_web::dev::Service;
use actix_web::{App, HttpServer, web};

use crate::clock::SharedClock;
use crate::config::Settings;
use crate::discovery::Discovery;
use crate::domain::Password;
use crate::metrics::Metrics;
use crate::observe::{Observed, REQUEST_ID};
use crate::passkeys::RelyingParty;
use crate::signing::{KeyError, KeySource, KeyStore, Keys, Opened, spawn_reloader};
use crate::state::AppState;
use crate::store::{Store, StoreError};
use crate::users::{self, Bootstrap, UserError};

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Keys(#[from] KeyError),
    #[error("creating the first admin: {0}")]
    Users(#[from] UserError),
    #[error("metrics: {0}")]
    Metrics(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// The largest request body read, in bytes; a larger one gets 413 before it is read. Every
/// form and JSON body Tessera takes is a few kilobytes.
pub const MAX_BODY: usize = 64 * 1024;

/// A 413 (from the payload limit, wherever a body is read) re-worded for the endpoint
/// family `path` belongs to; every other answer passes unchanged.
fn too_large_in_kind(
    answer: Result<actix_web::dev::ServiceResponse, actix_web::Error>,
    path: &str,
) -> Result<actix_web::dev::ServiceResponse, actix_web::Error> {
    let too_large = actix_web::http::StatusCode::PAYLOAD_TOO_LARGE;
    match answer {
        Ok(res) if res.status() == too_large => {
            Ok(res.into_response(crate::error::payload_too_large(path)))
        }
        Err(e) if e.as_response_error().status_code() == too_large => {
            Err(actix_web::error::InternalError::from_response(
                "request body too large",
                crate::error::payload_too_large(path),
            )
            .into())
        }
        other => other,
    }
}

/// Everything a server needs before it listens.
#[derive(Debug)]
pub struct Prepared {
    pub store: Store,
    pub keys: Arc<Keys>,
    /// What first start did about the admin user (the caller prints a generated password).
    pub bootstrap: Bootstrap,
    /// The key generated on first start, if any.
    pub generated_kid: Option<String>,
}

/// Connect and migrate the database, load (or create) the signing keys, create the first
/// admin on an empty user table. Blocking: call before the server starts.
pub fn prepare(
    settings: &Settings,
    clock: &SharedClock,
    admin_password: Option<Password>,
) -> Result<Prepared, StartupError> {
    let store = Store::connect_with(
        &settings.database_url,
        settings.database_pool_size,
        settings.database_timeout,
    )?;
    let applied = store.migrate()?;
    if !applied.is_empty() {
        tracing::info!(migrations = ?applied, "database migrated");
    }
    let (source, _) = open_keys(settings, &store, clock)?;
    let generated_kid = source.ensure_key(clock.now())?.map(|k| k.kid);
    if let Some(kid) = &generated_kid {
        tracing::info!(%kid, "generated a signing key");
    }
    let keys = Arc::new(Keys::from_source(source, clock.clone())?);
    let bootstrap = {
        let mut conn = store.conn()?;
        users::bootstrap_admin(&mut conn, clock.as_ref(), admin_password)?
    };
    Ok(Prepared {
        store,
        keys,
        bootstrap,
        generated_kid,
    })
}

/// The signing keys in the (migrated) database, under the rules of `signing::KeyStore`:
/// the KEK checked, the keys folder's PEM files imported once. The server and the CLI's
/// `keys` commands both start here.
pub fn open_keys(
    settings: &Settings,
    store: &Store,
    clock: &SharedClock,
) -> Result<(KeySource, Opened), KeyError> {
    let (keys, opened) = KeyStore::open(
        store.clone(),
        settings.key_encryption_key.clone(),
        &settings.keys_dir,
        settings.key_activation_delay,
        clock.now(),
    )?;
    if let Some(path) = &opened.generated_kek {
        tracing::warn!(
            path = %path.display(),
            "generated a key-encryption key for the signing keys; back it up with the \
             database (without it the stored keys cannot be opened)"
        );
    }
    for kid in &opened.imported {
        tracing::info!(%kid, dir = %settings.keys_dir.display(), "imported a signing key file into the database");
    }
    Ok((KeySource::Database(keys), opened))
}

/// Every ten minutes, delete expired rows (see `store::maintenance`). Failures are logged
/// and retried next time; several instances pruning at once is harmless.
fn spawn_pruner(store: Store, clock: SharedClock) {
    actix_web::rt::spawn(async move {
        let period = std::time::Duration::from_secs(600);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        loop {
            tick.tick().await;
            let now = clock.unix();
            match store
                .run(move |conn| {
                    crate::store::maintenance::prune(conn, now, crate::family::RETENTION)
                })
                .await
            {
                Ok(pruned) => tracing::debug!(?pruned, "pruned expired rows"),
                Err(e) => tracing::warn!(error = %e, "pruning expired rows failed"),
            }
        }
    });
}

/// A bound, not yet running server.
pub struct Application {
    server: Server,
    /// `/metrics` on its own listener, when `TESSERA_METRICS_LISTEN` asks for one.
    metrics_server: Option<Server>,
    addr: SocketAddr,
    draining: Arc<AtomicBool>,
    drain_for: std::time::Duration,
}

/// A one-worker server for `/metrics` alone, so the public listener never exposes it.
fn metrics_server(listen: SocketAddr, data: web::Data<AppState>) -> Result<Server, StartupError> {
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(crate::routes::configure_metrics)
    })
    .workers(1)
    .disable_signals()
    .bind(listen)
    .map_err(|source| StartupError::Bind {
        addr: listen,
        source,
    })?
    .run();
    Ok(server)
}

impl Application {
    /// Bind `settings.listen` (port 0 picks a free one) and build the server. Must be
    /// called inside an actix runtime: it starts the key reload task there.
    pub fn start(
        settings: Settings,
        prepared: Prepared,
        clock: SharedClock,
    ) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(settings.listen).map_err(|source| StartupError::Bind {
            addr: settings.listen,
            source,
        })?;
        Self::start_on(listener, settings, prepared, clock)
    }

    /// Like `start`, on a listener the caller bound (tests bind first so the issuer can
    /// name the real port).
    pub fn start_on(
        listener: TcpListener,
        settings: Settings,
        prepared: Prepared,
        clock: SharedClock,
    ) -> Result<Self, StartupError> {
        let addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: settings.listen,
            source,
        })?;
        spawn_reloader(
            prepared.keys.clone(),
            settings.keys_reload_interval,
            settings.key_rotation_interval,
        );
        spawn_pruner(prepared.store.clone(), clock.clone());
        let metrics = Metrics::new(prepared.store.usage())
            .map_err(|e| StartupError::Metrics(e.to_string()))?;
        let draining = Arc::new(AtomicBool::new(false));
        let drain_for = settings.shutdown_drain;
        let state = AppState {
            draining: draining.clone(),
            metrics,
            discovery: Arc::new(Discovery::render(&settings)),
            passkeys: Arc::new(RelyingParty::from_issuer(&settings.issuer)),
            secrets: Arc::default(),
            client_keys: Arc::default(),
            settings: Arc::new(settings),
            store: prepared.store,
            keys: prepared.keys,
            clock,
        };
        if let Some(why) = state.passkeys.unavailable_because() {
            tracing::info!("passkeys are off: {why}");
        }
        let workers = state.settings.workers;
        let client_request_timeout = state.settings.client_request_timeout;
        let keep_alive = state.settings.keep_alive;
        let trusted: Arc<[IpAddr]> = state.settings.trusted_proxies.clone().into();
        // `/hello/` checks tokens with the same verifier a separate resource server would
        // use, over the in-memory key set instead of an HTTP JWKS.
        let verifier = web::Data::new(
            Verifier::local(
                state.keys.clone(),
                // SimpleJWT's JWTAuthentication decodes with LEEWAY too.
                crate::oauth::access::expectations(&state.settings)
                    .leeway(state.settings.simplejwt.leeway),
                state.clock.clone(),
            )
            .with_header_types(&state.settings.simplejwt.auth_header_types),
        );
        let data = web::Data::new(state);
        let metrics_apart = data.settings.metrics_listen;
        let metrics_server = match metrics_apart {
            Some(listen) => Some(metrics_server(listen, data.clone())?),
            None => None,
        };
        let server = HttpServer::new(move || {
            let trusted = trusted.clone();
            let metrics = data.metrics.clone();
            App::new()
                .wrap_fn(move |req, srv| {
                    let observed = Observed::start(&req, &trusted);
                    let metrics = metrics.clone();
                    let path = req.path().to_owned();
                    let answer = srv.call(req);
                    async move {
                        let mut answer = too_large_in_kind(answer.await, &path);
                        // An extractor's error travels up as `Err` and becomes its response
                        // only later: count it with the status it will have.
                        let status = match &answer {
                            Ok(res) => res.status(),
                            Err(e) => e.as_response_error().status_code(),
                        };
                        if let Ok(res) = &mut answer {
                            res.headers_mut().insert(REQUEST_ID, observed.id_header());
                        }
                        observed.finish(status, &metrics);
                        answer
                    }
                })
                .app_data(data.clone())
                .app_data(verifier.clone())
                .app_data(web::PayloadConfig::new(MAX_BODY))
                .configure(crate::routes::configure)
                .configure(|cfg| {
                    if metrics_apart.is_none() {
                        crate::routes::configure_metrics(cfg);
                    }
                })
        })
        .workers(workers)
        // Slow or idle clients must not hold connections (and their memory) for long: a
        // request head that has not arrived within the timeout gets 408, and an idle
        // keep-alive connection is closed.
        .client_request_timeout(client_request_timeout)
        .keep_alive(keep_alive)
        .shutdown_timeout(30)
        // Signals are ours (see `stop_on_signals`), registered before the server reports
        // that it listens, so an early SIGTERM still shuts down gracefully.
        .disable_signals()
        .listen(listener)
        .map_err(|source| StartupError::Bind { addr, source })?
        .run();
        Ok(Self {
            server,
            metrics_server,
            addr,
            draining,
            drain_for,
        })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stop gracefully on SIGTERM or SIGINT: `/readyz` turns 503 at once; after the drain
    /// (`shutdown_drain`) stop accepting and finish in-flight requests.
    pub fn stop_on_signals(&self) -> std::io::Result<()> {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let handle = self.server.handle();
        let metrics = self.metrics_server.as_ref().map(Server::handle);
        let (draining, drain_for) = (self.draining.clone(), self.drain_for);
        actix_web::rt::spawn(async move {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            draining.store(true, Ordering::Relaxed);
            tracing::info!(
                signal = name,
                drain_seconds = drain_for.as_secs_f64(),
                "shutting down gracefully: not ready any more, draining"
            );
            actix_web::rt::time::sleep(drain_for).await;
            handle.stop(true).await;
            if let Some(metrics) = metrics {
                metrics.stop(true).await;
            }
        });
        Ok(())
    }

    /// Serve until SIGTERM/SIGINT, then finish in-flight requests (up to 30 s) and return.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        if let Some(metrics) = self.metrics_server {
            actix_web::rt::spawn(metrics);
        }
        self.server.await
    }
}
