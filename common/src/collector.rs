//! What a collector is, and the adapter for collectors that read files.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::metrics::Family;

/// Why a collector produced nothing. Logged by the engine, never exposed as a label.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Parse(String),
    #[error("{0}")]
    Target(String),
    /// A failure already logged once in this scrape (the target is down and
    /// its probe said so): the collector still counts as failed, and the
    /// engine logs it at debug instead of repeating the line.
    #[error("{0}")]
    AlreadyReported(String),
}

impl CollectError {
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        CollectError::Io {
            context: context.into(),
            source,
        }
    }

    pub fn parse(msg: impl Into<String>) -> Self {
        CollectError::Parse(msg.into())
    }
}

pub type CollectResult = Result<Vec<Family>, CollectError>;
pub type CollectFuture<'a> = Pin<Box<dyn Future<Output = CollectResult> + Send + 'a>>;

/// What the engine hands each collector run, explicitly: when the scrape must
/// be answered, the per-collector series limit, and a counter for the series
/// the collector drops itself. Clients take [`ScrapeContext::deadline`] as an
/// argument; nothing reads it from ambient state.
#[derive(Clone, Debug)]
pub struct ScrapeContext {
    deadline: tokio::time::Instant,
    series_limit: usize,
    dropped: Arc<AtomicU64>,
}

impl ScrapeContext {
    pub fn new(deadline: tokio::time::Instant, series_limit: usize) -> Self {
        Self {
            deadline,
            series_limit,
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// A context ending `timeout` from now, with no series limit (tests,
    /// health checks).
    pub fn within(timeout: std::time::Duration) -> Self {
        Self::new(tokio::time::Instant::now() + timeout, usize::MAX)
    }

    /// When the scrape must be answered.
    pub fn deadline(&self) -> tokio::time::Instant {
        self.deadline
    }

    /// What is left until the deadline.
    pub fn time_left(&self) -> std::time::Duration {
        self.deadline
            .saturating_duration_since(tokio::time::Instant::now())
    }

    /// The same run with a deadline of `at`, or the current one when that
    /// is sooner: a collector gives part of its work a budget of its own.
    pub fn until(&self, at: tokio::time::Instant) -> Self {
        Self {
            deadline: self.deadline.min(at),
            ..self.clone()
        }
    }

    /// The per-collector series limit (`--scrape.series-limit`): a collector
    /// that reads rows can stop keeping them past it.
    pub fn series_limit(&self) -> usize {
        self.series_limit
    }

    /// Counts series the collector dropped itself (a custom query's
    /// `max_series`, rows past the series limit); they show in
    /// `<ns>_scrape_collector_dropped_series_total` with the engine's cuts.
    pub fn report_dropped(&self, n: u64) {
        self.dropped.fetch_add(n, Ordering::Relaxed);
    }

    /// Series reported dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

/// Gathers one area from one target. The engine runs each collector in its own
/// task under the scrape deadline, so a collector that fails, panics or runs late
/// loses only its own metrics.
pub trait Collector: Send + Sync + 'static {
    /// The `collector` label value and the `--collector.<name>` flag suffix.
    fn name(&self) -> &'static str;
    fn collect<'a>(&'a self, ctx: &'a ScrapeContext) -> CollectFuture<'a>;

    /// Whether its runs go to the blocking pool ([`Blocking`]). The engine
    /// starts those first in a collection, so that their runs are queued
    /// together and one pool thread wakes for all of them.
    fn off_thread(&self) -> bool {
        false
    }
}

/// A collector whose work is synchronous (file reads, syscalls).
pub trait BlockingCollector: Send + Sync + 'static {
    fn name(&self) -> &'static str;
    fn collect_blocking(&self, ctx: &ScrapeContext) -> CollectResult;

    /// Whether this run has nothing that could hang, so that [`Blocking`]
    /// can run it on the runtime's thread instead of the pool: typically, the
    /// sysfs class directory it reads is absent (the hardware or the driver
    /// is not there), and the run is a failed open. Asked before every run,
    /// on the runtime's thread: it must itself only do what cannot hang.
    fn nothing_to_block_on(&self) -> bool {
        false
    }
}

/// Runs a [`BlockingCollector`] off the runtime's thread, so that a read that
/// hangs holds a pool thread, not the scrape: the engine stops waiting at the
/// deadline. While an earlier run is still stuck, later scrapes fail this
/// collector at once instead of parking another thread behind it.
///
/// The runs of every `Blocking` collector of a scrape go to one queue
/// ([`pool_queue`]), which one pool thread works through, one run after the
/// other: one thread wake-up a scrape instead of one per collector, each a
/// pair of context switches. A run that has waited [`RESCUE_AFTER`] without
/// starting (the run before it is slow or hung) calls another pool thread to
/// the queue, so a hung collector holds only its own results.
pub struct Blocking<T> {
    inner: Arc<T>,
    running: Arc<AtomicBool>,
}

impl<T: BlockingCollector> Blocking<T> {
    pub fn new(inner: T) -> Self {
        Blocking {
            inner: Arc::new(inner),
            running: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// How long a queued run waits for the pool thread before another one is
/// called: far past the few milliseconds a scrape's runs take together,
/// far below any scrape deadline.
pub const RESCUE_AFTER: std::time::Duration = std::time::Duration::from_millis(50);

impl<T: BlockingCollector> Collector for Blocking<T> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn off_thread(&self) -> bool {
        true
    }

    fn collect<'a>(&'a self, ctx: &'a ScrapeContext) -> CollectFuture<'a> {
        let inner = Arc::clone(&self.inner);
        let running = Arc::clone(&self.running);
        let ctx = ctx.clone();
        Box::pin(async move {
            if inner.nothing_to_block_on() {
                return inner.collect_blocking(&ctx);
            }
            if running.swap(true, Ordering::AcqRel) {
                return Err(CollectError::Target(
                    "an earlier collection is still running".into(),
                ));
            }
            let (tx, mut rx) = tokio::sync::oneshot::channel();
            let started = Arc::new(AtomicBool::new(false));
            let began = Arc::clone(&started);
            let done = ClearOnDrop(running);
            // `done` is dropped with the job, run or not; when run, before the
            // answer is sent, so the next scrape never finds it still set.
            pool_queue::submit(Box::new(move || {
                began.store(true, Ordering::Release);
                if tx.is_closed() {
                    return; // the scrape gave up on it before it started
                }
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    inner.collect_blocking(&ctx)
                }));
                drop(done);
                let _ = tx.send(result);
            }));
            let result = tokio::select! {
                biased;
                r = &mut rx => r,
                () = tokio::time::sleep(RESCUE_AFTER) => {
                    if !started.load(Ordering::Acquire) {
                        pool_queue::add_runner();
                    }
                    rx.await
                }
            };
            match result {
                Ok(Ok(r)) => r,
                Ok(Err(_)) => Err(CollectError::Target(
                    "collector task failed: it panicked".into(),
                )),
                Err(_) => Err(CollectError::Target(
                    "collector task failed: its run was dropped".into(),
                )),
            }
        })
    }
}

