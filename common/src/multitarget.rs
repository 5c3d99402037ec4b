//! Multi-target requests (`/probe?target=` for postgres, `/scrape?target=`
//! for redis), once for every exporter.
//!
//! An exporter says which target a request names and how to build an engine
//! for it ([`MultiTarget`]); [`Targets`] does the rest: engines are kept per
//! target for reuse (their caches and coalescing then work across
//! requests, so ten scrapers of one target put one load on it), at most
//! [`MAX_TARGETS`] of them and none idle longer than [`IDLE`], and after each
//! request the exporter's `release` closes what must not stay open. The
//! answer has the target's families and the collector bookkeeping, not the
//! exporter's own process families.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::future::BoxFuture;

use crate::engine::ScrapeEngine;
use crate::http::{ProbeHandler, StatusCode};
use crate::metrics::Snapshot;

/// Most target engines kept at once; the least recently used goes first.
pub const MAX_TARGETS: usize = 64;

/// How long an engine is kept without a request.
pub const IDLE: Duration = Duration::from_secs(300);

/// One target's engine, and what to do after each request to it.
pub struct TargetEngine {
    pub engine: Arc<ScrapeEngine>,
    /// Closes what must not stay open between requests (a connection that
    /// would hold a slot of a shared cap); `None` keeps everything.
    pub release: Option<Box<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync>>,
}

/// An exporter's side of multi-target requests.
pub trait MultiTarget: Send + Sync + 'static {
    type Target: Send + 'static;

    /// Where the route is served (`/probe`, `/scrape`).
    fn path(&self) -> &'static str;

    /// The target a request names, checked (allow-list, auth module), and a
    /// key: requests with the same key share one engine, so it must name
    /// everything that tells two targets apart (address and credentials).
    /// An `Err` is that status and a one-line body.
    fn target(
        &self,
        params: &HashMap<String, String>,
    ) -> Result<(String, Self::Target), (StatusCode, String)>;

    /// A new engine for `target` (built with [`ScrapeEngine::for_target`]).
    fn engine(&self, target: Self::Target) -> TargetEngine;
}

/// The engines of the targets requested so far.
pub struct Targets<M: MultiTarget> {
    exporter: M,
    engines: Mutex<HashMap<String, (Instant, Arc<TargetEngine>)>>,
}

impl<M: MultiTarget> Targets<M> {
    pub fn new(exporter: M) -> Self {
        Self {
            exporter,
            engines: Mutex::new(HashMap::new()),
        }
    }

    fn engine_for(&self, key: String, target: M::Target) -> Arc<TargetEngine> {
        let now = Instant::now();
        let mut engines = self.engines.lock().unwrap_or_else(|p| p.into_inner());
        engines.retain(|_, (used, _)| now.duration_since(*used) < IDLE);
        if let Some((used, engine)) = engines.get_mut(&key) {
            *used = now;
            return Arc::clone(engine);
        }
        if engines.len() >= MAX_TARGETS {
            if let Some(oldest) = engines
                .iter()
                .min_by_key(|(_, (used, _))| *used)
                .map(|(k, _)| k.clone())
            {
                engines.remove(&oldest);
            }
        }
        let engine = Arc::new(self.exporter.engine(target));
        engines.insert(key, (now, Arc::clone(&engine)));
        engine
    }
}

impl<M: MultiTarget> ProbeHandler for Targets<M> {
    fn path(&self) -> &'static str {
        self.exporter.path()
    }

    fn probe(
        &self,
        params: HashMap<String, String>,
        deadline: Duration,
    ) -> BoxFuture<'static, Result<Arc<Snapshot>, (StatusCode, String)>> {
        let found = self
            .exporter
            .target(&params)
            .map(|(key, target)| self.engine_for(key, target));
        Box::pin(async move {
            let target = found?;
            let snapshot = target.engine.scrape(deadline).await;
            if let Some(release) = &target.release {
                release().await;
            }
            Ok(snapshot)
        })
    }
}
