//! The snapshot model: what a collector returns and what the encoders write.
//!
//! Collection is asynchronous and encoding is synchronous, so collectors gather
//! into plain values first; a scrape's result is an immutable [`Snapshot`]
//! that may be shared by every request that coalesced onto it.

use std::borrow::Cow;
use std::hash::{BuildHasherDefault, Hasher};

/// A label name: static for the fixed label sets, owned for user-defined ones.
pub type LabelName = Cow<'static, str>;

/// A label's value: kept inline up to 24 bytes (a device, a mode, a
/// database's name), so that most samples' labels cost no allocation.
pub type LabelValue = compact_str::CompactString;

/// A sample's labels: two are kept inline (most label sets have one or two);
/// more spill to one allocation.
pub type Labels = smallvec::SmallVec<[(LabelName, LabelValue); 2]>;

/// A label set given as owned pairs (a target's base and constant labels),
/// as a sample's own labels: built once, then cloned per sample.
pub fn labels_of(pairs: &[(LabelName, String)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), LabelValue::new(v)))
        .collect()
}

/// The type a family is exposed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// A monotonically increasing value. Names should end in `_total`; a counter
    /// kept under a peer's name without it is exposed as `unknown` in OpenMetrics
    /// so that Prometheus stores the name the peer's users query.
    Counter,
    Gauge,
    /// Exposed as `untyped` (text 0.0.4) / `unknown` (OpenMetrics), as peers do
    /// for raw kernel counters.
    Untyped,
    /// Buckets, sum and count: samples whose `suffix` is `_bucket` (with an
    /// `le` label, cumulative), `_sum` and `_count`, one block per label set
    /// in that order, as [`Family::add_histogram`] writes them.
    Histogram,
}

/// One labelled value.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub labels: Labels,
    pub value: f64,
    /// Appended to the family's name: empty but for histograms.
    pub suffix: &'static str,
}

/// A metric family: one name, one help text, one type, many samples.
#[derive(Clone, Debug, PartialEq)]
pub struct Family {
    /// The name as Prometheus stores it (counters include `_total`). Names
    /// and help texts are mostly literals: borrowed, they cost no allocation
    /// per family per scrape.
    pub name: Cow<'static, str>,
    pub help: Cow<'static, str>,
    pub kind: MetricKind,
    pub samples: Vec<Sample>,
}

impl Family {
    pub fn new(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
        kind: MetricKind,
    ) -> Self {
        Self {
            name: name.into(),
            help: help.into(),
            kind,
            samples: Vec::new(),
        }
    }

    pub fn gauge(name: impl Into<Cow<'static, str>>, help: impl Into<Cow<'static, str>>) -> Self {
        Self::new(name, help, MetricKind::Gauge)
    }

    pub fn counter(name: impl Into<Cow<'static, str>>, help: impl Into<Cow<'static, str>>) -> Self {
        Self::new(name, help, MetricKind::Counter)
    }

    pub fn untyped(name: impl Into<Cow<'static, str>>, help: impl Into<Cow<'static, str>>) -> Self {
        Self::new(name, help, MetricKind::Untyped)
    }