/// The queue of [`Blocking`] runs and the pool threads working on it.
pub mod pool_queue {
    use std::collections::VecDeque;
    use std::sync::Mutex;
    use std::time::Instant;

    use super::RESCUE_AFTER;

    /// One collector run.
    pub type Job = Box<dyn FnOnce() + Send>;

    struct State {
        jobs: VecDeque<Job>,
        /// Pool threads on the queue, or asked for and not started yet.
        runners: usize,
        /// When each runner's current run started, by runner.
        busy: Vec<(u64, Instant)>,
        next_id: u64,
        /// Open [`Hold`]s: while there are any, jobs are only queued.
        holds: usize,
    }

    static STATE: Mutex<State> = Mutex::new(State {
        jobs: VecDeque::new(),
        runners: 0,
        busy: Vec::new(),
        next_id: 0,
        holds: 0,
    });

    /// Keeps the jobs submitted while it lives in the queue, and calls a
    /// pool thread for them all when dropped: the engine holds the queue
    /// while a collection's pool runs are submitted, so that one thread
    /// wakes for them instead of one for each that came after the last had
    /// already been run. A job held too long is still rescued by its
    /// collector ([`super::RESCUE_AFTER`]).
    pub struct Hold(());

    impl Hold {
        pub fn new() -> Self {
            state().holds += 1;
            Hold(())
        }
    }

    impl Default for Hold {
        fn default() -> Self {
            Self::new()
        }
    }

    impl Drop for Hold {
        fn drop(&mut self) {
            let call = {
                let mut s = state();
                s.holds -= 1;
                s.holds == 0 && !s.jobs.is_empty() && needs_runner(&mut s)
            };
            if call {
                spawn();
            }
        }
    }

