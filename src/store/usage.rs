//! What storage is doing right now, for the metrics: how long connection checkouts take,
//! how many found no idle connection and had to wait, and how many storage tasks are queued
//! or running on the blocking pool. The collectors are made here, unregistered, because
//! only the store sees these moments; `crate::metrics` registers them in a server's registry.
use prometheus::{Histogram, HistogramOpts, IntCounter, IntGauge, IntGaugeVec, Opts};

/// Checkout buckets from 0.1 ms (an idle connection) to the pool's 10 s timeout.
const CHECKOUT_BUCKETS: [f64; 12] = [
    0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// One store's collectors; clones share their values.
#[derive(Clone)]
pub struct Usage {
    pub checkout: Histogram,
    pub waits: IntCounter,
    pub blocking: IntGaugeVec,
    queued: IntGauge,
    running: IntGauge,
}

impl std::fmt::Debug for Usage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Usage")
    }
}

impl Usage {
    pub fn new() -> Result<Self, prometheus::Error> {
        let blocking = IntGaugeVec::new(
            Opts::new(
                "tessera_blocking_tasks",
                "Storage tasks on the blocking pool: queued (submitted, not started) or running",
            ),
            &["state"],
        )?;
        Ok(Self {
            checkout: Histogram::with_opts(
                HistogramOpts::new(
                    "tessera_db_pool_checkout_seconds",
                    "Time to get a database connection from the pool",
                )
                .buckets(CHECKOUT_BUCKETS.to_vec()),
            )?,
            waits: IntCounter::new(
                "tessera_db_pool_waits_total",
                "Connection checkouts that found no idle connection and had to wait",
            )?,
            queued: blocking.get_metric_with_label_values(&["queued"])?,
            running: blocking.get_metric_with_label_values(&["running"])?,
            blocking,
        })
    }

    /// A task about to be handed to the blocking pool: queued until it `start`s.
    pub(super) fn submit(&self) -> BlockingTask {
        self.queued.inc();
        BlockingTask {
            usage: self.clone(),
            running: false,
        }
    }
}

/// One storage task's place in the blocking-pool gauge. Dropping it takes the task out of
/// the gauge, whether it ran, failed, panicked or was dropped unrun at shutdown.
pub(super) struct BlockingTask {
    usage: Usage,
    running: bool,
}

impl BlockingTask {
    pub(super) fn start(&mut self) {
        if !self.running {
            self.running = true;
            self.usage.queued.dec();
            self.usage.running.inc();
        }
    }
}

impl Drop for BlockingTask {
    fn drop(&mut self) {
        if self.running {
            self.usage.running.dec();
        } else {
            self.usage.queued.dec();
        }
    }
}
