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

/// Runs a [`BlockingCollector`] on the blocking pool so that a read that hangs
/// holds a pool thread, not the scrape: the engine stops waiting at the deadline.
/// While an earlier run is still stuck, later scrapes fail this collector at once
/// instead of parking another thread behind it.
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

impl<T: BlockingCollector> Collector for Blocking<T> {
    fn name(&self) -> &'static str {
        self.inner.name()
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
            tokio::task::spawn_blocking(move || {
                let _done = ClearOnDrop(running);
                inner.collect_blocking(&ctx)
            })
            .await
            .map_err(|e| CollectError::Target(format!("collector task failed: {e}")))?
        })
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
        families[0].samples[0].labels[0].1.clone()
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
