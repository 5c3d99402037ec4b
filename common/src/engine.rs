//! The scrape engine: every enabled collector, concurrently, under one deadline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::{BoxFuture, FutureExt, Shared};

use crate::collector::{Collector, ScrapeContext};
use crate::exposition::{self, Format};
use crate::metrics::{Family, Snapshot};
use crate::process;

/// Scrape limits, from the common flags.
#[derive(Clone, Debug)]
pub struct ScrapeSettings {
    /// Upper bound of a scrape's deadline, whatever the scraper allows.
    pub timeout: Duration,
    /// Subtracted from the scraper's `X-Prometheus-Scrape-Timeout-Seconds` to
    /// leave time for encoding and the network.
    pub timeout_offset: Duration,
    /// Most series one collector may contribute to a scrape.
    pub series_limit: usize,
}

impl Default for ScrapeSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            timeout_offset: Duration::from_millis(500),
            series_limit: 20_000,
        }
    }
}

impl ScrapeSettings {
    /// The deadline for a scrape whose scraper sent `header_seconds`.
    pub fn deadline(&self, header_seconds: Option<f64>) -> Duration {
        const FLOOR: Duration = Duration::from_millis(100);
        // The header is the caller's: anything past the cap is the cap, and a
        // huge value must not overflow a Duration.
        let cap = (self.timeout + self.timeout_offset).as_secs_f64();
        let asked = header_seconds
            .filter(|s| s.is_finite() && *s > 0.0)
            .map(|s| Duration::from_secs_f64(s.min(cap)).saturating_sub(self.timeout_offset));
        match asked {
            Some(d) => d.min(self.timeout).max(FLOOR),
            None => self.timeout.max(FLOOR),
        }
    }
}

/// Tells whether the watched target is reachable; it becomes `<ns>_up`.
pub trait TargetProbe: Send + Sync + 'static {
    /// Whether the target answers before `deadline`.
    fn probe(&self, deadline: tokio::time::Instant) -> BoxFuture<'_, bool>;
}

/// Identity of an exporter, used for self metrics and the landing page.
#[derive(Clone, Debug)]
pub struct ExporterInfo {
    /// Metric namespace (`node`, `pg`, `redis`, ...).
    pub namespace: &'static str,
    /// Exporter name for `sidewatch_build_info{exporter}`.
    pub exporter: &'static str,
    pub version: &'static str,
    /// The peer's whole-scrape bookkeeping families, kept so that alerts
    /// written for the peer (`<ns>_exporter_last_scrape_error == 1`) still work.
    pub peer_self_metrics: Option<PeerSelfMetrics>,
}

/// Which of the peer's bookkeeping families to emit: always
/// `<ns>_exporter_scrapes_total`, `<ns>_exporter_last_scrape_duration_seconds`
/// and `<ns>_exporter_last_scrape_error` (1 when the target was down or a
/// collector failed).
#[derive(Clone, Copy, Debug)]
pub struct PeerSelfMetrics {
    /// Label of `_last_scrape_error` naming what failed (`""` when nothing did).
    pub error_label: Option<&'static str>,
    /// Also `<ns>_exporter_scrape_duration_seconds_{sum,count}`.
    pub duration_summary: bool,
}

type SharedScrape = Shared<BoxFuture<'static, Arc<Snapshot>>>;

struct CollectorSlot {
    collector: Arc<dyn Collector>,
    dropped_series: AtomicU64,
}

/// Runs the collectors of one exporter; shared by all HTTP requests.
pub struct ScrapeEngine {
    info: ExporterInfo,
    settings: ScrapeSettings,
    collectors: Vec<CollectorSlot>,
    /// Indexes into `collectors`, those whose runs go to the blocking pool
    /// first ([`Collector::off_thread`]): their runs are then queued
    /// together, before the runtime thread starts on the others, and one
    /// pool thread wakes for all of them.
    start_order: Vec<usize>,
    /// How many of `start_order`'s first collectors are those.
    pooled: usize,
    probe: Option<Arc<dyn TargetProbe>>,
    /// Whether snapshots carry the exporter's own `process_*` families.
    process_families: bool,
    in_flight: Mutex<Option<SharedScrape>>,
    collections: AtomicU64,
    /// Sum of whole-collection durations, in microseconds.
    duration_sum_micros: AtomicU64,
}

