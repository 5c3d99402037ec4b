//! Parsing exposition text with a real parser, so tests assert values.

use std::collections::{BTreeMap, BTreeSet};

use prometheus_parse::{Scrape, Value};

/// A parsed classic-text exposition.
pub struct Exposition {
    pub scrape: Scrape,
    /// family name → TYPE, from the text's TYPE lines.
    pub types: BTreeMap<String, String>,
}

impl Exposition {
    pub fn parse(text: &str) -> Self {
        let lines = text.lines().map(|l| Ok(l.to_owned()));
        let scrape = Scrape::parse(lines).expect("exposition does not parse");
        let types = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .filter_map(|l| l.split_once(' '))
            .map(|(n, t)| (n.to_owned(), t.trim().to_owned()))
            .collect();
        Self { scrape, types }
    }

    /// The value of the one sample of `name` whose labels include `labels`.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let mut found = self.samples(name).into_iter().filter(|(l, _)| {
            labels
                .iter()
                .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        });
        let first = found.next().map(|(_, v)| v);
        assert!(
            found.next().is_none(),
            "{name} {labels:?} matches several samples"
        );
        first
    }

    /// Every sample of `name` as (labels, value).
    pub fn samples(&self, name: &str) -> Vec<(BTreeMap<String, String>, f64)> {
        self.scrape
            .samples
            .iter()
            .filter(|s| s.metric == name)
            .filter_map(|s| {
                let v = match s.value {
                    Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
                    _ => return None,
                };
                let labels = s
                    .labels
                    .iter()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                Some((labels, v))
            })
            .collect()
    }

    /// family name → the set of label names its samples use.
    pub fn label_names(&self) -> BTreeMap<String, BTreeSet<String>> {
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for s in &self.scrape.samples {
            let entry = out.entry(s.metric.clone()).or_default();
            entry.extend(s.labels.keys().cloned());
        }
        out
    }

    pub fn names(&self) -> BTreeSet<String> {
        self.scrape
            .samples
            .iter()
            .map(|s| s.metric.clone())
            .collect()
    }
}
