//! `textfile`: metrics that cron jobs, backups and other programs write as
//! `*.prom` files in the text exposition format, as node_exporter's textfile
//! collector reads them. A file with a line that is not a sample, a comment
//! or blank, a sample with a timestamp, or no newline at its end (half
//! written), is skipped whole with one log line and
//! `node_textfile_scrape_error 1`, and the other files still count. A series
//! that a second file repeats is reported and emitted once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

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

/// Parses a text file in the exposition format, line by line: `# HELP` and
/// `# TYPE` lines, other comments, blank lines, and samples
/// (`name{label="value",...} value`). Every sample is passed on as its own
/// series: counters and gauges with their type, everything else (histogram
/// and summary series included) untyped, each with the HELP of its name or
/// of its family. The whole file is refused, with the line named, when a line
/// is none of these, a value is not a number, a sample carries a timestamp
/// (as node_exporter, which refuses client-side timestamps), or the file
/// does not end in a newline (half written).
pub fn parse_file(text: &str) -> Result<Parsed, String> {
    if !text.is_empty() && !text.ends_with('\n') {
        return Err("does not end in a newline (half written?)".to_owned());
    }
    let mut kinds: HashMap<&str, MetricKind> = HashMap::new();
    let mut docs: HashMap<&str, String> = HashMap::new();
    let mut samples: Vec<SampleLine> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let at = |e: String| format!("line {}: {e}", i + 1);
        let t = line.trim();
        if t.is_empty() {
            continue;
        }
        if let Some(comment) = t.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, [' ', '\t']);
            match (words.next(), words.next(), words.next()) {
                (Some("HELP"), Some(name), help) => {
                    docs.insert(name, unescape(help.unwrap_or("").trim_start(), false));
                }
                (Some("TYPE"), Some(name), Some(kind)) => {
                    let kind = match kind.trim() {
                        "counter" => MetricKind::Counter,
                        "gauge" => MetricKind::Gauge,
                        "histogram" | "summary" | "untyped" => MetricKind::Untyped,
                        other => return Err(at(format!("unknown type {other:?}"))),
                    };
                    kinds.insert(name, kind);
                }
                _ => {}
            }
            continue;
        }
        let (name, labels, value) = sample_line(t).map_err(at)?;
        samples.push((name, labels, value));
    }
    Ok(samples
        .into_iter()
        .map(|(name, labels, value)| {
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .unwrap_or(name);
            let help = docs.get(name).or_else(|| docs.get(family)).cloned();
            let kind = kinds.get(name).copied().unwrap_or(MetricKind::Untyped);
            (name.to_owned(), kind, help, labels, value)
        })
        .collect())
}

/// A sample line's name, labels and value.
type SampleLine<'a> = (&'a str, Vec<(String, String)>, f64);

/// One sample line: name, labels, value; no timestamp.
fn sample_line(line: &str) -> Result<SampleLine<'_>, String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("not a sample: {line:?}"));
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            inner = inner.trim_start();
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let key_end = inner
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(inner.len());
            let key = &inner[..key_end];
            let after_key = inner[key_end..].trim_start();
            let Some(quoted) = after_key
                .strip_prefix('=')
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix('"'))
            else {
                return Err(format!("bad label in {line:?}"));
            };
            if key.is_empty() || key.starts_with(|c: char| c.is_ascii_digit()) {
                return Err(format!("bad label name in {line:?}"));
            }
            let (value, after_value) = quoted_value(quoted)
                .ok_or_else(|| format!("unterminated label value in {line:?}"))?;
            labels.push((key.to_owned(), value));
            inner = after_value.trim_start();
            if let Some(after_comma) = inner.strip_prefix(',') {
                inner = after_comma;
            } else if !inner.starts_with('}') {
                return Err(format!("bad label list in {line:?}"));
            }
        }
    }
    if !rest.starts_with([' ', '\t']) {
        return Err(format!("not a sample: {line:?}"));
    }
    let mut fields = rest.split_whitespace();
    let value = fields.next().unwrap_or("");
    let value = match value {
        "+Inf" | "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v
            .parse::<f64>()
            .ok()
            .filter(|_| !v.eq_ignore_ascii_case("inf") && !v.eq_ignore_ascii_case("nan"))
            .ok_or_else(|| format!("{v:?} is not a number"))?,
    };
    if fields.next().is_some() {
        return Err("timestamps are not supported in text files".to_owned());
    }
    Ok((name, labels, value))
}