struct CollectorOutcome {
    name: &'static str,
    families: Vec<Family>,
    success: bool,
    duration: Duration,
    /// Series the collector reported dropping itself.
    dropped: u64,
    /// Series cut here, past the per-collector series limit.
    cut: u64,
    /// Its families encoded as they came, when the collection has a format.
    part: Option<bytes::Bytes>,
}

impl ScrapeEngine {
    pub fn new(
        info: ExporterInfo,
        settings: ScrapeSettings,
        collectors: Vec<Arc<dyn Collector>>,
        probe: Option<Arc<dyn TargetProbe>>,
    ) -> Arc<Self> {
        Self::build(info, settings, collectors, probe, true)
    }

    /// An engine for one target of a multi-target request: its answer has
    /// the target's families and the collector bookkeeping, not the
    /// exporter's own `process_*` families (those are on `/metrics`).
    pub fn for_target(
        info: ExporterInfo,
        settings: ScrapeSettings,
        collectors: Vec<Arc<dyn Collector>>,
        probe: Option<Arc<dyn TargetProbe>>,
    ) -> Arc<Self> {
        Self::build(info, settings, collectors, probe, false)
    }

    fn build(
        info: ExporterInfo,
        settings: ScrapeSettings,
        collectors: Vec<Arc<dyn Collector>>,
        probe: Option<Arc<dyn TargetProbe>>,
        process_families: bool,
    ) -> Arc<Self> {
        let (first, rest): (Vec<usize>, Vec<usize>) =
            (0..collectors.len()).partition(|&i| collectors[i].off_thread());
        Arc::new(Self {
            pooled: first.len(),
            start_order: first.into_iter().chain(rest).collect(),
            process_families,
            info,
            settings,
            collectors: collectors
                .into_iter()
                .map(|collector| CollectorSlot {
                    collector,
                    dropped_series: AtomicU64::new(0),
                })
                .collect(),
            probe,
            in_flight: Mutex::new(None),
            collections: AtomicU64::new(0),
            duration_sum_micros: AtomicU64::new(0),
        })
    }

    pub fn info(&self) -> &ExporterInfo {
        &self.info
    }

    pub fn settings(&self) -> &ScrapeSettings {
        &self.settings
    }

