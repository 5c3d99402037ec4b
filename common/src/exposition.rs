//! Encoding a [`Snapshot`] as Prometheus text 0.0.4 or OpenMetrics 1.0.0.
//!
//! OpenMetrics goes through prometheus-client's encoder; the classic format,
//! which prometheus-client does not write, is encoded here.

use std::fmt::Write as _;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::metrics::{Family, MetricKind, Snapshot};

/// Content type of the classic text format.
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// Content type of OpenMetrics 1.0.0.
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The exposition formats `/metrics` can answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Text,
    OpenMetrics,
}

impl Format {
    /// Chooses the format from an `Accept` header: OpenMetrics only when the
    /// client lists it with a non-zero quality, classic text otherwise.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let mut best: Option<(f32, Format)> = None;
        for part in accept.split(',') {
            let mut params = part.split(';').map(str::trim);
            let media = params.next().unwrap_or_default().to_ascii_lowercase();
            let mut q = 1.0f32;
            for p in params {
                if let Some(v) = p.strip_prefix("q=") {
                    q = v.parse().unwrap_or(0.0);
                }
            }
            let format = match media.as_str() {
                "application/openmetrics-text" => Format::OpenMetrics,
                "text/plain" | "*/*" | "text/*" => Format::Text,
                _ => continue,
            };
            if q <= 0.0 {
                continue;
            }
            // Prefer OpenMetrics on equal quality: a client that lists it asked for it.
            let better = match best {
                None => true,
                Some((bq, bf)) => {
                    q > bq || (q == bq && format == Format::OpenMetrics && bf != format)
                }
            };
            if better {
                best = Some((q, format));
            }
        }
        best.map(|(_, f)| f).unwrap_or(Format::Text)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }
}

/// Encodes `snapshot` in `format`.
pub fn encode(snapshot: &Arc<Snapshot>, format: Format) -> String {
    match format {
        Format::Text => encode_text(snapshot),
        Format::OpenMetrics => encode_openmetrics(snapshot),
    }
}

/// Prometheus text format 0.0.4.
pub fn encode_text(snapshot: &Snapshot) -> String {
    let mut out = String::with_capacity(snapshot.series() * 64 + 1024);
    encode_text_into(&mut out, &snapshot.families);
    out
}

/// Appends `families` to `out` in `format`, as [`encode`] writes them
/// between the start and the end of a body ([`finish`] ends it): a
/// snapshot's families encoded in parts, one after the other, then
/// finished, read the same as the snapshot encoded whole, provided no two
/// parts hold families of one name. OpenMetrics takes the families and
/// gives them back.
pub fn encode_part(out: &mut String, families: Vec<Family>, format: Format) -> Vec<Family> {
    match format {
        Format::Text => {
            encode_text_into(out, &families);
            families
        }
        Format::OpenMetrics => {
            let part = Arc::new(Snapshot {
                families,
                ..Snapshot::default()
            });
            let mut registry = Registry::default();
            registry.register_collector(Box::new(SnapshotCollector(Arc::clone(&part))));
            // Writing into a String cannot fail.
            let _ = prometheus_client::encoding::text::encode_registry(out, &registry);
            drop(registry);
            Arc::try_unwrap(part)
                .map(|s| s.families)
                .unwrap_or_else(|shared| shared.families.clone())
        }
    }
}

/// Ends a body written by [`encode_part`].
pub fn finish(out: &mut String, format: Format) {
    if format == Format::OpenMetrics {
        let _ = prometheus_client::encoding::text::encode_eof(out);
    }
}

fn encode_text_into(out: &mut String, families: &[Family]) {
    for family in families {
        if family.samples.is_empty() {
            continue;
        }
        let kind = match family.kind {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Untyped => "untyped",
            MetricKind::Histogram => "histogram",
        };
        out.push_str("# HELP ");
        out.push_str(&family.name);
        out.push(' ');
        escape_help(out, &family.help);
        out.push_str("\n# TYPE ");
        out.push_str(&family.name);
        out.push(' ');
        out.push_str(kind);
        out.push('\n');
        for sample in &family.samples {
            out.push_str(&family.name);
            out.push_str(sample.suffix);
            if !sample.labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in sample.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(k);
                    out.push('=');
                    out.push('"');
                    escape_label_value(out, v);
                    out.push('"');
                }
                out.push('}');
            }
            out.push(' ');
            write_value(out, sample.value);
            out.push('\n');
        }
    }
}

