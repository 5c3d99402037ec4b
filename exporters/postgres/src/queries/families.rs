//! A query's rows turned into families, row by row as they arrive, cut at
//! the series limits with the cuts counted.

use sidewatch_common::metrics::{intern, labels_of, LabelName, LabelValue, Labels};
use sidewatch_common::MetricKind;

use super::values::{duration_ms, format_le, parse_array, to_f64};
use super::{QuerySpec, Usage};
use crate::pool::Rows;

pub use sidewatch_common::metrics::FamilySet;

/// Longest label value a custom query may emit, in bytes; longer values are
/// cut at a character boundary (a query returning document text as a label
/// would otherwise put megabytes into every scrape).
pub const LABEL_VALUE_MAX_BYTES: usize = 1024;

pub(super) fn capped(value: &str) -> &str {
    if value.len() <= LABEL_VALUE_MAX_BYTES {
        return value;
    }
    let mut end = LABEL_VALUE_MAX_BYTES;
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    &value[..end]
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
/// Worked out once per result, so that a row costs no name or help text.
struct Layout {
    /// Label columns with the label names they give (interned: no
    /// allocation per row).
    label_cols: Vec<(usize, LabelName)>,
    add_datname: bool,
    /// A HISTOGRAM column `x` holds the upper bounds; `x_bucket`, `x_sum` and
    /// `x_count` hold the rest, as in the peer: (column, [x, bucket, sum, count]).
    histograms: Vec<(usize, [Option<usize>; 4])>,
    /// The other columns that give a series, in column order.
    metrics: Vec<ColumnMetric>,
}

/// One column that gives a series per row.
struct ColumnMetric {
    column: usize,
    /// The column's spec; `None` for a column the spec does not name, which
    /// becomes an untyped series when its value reads as a number.
    spec: Option<usize>,
    kind: MetricKind,
    name: String,
    help: String,
    /// The family's position in the output, once it has a sample.
    family: Option<usize>,
}

/// Turns rows into samples one at a time, as they arrive: once the query's
/// `max_series` (or the scrape's series limit) is reached, further rows are
/// only counted, so memory follows the limit, not the result.
pub struct RowSink<'a> {
    spec: &'a QuerySpec,
    /// The base labels, built once for every row.
    base: Labels,
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
            base: labels_of(base),
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
        let by_name = |name: &str| spec.columns.iter().position(|c| c.name == name);
        let label_cols = columns
            .iter()
            .enumerate()
            .filter(|(_, c)| by_name(c).is_some_and(|s| spec.columns[s].usage == Usage::Label))
            .map(|(i, c)| (i, intern(c)))
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
        let consumed: Vec<usize> = histograms
            .iter()
            .flat_map(|(_, cols)| cols.iter().flatten().copied())
            .collect();
        let metrics = columns
            .iter()
            .enumerate()
            .filter(|(i, _)| !consumed.contains(i))
            .filter_map(|(column, col)| {
                let at = by_name(col);
                let c = at.map(|a| &spec.columns[a]);
                let kind = match c.map(|c| c.usage) {
                    Some(Usage::Label | Usage::Discard | Usage::Histogram) => return None,
                    Some(Usage::Counter) => MetricKind::Counter,
                    Some(Usage::Gauge | Usage::MappedMetric | Usage::Duration) => MetricKind::Gauge,
                    None => MetricKind::Untyped,
                };
                let name = match c {
                    Some(c) if c.usage == Usage::Duration => {
                        format!("{}_{}_milliseconds", spec.name, col)
                    }
                    _ => format!("{}_{}", spec.name, col),
                };
                let help = match c {
                    Some(c) => c.description.clone(),
                    None => format!("Unknown metric from {}", spec.name),
                };
                Some(ColumnMetric {
                    column,
                    spec: at,
                    kind,
                    name,
                    help,
                    family: None,
                })
            })
            .collect();
        self.layout = Some(Layout {
            label_cols,
            add_datname: self.datname.is_some() && !columns.iter().any(|c| c == "datname"),
            histograms,
            metrics,
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
        let Some(mut layout) = self.layout.take() else {
            return;
        };
        self.row_with(&mut layout, row);
        self.layout = Some(layout);
    }

    fn row_with(&mut self, layout: &mut Layout, row: &[Option<&str>]) {
        let spec = self.spec;
        let cell = |i: Option<usize>| i.and_then(|i| row.get(i).copied().flatten());
        // Past the limit a row is only counted: no labels are built.
        let full = self.emitted >= self.limit;
        let mut labels = Labels::new();
        if !full {
            labels.extend(self.base.iter().cloned());
            if let (true, Some(db)) = (layout.add_datname, self.datname) {
                labels.push((LabelName::Borrowed("datname"), LabelValue::new(db)));
            }
            for (i, name) in &layout.label_cols {
                let value = cell(Some(*i)).unwrap_or_default();
                labels.push((name.clone(), LabelValue::new(capped(value))));
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
                    l.push((LabelName::Borrowed("le"), LabelValue::from(le)));
                }
                self.out
                    .family(&metric, &c.description, MetricKind::Counter)
                    .add_labels(l, v);
            }
        }
        for m in &mut layout.metrics {
            let value = cell(Some(m.column));
            let c = m.spec.map(|a| &spec.columns[a]);
            let v = match c.map(|c| c.usage) {
                Some(Usage::MappedMetric) => {
                    value.and_then(|v| c.and_then(|c| c.mapping.get(v).copied()))
                }
                Some(Usage::Duration) => duration_ms(value),
                _ => to_f64(value),
            };
            let Some(v) = v else { continue };
            if !self.admit() {
                continue;
            }
            let family = *m
                .family
                .get_or_insert_with(|| self.out.index(&m.name, &m.help, m.kind));
            self.out.at(family).add_labels(labels.clone(), v);
        }
    }
}
