//! One long-lived connection per target, opened lazily and reopened after a
//! failure; every command is bounded by the connection timeout and by what is
//! left of the scrape.
//!
//! A [`Session`] holds the connection for a batch of commands. A command that
//! fails, times out or is abandoned (its scrape ran past the deadline) drops
//! the connection, since a reply still on its way would answer the next
//! command; the next session connects afresh.

use std::path::PathBuf;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{Mutex, MutexGuard};

use crate::resp::{self, RespError, Value};
use crate::target::{Endpoint, Target};

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// How connections are made.
#[derive(Clone)]
pub struct ClientSettings {
    /// Bound of connecting and of each command (`--connection-timeout`).
    pub timeout: Duration,
    /// Used for `rediss://` targets.
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// `CLIENT SETNAME` after connecting, so operators see who is connected.
    pub client_name: Option<String>,
    /// PING as part of connecting (`--ping-on-connect`).
    pub ping: bool,
    /// Bound of one reply (`--redis.max-reply-bytes`): a hostile or broken
    /// server fails the command instead of growing the exporter's memory.
    pub max_reply_bytes: usize,
    /// Connections every client made from these settings may hold at once,
    /// together (`--redis.max-connections`); `None`: no shared cap.
    pub connection_cap: Option<Arc<tokio::sync::Semaphore>>,
}

impl Default for ClientSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            tls: None,
            client_name: Some("sidewatch-redis".to_owned()),
            ping: false,
            max_reply_bytes: resp::DEFAULT_MAX_REPLY_BYTES,
            connection_cap: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot connect to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("authentication failed: {0}")]
    Auth(String),
    #[error("{0} timed out")]
    Timeout(&'static str),
    #[error("connection lost: {0}")]
    Connection(#[from] RespError),
    /// The server answered with an error reply (WRONGTYPE, NOPERM, ...).
    #[error("{0}")]
    Server(String),
}

struct Conn {
    stream: BufReader<Box<dyn Stream>>,
    db: u32,
    max_reply_bytes: usize,
    // Released when the connection is dropped (and its socket closed).
    _permit: Option<tokio::sync::OwnedSemaphorePermit>,
}

/// The connection to one target.
pub struct Client {
    target: Target,
    settings: ClientSettings,
    conn: Mutex<Option<Conn>>,
    /// Seconds the last successful connect took.
    last_connect: StdMutex<Option<f64>>,
}

impl Client {
    pub fn new(target: Target, settings: ClientSettings) -> Arc<Self> {
        Arc::new(Self {
            target,
            settings,
            conn: Mutex::new(None),
            last_connect: StdMutex::new(None),
        })
    }

    pub fn target(&self) -> &Target {
        &self.target
    }

    /// Seconds the most recent connect took, if one succeeded.
    pub fn last_connect_seconds(&self) -> Option<f64> {
        *self.last_connect.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// When the current operation must end: the connection timeout from now,
    /// or the caller's deadline if sooner. The one place this client caps a
    /// command by the scrape.
    fn op_deadline(&self, deadline: tokio::time::Instant) -> tokio::time::Instant {
        deadline.min(tokio::time::Instant::now() + self.settings.timeout)
    }

    /// Takes the connection for a batch of commands, connecting if needed;
    /// every command of the session ends by `deadline` (the scrape's).
    pub async fn session(
        &self,
        deadline: tokio::time::Instant,
    ) -> Result<Session<'_>, ClientError> {
        let scrape_deadline = deadline;
        let deadline = self.op_deadline(scrape_deadline);
        let mut guard = tokio::time::timeout_at(deadline, self.conn.lock())
            .await
            .map_err(|_| ClientError::Timeout("waiting for the connection"))?;
        if guard.is_none() {
            let conn = tokio::time::timeout_at(deadline, self.connect())
                .await
                .map_err(|_| self.connect_timed_out())??;
            *guard = Some(conn);
        }
        Ok(Session {
            client: self,
            deadline: scrape_deadline,
            guard,
        })
    }

    /// Why a connect did not finish in time: the shared cap was spent, or
    /// the server did not answer.
    fn connect_timed_out(&self) -> ClientError {
        match &self.settings.connection_cap {
            Some(cap) if cap.available_permits() == 0 => ClientError::Timeout(
                "waiting for a free connection (all --redis.max-connections are in use)",
            ),
            _ => ClientError::Timeout("connecting"),
        }
    }

    /// The up-probe of this server: PING over the connection, by `deadline`.
    pub async fn ping(&self, deadline: tokio::time::Instant) -> Result<(), ClientError> {
        self.session(deadline)
            .await?
            .cmd(&[b"PING"])
            .await
            .map(|_| ())
    }

    /// Closes the connection; the next session reconnects.
    pub async fn close(&self) {
        *self.conn.lock().await = None;
    }

    async fn connect(&self) -> Result<Conn, ClientError> {
        // Waits for a free connection under the caller's deadline; the
        // caller's timeout turns a long wait into an error.
        let permit = match &self.settings.connection_cap {
            Some(cap) => Some(
                Arc::clone(cap)
                    .acquire_owned()
                    .await
                    .map_err(|_| ClientError::Timeout("waiting for a free connection"))?,
            ),
            None => None,
        };
        let started = Instant::now();
        let addr = self.target.display();
        let fail = |reason: String| ClientError::Connect {
            addr: addr.clone(),
            reason,
        };
        let stream: Box<dyn Stream> = match &self.target.endpoint {
            Endpoint::Tcp { host, port, tls } => {
                let tcp = tokio::net::TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(|e| fail(e.to_string()))?;
                let _ = tcp.set_nodelay(true);
                if *tls {
                    let config = self
                        .settings
                        .tls
                        .clone()
                        .ok_or_else(|| fail("TLS is not configured".into()))?;
                    let name = rustls::pki_types::ServerName::try_from(host.clone())
                        .map_err(|e| fail(format!("server name {host:?}: {e}")))?;
                    let tls = tokio_rustls::TlsConnector::from(config)
                        .connect(name, tcp)
                        .await
                        .map_err(|e| fail(format!("TLS handshake: {e}")))?;
                    Box::new(tls)
                } else {
                    Box::new(tcp)
                }
            }
            Endpoint::Unix { path } => Box::new(
                tokio::net::UnixStream::connect(PathBuf::from(path))
                    .await
                    .map_err(|e| fail(e.to_string()))?,
            ),
        };
        let mut conn = Conn {
            stream: BufReader::with_capacity(16 * 1024, stream),
            db: 0,
            max_reply_bytes: self.settings.max_reply_bytes,
            _permit: permit,
        };
        if let Some(password) = &self.target.password {
            let reply = match &self.target.user {
                Some(user) => {
                    round_trip(
                        &mut conn,
                        &[&[b"AUTH", user.as_bytes(), password.0.as_bytes()]],
                    )
                    .await?
                }
                None => round_trip(&mut conn, &[&[b"AUTH", password.0.as_bytes()]]).await?,
            };
            if let Some(Value::Error(e)) = reply.first() {
                return Err(ClientError::Auth(e.clone()));
            }
        }
        let mut setup: Vec<Vec<&[u8]>> = Vec::new();
        if let Some(name) = &self.settings.client_name {
            setup.push(vec![b"CLIENT", b"SETNAME", name.as_bytes()]);
        }
        let db = self.target.db.to_string();
        if self.target.db != 0 {
            setup.push(vec![b"SELECT", db.as_bytes()]);
        }
        if setup.is_empty() || self.settings.ping {
            // Without AUTH or setup, PING proves the server speaks RESP.
            setup.push(vec![b"PING"]);
        }
        let refs: Vec<&[&[u8]]> = setup.iter().map(|c| c.as_slice()).collect();
        for reply in round_trip(&mut conn, &refs).await? {
            if let Value::Error(e) = reply {
                // NOAUTH / WRONGPASS: the server wants credentials we lack.
                if e.starts_with("NOAUTH") || e.starts_with("WRONGPASS") {
                    return Err(ClientError::Auth(e));
                }
                if e.starts_with("ERR DB index") {
                    return Err(ClientError::Server(e));
                }
                // CLIENT SETNAME may be renamed or denied by ACLs; not fatal.
                tracing::debug!(error = %e, "connection setup command refused");
            }
        }
        conn.db = self.target.db;
        *self.last_connect.lock().unwrap_or_else(|p| p.into_inner()) =
            Some(started.elapsed().as_secs_f64());
        tracing::debug!(addr = %addr, "connected");
        Ok(conn)
    }
}

/// Sends commands in one write and reads their replies.
async fn round_trip(conn: &mut Conn, cmds: &[&[&[u8]]]) -> Result<Vec<Value>, RespError> {
    let mut out = Vec::with_capacity(64 * cmds.len());
    for c in cmds {
        resp::encode_command(&mut out, c);
    }
    let w = conn.stream.get_mut();
    w.write_all(&out).await?;
    w.flush().await?;
    let mut replies = Vec::with_capacity(cmds.len());
    for _ in cmds {
        replies.push(resp::read_value_limited(&mut conn.stream, conn.max_reply_bytes).await?);
    }
    Ok(replies)
}

/// The connection, held for a batch of commands.
pub struct Session<'a> {
    client: &'a Client,
    /// The caller's deadline; each command also stops at the connection timeout.
    deadline: tokio::time::Instant,
    guard: MutexGuard<'a, Option<Conn>>,
}