fn escape_help(out: &mut String, help: &str) {
    // Almost every text needs no escape: found by a vectorised search and
    // copied whole (a byte-by-byte scan of the ~18 KB of help texts was a
    // quarter of the encoder's instructions, by callgrind).
    if memchr::memchr2(b'\\', b'\n', help.as_bytes()).is_none() {
        out.push_str(help);
        return;
    }
    for c in help.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn escape_label_value(out: &mut String, value: &str) {
    // Most values are a few bytes (a database, a mode, a device): a plain
    // loop answers before a vectorised search has set up (callgrind: the
    // search was a third of sidewatch-postgres's encoding).
    let clean = if value.len() < 32 {
        !value.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n'))
    } else {
        memchr::memchr3(b'\\', b'"', b'\n', value.as_bytes()).is_none()
    };
    if clean {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn write_value(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 9.0e15 && !(v == 0.0 && v.is_sign_negative()) {
        // Most samples are whole numbers (counters, bytes, states): their
        // digits, as `{}` would print them, without the formatter.
        write_integer(out, v as i64);
    } else {
        // `{}` on f64 is the shortest representation that round-trips.
        let _ = write!(out, "{v}");
    }
}

fn write_integer(out: &mut String, n: i64) {
    out.push_str(itoa::Buffer::new().format(n));
}

/// OpenMetrics 1.0.0, ending in `# EOF`.
pub fn encode_openmetrics(snapshot: &Arc<Snapshot>) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(SnapshotCollector(Arc::clone(snapshot))));
    let mut out = String::with_capacity(snapshot.series() * 64 + 1024);
    // Writing into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, &registry);
    out
}

#[derive(Debug)]
struct SnapshotCollector(Arc<Snapshot>);

impl Collector for SnapshotCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.0.families {
            if family.samples.is_empty() {
                continue;
            }
            let (name, metric_type) = openmetrics_descriptor(family);
            let mut metric_encoder =
                encoder.encode_descriptor(name, &family.help, None, metric_type)?;
            if family.kind == MetricKind::Histogram {
                for h in histograms(&family.samples) {
                    h.encode(metric_encoder.encode_family(&OpenMetricsLabels(h.labels))?)?;
                }
                continue;
            }
            if let [only] = family.samples.as_slice() {
                if only.labels.is_empty() {
                    // Without a label set, so the line reads `name 1`, not `name{} 1`.
                    SampleValue {
                        metric_type,
                        value: only.value,
                    }
                    .encode(metric_encoder)?;
                    continue;
                }
            }
            for sample in &family.samples {
                let value = SampleValue {
                    metric_type,
                    value: sample.value,
                };
                value.encode(metric_encoder.encode_family(&OpenMetricsLabels(&sample.labels))?)?;
            }
        }
        Ok(())
    }
}

/// A sample's labels as the OpenMetrics encoder takes them, borrowed.
struct OpenMetricsLabels<'a>(&'a [(crate::metrics::LabelName, crate::metrics::LabelValue)]);

impl prometheus_client::encoding::EncodeLabelSet for OpenMetricsLabels<'_> {
    fn encode(
        &self,
        encoder: &mut prometheus_client::encoding::LabelSetEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeLabel as _;
        for (k, v) in self.0 {
            (k.as_ref(), v.as_str()).encode(encoder.encode_label())?;
        }
        Ok(())
    }
}

/// The OpenMetrics family name and type that make Prometheus store `family.name`.
fn openmetrics_descriptor(family: &Family) -> (&str, MetricType) {
    match family.kind {
        MetricKind::Counter => match family.name.strip_suffix("_total") {
            Some(base) => (base, MetricType::Counter),
            None => (&family.name, MetricType::Unknown),
        },
        MetricKind::Gauge => (&family.name, MetricType::Gauge),
        MetricKind::Untyped => (&family.name, MetricType::Unknown),
        MetricKind::Histogram => (&family.name, MetricType::Histogram),
    }
}

/// One histogram of a family: its label set, buckets as (bound, count in
/// that bucket alone), sum and count.
struct HistogramValue<'a> {
    labels: &'a [(crate::metrics::LabelName, crate::metrics::LabelValue)],
    buckets: Vec<(f64, u64)>,
    sum: f64,
    count: u64,
}

