//! The one start-up path every exporter takes: parse and validate,
//! `--config.check`, logging, bind, serve until SIGTERM/SIGINT, exit codes.
//!
//! An exporter implements [`Exporter`] for its validated configuration; its
//! `main.rs` is one call of [`main`].

use std::sync::Arc;
use std::time::Duration;

use crate::cli::{self, CommonArgs, StartError};
use crate::engine::{ExporterInfo, ScrapeEngine};
use crate::http::{self, HttpOptions};
use crate::logging::{self, LogFormat, LogLevel};

/// An exporter's validated configuration.
pub trait Exporter: Sized {
    /// The binary's name, e.g. `sidewatch-postgres`.
    const NAME: &'static str;
    /// Where it listens when `--web.listen-address` is not given.
    const DEFAULT_LISTEN: &'static str;
    /// The environment variable of `--web.listen-address`, which
    /// `healthcheck` reads too.
    const LISTEN_ENV: &'static str = "SIDEWATCH_WEB_LISTEN_ADDRESS";
    /// Whether the heap a scrape grows is kept for the next one
    /// (`sidewatch_malloc::steady_heap`): measured for sidewatch-node, whose
    /// scrapes otherwise fault the same pages in anew each time
    /// (docs/benchmarks.md); the others keep glibc's defaults until they
    /// are measured with it.
    const STEADY_HEAP: bool = false;
    /// Whether the heap's free pages are given back to the kernel after
    /// each scrape (`sidewatch_malloc::trim`), the opposite trade: less
    /// resident memory between scrapes for a little CPU per scrape.
    /// Measured for sidewatch-postgres (docs/benchmarks.md).
    const TRIM_HEAP: bool = false;

    /// Reads the command line, the environment and the files they name, and
    /// validates all of it. An error is one line and exit code 2.
    fn from_env() -> Result<Self, StartError>;

    /// The shared flags.
    fn common(&self) -> &CommonArgs;

    /// What `--config.check` prints after "configuration is valid: ".
    fn describe(&self) -> String;

    /// The log level and format (an exporter may take them from its peer's flags).
    fn logging(&self) -> (LogLevel, LogFormat) {
        (self.common().log.level, self.common().log.format)
    }

    /// The engine and HTTP options, built on the running runtime (so that
    /// collectors may spawn tasks).
    fn build(self) -> (Arc<ScrapeEngine>, HttpOptions);
}

/// An engine with no collectors, for an exporter that only serves
/// multi-target requests (no main target configured).
pub fn empty_engine(info: ExporterInfo, common: &CommonArgs) -> Arc<ScrapeEngine> {
    ScrapeEngine::new(info, common.scrape.settings(), Vec::new(), None)
}

/// Runs exporter `E` as a process: never returns on failure (exit 1 when
/// serving fails, 2 for bad configuration).
pub fn main<E: Exporter>() {
    // Before any thread starts: the pool threads share one arena instead
    // of keeping one each (docs/benchmarks.md).
    sidewatch_malloc::two_arenas();
    if E::STEADY_HEAP {
        sidewatch_malloc::steady_heap();
    }
    if E::TRIM_HEAP {
        http::trim_after_scrapes();
    }
    crate::healthcheck::run_if_requested(E::NAME, E::DEFAULT_LISTEN, E::LISTEN_ENV);
    let config = E::from_env().unwrap_or_else(|e| cli::exit_with(e));
    if config.common().config_check {
        println!("configuration is valid: {}", config.describe());
        return;
    }
    let (level, format) = config.logging();
    logging::init(level, format);
    let listeners = http::bind_all(&config.common().web.listen_address)
        .unwrap_or_else(|e| cli::exit_with(StartError::Config(e.to_string())));
    let runtime = match crate::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            std::process::exit(1);
        }
    };
    let result = runtime.block_on(async {
        let (engine, options) = config.build();
        tracing::info!(
            version = engine.info().version,
            collectors = ?engine.collector_names(),
            "starting {}",
            E::NAME
        );
        http::serve(engine, listeners, options, http::shutdown_signal()).await
    });
    // Collectors stuck in blocking calls must not delay exit.
    runtime.shutdown_timeout(Duration::from_millis(200));
    if let Err(e) = result {
        tracing::error!(error = %e, "server failed");
        std::process::exit(1);
    }
}
