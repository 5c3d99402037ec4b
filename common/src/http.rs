//! The HTTP side: `/metrics`, health, landing page, auth, TLS, shutdown.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
pub use axum::http::StatusCode;
use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use base64::Engine as _;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;

use crate::cli::{ScrapeArgs, StartError, WebArgs};
use crate::engine::ScrapeEngine;
use crate::exposition::{self, Format};
use crate::metrics::Snapshot;
use crate::webconfig::{BasicAuth, WebConfig};

/// How long in-flight requests may finish after SIGTERM / SIGINT.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(4);

/// How long `/health/ready` waits for the target's probe.
const READY_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("--web.listen-address {addr:?}: {message}")]
    Listen { addr: String, message: String },
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Everything the HTTP server needs besides the engine.
#[derive(Clone, Debug)]
pub struct HttpOptions {
    pub telemetry_path: String,
    pub request_timeout: Duration,
    /// Bound of reading a request's headers and of an idle kept-alive connection.
    pub read_header_timeout: Duration,
    pub web_config: Option<WebConfig>,
    /// Extra links for the landing page (path, description).
    pub extra_links: Vec<(String, String)>,
    /// Multi-target `/probe?target=...`, for exporters whose peer has it.
    pub probe: Option<ProbeRoute>,
}

/// Answers `/probe`: collects one target named by the query parameters.
pub trait ProbeHandler: Send + Sync + 'static {
    /// Where the route is served; peers differ (`/probe`, `/scrape`).
    fn path(&self) -> &'static str {
        "/probe"
    }

    /// `params` are the request's query parameters; `deadline` is the scrape
    /// deadline. An `Err` becomes that status and a one-line body.
    fn probe(
        &self,
        params: std::collections::HashMap<String, String>,
        deadline: Duration,
    ) -> futures::future::BoxFuture<
        'static,
        Result<Arc<crate::metrics::Snapshot>, (StatusCode, String)>,
    >;
}

impl HttpOptions {
    /// Validated options from the shared web and scrape flags: the web
    /// config file loaded, the telemetry path and request timeout checked.
    pub fn from_flags(web: &WebArgs, scrape: &ScrapeArgs) -> Result<Self, StartError> {
        let web_config = web
            .config_file
            .as_deref()
            .map(WebConfig::load)
            .transpose()
            .map_err(|e| StartError::Config(format!("--web.config.file: {e}")))?;
        if !web.telemetry_path.starts_with('/') {
            return Err(StartError::Config(format!(
                "--web.telemetry-path {:?}: must start with /",
                web.telemetry_path
            )));
        }
        if web.request_timeout <= scrape.timeout {
            return Err(StartError::Config(format!(
                "--web.request-timeout ({:?}) must be longer than --scrape.timeout ({:?})",
                web.request_timeout, scrape.timeout
            )));
        }
        Ok(Self {
            telemetry_path: web.telemetry_path.clone(),
            request_timeout: web.request_timeout,
            read_header_timeout: web.read_header_timeout.max(Duration::from_millis(100)),
            web_config,
            extra_links: Vec::new(),
            probe: None,
        })
    }
}

/// A shareable [`ProbeHandler`].
#[derive(Clone)]
pub struct ProbeRoute(pub Arc<dyn ProbeHandler>);

impl std::fmt::Debug for ProbeRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProbeRoute")
    }
}

#[derive(Clone)]
struct AppState {
    engine: Arc<ScrapeEngine>,
    telemetry_path: String,
    extra_links: Vec<(String, String)>,
    ready: Arc<AtomicBool>,
    probe: Option<ProbeRoute>,
}

