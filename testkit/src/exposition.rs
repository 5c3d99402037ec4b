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

/// name → label names (over all its samples), as Prometheus stores them
/// (a summary's `_sum` and `_count` are names of their own), read from classic text by
/// hand: label values may hold `,` and `=`, which prometheus-parse misreads.
pub fn family_labels(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let name_end = line.find(['{', ' ']).unwrap_or(line.len());
        let name = &line[..name_end];
        let labels = out.entry(name.to_owned()).or_default();
        if line[name_end..].starts_with('{') {
            // Label names: identifiers before `="`.
            let mut rest = &line[name_end + 1..];
            while let Some(eq) = rest.find("=\"") {
                let key = rest[..eq].trim_start_matches([',', ' ']);
                labels.insert(key.to_owned());
                // Skip the quoted value, honouring escapes.
                let value = &rest[eq + 2..];
                let mut end = 0;
                let mut escaped = false;
                for (i, c) in value.char_indices() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = i;
                        break;
                    }
                }
                rest = &value[end + 1..];
                if rest.starts_with('}') {
                    break;
                }
            }
        }
    }
    out
}

/// Runtime families of the Go peers, left out of comparisons.
pub fn is_go_runtime(name: &str) -> bool {
    name.starts_with("go_") || name.starts_with("process_") || name.starts_with("promhttp_")
}

/// How much of a peer's families (by the name Prometheus stores, without
/// Go runtime families) an exposition has, and with which label names.
pub struct Coverage {
    pub peer: BTreeMap<String, BTreeSet<String>>,
    pub missing: Vec<String>,
    /// Shared families whose label names differ: (family, peer's, ours).
    pub label_diffs: Vec<(String, BTreeSet<String>, BTreeSet<String>)>,
}

impl Coverage {
    pub fn of(peer_text: &str, ours_text: &str) -> Self {
        let peer: BTreeMap<_, _> = family_labels(peer_text)
            .into_iter()
            .filter(|(n, _)| !is_go_runtime(n))
            .collect();
        let ours = family_labels(ours_text);
        let missing = peer
            .keys()
            .filter(|n| !ours.contains_key(*n))
            .cloned()
            .collect();
        let label_diffs = peer
            .iter()
            .filter_map(|(n, l)| {
                let o = ours.get(n)?;
                (o != l).then(|| (n.clone(), l.clone(), o.clone()))
            })
            .collect();
        Self {
            peer,
            missing,
            label_diffs,
        }
    }

    /// The peer's families sidewatch lacks, but for the `allowed` ones.
    pub fn missing_except(&self, allowed: &[&str]) -> Vec<&String> {
        self.missing
            .iter()
            .filter(|m| !allowed.contains(&m.as_str()))
            .collect()
    }

    pub fn ratio(&self) -> f64 {
        (self.peer.len() - self.missing.len()) as f64 / self.peer.len().max(1) as f64
    }

    pub fn report(&self) -> String {
        format!(
            "peer families: {}, covered: {} ({:.1}%), missing: {:?}, label differences: {:?}",
            self.peer.len(),
            self.peer.len() - self.missing.len(),
            self.ratio() * 100.0,
            self.missing,
            self.label_diffs
        )
    }
}
