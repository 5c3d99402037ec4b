//! A query's rows turned into families, row by row as they arrive, cut at
//! the series limits with the cuts counted.

use sidewatch_common::metrics::LabelName;
use sidewatch_common::MetricKind;

use super::values::{duration_ms, format_le, parse_array, to_f64};
use super::{QuerySpec, Usage};
use crate::pool::Rows;

pub use sidewatch_common::metrics::FamilySet;

/// Longest label value a custom query may emit, in bytes; longer values are
/// cut at a character boundary (a query returning document text as a label
/// would otherwise put megabytes into every scrape).
pub const LABEL_VALUE_MAX_BYTES: usize = 1024;

pub(super) fn capped_label(value: &str) -> String {
    if value.len() <= LABEL_VALUE_MAX_BYTES {
        return value.to_owned();
    }
    let mut end = LABEL_VALUE_MAX_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    value[..end].to_owned()
}

/// Turns a query's rows into samples. `base` labels (server, constant labels)
/// come first; `datname` is added when the query runs in every database and
/// does not name the database itself. Returns the number of series dropped by
/// the query's `max_series`.
pub fn rows_to_families(
    spec: &QuerySpec,
    rows: &Rows,
    base: &[(LabelName, String)],
    datname: Option<&str>,
    out: &mut FamilySet,
) -> u64 {
    let mut sink = RowSink::new(spec, base, datname, out, usize::MAX);
    sink.columns(&rows.columns);
    for row in &rows.rows {
        let values: Vec<Option<&str>> = row.iter().map(|v| v.as_deref()).collect();
        sink.row(&values);
    }
    sink.dropped()
}

/// Where a result's columns go: labels, histogram parts, the rest metrics.
struct Layout {
    columns: Vec<String>,
    label_cols: Vec<usize>,
    add_datname: bool,
    /// A HISTOGRAM column `x` holds the upper bounds; `x_bucket`, `x_sum` and
    /// `x_count` hold the rest, as in the peer: (column, [x, bucket, sum, count]).
    histograms: Vec<(usize, [Option<usize>; 4])>,
    consumed: Vec<usize>,
}

/// Turns rows into samples one at a time, as they arrive: once the query's
/// `max_series` (or the scrape's series limit) is reached, further rows are
/// only counted, so memory follows the limit, not the result.
pub struct RowSink<'a> {
    spec: &'a QuerySpec,
    base: &'a [(LabelName, String)],
    datname: Option<&'a str>,
    out: &'a mut FamilySet,
    limit: usize,
    emitted: usize,
    dropped: u64,
    layout: Option<Layout>,
}

impl<'a> RowSink<'a> {
    /// `series_limit` caps what is kept besides the query's own `max_series`.
    pub fn new(
        spec: &'a QuerySpec,
        base: &'a [(LabelName, String)],
        datname: Option<&'a str>,
        out: &'a mut FamilySet,
        series_limit: usize,
    ) -> Self {
        Self {
            spec,
            base,
            datname,
            out,
            limit: spec.max_series.unwrap_or(usize::MAX).min(series_limit),
            emitted: 0,
            dropped: 0,
            layout: None,
        }
    }