    /// Adds a sample with static label names.
    pub fn add(&mut self, labels: &[(&'static str, &str)], value: f64) {
        self.samples.push(Sample {
            labels: labels
                .iter()
                .map(|(k, v)| (Cow::Borrowed(*k), LabelValue::new(v)))
                .collect(),
            value,
            suffix: "",
        });
    }

    /// Adds a sample whose labels are already built: a caller that gives
    /// several samples one label set builds it once and clones it, which
    /// costs no allocation for up to two labels of up to 24 bytes each.
    pub fn add_labels(&mut self, labels: Labels, value: f64) {
        self.samples.push(Sample {
            labels,
            value,
            suffix: "",
        });
    }

    /// Adds a sample whose label names are only known at run time.
    pub fn add_owned(&mut self, labels: Vec<(LabelName, String)>, value: f64) {
        self.samples.push(Sample {
            labels: labels
                .into_iter()
                .map(|(k, v)| (k, LabelValue::from(v)))
                .collect(),
            value,
            suffix: "",
        });
    }

    pub fn histogram(
        name: impl Into<Cow<'static, str>>,
        help: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(name, help, MetricKind::Histogram)
    }

    /// Adds one histogram: `buckets` are (upper bound, cumulative count) in
    /// rising order, without +Inf, which is `count`.
    pub fn add_histogram(
        &mut self,
        labels: &[(&'static str, &str)],
        buckets: &[(f64, f64)],
        sum: f64,
        count: f64,
    ) {
        let base: Labels = labels
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), LabelValue::new(v)))
            .collect();
        let bucket = |le: String, value: f64| {
            let mut labels = base.clone();
            labels.push((Cow::Borrowed("le"), LabelValue::from(le)));
            Sample {
                labels,
                value,
                suffix: "_bucket",
            }
        };
        for (le, n) in buckets.iter().filter(|(le, _)| le.is_finite()) {
            self.samples.push(bucket(format!("{le}"), *n));
        }
        self.samples.push(bucket("+Inf".to_owned(), count));
        self.samples.push(Sample {
            labels: base.clone(),
            value: sum,
            suffix: "_sum",
        });
        self.samples.push(Sample {
            labels: base,
            value: count,
            suffix: "_count",
        });
    }

    /// Builder form of [`Family::add`] for single-sample families.
    pub fn with(mut self, labels: &[(&'static str, &str)], value: f64) -> Self {
        self.add(labels, value);
        self
    }
}

/// Families being assembled, each name once, in first-seen order: the one
/// family builder the engine, custom queries and INFO mappings share.
#[derive(Default)]
pub struct FamilySet {
    families: Vec<Family>,
    /// Name hash to position. A scrape adds thousands of families: keyed by
    /// a 64-bit hash, a name is neither copied nor hashed twice. Two names
    /// with one hash (never seen in practice) stay correct: the second is
    /// not indexed and is found by a scan.
    index: std::collections::HashMap<u64, usize, BuildHasherDefault<PassThrough>>,
}

/// FNV-1a over the name's bytes.
fn name_hash(name: &str) -> u64 {
    let mut h = Fnv1a::default();
    h.write(name.as_bytes());
    h.finish()
}

/// FNV-1a: for maps keyed by metric, label and file names, which are short;
/// several times cheaper than SipHash there. Those maps are bounded, so
/// names crafted to collide cost slower lookups, never wrong answers.
pub struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// A `HashMap`'s hasher for names: [`Fnv1a`].
pub type NameHasher = BuildHasherDefault<Fnv1a>;

/// The hash map's own hasher passes the precomputed name hash through.
#[derive(Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

impl FamilySet {
    /// A set with room for `families` families, so that assembling a
    /// scrape does not grow the vector and the index step by step.
    pub fn with_capacity(families: usize) -> Self {
        Self {
            families: Vec::with_capacity(families),
            index: std::collections::HashMap::with_capacity_and_hasher(
                families,
                Default::default(),
            ),
        }
    }

    fn position(&self, hash: u64, name: &str) -> Option<usize> {
        match self.index.get(&hash) {
            Some(&i) if self.families[i].name == name => Some(i),
            Some(_) => self.families.iter().position(|f| f.name == name),
            None => None,
        }
    }

    fn append(&mut self, hash: u64, family: Family) -> usize {
        let i = self.families.len();
        self.index.entry(hash).or_insert(i);
        self.families.push(family);
        i
    }

    pub fn family(&mut self, name: &str, help: &str, kind: MetricKind) -> &mut Family {
        let i = self.index(name, help, kind);
        &mut self.families[i]
    }

    /// Where the family `name` is, created with `help` and `kind` on first
    /// use: positions never change, so a caller that adds to one family
    /// many times looks it up once and then uses [`FamilySet::at`].
    pub fn index(&mut self, name: &str, help: &str, kind: MetricKind) -> usize {
        let hash = name_hash(name);
        match self.position(hash, name) {
            Some(i) => i,
            None => self.append(hash, Family::new(name.to_owned(), help.to_owned(), kind)),
        }
    }

    /// The family at `index`, as [`FamilySet::index`] returned it.
    pub fn at(&mut self, index: usize) -> &mut Family {
        &mut self.families[index]
    }

    /// Adds one sample to the family `name`, created with `help` and
    /// `kind` on first use.
    pub fn add(
        &mut self,
        name: impl AsRef<str>,
        help: impl AsRef<str>,
        kind: MetricKind,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        self.family(name.as_ref(), help.as_ref(), kind)
            .add(labels, value);
    }

    pub fn push(&mut self, family: Family) {
        self.push_merged(family);
    }

    /// Like [`FamilySet::push`]; whether `family` went into one already
    /// there.
    pub fn push_merged(&mut self, family: Family) -> bool {
        let hash = name_hash(&family.name);
        match self.position(hash, &family.name) {
            Some(i) => {
                self.families[i].samples.extend(family.samples);
                true
            }
            None => {
                self.append(hash, family);
                false
            }
        }
    }

    pub fn len(&self) -> usize {
        self.families.len()
    }

    pub fn extend(&mut self, families: Vec<Family>) {
        for f in families {
            self.push(f);
        }
    }

    pub fn series(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
    }

    pub fn into_families(self) -> Vec<Family> {
        self.families
    }
}

/// How many distinct names [`intern`] keeps. A host reports a few hundred
/// (node's /proc fields); past this, names are handed out owned, so input
/// that keeps inventing names costs what it did before, never memory that
/// grows without bound.
pub const INTERN_CAP: usize = 8192;

static INTERNED: std::sync::Mutex<Option<std::collections::HashSet<&'static str, NameHasher>>> =
    std::sync::Mutex::new(None);

/// A name or help text built from what the target reports (a /proc field,
/// a device statistic): the same strings every scrape. The first scrape
/// keeps each once; later ones borrow it, with no allocation.
pub fn intern(s: &str) -> Cow<'static, str> {
    let Ok(mut table) = INTERNED.lock() else {
        return Cow::Owned(s.to_owned());
    };
    let table = table.get_or_insert_with(Default::default);
    if let Some(&kept) = table.get(s) {
        return Cow::Borrowed(kept);
    }
    if table.len() >= INTERN_CAP {
        return Cow::Owned(s.to_owned());
    }
    let kept: &'static str = Box::leak(s.into());
    table.insert(kept);
    Cow::Borrowed(kept)
}

thread_local! {
    static SCRATCH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// [`intern`] of `format_args!(...)`, written into the thread's scratch
/// buffer instead of a fresh `String`.
pub fn intern_fmt(args: std::fmt::Arguments<'_>) -> Cow<'static, str> {
    use std::fmt::Write as _;
    if let Some(s) = args.as_str() {
        return Cow::Borrowed(s);
    }
    SCRATCH.with(|scratch| match scratch.try_borrow_mut() {
        Ok(mut buf) => {
            buf.clear();
            let _ = buf.write_fmt(args);
            intern(&buf)
        }
        Err(_) => intern(&args.to_string()),
    })
}

/// The result of one scrape: every family, in a stable order.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub families: Vec<Family>,
    /// The body, when it was encoded as the collectors finished (in the
    /// format of the scrape that started the collection), in parts: one
    /// after the other, exactly what encoding `families` in that format
    /// gives.
    pub body: Option<(crate::exposition::Format, Vec<bytes::Bytes>)>,
}

impl Snapshot {
    /// Total number of samples.
    pub fn series(&self) -> usize {
        self.families.iter().map(|f| f.samples.len()).sum()
    }

    pub fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_merge_by_name_even_when_hashes_collide() {
        let mut set = FamilySet::default();
        set.push(Family::gauge("a", "A.").with(&[("x", "1")], 1.0));
        set.push(Family::gauge("b", "B.").with(&[], 2.0));
        set.push(Family::gauge("a", "A.").with(&[("x", "2")], 3.0));
        // As if "c" hashed like "a": the index points at "a" for it.
        set.index.insert(name_hash("c"), 0);
        set.push(Family::gauge("c", "C.").with(&[], 4.0));
        set.push(Family::gauge("c", "C.").with(&[("y", "1")], 5.0));
        set.family("c", "C.", MetricKind::Gauge)
            .add(&[("y", "2")], 6.0);
        let families = set.into_families();
        let names: Vec<&str> = families.iter().map(|f| f.name.as_ref()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let counts: Vec<usize> = families.iter().map(|f| f.samples.len()).collect();
        assert_eq!(counts, [2, 1, 3]);
    }

    #[test]
    fn interned_names_are_kept_once_and_bounded() {
        let n = std::hint::black_box(7);
        let a = intern_fmt(format_args!("sw_test_{n}_total"));
        let b = intern("sw_test_7_total");
        assert_eq!(a, "sw_test_7_total");
        match (&a, &b) {
            (Cow::Borrowed(x), Cow::Borrowed(y)) => assert!(std::ptr::eq(*x, *y)),
            _ => panic!("an interned name is borrowed"),
        }
        assert_eq!(intern_fmt(format_args!("literal")), "literal");
        // Past the cap, names still come back right, owned.
        for i in 0..INTERN_CAP + 10 {
            let name = intern_fmt(format_args!("sw_cap_{i}"));
            assert_eq!(name, format!("sw_cap_{i}"));
        }
        let len = INTERNED
            .lock()
            .expect("lock")
            .as_ref()
            .map_or(0, |t| t.len());
        assert_eq!(len, INTERN_CAP);
        assert!(matches!(intern("sw_cap_never_seen"), Cow::Owned(_)));
    }
}
