//! `textfile`: metrics that cron jobs, backups and other programs write as
//! `*.prom` files in the text exposition format, as node_exporter's textfile
//! collector reads them. Files are parsed with prometheus-parse; a file with
//! a line that is not a sample, a comment or blank, or that does not end in
//! a newline (half written), is skipped whole with one log line and
//! `node_textfile_scrape_error 1`, and the other files still count. A series
//! that a second file repeats is reported and emitted once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use prometheus_parse::{LineInfo, Scrape, Value};
use sidewatch_common::collector::CollectorDecl;
use sidewatch_common::metrics::{LabelName, MetricKind};
use sidewatch_common::{Blocking, BlockingCollector, CollectResult, Family};

use crate::config::NodeConfig;

/// `--collector.textfile`: on by default (nothing to read without a directory).
pub const DECL: CollectorDecl<NodeConfig> = CollectorDecl::on(
    "textfile",
    "*.prom files in --collector.textfile.directory",
    |c| {
        Arc::new(Blocking::new(TextfileCollector {
            directories: c.cli.textfile.directories.clone(),
        }))
    },
);

/// This collector's own flags (node_exporter's names).
#[derive(Debug, Clone, clap::Args)]
pub struct TextfileArgs {
    /// Directory to read `*.prom` files from (repeatable).
    #[arg(
        id = "collector.textfile.directory",
        long = "collector.textfile.directory",
        env = "SIDEWATCH_COLLECTOR_TEXTFILE_DIRECTORY",
        value_delimiter = ',',
        value_name = "DIR"
    )]
    pub directories: Vec<PathBuf>,
}

pub struct TextfileCollector {
    directories: Vec<PathBuf>,
}

/// Largest file read; a bigger one is an error, not a memory spike.
const MAX_FILE_BYTES: u64 = 16 << 20;

/// One file's samples: (name, kind, help, labels, value).
type Parsed = Vec<(
    String,
    MetricKind,
    Option<String>,
    Vec<(String, String)>,
    f64,
)>;

/// Checks every line with prometheus-parse's line parser, then parses the
/// file with it. The error names the line.
pub fn parse_file(text: &str) -> Result<Parsed, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("does not end in a newline (half written?)".to_owned());
    }
    let mut kinds: HashMap<String, MetricKind> = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        match LineInfo::parse(line) {
            LineInfo::Empty => {}
            LineInfo::Type {
                metric_name,
                sample_type,
                ..
            } => {
                use prometheus_parse::SampleType as S;
                let kind = match sample_type {
                    S::Counter => MetricKind::Counter,
                    S::Gauge => MetricKind::Gauge,
                    _ => MetricKind::Untyped,
                };
                kinds.insert(metric_name.trim_end_matches("_bucket").to_owned(), kind);
            }
            LineInfo::Sample { value, .. } => {
                let ok = matches!(value, "+Inf" | "-Inf" | "NaN") || value.parse::<f64>().is_ok();
                if !ok {
                    return Err(format!("line {}: {value:?} is not a number", i + 1));
                }
            }
            LineInfo::Doc { .. } => {}
            LineInfo::Ignored if t.starts_with('#') => {}
            LineInfo::Ignored => return Err(format!("line {}: not a sample: {t:?}", i + 1)),
        }
    }
    let scrape =
        Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).map_err(|e| e.to_string())?;
    let mut out = Parsed::new();
    for s in scrape.samples {
        let labels: Vec<(String, String)> = s
            .labels
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let help = scrape.docs.get(&s.metric).cloned();
        let kind = kinds.get(&s.metric).copied().unwrap_or(MetricKind::Untyped);
        match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => {
                out.push((s.metric, kind, help, labels, v));
            }
            // Histograms and summaries are passed on as their plain series.
            Value::Histogram(buckets) => {
                for b in buckets {
                    let mut l = labels.clone();
                    l.push(("le".to_owned(), format_bound(b.less_than)));
                    out.push((
                        format!("{}_bucket", s.metric),
                        MetricKind::Untyped,
                        help.clone(),
                        l,
                        b.count,
                    ));
                }
            }
            Value::Summary(quantiles) => {
                for q in quantiles {
                    let mut l = labels.clone();
                    l.push(("quantile".to_owned(), q.quantile.to_string()));
                    out.push((
                        s.metric.clone(),
                        MetricKind::Untyped,
                        help.clone(),
                        l,
                        q.count,
                    ));
                }
            }
        }
    }
    Ok(out)
}

