//! Connections to one server: at most one per database, at most
//! `max_connections` in all, opened lazily, shared by every collector, and
//! thrown away (with a cancel request) when a query is abandoned.
//!
//! A tokio-postgres client pipelines concurrent queries over one connection,
//! so all collectors of a scrape share the connection to their database. The
//! count of open connections is held by a semaphore whose permit lives in the
//! task that drives the connection: a connection counts until its socket is
//! really closed, whatever the number of scrapes, scrapers or failures.
//!
//! Pools of one exporter (the main target's and each `/probe`'s) draw on one
//! [`ConnectionBudget`], so `--pg.max-connections` bounds them all together:
//! a pool that needs a connection when the budget is spent closes an idle
//! connection of another pool first.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::{CancelToken, Client, NoTls, SimpleQueryMessage};

use crate::dsn::Target;

/// Limits of a [`Pool`].
#[derive(Clone, Debug)]
pub struct PoolSettings {
    /// Most connections open at once, across all databases.
    pub max_connections: usize,
    /// How long establishing a connection may take.
    pub connect_timeout: Duration,
    /// Server-side `statement_timeout` for queries that do not ask for less.
    pub statement_timeout: Duration,
    /// Whether a query that runs again is prepared once per connection
    /// (`PREPARE`, then `EXECUTE`), so the server plans it once instead of
    /// on every scrape.
    pub prepare: bool,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 3,
            connect_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            prepare: true,
        }
    }
}

/// Why a query gave nothing. Never contains the password: tokio-postgres
/// errors carry the server's message, not the connection string.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("connecting to {server} (database {database:?}) timed out after {timeout:?}")]
    ConnectTimeout {
        server: String,
        database: String,
        timeout: Duration,
    },
    #[error("connecting to {server} (database {database:?}): {message}")]
    Connect {
        server: String,
        database: String,
        message: String,
    },
    #[error("{0} (failed earlier in this scrape)")]
    FailedThisScrape(String),
    #[error("no free connection: all {0} are busy")]
    Exhausted(usize),
    #[error("{0}")]
    Query(String),
}

/// Formats a tokio-postgres error with the server's message and SQLSTATE.
pub fn describe(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        ),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                s.push_str(": ");
                s.push_str(&inner.to_string());
                src = inner.source();
            }
            s
        }
    }
}

/// One result row of the simple query protocol: text values by column.
#[derive(Debug, Clone, Default)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Rows {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }
}

/// An open connection to one database.
pub struct Conn {
    client: Client,
    cancel: CancelToken,
    /// The connector, again for cancel requests (they speak TLS too).
    tls: Option<crate::tls::RustlsConnect>,
    broken: AtomicBool,
    pub database: String,
    /// `server_version_num`, read when connecting.
    pub server_version: u32,
    /// `version()`, read when connecting.
    pub version_string: String,
    /// The session's statement_timeout in milliseconds, set when
    /// connecting (0 until then).
    session_timeout_ms: u128,
    /// The statements prepared on this session, by their text.
    statements: Mutex<Statements>,
    /// Shared by the pool's connections: cleared when the server says a
    /// statement prepared on a session is gone (a pooler between us and
    /// the server hands each query to another session).
    prepare: Arc<AtomicBool>,
    // Dropping this closes the connection task, and with it the socket.
    _close: tokio::sync::oneshot::Sender<()>,
}

/// A timeout as PostgreSQL's `statement_timeout` / `lock_timeout` take it:
/// whole milliseconds, at least 1 (0 would mean none). The session's value
/// and a query's are compared in this form.
fn timeout_ms(timeout: Duration) -> u128 {
    timeout.as_millis().clamp(1, i32::MAX as u128)
}

/// Most statements prepared on one connection; further queries run as
/// they are. Built-in collectors have about twenty; this bounds what
/// generated queries (one per configured queue, say) keep on the server.
const MAX_PREPARED: usize = 128;

/// SQLSTATE 26000: no prepared statement of that name on the session.
const INVALID_STATEMENT_NAME: &str = "26000";
/// SQLSTATE 0A000: among others, "cached plan must not change result type"
/// after the tables under a prepared statement changed.
const FEATURE_NOT_SUPPORTED: &str = "0A000";
/// SQLSTATE 42601: PREPARE does not take the statement.
const SYNTAX_ERROR: &str = "42601";

#[derive(Default)]
struct Statements {
    by_sql: HashMap<Box<str>, Prepared>,
    next: u32,
}

