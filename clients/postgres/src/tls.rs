//! TLS to PostgreSQL with rustls: libpq's `sslmode` (disable, prefer,
//! require, verify-ca, verify-full), `sslrootcert`, `sslcert`/`sslkey` and
//! `sslnegotiation`, as a connector tokio-postgres drives.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

/// libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "disable" => Self::Disable,
            "allow" => Self::Allow,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Allow => "allow",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// The TLS part of a data source, as given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SslSettings {
    pub mode: SslMode,
    pub root_cert: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl Default for SslSettings {
    fn default() -> Self {
        Self {
            // libpq's default.
            mode: SslMode::Prefer,
            root_cert: None,
            cert: None,
            key: None,
        }
    }
}

impl SslSettings {
    /// The rustls configuration these settings ask for; None for `disable`.
    /// Errors name the setting and the file.
    pub fn client_config(&self) -> Result<Option<Arc<rustls::ClientConfig>>, String> {
        let verify = match self.mode {
            SslMode::Disable => return Ok(None),
            // As libpq: require with a root certificate verifies the chain.
            SslMode::Require if self.root_cert.is_some() => Verify::Chain,
            SslMode::Allow | SslMode::Prefer | SslMode::Require => Verify::Nothing,
            SslMode::VerifyCa => Verify::Chain,
            SslMode::VerifyFull => Verify::Full,
        };
        if matches!(verify, Verify::Chain | Verify::Full) && self.root_cert.is_none() {
            return Err(format!(
                "sslmode={} needs sslrootcert (the CA file, or \"system\" for the system's bundle)",
                self.mode.as_str()
            ));
        }
        let ca_file = self.root_cert.clone().filter(|p| p.as_os_str() != "system");
        let opts = sidewatch_common::tls::TlsClientOptions {
            ca_file,
            cert_file: self.cert.clone(),
            key_file: self.key.clone(),
            skip_verify: verify == Verify::Nothing,
            skip_hostname: verify == Verify::Chain,
        };
        let config = sidewatch_common::tls::client_config(&opts).map_err(|e| {
            e.replace("CA file", "sslrootcert")
                .replace("client certificate file", "sslcert")
                .replace("client key file", "sslkey")
                .replace(
                    "a client certificate needs both",
                    "sslcert and sslkey go together: a client certificate needs both",
                )
        })?;
        let mut config = (*config).clone();
        // PostgreSQL 17+ requires it for sslnegotiation=direct; older servers ignore it.
        config.alpn_protocols = vec![b"postgresql".to_vec()];
        Ok(Some(Arc::new(config)))
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Verify {
    Nothing,
    Chain,
    Full,
}

/// tokio-postgres' connector over rustls.
#[derive(Clone)]
pub struct RustlsConnect(pub Arc<rustls::ClientConfig>);

impl<S> MakeTlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnector;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<RustlsConnector, io::Error> {
        // Unix sockets come with no name; PostgreSQL never offers TLS on them
        // (it answers the SSLRequest with N), so the connector is not used.
        Ok(RustlsConnector {
            config: Arc::clone(&self.0),
            name: ServerName::try_from(domain.to_owned()).ok(),
        })
    }
}

pub struct RustlsConnector {
    config: Arc<rustls::ClientConfig>,
    name: Option<ServerName<'static>>,
}

impl<S> TlsConnect<S> for RustlsConnector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let name = self.name.ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "TLS needs a host name or address",
                )
            })?;
            let s = tokio_rustls::TlsConnector::from(self.config)
                .connect(name, stream)
                .await?;
            Ok(RustlsStream(s))
        })
    }
}

/// A TLS session to the server.
pub struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        // SCRAM then runs without channel binding (libpq's
        // channel_binding=prefer falls back the same way).
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
