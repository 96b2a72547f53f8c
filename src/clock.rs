//! Time, passed in: the app reads the clock only through this, so tests can fix or move it.
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;

    /// Seconds since the Unix epoch, the unit every stored timestamp uses.
    fn unix(&self) -> i64 {
        self.now().timestamp()
    }
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    // The one place that reads the wall clock (clippy.toml forbids it everywhere else).
    #[allow(clippy::disallowed_methods)]
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until moved, for tests of expiry and rotation.
#[derive(Debug, Default)]
pub struct ManualClock {
    unix: AtomicI64,
}

impl ManualClock {
    pub fn at(unix: i64) -> Arc<Self> {
        Arc::new(Self {
            unix: AtomicI64::new(unix),
        })
    }

    pub fn advance(&self, seconds: i64) {
        self.unix.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp(self.unix.load(Ordering::SeqCst), 0).unwrap_or_default()
    }
}

pub type SharedClock = Arc<dyn Clock>;