#[derive(Clone, Copy)]
enum Prepared {
    /// Prepared as `sw_<n>`.
    Named(u32),
    /// PREPARE does not take it: it always runs as it is.
    Never,
}

/// The statement `PREPARE` gets for `sql`, if it takes one: a single
/// SELECT, WITH, VALUES or TABLE statement (a trailing `;` dropped). A `;`
/// anywhere else, even quoted, keeps the query as it is.
fn preparable(sql: &str) -> Option<&str> {
    let body = sql.trim().trim_end_matches(';').trim_end();
    if body.contains(';') {
        return None;
    }
    let mut rest = body;
    loop {
        rest = rest.trim_start();
        if let Some(r) = rest.strip_prefix("--") {
            rest = r.split_once('\n').map_or("", |(_, after)| after);
        } else if let Some(r) = rest.strip_prefix("/*") {
            rest = r.split_once("*/").map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let word = rest
        .split(|c: char| !c.is_ascii_alphabetic())
        .next()
        .unwrap_or("");
    ["select", "with", "values", "table"]
        .iter()
        .any(|k| word.eq_ignore_ascii_case(k))
        .then_some(body)
}

fn sqlstate(e: &tokio_postgres::Error) -> Option<&str> {
    e.as_db_error().map(|db| db.code().code())
}

/// Marks a connection broken when a query future is dropped before it
/// finished (the scrape deadline passed): the query may still run on the
/// server, so a cancel request is sent and the connection is not reused.
struct InFlight<'a> {
    conn: &'a Conn,
    done: bool,
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.conn.broken.store(true, Ordering::Relaxed);
        let token = self.conn.cancel.clone();
        let tls = self.conn.tls.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                let cancel = async {
                    match tls {
                        None => token.cancel_query(NoTls).await,
                        Some(t) => token.cancel_query(t).await,
                    }
                };
                let _ = tokio::time::timeout(Duration::from_secs(2), cancel).await;
            });
        }
    }
}

impl Conn {
    pub fn is_usable(&self) -> bool {
        !self.broken.load(Ordering::Relaxed) && !self.client.is_closed()
    }

    /// Runs `sql` with a server-side timeout of `timeout` (at least 1 ms).
    /// Uses the simple query protocol: one round trip, text values.
    pub async fn query(&self, sql: &str, timeout: Duration) -> Result<Rows, PgError> {
        let mut rows = Rows::default();
        self.query_each(sql, timeout, |event| match event {
            RowEvent::Columns(cols) => {
                rows.columns = cols.to_vec();
                rows.rows.clear();
            }
            RowEvent::Row(row) => rows
                .rows
                .push(row.iter().map(|v| v.map(str::to_owned)).collect()),
        })
        .await?;
        Ok(rows)
    }

    /// Runs `sql` like [`Conn::query`], handing each row to `each` as it
    /// arrives instead of keeping the result: memory follows what `each`
    /// keeps, not the number of rows.
    ///
    /// A statement PREPARE takes is prepared the first time it runs on
    /// this connection and executed by name from then on: the server
    /// parses and plans it once per session, not once per scrape.
    pub async fn query_each(
        &self,
        sql: &str,
        timeout: Duration,
        mut each: impl FnMut(RowEvent<'_>),
    ) -> Result<(), PgError> {
        let ms = timeout_ms(timeout);
        // The session's own statement_timeout, set when connecting, is the
        // usual one: the query goes alone. Any other is set for this query
        // only, in the same message: `SET LOCAL` lasts until the end of the
        // message's implicit transaction, so it never leaks into the
        // queries pipelined behind it, whether this one succeeds or fails.
        let local = (ms != self.session_timeout_ms)
            .then(|| format!("SET LOCAL statement_timeout = {ms}; "));
        let local = local.as_deref().unwrap_or("");
        if let Some(name) = self.prepared(sql).await? {
            let mut delivered = false;
            let text = format!("{local}EXECUTE sw_{name}");
            let ran = self
                .run(&text, &mut |event: RowEvent<'_>| {
                    delivered = true;
                    each(event)
                })
                .await;
            match ran {
                Ok(()) => return Ok(()),
                Err(e) if delivered => return Err(self.failed(&e)),
                Err(e) => match sqlstate(&e) {
                    Some(INVALID_STATEMENT_NAME) => {
                        // Prepared on one server session, executed on
                        // another: a pooler hands out sessions per query.
                        if self.prepare.swap(false, Ordering::Relaxed) {
                            tracing::warn!(
                                database = %self.database,
                                "a statement prepared on this connection was gone when executed \
                                 (a pooler in transaction mode?): queries run unprepared from now on"
                            );
                        }
                        self.statements_lock().by_sql.clear();
                    }
                    Some(FEATURE_NOT_SUPPORTED) => {
                        // The tables under it changed their columns: it is
                        // prepared again next time, under a new name.
                        self.statements_lock().by_sql.remove(sql);
                        let _ = self
                            .run(&format!("DEALLOCATE sw_{name}"), &mut |_| {})
                            .await;
                    }
                    _ => return Err(self.failed(&e)),
                },
            }
        }
        let text;
        let text = if local.is_empty() {
            sql
        } else {
            text = format!("{local}{sql}");
            &text
        };
        self.run(text, &mut each).await.map_err(|e| self.failed(&e))
    }