    /// Series dropped so far, by `max_series` or the series limit.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// A result's column names; the rows that follow are in this order.
    pub fn columns(&mut self, columns: &[String]) {
        let spec = self.spec;
        let find = |name: &str| columns.iter().position(|c| c == name);
        let by_name = |name: &str| spec.columns.iter().find(|c| c.name == name);
        let label_cols = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| by_name(c).is_some_and(|s| s.usage == Usage::Label))
            .map(|(i, _)| i)
            .collect();
        let histograms: Vec<(usize, [Option<usize>; 4])> = spec
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.usage == Usage::Histogram)
            .map(|(ci, c)| {
                let f = |suffix: &str| find(&format!("{}{suffix}", c.name));
                (ci, [f(""), f("_bucket"), f("_sum"), f("_count")])
            })
            .collect();
        let consumed = histograms
            .iter()
            .flat_map(|(_, cols)| cols.iter().flatten().copied())
            .collect();
        self.layout = Some(Layout {
            columns: columns.to_vec(),
            label_cols,
            add_datname: self.datname.is_some() && !columns.iter().any(|c| c == "datname"),
            histograms,
            consumed,
        });
    }

    /// Whether one more series may be kept; counts it as dropped otherwise.
    fn admit(&mut self) -> bool {
        if self.emitted >= self.limit {
            self.dropped += 1;
            false
        } else {
            self.emitted += 1;
            true
        }
    }

    /// One row, values in column order.
    pub fn row(&mut self, row: &[Option<&str>]) {
        let Some(layout) = self.layout.take() else {
            return;
        };
        self.row_with(&layout, row);
        self.layout = Some(layout);
    }

    fn row_with(&mut self, layout: &Layout, row: &[Option<&str>]) {
        let spec = self.spec;
        let cell = |i: Option<usize>| i.and_then(|i| row.get(i).copied().flatten());
        // Past the limit a row is only counted: no labels are built.
        let full = self.emitted >= self.limit;
        let mut labels: Vec<(LabelName, String)> = Vec::new();
        if !full {
            labels.extend_from_slice(self.base);
            if let (true, Some(db)) = (layout.add_datname, self.datname) {
                labels.push(("datname".into(), db.to_owned()));
            }
            for &i in &layout.label_cols {
                let value = cell(Some(i)).unwrap_or_default();
                labels.push((layout.columns[i].clone().into(), capped_label(value)));
            }
        }
        for (ci, [bounds, buckets, sum, count]) in &layout.histograms {
            let c = &spec.columns[*ci];
            let name = format!("{}_{}", spec.name, c.name);
            let bounds = parse_array(cell(*bounds));
            let counts = parse_array(cell(*buckets));
            let total = to_f64(cell(*count)).unwrap_or(f64::NAN);
            let mut series: Vec<(String, Option<String>, f64)> = bounds
                .iter()
                .zip(counts.iter())
                .map(|(le, n)| (format!("{name}_bucket"), Some(format_le(*le)), *n))
                .collect();
            series.push((format!("{name}_bucket"), Some("+Inf".to_owned()), total));
            series.push((
                format!("{name}_sum"),
                None,
                to_f64(cell(*sum)).unwrap_or(f64::NAN),
            ));
            series.push((format!("{name}_count"), None, total));
            for (metric, le, v) in series {
                if !self.admit() {
                    continue;
                }
                let mut l = labels.clone();
                if let Some(le) = le {
                    l.push(("le".into(), le));
                }
                self.out
                    .family(&metric, &c.description, MetricKind::Counter)
                    .add_owned(l, v);
            }
        }
        for (i, col) in layout.columns.iter().enumerate() {
            if layout.consumed.contains(&i) {
                continue;
            }
            let value = cell(Some(i));
            let column = spec.columns.iter().find(|c| c.name == *col);
            let (kind, v) = match column {
                Some(c) => match c.usage {
                    Usage::Label | Usage::Discard | Usage::Histogram => continue,
                    Usage::Counter => (MetricKind::Counter, to_f64(value)),
                    Usage::Gauge => (MetricKind::Gauge, to_f64(value)),
                    Usage::MappedMetric => (
                        MetricKind::Gauge,
                        value.and_then(|v| c.mapping.get(v).copied()),
                    ),
                    Usage::Duration => (MetricKind::Gauge, duration_ms(value)),
                },
                // Unknown columns become untyped series, as in the peer,
                // when their value reads as a number.
                None => (MetricKind::Untyped, to_f64(value)),
            };
            let Some(v) = v else { continue };
            if !self.admit() {
                continue;
            }
            let name = match column {
                Some(c) if c.usage == Usage::Duration => {
                    format!("{}_{}_milliseconds", spec.name, col)
                }
                _ => format!("{}_{}", spec.name, col),
            };
            let help = match column {
                Some(c) if !c.description.is_empty() => c.description.clone(),
                None => format!("Unknown metric from {}", spec.name),
                Some(_) => String::new(),
            };
            self.out
                .family(&name, &help, kind)
                .add_owned(labels.clone(), v);
        }
    }
}