    pub fn collector_names(&self) -> Vec<&'static str> {
        self.collectors.iter().map(|c| c.collector.name()).collect()
    }

    /// Whether the target answers its probe within `timeout` (true without a probe).
    pub async fn target_reachable(&self, timeout: Duration) -> bool {
        match &self.probe {
            Some(probe) => {
                let deadline = tokio::time::Instant::now() + timeout;
                tokio::time::timeout_at(deadline, probe.probe(deadline))
                    .await
                    .unwrap_or(false)
            }
            None => true,
        }
    }

    /// How many collections have started (coalesced scrapes share one).
    pub fn collections(&self) -> u64 {
        self.collections.load(Ordering::Relaxed)
    }

    /// Answers a scrape. While a collection is in flight, further callers wait
    /// for its result instead of starting another, but each no longer than
    /// its own deadline: a caller that joins a collection started with a
    /// longer deadline gets every collector as failed (and `<ns>_up 0`) in
    /// time rather than a late answer.
    pub async fn scrape(self: &Arc<Self>, deadline: Duration) -> Arc<Snapshot> {
        self.scrape_as(deadline, None).await
    }

    /// Like [`ScrapeEngine::scrape`]; a collection this call starts also
    /// encodes its body in `format` while it runs, each collector's families
    /// as soon as they are in ([`Snapshot::body`]), so the body is ready when
    /// the last collector is.
    pub async fn scrape_as(
        self: &Arc<Self>,
        deadline: Duration,
        format: Option<Format>,
    ) -> Arc<Snapshot> {
        let (shared, joined) = {
            let mut slot = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            match slot.as_ref() {
                Some(shared) => (shared.clone(), true),
                None => {
                    let engine = Arc::clone(self);
                    // A task of its own: the collection finishes (and clears the slot)
                    // even if the request that started it goes away.
                    let task = tokio::spawn(async move {
                        // Cleared on every exit, a panic included, so a failed
                        // collection is never served again.
                        let _clear = ClearInFlight(Arc::clone(&engine));
                        Arc::new(engine.collect_as(deadline, format).await)
                    });
                    let shared = async move { task.await.unwrap_or_default() }
                        .boxed()
                        .shared();
                    *slot = Some(shared.clone());
                    (shared, false)
                }
            }
        };
        // The collection this caller started is bounded by its own deadline;
        // one it joined may have been started with a longer one.
        if !joined {
            return shared.await;
        }
        match tokio::time::timeout(deadline, shared).await {
            Ok(snapshot) => snapshot,
            Err(_) => Arc::new(self.timed_out(deadline)),
        }
    }

    /// What a caller gets when the collection it joined outlives its deadline.
    fn timed_out(&self, deadline: Duration) -> Snapshot {
        let outcomes = self
            .collectors
            .iter()
            .map(|slot| CollectorOutcome {
                name: slot.collector.name(),
                families: Vec::new(),
                success: false,
                duration: deadline,
                dropped: 0,
                cut: 0,
                part: None,
            })
            .collect();
        self.assemble(outcomes, self.probe.as_ref().map(|_| false), deadline, None)
    }

    /// One collection, not coalesced.
    pub async fn collect(&self, deadline: Duration) -> Snapshot {
        self.collect_as(deadline, None).await
    }

    /// One collection, not coalesced, its body encoded in `format` as the
    /// collectors finish.
    pub async fn collect_as(&self, deadline: Duration, format: Option<Format>) -> Snapshot {
        self.collections.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let deadline_at = tokio::time::Instant::now() + deadline;
        // One timer for the whole collection, shared by every collector: a
        // timer each made the runtime wake itself once per collector when
        // registering it (tokio unparks its driver for an earlier timer).
        let expired = tokio::time::sleep_until(deadline_at).shared();
        // Every collector's task is started here, pool runs first; their
        // outcomes are still gathered in the collectors' order.
        // The pool runs are queued while `hold` lives; a task started after
        // theirs, and so run after their first polls, lets the queue go.
        let mut hold = (self.pooled > 0).then(crate::collector::pool_queue::Hold::new);
        let mut tasks: Vec<_> = Vec::with_capacity(self.start_order.len());
        for (n, &i) in self.start_order.iter().enumerate() {
            if n == self.pooled {
                if let Some(hold) = hold.take() {
                    drop(tokio::spawn(async move { drop(hold) }));
                }
            }
            let collector = Arc::clone(&self.collectors[i].collector);
            let ctx = ScrapeContext::new(deadline_at, self.settings.series_limit);
            let reported = ctx.clone();
            let started = Instant::now();
            let task = tokio::spawn(async move { collector.collect(&ctx).await });
            tasks.push((i, started, reported, task));
        }
        if let Some(hold) = hold.take() {
            drop(tokio::spawn(async move { drop(hold) }));
        }
        tasks.sort_unstable_by_key(|t| t.0);
        let runs = self.collectors.iter().zip(tasks).map(|(slot, task)| {
            let name = slot.collector.name();
            let expired = expired.clone();
            async move {
                let (_, started, reported, mut task) = task;
                let abort = task.abort_handle();
                let finished = tokio::select! {
                    biased;
                    done = &mut task => Ok(done),
                    () = expired => Err(()),
                };
                // A collector's own error is logged after the probe has
                // answered: when the target is down, the probe's line says so
                // once and the collectors' follow at debug.
                let mut failed = None;
                let (families, success) = match finished {
                    Ok(Ok(Ok(families))) => (families, true),
                    Ok(Ok(Err(error @ crate::CollectError::AlreadyReported(_)))) => {
                        tracing::debug!(collector = name, %error, "collector failed");
                        (Vec::new(), false)
                    }
                    Ok(Ok(Err(error))) => {
                        failed = Some(error);
                        (Vec::new(), false)
                    }
                    Ok(Err(error)) => {
                        tracing::error!(collector = name, %error, "collector panicked");
                        (Vec::new(), false)
                    }
                    Err(_) => {
                        abort.abort();
                        tracing::warn!(
                            collector = name,
                            deadline_seconds = deadline.as_secs_f64(),
                            "collector ran past the scrape deadline"
                        );
                        (Vec::new(), false)
                    }
                };
                let duration = started.elapsed();
                let (families, cut) = self.limit(families);
                let mut part = None;
                let families = match format {
                    Some(format) => {
                        // About what the encoding takes, so it is not
                        // copied as it grows.
                        let series: usize = families.iter().map(|f| f.samples.len()).sum();
                        let mut text = String::with_capacity(series * 64 + families.len() * 96);
                        let families = exposition::encode_part(&mut text, families, format);
                        part = Some(bytes::Bytes::from(text));
                        families
                    }
                    None => families,
                };
                let outcome = CollectorOutcome {
                    name,
                    families,
                    success,
                    duration,
                    dropped: reported.dropped(),
                    cut,
                    part,
                };
                (outcome, failed)
            }
        });
        let probe = async {
            match &self.probe {
                Some(probe) => Some(tokio::select! {
                    biased;
                    up = probe.probe(deadline_at) => up,
                    () = expired.clone() => false,
                }),
                None => None,
            }
        };
        let (runs, up) = tokio::join!(futures::future::join_all(runs), probe);
        let mut outcomes = Vec::with_capacity(runs.len());
        for (outcome, failed) in runs {
            if let Some(error) = failed {
                if up == Some(false) {
                    tracing::debug!(collector = outcome.name, %error, "collector failed (target down)");
                } else {
                    tracing::warn!(collector = outcome.name, %error, "collector failed");
                }
            }
            outcomes.push(outcome);
        }
        self.assemble(outcomes, up, started.elapsed(), format)
    }

    /// A collector's families within the per-collector series limit, and
    /// how many series were cut.
    fn limit(&self, mut families: Vec<Family>) -> (Vec<Family>, u64) {
        let mut budget = self.settings.series_limit;
        let mut cut = 0u64;
        for family in &mut families {
            if family.samples.len() > budget {
                cut += (family.samples.len() - budget) as u64;
                family.samples.truncate(budget);
            }
            budget -= family.samples.len();
        }
        (families, cut)
    }

    fn assemble(
        &self,
        outcomes: Vec<CollectorOutcome>,
        up: Option<bool>,
        elapsed: Duration,
        format: Option<Format>,
    ) -> Snapshot {
        let ns = self.info.namespace;
        // The collectors' families, the three per-collector families, up
        // and the process families.
        let expected = outcomes.iter().map(|o| o.families.len()).sum::<usize>() + 16;
        let mut set = crate::metrics::FamilySet::with_capacity(expected);
        let mut duration = Family::gauge(
            format!("{ns}_scrape_collector_duration_seconds"),
            format!("{}: Duration of a collector scrape.", self.info.exporter),
        );
        let mut success = Family::gauge(
            format!("{ns}_scrape_collector_success"),
            format!("{}: Whether a collector succeeded.", self.info.exporter),
        );
        let mut dropped = Family::counter(
            format!("{ns}_scrape_collector_dropped_series_total"),
            "Series a collector produced beyond the per-collector series limit and dropped.",
        );
        let failed: Vec<&'static str> = outcomes
            .iter()
            .filter(|o| !o.success)
            .map(|o| o.name)
            .collect();
        // The body encoded as the collectors finished holds their families
        // in this order; it is only the body when no family was merged
        // into another collector's.
        let mut parts = format.map(|_| Vec::with_capacity(outcomes.len()));
        let mut merged = false;
        for (slot, outcome) in self.collectors.iter().zip(outcomes) {
            for family in outcome.families {
                // Lets a test make the assembly itself panic.
                #[cfg(test)]
                if family.name == tests::PANIC_IN_ASSEMBLY {
                    panic!("assembly bug");
                }
                // Two collectors may contribute to one family; merged so the
                // exposition has each name once.
                merged |= set.push_merged(family);
            }
            match (&mut parts, outcome.part) {
                (Some(parts), Some(part)) => parts.push(part),
                _ => parts = None,
            }
            let cut = outcome.cut;
            if cut > 0 {
                tracing::warn!(
                    collector = outcome.name,
                    dropped = cut,
                    limit = self.settings.series_limit,
                    "collector exceeded its series limit"
                );
            }
            // The collector's own cuts were logged where they were made.
            let cut = cut + outcome.dropped;
            let total = slot.dropped_series.fetch_add(cut, Ordering::Relaxed) + cut;
            let labels = [("collector", outcome.name)];
            duration.add(&labels, outcome.duration.as_secs_f64());
            success.add(&labels, if outcome.success { 1.0 } else { 0.0 });
            dropped.add(&labels, total as f64);
        }
        let from_collectors = set.len();
        let mut tail = Vec::with_capacity(16);
        if let Some(up) = up {
            tail.push(
                Family::gauge(
                    format!("{ns}_up"),
                    "Whether the last scrape could reach the target (1) or not (0).",
                )
                .with(&[], if up { 1.0 } else { 0.0 }),
            );
        }
        tail.push(duration);
        tail.push(success);
        tail.push(dropped);
        if let Some(peer) = self.info.peer_self_metrics {
            tail.extend(self.peer_families(peer, &failed, up, elapsed));
        }
        tail.push(
            Family::gauge(
                "sidewatch_build_info",
                "A metric with a constant '1' value labelled by the exporter and its version.",
            )
            .with(
                &[
                    ("exporter", self.info.exporter),
                    ("version", self.info.version),
                ],
                1.0,
            ),
        );
        if self.process_families {
            tail.extend(process::families());
        }
        for family in tail {
            merged |= set.push_merged(family);
        }
        let mut families = set.into_families();
        let body = match (format, parts) {
            (Some(format), Some(mut parts)) if !merged => {
                let rest = families.split_off(from_collectors);
                let mut end = String::with_capacity(rest.len() * 256 + 64);
                families.extend(exposition::encode_part(&mut end, rest, format));
                exposition::finish(&mut end, format);
                parts.push(bytes::Bytes::from(end));
                // Empty parts (a failed collector's) are left out.
                parts.retain(|p| !p.is_empty());
                Some((format, parts))
            }
            _ => None,
        };
        Snapshot { families, body }
    }

    fn peer_families(
        &self,
        peer: PeerSelfMetrics,
        failed: &[&str],
        up: Option<bool>,
        elapsed: Duration,
    ) -> Vec<Family> {
        let ns = self.info.namespace;
        let sum = self
            .duration_sum_micros
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed)
            + elapsed.as_micros() as u64;
        let count = self.collections() as f64;
        let reason = if up == Some(false) {
            "target unreachable".to_owned()
        } else if failed.is_empty() {
            String::new()
        } else {
            format!("collectors failed: {}", failed.join(","))
        };
        let error = if reason.is_empty() { 0.0 } else { 1.0 };
        let mut last_error = Family::gauge(
            format!("{ns}_exporter_last_scrape_error"),
            "Whether the last scrape failed in part (1) or not (0); the label says what failed.",
        );
        match peer.error_label {
            Some(label) => last_error.add(&[(label, &reason)], error),
            None => last_error.add(&[], error),
        }
        let mut out = vec![
            Family::counter(
                format!("{ns}_exporter_scrapes_total"),
                "Collections run (concurrent scrapes share one).",
            )
            .with(&[], count),
            Family::gauge(
                format!("{ns}_exporter_last_scrape_duration_seconds"),
                "Duration of the last collection.",
            )
            .with(&[], elapsed.as_secs_f64()),
            last_error,
        ];
        if peer.duration_summary {
            out.push(
                Family::counter(
                    format!("{ns}_exporter_scrape_duration_seconds_sum"),
                    "Total duration of all collections.",
                )
                .with(&[], sum as f64 / 1e6),
            );
            out.push(
                Family::counter(
                    format!("{ns}_exporter_scrape_duration_seconds_count"),
                    "Collections run.",
                )
                .with(&[], count),
            );
        }
        out
    }
}