    fn statements_lock(&self) -> std::sync::MutexGuard<'_, Statements> {
        self.statements.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The name `sql` is prepared under on this connection, preparing it
    /// now if it never was; None when it runs as it is.
    async fn prepared(&self, sql: &str) -> Result<Option<u32>, PgError> {
        if !self.prepare.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let Some(body) = preparable(sql) else {
            return Ok(None);
        };
        let name = {
            let mut statements = self.statements_lock();
            match statements.by_sql.get(sql) {
                Some(Prepared::Named(n)) => return Ok(Some(*n)),
                Some(Prepared::Never) => return Ok(None),
                None if statements.by_sql.len() >= MAX_PREPARED => return Ok(None),
                None => {
                    statements.next += 1;
                    statements.next
                }
            }
        };
        match self
            .run(&format!("PREPARE sw_{name} AS {body}"), &mut |_| {})
            .await
        {
            Ok(()) => {
                self.statements_lock()
                    .by_sql
                    .insert(sql.into(), Prepared::Named(name));
                Ok(Some(name))
            }
            Err(e) if e.as_db_error().is_none() => Err(self.failed(&e)),
            Err(e) => {
                // Not a statement PREPARE takes: it runs as it is from now
                // on. One that failed for another reason (a table not yet
                // there) runs as it is this time, with its own error, and
                // is prepared again next time.
                if matches!(sqlstate(&e), Some(SYNTAX_ERROR | FEATURE_NOT_SUPPORTED)) {
                    self.statements_lock()
                        .by_sql
                        .insert(sql.into(), Prepared::Never);
                }
                Ok(None)
            }
        }
    }

    fn failed(&self, e: &tokio_postgres::Error) -> PgError {
        if e.is_closed() {
            self.broken.store(true, Ordering::Relaxed);
        }
        PgError::Query(describe(e))
    }

    /// Sends `text` as one simple-query message and hands its rows to
    /// `each`.
    async fn run<F: FnMut(RowEvent<'_>)>(
        &self,
        text: &str,
        each: &mut F,
    ) -> Result<(), tokio_postgres::Error> {
        use futures::StreamExt;
        let mut guard = InFlight {
            conn: self,
            done: false,
        };
        let stream = self.client.simple_query_raw(text).await;
        let mut stream = std::pin::pin!(stream.inspect_err(|_| guard.done = true)?);
        let mut columns: Vec<String> = Vec::new();
        while let Some(message) = stream.next().await {
            let message = match message {
                Ok(m) => m,
                Err(e) => {
                    guard.done = true;
                    return Err(e);
                }
            };
            match message {
                SimpleQueryMessage::RowDescription(cols) => {
                    columns = cols.iter().map(|c| c.name().to_owned()).collect();
                    each(RowEvent::Columns(&columns));
                }
                SimpleQueryMessage::Row(row) => {
                    if columns.is_empty() {
                        columns = row.columns().iter().map(|c| c.name().to_owned()).collect();
                        each(RowEvent::Columns(&columns));
                    }
                    // On the stack for up to 32 columns (the statistics
                    // views have 20-30): no allocation per row.
                    let values: smallvec::SmallVec<[Option<&str>; 32]> =
                        (0..row.len()).map(|i| row.get(i)).collect();
                    each(RowEvent::Row(&values));
                }
                _ => {}
            }
        }
        guard.done = true;
        Ok(())
    }
}

/// What [`Conn::query_each`] hands over: the column names of a result, then
/// its rows, values in column order (`None` for NULL).
pub enum RowEvent<'a> {
    Columns(&'a [String]),
    Row(&'a [Option<&'a str>]),
}