/// Resolves `:9100` (all interfaces), `host:port` or `[v6]:port`.
pub fn resolve_listen_address(addr: &str) -> Result<Vec<SocketAddr>, ServeError> {
    let err = |message: String| ServeError::Listen {
        addr: addr.to_owned(),
        message,
    };
    let full = if let Some(port) = addr.strip_prefix(':') {
        format!("0.0.0.0:{port}")
    } else if let Some(v4) = bracketed_ipv4(addr) {
        v4
    } else {
        addr.to_owned()
    };
    let resolved: Vec<SocketAddr> = full
        .to_socket_addrs()
        .map_err(|e| err(format!("not a valid host:port ({e})")))?
        .collect();
    if resolved.is_empty() {
        return Err(err("resolves to no address".into()));
    }
    Ok(resolved)
}

/// `[10.0.0.1]:9100` as `10.0.0.1:9100`: Go's listeners take brackets
/// around either family, so `[$(HOST_IP)]:9100` works on IPv4 and IPv6
/// clusters alike (deploy/kubernetes/node).
fn bracketed_ipv4(addr: &str) -> Option<String> {
    let (host, port) = addr.strip_prefix('[')?.split_once("]:")?;
    host.parse::<std::net::Ipv4Addr>()
        .ok()
        .map(|ip| format!("{ip}:{port}"))
}

/// Binds every address now, so a port in use is a start-up error.
pub fn bind_all(addrs: &[String]) -> Result<Vec<TcpListener>, ServeError> {
    let mut listeners = Vec::new();
    for addr in addrs {
        let sock = resolve_listen_address(addr)?;
        let listener = TcpListener::bind(&sock[..]).map_err(|e| ServeError::Listen {
            addr: addr.clone(),
            message: e.to_string(),
        })?;
        listener.set_nonblocking(true)?;
        listeners.push(listener);
    }
    Ok(listeners)
}

/// The router; exposed so tests can drive it without a socket.
pub fn router(engine: Arc<ScrapeEngine>, options: &HttpOptions, ready: Arc<AtomicBool>) -> Router {
    let state = AppState {
        engine,
        telemetry_path: options.telemetry_path.clone(),
        extra_links: options.extra_links.clone(),
        ready,
        probe: options.probe.clone(),
    };
    let mut router = Router::new()
        .route(&options.telemetry_path, get(metrics_handler))
        .route("/health/live", get(|| async { "OK\n" }))
        .route("/health/ready", get(ready_handler))
        .route("/-/healthy", get(|| async { "OK\n" }))
        .route("/-/ready", get(ready_handler));
    if let Some(probe) = &options.probe {
        router = router.route(probe.0.path(), get(probe_handler));
    }
    if options.telemetry_path != "/" {
        router = router.route("/", get(landing_handler));
    }
    let mut router = router
        .with_state(state)
        .layer(CompressionLayer::new().gzip(true));
    if let Some(web) = &options.web_config {
        if !web.headers.is_empty() {
            let headers: Arc<Vec<(HeaderName, HeaderValue)>> = Arc::new(
                web.headers
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((
                            HeaderName::try_from(k).ok()?,
                            HeaderValue::try_from(v).ok()?,
                        ))
                    })
                    .collect(),
            );
            router = router.layer(middleware::from_fn(move |req: Request, next: Next| {
                let headers = Arc::clone(&headers);
                async move {
                    let mut resp = next.run(req).await;
                    for (k, v) in headers.iter() {
                        resp.headers_mut().insert(k.clone(), v.clone());
                    }
                    resp
                }
            }));
        }
        if let Some(auth) = &web.basic_auth {
            let auth = Arc::clone(auth);
            router = router.layer(middleware::from_fn(move |req: Request, next: Next| {
                let auth = Arc::clone(&auth);
                async move { require_basic_auth(auth, req, next).await }
            }));
        }
    }
    router.layer(TimeoutLayer::with_status_code(
        StatusCode::REQUEST_TIMEOUT,
        options.request_timeout,
    ))
}

