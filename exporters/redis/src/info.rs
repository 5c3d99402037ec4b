//! The INFO reply: `# Section` headers and `field:value` lines.
//!
//! Tolerant by design: unknown fields and sections are kept and ignored by
//! the mapping, missing sections simply produce no families, and lines that
//! are neither a header nor `field:value` are skipped. Redis 6 and 7, Valkey,
//! KeyDB and Dragonfly all answer in this shape.

/// One INFO reply, fields in order with their section.
#[derive(Debug, Default, Clone)]
pub struct Info {
    /// (section in lower case, field, value)
    pub fields: Vec<(String, String, String)>,
}

impl Info {
    pub fn parse(text: &str) -> Self {
        let mut section = String::new();
        let mut fields = Vec::new();
        for line in text.lines() {
            let line = line.trim_end_matches('\r').trim();
            if line.is_empty() {
                continue;
            }
            if let Some(name) = line.strip_prefix('#') {
                section = name.trim().to_ascii_lowercase();
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                fields.push((section.clone(), k.trim().to_owned(), v.trim().to_owned()));
            }
        }
        Info { fields }
    }

    /// The value of a field, from whichever section holds it.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(_, k, _)| k == field)
            .map(|(_, _, v)| v.as_str())
    }

    /// A field as a number.
    pub fn number(&self, field: &str) -> Option<f64> {
        self.get(field).and_then(parse_number)
    }

    /// Fields whose name starts with `prefix`, with the prefix cut off.
    pub fn with_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.fields
            .iter()
            .filter_map(move |(_, k, v)| k.strip_prefix(prefix).map(|rest| (rest, v.as_str())))
    }
}

/// A number as INFO writes it: integers, decimals, `ok`/`err` statuses and
/// percentages (`12.50%`). Anything else is not a number.
pub fn parse_number(v: &str) -> Option<f64> {
    match v {
        "ok" | "up" => return Some(1.0),
        "err" | "fail" | "down" => return Some(0.0),
        _ => {}
    }
    let v = v.strip_suffix('%').unwrap_or(v);
    v.parse::<f64>().ok().filter(|x| !x.is_nan())
}

/// `a=1,b=2` as pairs (keyspace lines, commandstats, replica lines).
pub fn kv_list(v: &str) -> Vec<(&str, &str)> {
    v.split(',')
        .filter_map(|part| part.split_once('='))
        .collect()
}

/// The value of `key` in an `a=1,b=2` list.
pub fn kv_get<'a>(list: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    list.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sections_and_skips_junk() {
        let info = Info::parse(
            "# Server\r\nredis_version:7.2.4\r\nweird line\r\n\r\n# Keyspace\r\ndb0:keys=3,expires=1,avg_ttl=10\r\n",
        );
        assert_eq!(info.get("redis_version"), Some("7.2.4"));
        assert!(info.fields.iter().any(|(s, _, _)| s == "keyspace"));
        let db: Vec<_> = info.with_prefix("db").collect();
        assert_eq!(db, vec![("0", "keys=3,expires=1,avg_ttl=10")]);
        assert_eq!(kv_get(&kv_list(db[0].1), "expires"), Some("1"));
    }

    #[test]
    fn numbers_statuses_and_percentages() {
        assert_eq!(parse_number("ok"), Some(1.0));
        assert_eq!(parse_number("err"), Some(0.0));
        assert_eq!(parse_number("99.93%"), Some(99.93));
        assert_eq!(parse_number("-1"), Some(-1.0));
        assert_eq!(parse_number("1.45M"), None);
        assert_eq!(parse_number("nan"), None);
    }
}
