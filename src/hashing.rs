//! Where Argon2id runs: a few dedicated threads, one per core, at a lower CPU priority.
//!
//! A password hash takes tens of milliseconds of CPU and ~9-19 MiB of memory. Run on the
//! blocking pool, eight logins at once meant eight hashes at once: eight times the memory
//! (glibc then keeps each thread's freed blocks in that thread's arena, so the peak stayed
//! resident), and the cores taken from the HTTP workers, so every other request queued
//! behind the hashes. Here at most one hash per core runs at a time, always on the same few
//! threads (so the same few arenas), and those threads are `nice`d: a worker thread that
//! wakes up gets its core at once, and the hashes use whatever CPU is left. Only these
//! threads are lowered; they run nothing else.
//!
//! The pool is process-wide, unlike the app state: it is a bound on the machine's cores and
//! memory, which every server and CLI command in the process shares.
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};
use std::sync::{Arc, LazyLock, Mutex};

/// How much lower than the rest of the process the hashing threads run (nice levels).
const NICE: i32 = 10;

type Job = Box<dyn FnOnce() + Send>;

struct Pool {
    jobs: Mutex<Option<Sender<Job>>>,
}

static POOL: LazyLock<Pool> = LazyLock::new(Pool::start);

impl Pool {
    fn start() -> Self {
        tune_allocator();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (tx, rx) = channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let mut started = 0;
        for i in 0..threads {
            let rx = Arc::clone(&rx);
            let spawned = std::thread::Builder::new()
                .name(format!("tessera-hash-{i}"))
                .spawn(move || worker(&rx));
            if spawned.is_ok() {
                started += 1;
            }
        }
        // No thread could start: `run` computes on the caller's thread instead.
        Self {
            jobs: Mutex::new((started > 0).then_some(tx)),
        }
    }
}

fn worker(jobs: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        // The lock is held only to take one job, never while running it.
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// glibc raises its mmap threshold each time a large mmapped block is freed, so after the
/// first hash every Argon2id buffer (9-19 MiB) came from the hashing thread's arena, and
/// the arenas kept what fragmentation left behind: measured 49 + 61 MiB resident after
/// three seconds of eight concurrent logins, against 21 MiB at rest. A fixed threshold turns
/// the adjustment off, so blocks of 1 MiB and more are always mmapped and handed back when
/// freed. The cost is the page faults of a fresh buffer per hash, small beside the hash.
///
/// glibc also gives up to eight arenas per core to threads that allocate at once, and the
/// blocking pool has many threads: each arena keeps its own freed memory. Two per core are
/// plenty for the few threads that run at a time, and kept the token rows of the benchmark
/// at 29 MB instead of 34 (57 -> 49 MB with eight concurrent logins).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn tune_allocator() {
    let arenas = std::thread::available_parallelism().map_or(2, |n| 2 * n.get());
    let arenas = i32::try_from(arenas).unwrap_or(i32::MAX);
    // SAFETY: mallopt only changes allocator parameters; it is safe to call at any time.
    unsafe {
        let _ = libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
        let _ = libc::mallopt(libc::M_ARENA_MAX, arenas);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn tune_allocator() {}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux the nice value belongs to the thread, and `who == 0` is the calling thread:
    // this lowers this hashing thread alone, not the process.
    // SAFETY: setpriority takes plain integers and touches no memory of ours.
    let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, NICE) };
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {
    // Elsewhere the nice value is per process; the bound on concurrency still holds.
    let _ = NICE;
}

/// Run `f` (a password hash or check) on the hashing threads and wait for its answer;
/// `None` only if the thread running it died before answering. Blocking: call it where
/// blocking is allowed (the blocking pool, the CLI).
pub fn run<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let sender = POOL.jobs.lock().ok().and_then(|jobs| jobs.clone());
    let Some(sender) = sender else {
        return Some(f());
    };
    // Whoever takes `f` first runs it: a hashing thread, or this one if the pool is gone.
    let slot = Arc::new(Mutex::new(Some(f)));
    let (answer_tx, answer_rx): (SyncSender<T>, Receiver<T>) = sync_channel(1);
    let theirs = Arc::clone(&slot);
    let job: Job = Box::new(move || {
        let f = theirs.lock().ok().and_then(|mut f| f.take());
        if let Some(f) = f {
            let _ = answer_tx.send(f());
        }
    });
    if sender.send(job).is_ok()
        && let Ok(answer) = answer_rx.recv()
    {
        return Some(answer);
    }
    let f = slot.lock().ok().and_then(|mut f| f.take());
    f.map(|f| f())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[test]
    fn at_most_one_hash_per_core_runs_at_once() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..4 * cores {
                let (running, most) = (Arc::clone(&running), Arc::clone(&most));
                s.spawn(move || {
                    run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .unwrap();
                });
            }
        });
        let most = most.load(Ordering::SeqCst);
        assert!(
            most >= 1 && most <= cores,
            "{most} at once on {cores} cores"
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn hashing_threads_alone_run_at_lower_priority() {
        fn nice() -> i64 {
            let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
            // Field 19, counted after the command name's closing parenthesis.
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .unwrap()
                .1
                .split_whitespace()
                .collect();
            fields[16].parse().unwrap()
        }
        let caller = nice();
        let (hasher, name) =
            run(|| (nice(), std::thread::current().name().map(str::to_owned))).unwrap();
        assert_eq!(hasher, (caller + i64::from(NICE)).min(19));
        assert!(name.unwrap().starts_with("tessera-hash-"));
        assert_eq!(nice(), caller, "the caller's priority is untouched");
    }
}