/// A label value after its opening quote: the unescaped value and what
/// follows the closing quote.
fn quoted_value(s: &str) -> Option<(String, &str)> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some((unescape(&s[..i], true), &s[i + 1..])),
            _ => {}
        }
    }
    None
}

/// Undoes the format's escapes: `\\` and `\n`, and `\"` in label values.
fn unescape(s: &str, quotes: bool) -> String {
    if !s.contains('\\') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('\\') => out.push('\\'),
            Some('"') if quotes => out.push('"'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
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

    /// Without a directory there is no file to wait for.
    fn nothing_to_block_on(&self) -> bool {
        self.directories.is_empty()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn one(
        text: &str,
    ) -> (
        String,
        MetricKind,
        Option<String>,
        Vec<(String, String)>,
        f64,
    ) {
        let mut parsed = parse_file(text).expect("parses");
        assert_eq!(parsed.len(), 1, "{parsed:?}");
        parsed.remove(0)
    }

    #[test]
    fn samples_labels_types_and_help() {
        let (name, kind, help, labels, value) = one(
            "# HELP jobs_total Jobs run, by \\\\ and \\n.\n# TYPE jobs_total counter\n\
             jobs_total{queue=\"a \\\"b\\\" \\\\ c\\nd\" , host=\"x\",} 1.5e3\n",
        );
        assert_eq!(name, "jobs_total");
        assert_eq!(kind, MetricKind::Counter);
        assert_eq!(help.as_deref(), Some("Jobs run, by \\ and \n."));
        assert_eq!(
            labels,
            vec![
                ("queue".to_owned(), "a \"b\" \\ c\nd".to_owned()),
                ("host".to_owned(), "x".to_owned())
            ]
        );
        assert_eq!(value, 1500.0);
        let (_, kind, help, labels, value) = one("plain:name 7\n");
        assert_eq!(
            (kind, help, labels.len(), value),
            (MetricKind::Untyped, None, 0, 7.0)
        );
        assert!(one("a{} -Inf\n").4.is_infinite());
        assert!(one("a NaN\n").4.is_nan());
        // A label value may hold braces, commas and '=' between its quotes.
        assert_eq!(
            one("a{x=\"}{,=\"} 1\n").3,
            vec![("x".to_owned(), "}{,=".to_owned())]
        );
    }

    #[test]
    fn histogram_and_summary_series_pass_as_untyped_with_the_family_help() {
        let parsed = parse_file(
            "# HELP lat Latency.\n# TYPE lat histogram\nlat_bucket{le=\"0.5\"} 1\n\
             lat_bucket{le=\"+Inf\"} 2\nlat_sum 0.7\nlat_count 2\n\
             # TYPE q summary\nq{quantile=\"0.9\"} 3\n",
        )
        .expect("parses");
        let names: Vec<&str> = parsed.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(
            names,
            ["lat_bucket", "lat_bucket", "lat_sum", "lat_count", "q"]
        );
        assert!(parsed.iter().all(|p| p.1 == MetricKind::Untyped));
        assert_eq!(parsed[2].2.as_deref(), Some("Latency."));
        assert_eq!(parsed[1].3, vec![("le".to_owned(), "+Inf".to_owned())]);
    }

    #[test]
    fn malformed_files_are_refused_with_the_line() {
        for (text, why) in [
            ("a 1", "newline"),
            ("a one\n", "line 1"),
            ("ok 1\na{b=\"c} 1\n", "line 2"),
            ("a{b=c} 1\n", "bad label"),
            ("a{1b=\"c\"} 1\n", "label name"),
            ("a{b=\"c\" d=\"e\"} 1\n", "label list"),
            ("a 1 1700000000000\n", "timestamps"),
            ("9a 1\n", "not a sample"),
            ("a{b=\"c\"}1\n", "not a sample"),
            ("just words here\n", "line 1"),
            ("a inf\n", "not a number"),
            ("# TYPE a gauge_ish\n", "unknown type"),
        ] {
            let err = parse_file(text).expect_err(text);
            assert!(err.contains(why), "{text:?}: {err}");
        }
        assert!(parse_file("").is_ok_and(|p| p.is_empty()));
        assert!(parse_file("# just a comment\n\n").is_ok_and(|p| p.is_empty()));
    }
}