async fn require_basic_auth(auth: Arc<BasicAuth>, req: Request, next: Next) -> Response {
    let credentials = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .ok()
        })
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|pair| {
            pair.split_once(':')
                .map(|(u, p)| (u.to_owned(), p.to_owned()))
        });
    let ok = match credentials {
        Some((user, password)) => auth.check(user, password).await,
        None => false,
    };
    if ok {
        next.run(req).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Basic realm=\"sidewatch\"")],
            "Unauthorized\n",
        )
            .into_response()
    }
}

async fn metrics_handler(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let header_timeout = headers
        .get("x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    let deadline = state.engine.settings().deadline(header_timeout);
    let format = Format::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    let snapshot = state.engine.scrape_as(deadline, Some(format)).await;
    exposition_response(format, snapshot)
}

/// Whether the heap is trimmed once a scrape's body has been sent
/// ([`trim_after_scrapes`]).
static TRIM_AFTER_SCRAPES: AtomicBool = AtomicBool::new(false);

/// Gives the heap's free pages back to the kernel each time a scrape's body
/// has been sent (`sidewatch_malloc::trim`), for an exporter whose scrapes
/// leave more free pages in the heap than the trim costs
/// (`Exporter::TRIM_HEAP`).
pub fn trim_after_scrapes() {
    TRIM_AFTER_SCRAPES.store(true, Ordering::Relaxed);
}

/// What a scrape's response is made of: its body (given here, or the
/// parts the snapshot holds) and the snapshot it was encoded from. Dropped
/// when hyper has written the last byte and let go of every part (or the
/// client went away): freeing the scrape's samples, and trimming the heap
/// after ([`trim_after_scrapes`]), is not in the scrape's latency, and the
/// trim comes when nothing of the scrape is left.
struct Scraped {
    text: Option<bytes::Bytes>,
    snapshot: Option<Arc<Snapshot>>,
}

impl Scraped {
    fn parts(&self) -> &[bytes::Bytes] {
        match (&self.text, &self.snapshot) {
            (Some(text), _) => std::slice::from_ref(text),
            (None, Some(snapshot)) => snapshot.body.as_ref().map_or(&[], |(_, parts)| parts),
            (None, None) => &[],
        }
    }
}

impl Drop for Scraped {
    fn drop(&mut self) {
        drop(self.text.take());
        drop(self.snapshot.take());
        if TRIM_AFTER_SCRAPES.load(Ordering::Relaxed) {
            sidewatch_malloc::trim();
        }
    }
}

/// One part of a body as hyper holds it until written.
struct Part {
    scraped: Arc<Scraped>,
    index: usize,
}

impl AsRef<[u8]> for Part {
    fn as_ref(&self) -> &[u8] {
        self.scraped.parts().get(self.index).map_or(&[], |p| &p[..])
    }
}

/// A scrape's body, in the parts it was encoded in, with its length known
/// (so the response has a Content-Length).
struct ScrapeBody {
    scraped: Arc<Scraped>,
    next: usize,
}

impl http_body::Body for ScrapeBody {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if this.is_end_stream() {
            return std::task::Poll::Ready(None);
        }
        let part = bytes::Bytes::from_owner(Part {
            scraped: Arc::clone(&this.scraped),
            index: this.next,
        });
        this.next += 1;
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(part))))
    }

    fn is_end_stream(&self) -> bool {
        self.next >= self.scraped.parts().len()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        let parts = self.scraped.parts();
        let left = parts[self.next.min(parts.len())..]
            .iter()
            .map(|p| p.len() as u64);
        http_body::SizeHint::with_exact(left.sum())
    }
}

/// The response to a scrape: the body `snapshot` holds when it was encoded
/// in `format` while its collectors ran, else `snapshot` encoded now (a
/// scrape that joined a collection started for the other format, a probe).
/// The samples are freed with the body, once its last byte is written.
fn exposition_response(format: Format, snapshot: Arc<Snapshot>) -> Response {
    let headers = [(header::CONTENT_TYPE, format.content_type())];
    let text = match &snapshot.body {
        Some((encoded, _)) if *encoded == format => None,
        _ => Some(bytes::Bytes::from(exposition::encode(&snapshot, format))),
    };
    let body = ScrapeBody {
        scraped: Arc::new(Scraped {
            text,
            snapshot: Some(snapshot),
        }),
        next: 0,
    };
    (headers, axum::body::Body::new(body)).into_response()
}

