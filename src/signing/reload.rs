//! Hot reload of the key set: poll the folder's fingerprint, and re-read at once on SIGHUP.
//! Polling (not inotify) also works when the folder is on a network share that several
//! instances mount.
use std::sync::Arc;
use std::time::Duration;

use super::Keys;

/// Spawn the reload loop on the current runtime. It lives as long as the runtime. With
/// `rotate_every`, it also publishes a new key once the newest one is that old.
pub fn spawn_reloader(keys: Arc<Keys>, interval: Duration, rotate_every: Option<Duration>) {
    // Registered before returning, so a SIGHUP sent once the server is up is never missed
    // (nor, with no handler yet, fatal).
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; relying on polling");
            None
        }
    };
    actix_web::rt::spawn(async move {
        // The first check comes one interval after start: the set was just loaded.
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let reason = tokio::select! {
                _ = tick.tick() => "poll",
                Some(()) = async {
                    match hangup.as_mut() {
                        Some(h) => h.recv().await,
                        None => std::future::pending().await,
                    }
                } => "SIGHUP",
            };
            let keys = keys.clone();
            let result = actix_web::rt::task::spawn_blocking(move || {
                if let Some(every) = rotate_every {
                    match keys.rotate_if_due(every) {
                        Ok(kids) => {
                            for kid in kids {
                                tracing::info!(%kid, "signing key rotated on schedule");
                            }
                        }
                        Err(e) => tracing::error!(error = %e, "scheduled key rotation failed"),
                    }
                }
                keys.reload_if_changed()
            })
            .await;
            match result {
                Ok(Ok(true)) => {
                    tracing::info!(trigger = reason, "signing keys reloaded");
                }
                Ok(Ok(false)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "signing keys not reloaded; keeping the previous set");
                }
                Err(e) => tracing::error!(error = %e, "key reload task failed"),
            }
        }
    });
}