fn format_bound(v: f64) -> String {
    if v.is_infinite() && v > 0.0 {
        "+Inf".to_owned()
    } else {
        v.to_string()
    }
}

fn prom_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "prom") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

impl BlockingCollector for TextfileCollector {
    fn name(&self) -> &'static str {
        "textfile"
    }

    fn collect_blocking(&self, _ctx: &sidewatch_common::ScrapeContext) -> CollectResult {
        let mut error = false;
        let mut families: BTreeMap<String, Family> = BTreeMap::new();
        let mut seen: HashMap<(String, Vec<(String, String)>), PathBuf> = HashMap::new();
        let mut mtime = Family::gauge(
            "node_textfile_mtime_seconds",
            "Unixtime mtime of textfiles successfully read.",
        );
        let mut reported: HashSet<String> = HashSet::new();
        for dir in &self.directories {
            let files = match prom_files(dir) {
                Ok(f) => f,
                Err(e) => {
                    tracing::warn!(directory = %dir.display(), error = %e, "cannot read the textfile directory");
                    error = true;
                    continue;
                }
            };
            for path in files {
                let read = std::fs::metadata(&path).and_then(|m| {
                    if m.len() > MAX_FILE_BYTES {
                        Err(std::io::Error::other(format!(
                            "larger than {MAX_FILE_BYTES} bytes"
                        )))
                    } else {
                        std::fs::read_to_string(&path).map(|t| (t, m))
                    }
                });
                let parsed = read
                    .map_err(|e| e.to_string())
                    .and_then(|(t, m)| parse_file(&t).map(|p| (p, m)));
                let (samples, meta) = match parsed {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(file = %path.display(), error = %e, "skipping a malformed text file");
                        error = true;
                        continue;
                    }
                };
                for (name, kind, help, mut labels, value) in samples {
                    if name.starts_with("node_textfile_") {
                        continue;
                    }
                    labels.sort();
                    let key = (name.clone(), labels.clone());
                    if let Some(first) = seen.get(&key) {
                        if reported.insert(format!("{name}{labels:?}")) {
                            tracing::warn!(file = %path.display(), first = %first.display(), metric = %name, "duplicate series across text files; keeping the first");
                        }
                        error = true;
                        continue;
                    }
                    let family = families.entry(name.clone()).or_insert_with(|| {
                        let help = help
                            .clone()
                            .unwrap_or_else(|| format!("Metric read from {}", path.display()));
                        Family::new(name.clone(), help, kind)
                    });
                    if family.kind != kind {
                        tracing::warn!(file = %path.display(), metric = %name, "a metric with another type in an earlier text file; skipped");
                        error = true;
                        continue;
                    }
                    seen.insert(key, path.clone());
                    family.add_owned(
                        labels
                            .into_iter()
                            .map(|(k, v)| (LabelName::Owned(k), v))
                            .collect(),
                        value,
                    );
                }
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map(|d| d.as_secs_f64());
                if let Some(secs) = modified {
                    mtime.add(&[("file", &path.display().to_string())], secs);
                }
            }
        }
        let mut out: Vec<Family> = families.into_values().collect();
        out.push(mtime);
        out.push(
            Family::gauge(
                "node_textfile_scrape_error",
                "1 if there was an error opening or reading a file, 0 otherwise",
            )
            .with(&[], if error { 1.0 } else { 0.0 }),
        );
        Ok(out)
    }
}