async fn probe_handler(
    State(state): State<AppState>,
    axum::extract::Query(params): axum::extract::Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some(probe) = state.probe.clone() else {
        return (StatusCode::NOT_FOUND, "no /probe here\n").into_response();
    };
    let header_timeout = headers
        .get("x-prometheus-scrape-timeout-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<f64>().ok());
    let deadline = state.engine.settings().deadline(header_timeout);
    let format = Format::negotiate(headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()));
    match probe.0.probe(params, deadline).await {
        Ok(snapshot) => exposition_response(format, snapshot),
        Err((status, message)) => (status, format!("{message}\n")).into_response(),
    }
}

/// Ready = serving and able to scrape: the target answers its probe.
async fn ready_handler(State(state): State<AppState>) -> Response {
    if !state.ready.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response();
    }
    if state.engine.target_reachable(READY_PROBE_TIMEOUT).await {
        (StatusCode::OK, "OK\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "target unreachable\n").into_response()
    }
}

async fn landing_handler(State(state): State<AppState>) -> Html<String> {
    let info = state.engine.info();
    let collectors = state
        .engine
        .collector_names()
        .iter()
        .map(|c| format!("<li>{}</li>", html_escape(c)))
        .collect::<String>();
    let mut links = vec![
        (state.telemetry_path.clone(), "Metrics".to_owned()),
        ("/health/live".to_owned(), "Liveness".to_owned()),
        ("/health/ready".to_owned(), "Readiness".to_owned()),
    ];
    links.extend(state.extra_links.iter().cloned());
    let links = links
        .iter()
        .map(|(href, text)| {
            format!(
                "<li><a href=\"{}\">{}</a></li>",
                html_escape(href),
                html_escape(text)
            )
        })
        .collect::<String>();
    Html(format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>sidewatch-{name}</title></head>\n\
         <body><h1>sidewatch-{name}</h1><p>Version {version}</p>\n<ul>{links}</ul>\n\
         <h2>Enabled collectors</h2><ul>{collectors}</ul></body></html>\n",
        name = html_escape(info.exporter),
        version = html_escape(info.version),
    ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Resolves when SIGTERM or SIGINT arrives.
pub async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {},
        _ = tokio::signal::ctrl_c() => {},
    }
}

/// Waits for a connection's first byte for at most `timeout`: the HTTP
/// layer's header timer starts only with the first byte, so a client that
/// connects and sends nothing would otherwise hold the connection open.
async fn first_byte(stream: &tokio::net::TcpStream, timeout: Duration) -> std::io::Result<()> {
    let mut first = [0u8; 1];
    match tokio::time::timeout(timeout, stream.peek(&mut first)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "no request within the read-header timeout",
        )),
    }
}

/// Resolves once shutdown has begun (also when the sender is gone).
async fn stopped(stopping: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = stopping.wait_for(|s| *s).await;
}

/// What each connection needs: the routes, TLS if configured, the header
/// timeout, the shutdown signal, and a token whose drop tells [`serve`]
/// the connection has ended.
#[derive(Clone)]
struct ConnectionKit {
    app: axum::Router,
    tls: Option<tokio_rustls::TlsAcceptor>,
    read_header_timeout: Duration,
    stopping: tokio::sync::watch::Receiver<bool>,
    in_flight: tokio::sync::mpsc::Sender<()>,
}