/// Empties the engine's in-flight slot when the collection task ends.
struct ClearInFlight(Arc<ScrapeEngine>);

impl Drop for ClearInFlight {
    fn drop(&mut self) {
        *self.0.in_flight.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::{CollectError, CollectFuture};
    use std::sync::atomic::AtomicUsize;

    struct Fixed {
        name: &'static str,
        series: usize,
        delay: Duration,
        calls: AtomicUsize,
    }

    impl Fixed {
        fn new(name: &'static str, series: usize, delay: Duration) -> Arc<Self> {
            Arc::new(Self {
                name,
                series,
                delay,
                calls: AtomicUsize::new(0),
            })
        }
    }

    impl Collector for Fixed {
        fn name(&self) -> &'static str {
            self.name
        }
        fn collect<'a>(&'a self, _ctx: &'a crate::ScrapeContext) -> CollectFuture<'a> {
            Box::pin(async move {
                self.calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(self.delay).await;
                let mut f = Family::gauge(format!("t_{}_value", self.name), "test");
                for i in 0..self.series {
                    f.add(&[("i", &i.to_string())], i as f64);
                }
                Ok(vec![f])
            })
        }
    }

    struct Failing;
    impl Collector for Failing {
        fn name(&self) -> &'static str {
            "failing"
        }
        fn collect<'a>(&'a self, _ctx: &'a crate::ScrapeContext) -> CollectFuture<'a> {
            Box::pin(async { Err(CollectError::parse("bad input")) })
        }
    }

    /// A family of this name makes the engine's assembly panic.
    pub(super) const PANIC_IN_ASSEMBLY: &str = "t_panic_in_assembly";

    /// Returns that family on its first call, a plain one afterwards.
    struct BreaksAssemblyOnce(AtomicU64);
    impl Collector for BreaksAssemblyOnce {
        fn name(&self) -> &'static str {
            "breaks_assembly"
        }
        fn collect<'a>(&'a self, _ctx: &'a crate::ScrapeContext) -> CollectFuture<'a> {
            let first = self.0.fetch_add(1, Ordering::SeqCst) == 0;
            Box::pin(async move {
                let name = if first { PANIC_IN_ASSEMBLY } else { "t_fine" };
                Ok(vec![Family::gauge(name, "x").with(&[], 1.0)])
            })
        }
    }

    /// A collector that panics, and then an assembly that panics: each
    /// scrape after them is a fresh collection, never the broken one again.
    #[tokio::test]
    async fn after_a_panic_the_next_scrape_is_fresh() {
        let engine = ScrapeEngine::new(
            info(),
            ScrapeSettings::default(),
            vec![
                Arc::new(Panicking),
                Arc::new(BreaksAssemblyOnce(AtomicU64::new(0))),
            ],
            None,
        );
        let broken = engine.scrape(Duration::from_secs(2)).await;
        assert!(broken.family("t_fine").is_none());
        assert_eq!(engine.collections(), 1);
        let next = engine.scrape(Duration::from_secs(2)).await;
        assert_eq!(engine.collections(), 2, "a fresh collection");
        assert!(next.family("t_fine").is_some());
        assert_eq!(value(&next, "t_scrape_collector_success", "panicking"), 0.0);
        assert_eq!(
            value(&next, "t_scrape_collector_success", "breaks_assembly"),
            1.0
        );
    }

    /// Gives `t_shared` with its own label: two of them share a family.
    struct Shares(&'static str);
    impl Collector for Shares {
        fn name(&self) -> &'static str {
            self.0
        }
        fn collect<'a>(&'a self, _ctx: &'a crate::ScrapeContext) -> CollectFuture<'a> {
            Box::pin(async move {
                let mut hist = Family::histogram("t_latency", "h");
                hist.add_histogram(&[("c", self.0)], &[(1.0, 1.0), (2.0, 3.0)], 4.5, 3.0);
                Ok(vec![
                    Family::gauge("t_shared", "s").with(&[("c", self.0)], 1.0),
                    Family::counter(format!("t_{}_total", self.0), "c").with(&[], 2.5),
                    hist,
                    Family::gauge(format!("t_{}_empty", self.0), "nothing"),
                ])
            })
        }
    }

    /// The body encoded as the collectors finish (out of order, one cut by
    /// the series limit, one failing) is byte for byte the snapshot encoded
    /// whole, in either format. When two collectors give one family, the
    /// whole encoding merges it, and that is what is served.
    #[tokio::test]
    async fn a_body_encoded_as_collectors_finish_is_the_whole_encoding() {
        for format in [Format::Text, Format::OpenMetrics] {
            let engine = ScrapeEngine::new(
                info(),
                ScrapeSettings {
                    series_limit: 3,
                    ..ScrapeSettings::default()
                },
                vec![
                    Fixed::new("slow", 2, Duration::from_millis(30)),
                    Fixed::new("cut", 5, Duration::ZERO),
                    Arc::new(Failing),
                    Arc::new(Shares("one")),
                ],
                None,
            );
            let snap = engine.scrape_as(Duration::from_secs(2), Some(format)).await;
            let (encoded, parts) = snap.body.as_ref().expect("encoded as it ran");
            assert_eq!(*encoded, format);
            let body: String = parts
                .iter()
                .map(|p| std::str::from_utf8(p).expect("utf-8"))
                .collect();
            assert_eq!(body, exposition::encode(&snap, format), "{format:?}");
            assert!(
                body.find("t_slow_value") < body.find("t_cut_value"),
                "{body}"
            );
            assert_eq!(snap.family("t_cut_value").map(|f| f.samples.len()), Some(3));
            let merged = ScrapeEngine::new(
                info(),
                ScrapeSettings::default(),
                vec![Arc::new(Shares("one")), Arc::new(Shares("two"))],
                None,
            );
            let snap = merged.scrape_as(Duration::from_secs(2), Some(format)).await;
            assert!(snap.body.is_none(), "{format:?}");
            assert_eq!(snap.family("t_shared").map(|f| f.samples.len()), Some(2));
        }
    }

    struct Panicking;
    impl Collector for Panicking {
        fn name(&self) -> &'static str {
            "panicking"
        }
        fn collect<'a>(&'a self, _ctx: &'a crate::ScrapeContext) -> CollectFuture<'a> {
            Box::pin(async { panic!("collector bug") })
        }
    }

    fn info() -> ExporterInfo {
        ExporterInfo {
            namespace: "t",
            exporter: "test",
            version: "0.0.0",
            peer_self_metrics: None,
        }
    }

    fn value(s: &Snapshot, family: &str, collector: &str) -> f64 {
        s.family(family)
            .and_then(|f| {
                f.samples.iter().find(|x| {
                    x.labels
                        .iter()
                        .any(|(k, v)| k == "collector" && v == collector)
                })
            })
            .map(|x| x.value)
            .unwrap_or(f64::NAN)
    }

    #[tokio::test]
    async fn late_and_failing_collectors_lose_only_their_metrics() {
        let fast = Fixed::new("fast", 3, Duration::ZERO);
        let slow = Fixed::new("slow", 3, Duration::from_secs(3600));
        let engine = ScrapeEngine::new(
            info(),
            ScrapeSettings::default(),
            vec![fast, slow, Arc::new(Failing), Arc::new(Panicking)],
            None,
        );
        let started = Instant::now();
        let snap = engine.scrape(Duration::from_millis(300)).await;
        assert!(started.elapsed() < Duration::from_secs(5));
        assert_eq!(value(&snap, "t_scrape_collector_success", "fast"), 1.0);
        assert_eq!(value(&snap, "t_scrape_collector_success", "slow"), 0.0);
        assert_eq!(value(&snap, "t_scrape_collector_success", "failing"), 0.0);
        assert_eq!(value(&snap, "t_scrape_collector_success", "panicking"), 0.0);
        assert_eq!(
            snap.family("t_fast_value").map(|f| f.samples.len()),
            Some(3)
        );
        assert!(snap.family("t_slow_value").is_none());
        let slow_duration = value(&snap, "t_scrape_collector_duration_seconds", "slow");
        assert!(slow_duration >= 0.3, "{slow_duration}");
        let build = snap
            .family("sidewatch_build_info")
            .map(|f| f.samples[0].clone());
        assert_eq!(build.map(|s| s.value), Some(1.0));
    }

    #[tokio::test]
    async fn concurrent_scrapes_coalesce() {
        let slow = Fixed::new("slow", 1, Duration::from_millis(300));
        let engine = ScrapeEngine::new(
            info(),
            ScrapeSettings::default(),
            vec![slow.clone() as Arc<dyn Collector>],
            None,
        );
        let scrapes = (0..10).map(|_| {
            let e = Arc::clone(&engine);
            tokio::spawn(async move { e.scrape(Duration::from_secs(5)).await })
        });
        let results = futures::future::join_all(scrapes).await;
        assert_eq!(results.len(), 10);
        assert_eq!(slow.calls.load(Ordering::SeqCst), 1);
        assert_eq!(engine.collections(), 1);
        // The next scrape after the first finished collects afresh.
        engine.scrape(Duration::from_secs(5)).await;
        assert_eq!(slow.calls.load(Ordering::SeqCst), 2);
    }

    /// Virtual time: the durations asserted are exact, not measured.
    #[tokio::test(start_paused = true)]
    async fn a_scrape_joining_a_longer_one_keeps_its_own_deadline() {
        let slow = Fixed::new("slow", 1, Duration::from_secs(8));
        let engine = ScrapeEngine::new(
            info(),
            ScrapeSettings {
                timeout: Duration::from_secs(10),
                ..ScrapeSettings::default()
            },
            vec![slow.clone() as Arc<dyn Collector>],
            None,
        );
        let first = {
            let e = Arc::clone(&engine);
            tokio::spawn(async move { e.scrape(Duration::from_secs(10)).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = tokio::time::Instant::now();
        let joined = engine.scrape(Duration::from_millis(2500)).await;
        assert_eq!(started.elapsed(), Duration::from_millis(2500));
        assert_eq!(value(&joined, "t_scrape_collector_success", "slow"), 0.0);
        let first = first.await.expect("first scrape");
        assert_eq!(value(&first, "t_scrape_collector_success", "slow"), 1.0);
        assert_eq!(slow.calls.load(Ordering::SeqCst), 1, "still one collection");
    }

    #[tokio::test]
    async fn series_limit_drops_and_counts() {
        let big = Fixed::new("big", 25, Duration::ZERO);
        let settings = ScrapeSettings {
            series_limit: 10,
            ..ScrapeSettings::default()
        };
        let engine = ScrapeEngine::new(info(), settings, vec![big], None);
        let snap = engine.scrape(Duration::from_secs(1)).await;
        assert_eq!(
            snap.family("t_big_value").map(|f| f.samples.len()),
            Some(10)
        );
        assert_eq!(
            value(&snap, "t_scrape_collector_dropped_series_total", "big"),
            15.0
        );
        let snap = engine.scrape(Duration::from_secs(1)).await;
        assert_eq!(
            value(&snap, "t_scrape_collector_dropped_series_total", "big"),
            30.0
        );
    }

    #[tokio::test]
    async fn peer_bookkeeping_says_what_failed() {
        let info = ExporterInfo {
            peer_self_metrics: Some(PeerSelfMetrics {
                error_label: Some("err"),
                duration_summary: true,
            }),
            ..info()
        };
        let fast = Fixed::new("fast", 1, Duration::ZERO);
        let engine = ScrapeEngine::new(
            info,
            ScrapeSettings::default(),
            vec![fast, Arc::new(Failing)],
            None,
        );
        engine.scrape(Duration::from_secs(1)).await;
        let snap = engine.scrape(Duration::from_secs(1)).await;
        let one = |name: &str| {
            snap.family(name)
                .map(|f| (f.samples[0].labels.clone(), f.samples[0].value))
        };
        let (labels, value) = one("t_exporter_last_scrape_error").unwrap_or_default();
        assert_eq!(value, 1.0);
        assert_eq!(labels[0].1, "collectors failed: failing");
        assert_eq!(one("t_exporter_scrapes_total").map(|x| x.1), Some(2.0));
        assert_eq!(
            one("t_exporter_scrape_duration_seconds_count").map(|x| x.1),
            Some(2.0)
        );
        let last = one("t_exporter_last_scrape_duration_seconds").map_or(-1.0, |x| x.1);
        let sum = one("t_exporter_scrape_duration_seconds_sum").map_or(-1.0, |x| x.1);
        assert!(last >= 0.0 && sum >= last, "{last} {sum}");
    }

    #[test]
    fn deadline_takes_header_minus_offset_capped() {
        let s = ScrapeSettings {
            timeout: Duration::from_secs(8),
            timeout_offset: Duration::from_millis(500),
            series_limit: 1,
        };
        assert_eq!(s.deadline(None), Duration::from_secs(8));
        assert_eq!(s.deadline(Some(3.0)), Duration::from_millis(2500));
        assert_eq!(s.deadline(Some(30.0)), Duration::from_secs(8));
        assert_eq!(s.deadline(Some(0.2)), Duration::from_millis(100));
        assert_eq!(s.deadline(Some(f64::NAN)), Duration::from_secs(8));
        // A caller's huge header is clamped, never a panic.
        for huge in [1e20, 1e308, f64::MAX, f64::INFINITY] {
            assert_eq!(s.deadline(Some(huge)), Duration::from_secs(8), "{huge}");
        }
    }
}