/// What an open connection holds until its socket is closed.
struct Permits {
    _own: Option<OwnedSemaphorePermit>,
    _shared: OwnedSemaphorePermit,
}

#[derive(Default)]
struct Slot {
    conn: tokio::sync::Mutex<Option<Arc<Conn>>>,
    last_used: AtomicU64,
    /// The last failed connect: the deadline of the scrape it failed in, and
    /// why. Other collectors of that scrape get the same answer at once
    /// instead of each trying (and timing out) again against a dead server.
    failed: Mutex<Option<(tokio::time::Instant, String)>>,
}

/// (database, lane): a database may have more than one connection (lanes)
/// so that the server works on several queries of a scrape at once.
type SlotKey = (String, u8);

/// The connections every pool of an exporter may hold at once, together.
pub struct ConnectionBudget {
    max: usize,
    permits: Arc<Semaphore>,
    pools: Mutex<Vec<Weak<Pool>>>,
}

impl ConnectionBudget {
    pub fn new(max: usize) -> Arc<Self> {
        let max = max.max(1);
        Arc::new(Self {
            max,
            permits: Arc::new(Semaphore::new(max)),
            pools: Mutex::new(Vec::new()),
        })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    /// Connections open right now, over every pool.
    pub fn in_use(&self) -> usize {
        self.max - self.permits.available_permits()
    }

    fn register(&self, pool: &Arc<Pool>) {
        let mut pools = self.pools.lock().unwrap_or_else(|p| p.into_inner());
        pools.retain(|w| w.strong_count() > 0);
        pools.push(Arc::downgrade(pool));
    }

    /// Closes one idle connection of a pool other than `except`.
    fn evict_elsewhere(&self, except: &Pool) -> bool {
        let pools: Vec<Arc<Pool>> = self
            .pools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        pools
            .iter()
            .filter(|p| !std::ptr::eq(Arc::as_ptr(p), except))
            .any(|p| p.evict_idle(None))
    }
}

/// Connections to one server.
pub struct Pool {
    target: Target,
    settings: PoolSettings,
    /// This pool's own cap (`settings.max_connections`).
    permits: Arc<Semaphore>,
    budget: Arc<ConnectionBudget>,
    slots: Mutex<HashMap<SlotKey, Arc<Slot>>>,
    clock: AtomicU64,
    /// Whether queries are prepared (see [`PoolSettings::prepare`]); turned
    /// off for good when the server loses a prepared statement.
    prepare: Arc<AtomicBool>,
}

impl Pool {
    /// A pool with a budget of its own, of `settings.max_connections`.
    pub fn new(target: Target, settings: PoolSettings) -> Arc<Self> {
        let budget = ConnectionBudget::new(settings.max_connections);
        Self::with_budget(target, settings, &budget)
    }

    /// A pool whose connections also count against `budget`.
    pub fn with_budget(
        target: Target,
        settings: PoolSettings,
        budget: &Arc<ConnectionBudget>,
    ) -> Arc<Self> {
        let max = settings.max_connections.max(1);
        let prepare = Arc::new(AtomicBool::new(settings.prepare));
        let pool = Arc::new(Self {
            target,
            settings,
            permits: Arc::new(Semaphore::new(max)),
            budget: Arc::clone(budget),
            slots: Mutex::new(HashMap::new()),
            clock: AtomicU64::new(0),
            prepare,
        });
        budget.register(&pool);
        pool
    }

    pub fn budget(&self) -> &Arc<ConnectionBudget> {
        &self.budget
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn settings(&self) -> &PoolSettings {
        &self.settings
    }

    /// Server-side timeout for one query: what it asks for (or
    /// `statement_timeout`), never more than what is left of the scrape.
    /// The one place where this client caps a statement by the deadline.
    pub fn statement_timeout(
        &self,
        wanted: Option<Duration>,
        deadline: tokio::time::Instant,
    ) -> Duration {
        let wanted = wanted.unwrap_or(self.settings.statement_timeout);
        let left = deadline
            .saturating_duration_since(tokio::time::Instant::now())
            .saturating_sub(Duration::from_millis(50));
        wanted.min(left).max(Duration::from_millis(1))
    }

    /// The up-probe of this server: `SELECT 1` in the target's database,
    /// by `deadline`.
    pub async fn ping(&self, deadline: tokio::time::Instant) -> Result<(), PgError> {
        let conn = self.get(&self.target.database, deadline).await?;
        conn.query("SELECT 1", self.statement_timeout(None, deadline))
            .await
            .map(|_| ())
    }

    /// Closes every connection no query is using; the next query reconnects.
    pub fn close_idle(&self) {
        while self.evict_idle(None) {}
    }

    /// Connections open right now (for tests and the landing page).
    pub fn open_connections(&self) -> usize {
        self.settings.max_connections.max(1) - self.permits.available_permits()
    }

    fn slot(&self, key: &SlotKey) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(slots.entry(key.clone()).or_default())
    }

