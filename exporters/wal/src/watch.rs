//! Keeps each directory's [`DirState`] current: inotify events (through
//! notify) trigger a rescan of their directory shortly after (a burst of
//! events shares one), a periodic full rescan catches what events missed
//! (queue overflow, a directory that came back), and where inotify is
//! unavailable or out of watches a polling rescan does all the work. Counting
//! by scan difference (by inode) is exact whatever order events arrive in.
//! Scrapes only read the state, so their cost does not grow with events.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};

use crate::scan::{scan, Kind};
use crate::state::{DirState, Summary};

/// One configured directory.
#[derive(Clone, Debug)]
pub struct DirConfig {
    /// The `dir` label: the configured name, or the path.
    pub name: String,
    pub path: PathBuf,
    pub kind: Kind,
}

/// How the watcher works.
#[derive(Clone, Debug)]
pub struct WatchSettings {
    /// Full rescan interval when events are delivered.
    pub rescan_interval: Duration,
    /// Rescan interval when watching by polling.
    pub poll_interval: Duration,
    /// Poll even where inotify works (network mounts deliver no events).
    pub force_poll: bool,
    /// How soon after an event its directory is rescanned (bursts share one).
    pub debounce: Duration,
}

impl Default for WatchSettings {
    fn default() -> Self {
        Self {
            rescan_interval: Duration::from_secs(60),
            poll_interval: Duration::from_secs(5),
            force_poll: false,
            debounce: Duration::from_millis(200),
        }
    }
}

/// One directory as scrapes see it.
pub struct WatchedDir {
    pub config: DirConfig,
    /// The full state; only the watcher thread works on it.
    state: Mutex<DirState>,
    /// What scrapes read, replaced after every scan.
    pub summary: Mutex<Summary>,
    /// How long the last scan took: event-triggered rescans wait at least
    /// ten times that, so a busy directory of 100k files is not rescanned
    /// back to back.
    last_scan: Mutex<Duration>,
    /// The directory could be read at the last scan.
    pub up: AtomicBool,
    /// Events by kind (create, modify, remove, rename, other).
    pub events: Mutex<BTreeMap<&'static str, u64>>,
    pub rescans: AtomicU64,
    /// The last read error, logged once per change.
    last_error: Mutex<Option<String>>,
    /// Whether inotify watches this directory now.
    watched: AtomicBool,
}

impl WatchedDir {
    fn new(config: DirConfig) -> Self {
        let kind = config.kind.clone();
        Self {
            config,
            state: Mutex::new(DirState::new(kind)),
            summary: Mutex::new(Summary::default()),
            last_scan: Mutex::new(Duration::ZERO),
            up: AtomicBool::new(false),
            events: Mutex::new(BTreeMap::new()),
            rescans: AtomicU64::new(0),
            last_error: Mutex::new(None),
            watched: AtomicBool::new(false),
        }
    }

    fn status_dir(&self) -> PathBuf {
        self.config.path.join("archive_status")
    }

    /// A full scan; on failure the directory is down until it reads again.
    fn rescan(&self) -> bool {
        self.rescans.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let result = scan(&self.config.path, &self.config.kind);
        match result {
            Ok(s) => {
                let summary = {
                    let mut st = lock(&self.state);
                    st.reconcile(s);
                    st.summary()
                };
                *lock(&self.summary) = summary;
                *lock(&self.last_scan) = started.elapsed();
                self.up.store(true, Ordering::Relaxed);
                let mut last = lock(&self.last_error);
                if last.take().is_some() {
                    tracing::info!(dir = %self.config.name, path = %self.config.path.display(), "directory readable again");
                }
                true
            }
            Err(e) => {
                self.up.store(false, Ordering::Relaxed);
                let msg = e.to_string();
                let mut last = lock(&self.last_error);
                if last.as_deref() != Some(msg.as_str()) {
                    tracing::warn!(dir = %self.config.name, path = %self.config.path.display(), error = %msg, "cannot read the directory");
                    *last = Some(msg);
                }
                false
            }
        }
    }

