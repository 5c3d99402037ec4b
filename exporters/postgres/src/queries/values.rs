//! Text values of the simple query protocol turned into numbers: plain
//! numbers and booleans, timestamps, durations and intervals, arrays.

/// Text value → number, as postgres_exporter converts: numbers, booleans,
/// timestamps (Unix seconds); NULL is NaN.
pub fn to_f64(value: Option<&str>) -> Option<f64> {
    let Some(s) = value else {
        return Some(f64::NAN);
    };
    let s = s.trim();
    match s {
        "t" | "true" => return Some(1.0),
        "f" | "false" => return Some(0.0),
        _ => {}
    }
    if let Ok(v) = s.parse::<f64>() {
        return Some(v);
    }
    parse_timestamp(s)
}

/// `YYYY-MM-DD[ HH:MM:SS[.frac]][±HH[:MM]]` → Unix seconds.
pub fn parse_timestamp(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    let year: i64 = s.get(0..4)?.parse().ok()?;
    let month: i64 = s.get(5..7)?.parse().ok()?;
    let day: i64 = s.get(8..10)?.parse().ok()?;
    let mut secs = days_from_civil(year, month, day) as f64 * 86_400.0;
    let rest = &s[10..];
    let rest = rest.strip_prefix([' ', 'T']).unwrap_or(rest);
    if rest.is_empty() {
        return Some(secs);
    }
    let tz_at = rest.find(['+', '-', 'Z']).unwrap_or(rest.len());
    let (time, tz) = rest.split_at(tz_at);
    let mut parts = time.split(':');
    let h: f64 = parts.next()?.parse().ok()?;
    let m: f64 = parts.next()?.parse().ok()?;
    let sec: f64 = parts.next().unwrap_or("0").parse().ok()?;
    secs += h * 3600.0 + m * 60.0 + sec;
    if let Some(sign) = tz.chars().next().filter(|c| *c != 'Z') {
        let digits: Vec<&str> = tz[1..].split(':').collect();
        let oh: f64 = digits.first()?.parse().ok()?;
        let om: f64 = digits.get(1).map(|m| m.parse().ok()).unwrap_or(Some(0.0))?;
        let offset = oh * 3600.0 + om * 60.0;
        secs -= if sign == '-' { -offset } else { offset };
    }
    Some(secs)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A DURATION column's text → milliseconds: Go-style (`1h2m3.5s`, `250ms`)
/// as the peer reads it, or PostgreSQL interval text (`01:02:03.5`,
/// `1 day 02:00:00`). `-1` and NULL give NaN.
pub fn duration_ms(value: Option<&str>) -> Option<f64> {
    let s = value?.trim();
    if s == "-1" {
        return Some(f64::NAN);
    }
    go_duration_ms(s).or_else(|| interval_ms(s))
}

fn go_duration_ms(s: &str) -> Option<f64> {
    let (neg, mut rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if rest == "0" {
        return Some(0.0);
    }
    let mut total = 0.0;
    let mut any = false;
    while !rest.is_empty() {
        let n = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let u = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let factor = match &rest[..u] {
            "ns" => 1e-6,
            "us" | "µs" => 1e-3,
            "ms" => 1.0,
            "s" => 1e3,
            "m" => 60e3,
            "h" => 3600e3,
            _ => return None,
        };
        rest = &rest[u..];
        total += number * factor;
        any = true;
    }
    any.then_some(if neg { -total } else { total })
}

fn interval_ms(s: &str) -> Option<f64> {
    let mut total = 0.0;
    let mut words = s.split_whitespace().peekable();
    let mut any = false;
    while let Some(w) = words.next() {
        if w.contains(':') {
            let neg = w.starts_with('-');
            let parts: Vec<f64> = w
                .trim_start_matches(['-', '+'])
                .split(':')
                .map(|p| p.parse().ok())
                .collect::<Option<_>>()?;
            let secs = match parts.as_slice() {
                [h, m, s] => h * 3600.0 + m * 60.0 + s,
                [h, m] => h * 3600.0 + m * 60.0,
                _ => return None,
            };
            total += if neg { -secs } else { secs } * 1e3;
            any = true;
        } else {
            let n: f64 = w.parse().ok()?;
            let unit = words.next()?;
            let secs = match unit.trim_end_matches('s') {
                "day" => 86_400.0,
                "mon" => 30.0 * 86_400.0,
                "year" => 365.25 * 86_400.0,
                _ => return None,
            };
            total += n * secs * 1e3;
            any = true;
        }
    }
    any.then_some(total)
}

/// A PostgreSQL array literal of numbers (`{1,2.5,3}`).
pub(super) fn parse_array(text: Option<&str>) -> Vec<f64> {
    text.map(|t| t.trim().trim_start_matches('{').trim_end_matches('}'))
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.split(',')
                .filter_map(|v| v.trim().parse::<f64>().ok())
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn format_le(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.1}")
    } else {
        v.to_string()
    }
}