/// The histograms in `samples`, block by block (`_bucket`…, `_sum`,
/// `_count`); an incomplete block (cut by a series limit) is left out.
fn histograms(samples: &[crate::metrics::Sample]) -> Vec<HistogramValue<'_>> {
    let mut out = Vec::new();
    let (mut cumulative, mut sum): (Vec<(f64, f64)>, Option<f64>) = (Vec::new(), None);
    for s in samples {
        match s.suffix {
            "_bucket" => {
                let le =
                    s.labels
                        .iter()
                        .find(|(k, _)| k == "le")
                        .and_then(|(_, v)| match v.as_str() {
                            "+Inf" => Some(f64::INFINITY),
                            v => v.parse().ok(),
                        });
                if let Some(le) = le {
                    cumulative.push((le, s.value));
                }
            }
            "_sum" => sum = Some(s.value),
            "_count" => {
                if let Some(sum) = sum.take() {
                    let mut prev = 0.0;
                    let buckets = cumulative
                        .iter()
                        .map(|(le, c)| {
                            let n = (c - prev).max(0.0) as u64;
                            prev = *c;
                            (*le, n)
                        })
                        .collect();
                    out.push(HistogramValue {
                        labels: &s.labels,
                        buckets,
                        sum,
                        count: s.value as u64,
                    });
                }
                cumulative.clear();
            }
            _ => {}
        }
    }
    out
}

impl EncodeMetric for HistogramValue<'_> {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        encoder.encode_histogram::<NoLabelSet>(self.sum, self.count, &self.buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

struct SampleValue {
    metric_type: MetricType,
    value: f64,
}