    fn count_event(&self, kind: &EventKind) {
        let label = match kind {
            EventKind::Create(_) => "create",
            EventKind::Modify(ModifyKind::Name(_)) => "rename",
            EventKind::Modify(_) => "modify",
            EventKind::Remove(_) => "remove",
            _ => "other",
        };
        *lock(&self.events).entry(label).or_default() += 1;
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Starts watching; the returned directories are updated by a thread of
/// their own for as long as the process runs. The first scan of each is
/// done before this returns.
pub fn start(dirs: Vec<DirConfig>, settings: WatchSettings) -> Vec<Arc<WatchedDir>> {
    let dirs: Vec<Arc<WatchedDir>> = dirs
        .into_iter()
        .map(|c| Arc::new(WatchedDir::new(c)))
        .collect();
    for d in &dirs {
        d.rescan();
    }
    let (tx, rx) = mpsc::channel::<notify::Result<notify::Event>>();
    let watcher = if settings.force_poll {
        None
    } else {
        match notify::recommended_watcher(tx) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!(error = %e, "inotify is unavailable; watching by polling");
                None
            }
        }
    };
    let shared = dirs.clone();
    let spawned = std::thread::Builder::new()
        .name("wal-watch".into())
        .spawn(move || run(shared, watcher, rx, settings));
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the watcher thread; state stays at the first scan");
    }
    dirs
}

fn run(
    dirs: Vec<Arc<WatchedDir>>,
    mut watcher: Option<notify::RecommendedWatcher>,
    rx: mpsc::Receiver<notify::Result<notify::Event>>,
    settings: WatchSettings,
) {
    let mut limit_logged = false;
    let mut next_scan: Vec<Instant> = vec![Instant::now(); dirs.len()];
    loop {
        // Watch what is readable and not watched yet (start, or a directory
        // that came back); a directory that is polled is rescanned more often.
        for (i, d) in dirs.iter().enumerate() {
            let up = d.up.load(Ordering::Relaxed);
            if let (Some(w), true, false) =
                (watcher.as_mut(), up, d.watched.load(Ordering::Relaxed))
            {
                match w.watch(&d.config.path, RecursiveMode::NonRecursive) {
                    Ok(()) => {
                        if d.config.kind == Kind::Postgres {
                            let _ = w.watch(&d.status_dir(), RecursiveMode::NonRecursive);
                        }
                        d.watched.store(true, Ordering::Relaxed);
                        // Events may have been missed while unwatched; after
                        // this scan, events and the rescan interval take over.
                        d.rescan();
                        next_scan[i] = Instant::now() + settings.rescan_interval;
                    }
                    Err(e) => {
                        if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) && !limit_logged {
                            tracing::warn!("the inotify watch limit is reached (fs.inotify.max_user_watches); polling instead");
                            limit_logged = true;
                        }
                    }
                }
            }
            if !up && d.watched.swap(false, Ordering::Relaxed) {
                if let Some(w) = watcher.as_mut() {
                    let _ = w.unwatch(&d.config.path);
                    let _ = w.unwatch(&d.status_dir());
                }
                // Gone: look for it again at the polling pace.
                next_scan[i] = next_scan[i].min(Instant::now() + settings.poll_interval);
            }
        }
        let now = Instant::now();
        let wait = next_scan
            .iter()
            .map(|t| t.saturating_duration_since(now))
            .min()
            .unwrap_or(settings.poll_interval);
        match rx.recv_timeout(wait) {
            // Opens, reads and read-only closes change nothing, and a
            // rescan's own opendir produces them: acting on them would make
            // every rescan schedule the next.
            Ok(Ok(event)) if !changes_something(&event) => {}
            Ok(Ok(event)) => {
                // Events mark their directory for a rescan soon; a burst of
                // events costs one rescan, and scrapes never pay for events.
                for (i, d) in dirs.iter().enumerate() {
                    if event.need_rescan()
                        || event.paths.iter().any(|p| p.starts_with(&d.config.path))
                    {
                        d.count_event(&event.kind);
                        let wait = settings.debounce.max(*lock(&d.last_scan) * 10);
                        let soon = Instant::now() + wait;
                        if next_scan[i] > soon {
                            next_scan[i] = soon;
                        }
                    }
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "watch error; rescanning");
                for d in &dirs {
                    d.rescan();
                }
            }
            Err(RecvTimeoutError::Timeout) => {}
            // The watcher is gone (its thread ended): poll from now on.
            Err(RecvTimeoutError::Disconnected) => {
                if watcher.take().is_some() {
                    tracing::warn!("the event watcher stopped; polling instead");
                }
                std::thread::sleep(wait);
            }
        }
        let now = Instant::now();
        for (i, d) in dirs.iter().enumerate() {
            if now >= next_scan[i] {
                d.rescan();
                let every = if d.watched.load(Ordering::Relaxed) {
                    settings.rescan_interval
                } else {
                    settings.poll_interval
                };
                next_scan[i] = now + every;
            }
        }
    }
}

/// Whether an event can change what a scan sees: everything but opens,
/// reads and closes without writing (a close after writing counts).
fn changes_something(event: &notify::Event) -> bool {
    event.need_rescan()
        || match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
            EventKind::Access(_) => false,
            _ => true,
        }
}