/// Accepts connections until shutdown; each is served on its own task. An
/// accept error (out of descriptors, say) is logged and retried after a
/// pause instead of ending the server.
async fn accept_loop(listener: tokio::net::TcpListener, kit: ConnectionKit) {
    let mut stopping = kit.stopping.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stopped(&mut stopping) => return,
        };
        match accepted {
            Ok((stream, _)) => {
                tokio::spawn(serve_connection(stream, kit.clone()));
            }
            Err(e) => {
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One connection, HTTP/1.1 only (with or without TLS): request headers must
/// arrive within the read-header timeout, also between kept-alive requests;
/// at shutdown the request in flight is answered, then the connection closes.
async fn serve_connection(stream: tokio::net::TcpStream, kit: ConnectionKit) {
    let ConnectionKit {
        app,
        tls,
        read_header_timeout,
        mut stopping,
        in_flight: _in_flight,
    } = kit;
    if first_byte(&stream, read_header_timeout).await.is_err() {
        return;
    }
    let _ = stream.set_nodelay(true);
    let result = match tls {
        Some(acceptor) => {
            let stream =
                match tokio::time::timeout(read_header_timeout, acceptor.accept(stream)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => {
                        tracing::debug!(error = %e, "TLS handshake failed");
                        return;
                    }
                    Err(_) => return,
                };
            http1(stream, app, read_header_timeout, &mut stopping).await
        }
        None => http1(stream, app, read_header_timeout, &mut stopping).await,
    };
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// HTTP/1.1 on an accepted stream (plain or TLS) until the client is done,
/// or, once shutdown begins, until the request in flight is answered.
async fn http1<S>(
    stream: S,
    app: axum::Router,
    read_header_timeout: Duration,
    stopping: &mut tokio::sync::watch::Receiver<bool>,
) -> Result<(), hyper::Error>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper_util::service::TowerToHyperService::new(app);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(read_header_timeout);
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => r,
        _ = stopped(stopping) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    }
}

/// Serves on every listener until `shutdown` resolves, then lets in-flight
/// requests finish for at most [`SHUTDOWN_GRACE`].
pub async fn serve(
    engine: Arc<ScrapeEngine>,
    listeners: Vec<TcpListener>,
    options: HttpOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let ready = Arc::new(AtomicBool::new(false));
    let app = router(engine, &options, Arc::clone(&ready));
    let tls = options
        .web_config
        .as_ref()
        .and_then(|w| w.tls.clone())
        .map(tokio_rustls::TlsAcceptor::from);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let (in_flight, mut all_done) = tokio::sync::mpsc::channel::<()>(1);
    let kit = ConnectionKit {
        app,
        tls,
        read_header_timeout: options.read_header_timeout,
        stopping,
        in_flight,
    };
    let mut servers = tokio::task::JoinSet::new();
    for listener in listeners {
        listener.set_nonblocking(true)?;
        let listener = tokio::net::TcpListener::from_std(listener)?;
        tracing::info!(address = %listener.local_addr()?, tls = kit.tls.is_some(), "listening");
        servers.spawn(accept_loop(listener, kit.clone()));
    }
    drop(kit);
    ready.store(true, Ordering::Relaxed);
    tokio::select! {
        _ = shutdown => {}
        Some(Err(e)) = servers.join_next() => {
            return Err(ServeError::Io(std::io::Error::other(e)));
        }
    }
    tracing::info!("shutting down");
    let _ = stop.send(true);
    while servers.join_next().await.is_some() {}
    // Every connection holds a sender; recv answers None once all are gone.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, all_done.recv()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addresses_take_brackets_around_either_family() {
        let one = |a: &str| resolve_listen_address(a).map(|v| v[0].to_string());
        assert_eq!(one(":9100").ok().as_deref(), Some("0.0.0.0:9100"));
        assert_eq!(
            one("[10.1.2.3]:9100").ok().as_deref(),
            Some("10.1.2.3:9100")
        );
        assert_eq!(one("[::1]:9100").ok().as_deref(), Some("[::1]:9100"));
        assert_eq!(
            one("127.0.0.1:9100").ok().as_deref(),
            Some("127.0.0.1:9100")
        );
        assert!(one("[10.1.2.3]").is_err());
        assert!(one("[not-an-ip]:9100").is_err());
    }
}