impl EncodeMetric for SampleValue {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        match self.metric_type {
            MetricType::Counter => encoder.encode_counter::<NoLabelSet, _, f64>(&self.value, None),
            _ => encoder.encode_gauge(&self.value),
        }
    }

    fn metric_type(&self) -> MetricType {
        self.metric_type
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_rusts_shortest_round_trip() {
        for v in [
            0.0,
            -0.0,
            1.0,
            -1.0,
            42.0,
            1024.0 * 1024.0,
            8.999e15,
            9.0e15,
            1e21,
            -123456789.0,
            0.5,
            1.5e-7,
            3.25,
            f64::MAX,
            f64::MIN_POSITIVE,
            4294967296.0,
            -9007199254740991.0,
        ] {
            let mut out = String::new();
            write_value(&mut out, v);
            assert_eq!(out, format!("{v}"), "{v:e}");
        }
        let mut out = String::new();
        escape_label_value(&mut out, "a\"b\\c\nd");
        escape_help(&mut out, "x\\y\nz");
        assert_eq!(out, "a\\\"b\\\\c\\nd".to_owned() + "x\\\\y\\nz");
        // Short values are checked by a loop, long ones by memchr: both
        // escape, at any position, and leave clean values as they are.
        for len in [0, 1, 31, 32, 33, 200] {
            let clean = "v".repeat(len);
            let mut out = String::new();
            escape_label_value(&mut out, &clean);
            assert_eq!(out, clean);
            for (special, escaped) in [('"', "\\\""), ('\\', "\\\\"), ('\n', "\\n")] {
                for at in [0, len / 2, len] {
                    let mut value = clean.clone();
                    value.insert(at, special);
                    let mut expected = clean.clone();
                    expected.insert_str(at, escaped);
                    let mut out = String::new();
                    escape_label_value(&mut out, &value);
                    assert_eq!(out, expected, "{value:?}");
                }
            }
        }
    }

    fn snapshot() -> Arc<Snapshot> {
        let mut cpu = Family::counter(
            "node_cpu_seconds_total",
            "Seconds the CPUs spent in each mode.",
        );
        cpu.add(&[("cpu", "0"), ("mode", "idle")], 12.5);
        let mut fs = Family::gauge("node_filesystem_size_bytes", "Filesystem size in bytes.");
        fs.add(&[("mountpoint", "/a \"b\"\\c\nd")], 1e12);
        let legacy = Family::counter("pg_stat_database_xact_commit", "Commits.").with(&[], 3.0);
        let raw = Family::untyped(
            "node_vmstat_pgfault",
            "/proc/vmstat information field pgfault.",
        )
        .with(&[], f64::INFINITY);
        Arc::new(Snapshot {
            families: vec![cpu, fs, legacy, raw, Family::gauge("empty", "no samples")],
            ..Snapshot::default()
        })
    }

    #[test]
    fn classic_text_is_exact() {
        let text = encode_text(&snapshot());
        let expected = "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.\n\
# TYPE node_cpu_seconds_total counter\n\
node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 12.5\n\
# HELP node_filesystem_size_bytes Filesystem size in bytes.\n\
# TYPE node_filesystem_size_bytes gauge\n\
node_filesystem_size_bytes{mountpoint=\"/a \\\"b\\\"\\\\c\\nd\"} 1000000000000\n\
# HELP pg_stat_database_xact_commit Commits.\n\
# TYPE pg_stat_database_xact_commit counter\n\
pg_stat_database_xact_commit 3\n\
# HELP node_vmstat_pgfault /proc/vmstat information field pgfault.\n\
# TYPE node_vmstat_pgfault untyped\n\
node_vmstat_pgfault +Inf\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn openmetrics_keeps_stored_names_and_ends_with_eof() {
        let text = encode_openmetrics(&snapshot());
        assert!(text.ends_with("# EOF\n"), "{text}");
        assert!(text.contains("# TYPE node_cpu_seconds counter\n"), "{text}");
        assert!(
            text.contains("node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 12.5"),
            "{text}"
        );
        // A counter without `_total` keeps its name as `unknown`.
        assert!(
            text.contains("# TYPE pg_stat_database_xact_commit unknown\n"),
            "{text}"
        );
        assert!(text.contains("\npg_stat_database_xact_commit 3"), "{text}");
        assert!(
            text.contains("# TYPE node_vmstat_pgfault unknown\n"),
            "{text}"
        );
        assert!(
            text.contains("mountpoint=\"/a \\\"b\\\"\\\\c\\nd\""),
            "{text}"
        );
        assert!(!text.contains("empty"), "{text}");
    }

    #[test]
    fn negotiation_follows_accept() {
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(
            Format::negotiate(Some(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
            )),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::negotiate(Some(
                "text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5"
            )),
            Format::Text
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::Text
        );
        assert_eq!(Format::negotiate(Some("application/json")), Format::Text);
    }

    #[test]
    fn histograms_in_both_formats() {
        let mut h = Family::histogram("redis_commands_latencies_usec", "Latencies.");
        h.add_histogram(&[("cmd", "get")], &[(8.0, 1.0), (16.0, 3.0)], 40.0, 4.0);
        h.add_histogram(&[("cmd", "set")], &[(2.0, 1.0)], 1.0, 1.0);
        let snap = Arc::new(Snapshot {
            families: vec![h],
            ..Snapshot::default()
        });
        assert_eq!(
            encode_text(&snap),
            "# HELP redis_commands_latencies_usec Latencies.\n\
             # TYPE redis_commands_latencies_usec histogram\n\
             redis_commands_latencies_usec_bucket{cmd=\"get\",le=\"8\"} 1\n\
             redis_commands_latencies_usec_bucket{cmd=\"get\",le=\"16\"} 3\n\
             redis_commands_latencies_usec_bucket{cmd=\"get\",le=\"+Inf\"} 4\n\
             redis_commands_latencies_usec_sum{cmd=\"get\"} 40\n\
             redis_commands_latencies_usec_count{cmd=\"get\"} 4\n\
             redis_commands_latencies_usec_bucket{cmd=\"set\",le=\"2\"} 1\n\
             redis_commands_latencies_usec_bucket{cmd=\"set\",le=\"+Inf\"} 1\n\
             redis_commands_latencies_usec_sum{cmd=\"set\"} 1\n\
             redis_commands_latencies_usec_count{cmd=\"set\"} 1\n"
        );
        let om = encode_openmetrics(&snap);
        for line in [
            "# TYPE redis_commands_latencies_usec histogram",
            "redis_commands_latencies_usec_sum{cmd=\"get\"} 40.0",
            "redis_commands_latencies_usec_count{cmd=\"get\"} 4",
            "redis_commands_latencies_usec_bucket{le=\"8.0\",cmd=\"get\"} 1",
            "redis_commands_latencies_usec_bucket{le=\"16.0\",cmd=\"get\"} 3",
            "redis_commands_latencies_usec_bucket{le=\"+Inf\",cmd=\"get\"} 4",
        ] {
            assert!(om.lines().any(|l| l == line), "{line} not in\n{om}");
        }
    }
}
