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
    let snapshot = state.engine.scrape(deadline).await;
    let body = exposition::encode(&snapshot, format);
    ([(header::CONTENT_TYPE, format.content_type())], body).into_response()
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
        Ok(snapshot) => {
            let body = exposition::encode(&snapshot, format);
            ([(header::CONTENT_TYPE, format.content_type())], body).into_response()
        }
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

/// Drops a connection that sends nothing within the timeout: the HTTP
/// layer's header timer starts only with the first byte.
#[derive(Clone, Copy, Debug)]
struct FirstByteTimeout(Duration);

impl<S: Send + 'static> axum_server::accept::Accept<tokio::net::TcpStream, S> for FirstByteTimeout {
    type Stream = tokio::net::TcpStream;
    type Service = S;
    type Future = futures::future::BoxFuture<'static, std::io::Result<(Self::Stream, S)>>;

    fn accept(&self, stream: tokio::net::TcpStream, service: S) -> Self::Future {
        let timeout = self.0;
        Box::pin(async move {
            let mut first = [0u8; 1];
            match tokio::time::timeout(timeout, stream.peek(&mut first)).await {
                Ok(Ok(_)) => Ok((stream, service)),
                Ok(Err(e)) => Err(e),
                Err(_) => Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "no request within the read-header timeout",
                )),
            }
        })
    }
}

/// Closes connections whose request headers do not arrive in time, including
/// kept-alive connections that send no next request.
fn bound_reads(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    timeout: Duration,
) {
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(timeout);
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
    let handle = axum_server::Handle::new();
    let mut servers = tokio::task::JoinSet::new();
    for listener in listeners {
        let addr = listener.local_addr()?;
        let app = app.clone();
        let handle = handle.clone();
        match options.web_config.as_ref().and_then(|w| w.tls.clone()) {
            Some(tls) => {
                let config = axum_server::tls_rustls::RustlsConfig::from_config(tls);
                let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config)
                    .handshake_timeout(options.read_header_timeout)
                    .acceptor(FirstByteTimeout(options.read_header_timeout));
                let mut server = axum_server::from_tcp(listener)?
                    .acceptor(acceptor)
                    .handle(handle);
                bound_reads(server.http_builder(), options.read_header_timeout);
                tracing::info!(address = %addr, tls = true, "listening");
                servers.spawn(async move { server.serve(app.into_make_service()).await });
            }
            None => {
                let mut server = axum_server::from_tcp(listener)?
                    .acceptor(FirstByteTimeout(options.read_header_timeout))
                    .handle(handle);
                bound_reads(server.http_builder(), options.read_header_timeout);
                tracing::info!(address = %addr, tls = false, "listening");
                servers.spawn(async move { server.serve(app.into_make_service()).await });
            }
        }
    }
    ready.store(true, Ordering::Relaxed);
    let signal_handle = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down");
        signal_handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
    });
    while let Some(result) = servers.join_next().await {
        match result {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(ServeError::Io(e)),
            Err(e) => return Err(ServeError::Io(std::io::Error::other(e))),
        }
    }
    Ok(())
}