    /// The connection to `database`, opening it if needed, for a scrape
    /// that ends at `deadline`.
    pub async fn get(
        &self,
        database: &str,
        deadline: tokio::time::Instant,
    ) -> Result<Arc<Conn>, PgError> {
        self.get_lane(database, 0, deadline).await
    }

    /// The connection of `lane` to `database`, opening it if needed. A
    /// connect that failed in the scrape ending at `deadline` is not tried
    /// again in it.
    pub async fn get_lane(
        &self,
        database: &str,
        lane: u8,
        deadline: tokio::time::Instant,
    ) -> Result<Arc<Conn>, PgError> {
        let key = (database.to_owned(), lane);
        let slot = self.slot(&key);
        let mut held = slot.conn.lock().await;
        slot.last_used.store(
            self.clock.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
        if let Some(conn) = held.as_ref() {
            if conn.is_usable() {
                return Ok(Arc::clone(conn));
            }
        }
        *held = None;
        if let Some((then, why)) = slot
            .failed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            if deadline == *then {
                return Err(PgError::FailedThisScrape(why.clone()));
            }
        }
        let permit = self.permit(&key).await?;
        match self.connect(database, permit).await {
            Ok(conn) => {
                let conn = Arc::new(conn);
                *held = Some(Arc::clone(&conn));
                *slot.failed.lock().unwrap_or_else(|p| p.into_inner()) = None;
                Ok(conn)
            }
            Err(e) => {
                *slot.failed.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some((deadline, e.to_string()));
                Err(e)
            }
        }
    }

    /// Permits for one more connection, from this pool's cap and from the
    /// shared budget: free ones, else close the least recently used idle
    /// connection (of this pool to another database, or of another pool) and
    /// take its permit once its socket is closed. Connections in use become
    /// idle as their collectors move on, so this retries until the connect
    /// timeout.
    async fn permit(&self, key: &SlotKey) -> Result<Permits, PgError> {
        let started = tokio::time::Instant::now();
        let mut own: Option<OwnedSemaphorePermit> = None;
        loop {
            if own.is_none() {
                own = Arc::clone(&self.permits).try_acquire_owned().ok();
            }
            if own.is_some() {
                if let Ok(shared) = Arc::clone(&self.budget.permits).try_acquire_owned() {
                    return Ok(Permits {
                        _own: own.take(),
                        _shared: shared,
                    });
                }
            }
            if own.is_none() {
                self.evict_idle(Some(key));
            } else if !self.evict_idle(Some(key)) {
                self.budget.evict_elsewhere(self);
            }
            let left = self
                .settings
                .connect_timeout
                .saturating_sub(started.elapsed());
            if left.is_zero() {
                return Err(PgError::Exhausted(
                    self.settings.max_connections.min(self.budget.max),
                ));
            }
            let wait = left.min(Duration::from_millis(25));
            if own.is_none() {
                if let Ok(Ok(p)) =
                    tokio::time::timeout(wait, Arc::clone(&self.permits).acquire_owned()).await
                {
                    own = Some(p);
                }
            } else {
                tokio::time::sleep(wait).await;
            }
        }
    }

    /// Closes the least recently used idle connection of a slot other than
    /// `except`; whether one was closed.
    fn evict_idle(&self, except: Option<&SlotKey>) -> bool {
        let mut candidates: Vec<(u64, Arc<Slot>)> = self
            .slots
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(k, _)| Some(*k) != except)
            .map(|(_, s)| (s.last_used.load(Ordering::Relaxed), Arc::clone(s)))
            .collect();
        candidates.sort_by_key(|(t, _)| *t);
        for (_, slot) in candidates {
            if let Ok(mut held) = slot.conn.try_lock() {
                if held.as_ref().is_some_and(|c| Arc::strong_count(c) == 1) {
                    *held = None;
                    return true;
                }
            }
        }
        false
    }