    /// Whether no runner is free for the queue (none, or all held by a run
    /// older than [`RESCUE_AFTER`]); if so, counts the one to be called.
    fn needs_runner(s: &mut State) -> bool {
        let held = s
            .busy
            .iter()
            .filter(|(_, since)| since.elapsed() >= RESCUE_AFTER)
            .count();
        if s.runners <= held {
            s.runners += 1;
            true
        } else {
            false
        }
    }

    fn state() -> std::sync::MutexGuard<'static, State> {
        STATE.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues `job`, and calls a pool thread when none is on the queue but
    /// those held by a run older than [`RESCUE_AFTER`] (hung, most likely),
    /// unless a [`Hold`] is open. Must be called within a tokio runtime.
    pub fn submit(job: Job) {
        let call = {
            let mut s = state();
            s.jobs.push_back(job);
            s.holds == 0 && needs_runner(&mut s)
        };
        if call {
            spawn();
        }
    }

    /// Calls one more pool thread to the queue (the ones on it are busy).
    pub fn add_runner() {
        state().runners += 1;
        spawn();
    }

    /// Counts its runner off the queue when dropped: when the queue is
    /// empty, and also when the pool dropped the runner without running it
    /// (its runtime shut down), so the count never claims a thread that is
    /// not there.
    struct Runner;

    impl Drop for Runner {
        fn drop(&mut self) {
            state().runners -= 1;
        }
    }

    fn spawn() {
        let runner = Runner;
        let handle = tokio::task::spawn_blocking(move || {
            let runner = runner;
            let id = {
                let mut s = state();
                s.next_id += 1;
                s.next_id
            };
            loop {
                let job = {
                    let mut s = state();
                    s.busy.retain(|(r, _)| *r != id);
                    match s.jobs.pop_front() {
                        Some(job) => {
                            s.busy.push((id, Instant::now()));
                            job
                        }
                        None => {
                            // Counted off under the same lock that found the
                            // queue empty: a job queued after this sees no
                            // runner and calls one.
                            s.runners -= 1;
                            std::mem::forget(runner);
                            return;
                        }
                    }
                };
                job();
            }
        });
        drop(handle);
    }
}

/// Runs a [`BlockingCollector`] on the runtime's own thread, without the hop
/// to the blocking pool and back (a thread wake-up each way): for collectors
/// that only read what the kernel generates from memory (/proc text, virtual
/// sysfs counters) or make a system call that answers at once. Those cannot
/// hang on a device, a driver or a network filesystem; anything that can stays
/// [`Blocking`]. A panic still fails only this collector: the engine runs each
/// collector as its own task.
pub struct Inline<T>(T);

impl<T: BlockingCollector> Inline<T> {
    pub fn new(inner: T) -> Self {
        Inline(inner)
    }
}

impl<T: BlockingCollector> Collector for Inline<T> {
    fn name(&self) -> &'static str {
        self.0.name()
    }

    fn collect<'a>(&'a self, ctx: &'a ScrapeContext) -> CollectFuture<'a> {
        Box::pin(async move { self.0.collect_blocking(ctx) })
    }
}

/// Clears the running flag when the blocking run ends, also by panic.
struct ClearOnDrop(Arc<AtomicBool>);

impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A `&'static str` for a name known only at run time (a custom query's
/// name, a namespace): each distinct name is allocated once for the life of
/// the process, however often it is asked for (a `/probe` builds its
/// collectors per request).
pub fn intern(name: &str) -> &'static str {
    static NAMES: std::sync::Mutex<std::collections::BTreeSet<&'static str>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// A collector's declaration, kept in its own module: name, default state,
/// help, and how to build it from the exporter's validated configuration
/// `C`. The exporter lists its declarations once; the `--collector.<name>`
/// flags, `--help`, the landing page and the built set all come from it.
pub struct CollectorDecl<C> {
    pub spec: crate::cli::CollectorSpec,
    pub build: fn(&C) -> Arc<dyn Collector>,
}

impl<C> CollectorDecl<C> {
    /// On by default.
    pub const fn on(
        name: &'static str,
        help: &'static str,
        build: fn(&C) -> Arc<dyn Collector>,
    ) -> Self {
        Self {
            spec: crate::cli::CollectorSpec::on(name, help),
            build,
        }
    }

    /// Off by default.
    pub const fn off(
        name: &'static str,
        help: &'static str,
        build: fn(&C) -> Arc<dyn Collector>,
    ) -> Self {
        Self {
            spec: crate::cli::CollectorSpec::off(name, help),
            build,
        }
    }
}

/// The specs of `decls`, in order.
pub fn specs<C>(decls: &[CollectorDecl<C>]) -> Vec<crate::cli::CollectorSpec> {
    decls.iter().map(|d| d.spec).collect()
}

/// Builds the declared collectors whose names are in `enabled`, in
/// declaration order.
pub fn build_enabled<C>(
    decls: &[CollectorDecl<C>],
    enabled: &[&str],
    config: &C,
) -> Vec<Arc<dyn Collector>> {
    decls
        .iter()
        .filter(|d| enabled.contains(&d.spec.name))
        .map(|d| (d.build)(config))
        .collect()
}

#[cfg(test)]
mod intern_tests {
    #[test]
    fn each_name_is_allocated_once() {
        let a = super::intern("pg_custom_query");
        let b = super::intern(&String::from("pg_custom_query"));
        assert!(std::ptr::eq(a, b));
        assert_ne!(super::intern("other"), a);
    }
}

#[cfg(test)]
mod placement_tests {
    use super::*;

    /// Reports the thread it ran on as a gauge's label.
    struct WhereAmI {
        nothing_to_block_on: bool,
    }

    impl BlockingCollector for WhereAmI {
        fn name(&self) -> &'static str {
            "where"
        }
        fn collect_blocking(&self, _ctx: &ScrapeContext) -> CollectResult {
            let thread = format!("{:?}", std::thread::current().id());
            Ok(vec![
                crate::Family::gauge("thread", "").with(&[("id", &thread)], 1.0)
            ])
        }
        fn nothing_to_block_on(&self) -> bool {
            self.nothing_to_block_on
        }
    }

    fn ran_on(collector: &dyn Collector) -> String {
        let runtime = crate::runtime().expect("runtime");
        let ctx = ScrapeContext::within(std::time::Duration::from_secs(5));
        let families = runtime.block_on(collector.collect(&ctx)).expect("collect");
        families[0].samples[0].labels[0].1.to_string()
    }

    /// Waits, in its run, until the test lets it go.
    struct Held {
        started: std::sync::mpsc::SyncSender<()>,
        release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
    }

    impl BlockingCollector for Held {
        fn name(&self) -> &'static str {
            "held"
        }
        fn collect_blocking(&self, _ctx: &ScrapeContext) -> CollectResult {
            let _ = self.started.send(());
            let _ = self.release.lock().expect("release").recv();
            Ok(vec![crate::Family::gauge("held", "").with(&[], 1.0)])
        }
    }

    #[test]
    fn a_run_that_hangs_holds_only_its_own_collector() {
        let runtime = crate::runtime().expect("runtime");
        let (started_tx, started) = std::sync::mpsc::sync_channel(1);
        let (release, release_rx) = std::sync::mpsc::channel();
        let held = Arc::new(Blocking::new(Held {
            started: started_tx,
            release: std::sync::Mutex::new(release_rx),
        }));
        let quick = Blocking::new(WhereAmI {
            nothing_to_block_on: false,
        });
        let ctx = ScrapeContext::within(std::time::Duration::from_secs(30));
        let stuck = {
            let held = Arc::clone(&held);
            let ctx = ctx.clone();
            runtime.spawn(async move { held.collect(&ctx).await.map(|f| f.len()) })
        };
        // The runtime runs the spawned collection only while driven.
        runtime.block_on(async {
            while started.try_recv().is_err() {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        });
        // Queued behind the held run: another pool thread takes it.
        let families = runtime.block_on(quick.collect(&ctx)).expect("quick run");
        assert_eq!(families[0].name, "thread");
        // The held collector's next run fails at once, without a thread.
        let again = runtime.block_on(held.collect(&ctx));
        assert!(again.is_err(), "a second run of a held collector started");
        // And a later quick run is not kept waiting either.
        runtime.block_on(quick.collect(&ctx)).expect("quick run");
        release.send(()).expect("the held run waits");
        assert_eq!(runtime.block_on(stuck).expect("task").expect("held run"), 1);
    }

    #[test]
    fn inline_and_nothing_to_block_on_stay_on_the_runtime_thread_blocking_goes_to_the_pool() {
        let here = format!("{:?}", std::thread::current().id());
        let inline = Inline::new(WhereAmI {
            nothing_to_block_on: false,
        });
        assert_eq!(ran_on(&inline), here);
        let idle = Blocking::new(WhereAmI {
            nothing_to_block_on: true,
        });
        assert_eq!(ran_on(&idle), here);
        let pooled = Blocking::new(WhereAmI {
            nothing_to_block_on: false,
        });
        assert_ne!(ran_on(&pooled), here);
    }
}