impl Session<'_> {
    /// Sends commands pipelined and returns their replies, error replies
    /// included. A failure or timeout drops the connection.
    pub async fn pipeline(&mut self, cmds: &[&[&[u8]]]) -> Result<Vec<Value>, ClientError> {
        let deadline = self.client.op_deadline(self.deadline);
        // Taken out while in flight: if this future is dropped half-way, the
        // connection goes with it instead of being reused out of step.
        let mut conn = match self.guard.take() {
            Some(c) => c,
            None => tokio::time::timeout_at(deadline, self.client.connect())
                .await
                .map_err(|_| self.client.connect_timed_out())??,
        };
        match tokio::time::timeout_at(deadline, round_trip(&mut conn, cmds)).await {
            Ok(Ok(replies)) => {
                *self.guard = Some(conn);
                Ok(replies)
            }
            Ok(Err(e)) => Err(ClientError::Connection(e)),
            Err(_) => Err(ClientError::Timeout("command")),
        }
    }

    /// One command; an error reply becomes [`ClientError::Server`].
    pub async fn cmd(&mut self, args: &[&[u8]]) -> Result<Value, ClientError> {
        let reply = self.pipeline(&[args]).await?.pop().unwrap_or(Value::Nil);
        match reply {
            Value::Error(e) => Err(ClientError::Server(e)),
            v => Ok(v),
        }
    }

    /// Switches database, only when not already there.
    pub async fn select(&mut self, db: u32) -> Result<(), ClientError> {
        if self.guard.as_ref().map(|c| c.db) == Some(db) {
            return Ok(());
        }
        self.cmd(&[b"SELECT", db.to_string().as_bytes()]).await?;
        if let Some(c) = self.guard.as_mut() {
            c.db = db;
        }
        Ok(())
    }
}