    /// Connects with `tls` and spawns the connection's task; Err(None) on
    /// timeout.
    async fn open<T>(
        config: tokio_postgres::Config,
        tls: T,
        timeout: Duration,
        permit: Permits,
    ) -> Result<(Client, tokio::sync::oneshot::Sender<()>), Option<tokio_postgres::Error>>
    where
        T: tokio_postgres::tls::MakeTlsConnect<tokio_postgres::Socket>,
        T::Stream: Send + 'static,
    {
        let (client, connection) = match tokio::time::timeout(timeout, config.connect(tls)).await {
            Err(_) => return Err(None),
            Ok(Err(e)) => return Err(Some(e)),
            Ok(Ok(pair)) => pair,
        };
        let (close_tx, close_rx) = tokio::sync::oneshot::channel::<()>();
        let db_name = config.get_dbname().unwrap_or_default().to_owned();
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                result = connection => {
                    if let Err(e) = result {
                        tracing::debug!(database = %db_name, error = %describe(&e), "connection closed");
                    }
                }
                _ = close_rx => {}
            }
        });
        Ok((client, close_tx))
    }

    async fn connect(&self, database: &str, permit: Permits) -> Result<Conn, PgError> {
        let mut config = self.target.config.clone();
        config.dbname(database);
        config.connect_timeout(self.settings.connect_timeout);
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        let server = &self.target.server;
        let tls = self.target.tls.clone().map(crate::tls::RustlsConnect);
        let connected = match &tls {
            None => Self::open(config, NoTls, self.settings.connect_timeout, permit).await,
            Some(t) => Self::open(config, t.clone(), self.settings.connect_timeout, permit).await,
        };
        let (client, close_tx) = match connected {
            Err(None) => {
                return Err(PgError::ConnectTimeout {
                    server: server.clone(),
                    database: database.to_owned(),
                    timeout: self.settings.connect_timeout,
                })
            }
            Err(Some(e)) => {
                return Err(PgError::Connect {
                    server: server.clone(),
                    database: database.to_owned(),
                    message: describe(&e),
                })
            }
            Ok(pair) => pair,
        };
        let cancel = client.cancel_token();
        let mut conn = Conn {
            client,
            cancel,
            tls,
            broken: AtomicBool::new(false),
            database: database.to_owned(),
            server_version: 0,
            version_string: String::new(),
            session_timeout_ms: 0,
            statements: Mutex::default(),
            prepare: Arc::clone(&self.prepare),
            _close: close_tx,
        };
        let ms = timeout_ms(self.settings.statement_timeout);
        let setup = format!(
            "SET statement_timeout = {ms}; \
             SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET IntervalStyle = 'postgres'; \
             SET lock_timeout = {ms}; \
             SELECT current_setting('server_version_num'), version()"
        );
        // The setup sets the session's timeout itself; a connection whose
        // setup failed is not used.
        conn.session_timeout_ms = ms;
        let rows = tokio::time::timeout(
            self.settings.connect_timeout,
            conn.query(&setup, self.settings.statement_timeout),
        )
        .await
        .map_err(|_| PgError::ConnectTimeout {
            server: server.clone(),
            database: database.to_owned(),
            timeout: self.settings.connect_timeout,
        })??;
        if let Some(row) = rows.rows.first() {
            conn.server_version = row
                .first()
                .and_then(|v| v.as_deref())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            conn.version_string = row.get(1).cloned().flatten().unwrap_or_default();
        }
        tracing::debug!(server = %server, database, "connected");
        Ok(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::preparable;

    #[test]
    fn only_single_queries_are_prepared() {
        assert_eq!(preparable("SELECT 1"), Some("SELECT 1"));
        assert_eq!(preparable("  select 1 ;\n"), Some("select 1"));
        assert_eq!(
            preparable("-- sizes\n/* all */ WITH x AS (SELECT 1) SELECT * FROM x"),
            Some("-- sizes\n/* all */ WITH x AS (SELECT 1) SELECT * FROM x")
        );
        assert_eq!(preparable("VALUES (1)"), Some("VALUES (1)"));
        assert_eq!(preparable("TABLE pg_database"), Some("TABLE pg_database"));
        // Two statements, a quoted `;`, utility statements, nothing.
        assert_eq!(preparable("SET x = 1; SELECT 1"), None);
        assert_eq!(preparable("SELECT ';'"), None);
        assert_eq!(preparable("SHOW server_version"), None);
        assert_eq!(preparable("EXPLAIN SELECT 1"), None);
        assert_eq!(preparable("selectivity"), None);
        assert_eq!(preparable("-- only a comment"), None);
        assert_eq!(preparable(""), None);
    }
}
