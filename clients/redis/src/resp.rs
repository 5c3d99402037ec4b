//! RESP2, the Redis wire protocol: commands out, replies in.
//!
//! Only what an exporter needs: commands are arrays of bulk strings, replies
//! are read whole. Lengths are bounded so that a misbehaving server cannot
//! make the exporter allocate without limit.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// Default bound of one whole reply, in bytes read plus a fixed cost per
/// element (INFO ALL on a busy server is a few hundred KiB).
pub const DEFAULT_MAX_REPLY_BYTES: usize = 64 << 20;
/// Longest line (simple string, error, length) accepted; real ones are short.
const MAX_LINE: usize = 64 << 10;
/// What an element costs against the reply's budget besides its bytes: the
/// memory of the parsed value, so a long array of tiny elements is bounded too.
const ELEMENT_COST: usize = std::mem::size_of::<Value>();
/// Deepest nesting accepted (XINFO replies nest three levels).
const MAX_DEPTH: usize = 8;

/// One reply.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Vec<u8>),
    Array(Vec<Value>),
    Nil,
}

#[derive(Debug, thiserror::Error)]
pub enum RespError {
    #[error("connection closed by the server")]
    Closed,
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The reply exceeds the configured bound (`--redis.max-reply-bytes`).
    #[error("{0} (raise --redis.max-reply-bytes if the server is trusted)")]
    TooLarge(String),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl Value {
    /// The text of a simple or bulk string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Simple(s) => Some(s),
            Value::Bulk(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// A string as lossy text (key names may be any bytes).
    pub fn to_text(&self) -> Option<String> {
        match self {
            Value::Simple(s) => Some(s.clone()),
            Value::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
            Value::Int(i) => Some(i.to_string()),
            _ => None,
        }
    }

    /// An integer, or a string holding one.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(i) => Some(*i),
            other => other.as_str().and_then(|s| s.trim().parse().ok()),
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }

    /// A flat `[name, value, name, value, ...]` reply (XINFO, CONFIG GET)
    /// as pairs with text names.
    pub fn pairs(&self) -> Vec<(String, &Value)> {
        self.as_array()
            .map(|items| {
                items
                    .chunks_exact(2)
                    .filter_map(|kv| kv[0].to_text().map(|k| (k, &kv[1])))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The value of `name` in a [`Value::pairs`] reply.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.as_array()?
            .chunks_exact(2)
            .find(|kv| kv[0].as_str() == Some(name))
            .map(|kv| &kv[1])
    }
}

/// Appends one command in RESP form.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Reads one whole reply of at most [`DEFAULT_MAX_REPLY_BYTES`].
pub async fn read_value<R: AsyncBufRead + Unpin>(r: &mut R) -> Result<Value, RespError> {
    read_value_limited(r, DEFAULT_MAX_REPLY_BYTES).await
}

/// Reads one line up to and including `\n`, refusing to hold more than `max`
/// bytes: a server that never sends a newline cannot grow the buffer.
async fn read_line<R: AsyncBufRead + Unpin>(
    r: &mut R,
    line: &mut Vec<u8>,
    max: usize,
) -> Result<usize, RespError> {
    loop {
        let available = r.fill_buf().await?;
        if available.is_empty() {
            return Ok(line.len());
        }
        let (take, done) = match available.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        if line.len() + take > max {
            return Err(RespError::TooLarge(format!(
                "a reply line longer than {max} bytes"
            )));
        }
        line.extend_from_slice(&available[..take]);
        r.consume(take);
        if done {
            return Ok(line.len());
        }
    }
}

/// Reads one whole reply; lines, bulk strings, array elements and nesting
/// all count against `max_bytes`, so no reply can make the reader hold more.
pub async fn read_value_limited<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max_bytes: usize,
) -> Result<Value, RespError> {
    // Arrays are read iteratively (a stack of partly filled arrays), so deep
    // nesting costs no recursion.
    let mut stack: Vec<(usize, Vec<Value>)> = Vec::new();
    let mut line = Vec::with_capacity(64);
    let mut budget = max_bytes;
    let too_large = || RespError::TooLarge(format!("a reply larger than {max_bytes} bytes"));
    loop {
        line.clear();
        let n = read_line(r, &mut line, MAX_LINE.min(budget)).await?;
        if n == 0 {
            return Err(RespError::Closed);
        }
        budget = budget.checked_sub(n + ELEMENT_COST).ok_or_else(too_large)?;
        if line.len() < 3 || !line.ends_with(b"\r\n") {
            return Err(RespError::Protocol("truncated line".into()));
        }
        let body = &line[1..line.len() - 2];
        let text = || String::from_utf8_lossy(body).into_owned();
        let len = || -> Result<i64, RespError> {
            std::str::from_utf8(body)
                .ok()
                .and_then(|s| s.parse::<i64>().ok())
                .ok_or_else(|| RespError::Protocol(format!("bad length {:?}", text())))
        };
        let mut value = match line[0] {
            b'+' => Value::Simple(text()),
            b'-' => Value::Error(text()),
            b':' => Value::Int(len()?),
            b'$' => {
                let n = len()?;
                if n < 0 {
                    Value::Nil
                } else {
                    let n = usize::try_from(n).unwrap_or(usize::MAX);
                    budget = budget
                        .checked_sub(n.saturating_add(2))
                        .ok_or_else(too_large)?;
                    let mut buf = vec![0u8; n + 2];
                    r.read_exact(&mut buf).await?;
                    if !buf.ends_with(b"\r\n") {
                        return Err(RespError::Protocol("bulk string not terminated".into()));
                    }
                    buf.truncate(n);
                    Value::Bulk(buf)
                }
            }
            b'*' => {
                let n = len()?;
                if n < 0 {
                    Value::Nil
                } else {
                    let n = usize::try_from(n).unwrap_or(usize::MAX);
                    // Each element costs at least its type byte, CRLF and a value.
                    if n.saturating_mul(3 + ELEMENT_COST) > budget {
                        return Err(too_large());
                    }
                    if n == 0 {
                        Value::Array(Vec::new())
                    } else {
                        if stack.len() >= MAX_DEPTH {
                            return Err(RespError::Protocol("replies nested too deep".into()));
                        }
                        stack.push((n, Vec::with_capacity(n.min(1024))));
                        continue;
                    }
                }
            }
            other => {
                return Err(RespError::Protocol(format!(
                    "unexpected reply type {:?}",
                    other as char
                )))
            }
        };
        // Place the finished value into its parent arrays, closing each that fills.
        loop {
            match stack.last_mut() {
                None => return Ok(value),
                Some((want, items)) => {
                    items.push(value);
                    if items.len() < *want {
                        break;
                    }
                    let (_, items) = stack.pop().unwrap_or_default();
                    value = Value::Array(items);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parse(bytes: &[u8]) -> Result<Value, RespError> {
        let mut r = tokio::io::BufReader::new(bytes);
        read_value(&mut r).await
    }

    #[tokio::test]
    async fn reads_every_reply_type() {
        assert_eq!(
            parse(b"+OK\r\n").await.ok(),
            Some(Value::Simple("OK".into()))
        );
        assert_eq!(
            parse(b"-ERR bad\r\n").await.ok(),
            Some(Value::Error("ERR bad".into()))
        );
        assert_eq!(parse(b":-12\r\n").await.ok(), Some(Value::Int(-12)));
        assert_eq!(
            parse(b"$5\r\na\r\nbc\r\n").await.ok(),
            Some(Value::Bulk(b"a\r\nbc".to_vec()))
        );
        assert_eq!(parse(b"$-1\r\n").await.ok(), Some(Value::Nil));
        assert_eq!(parse(b"*0\r\n").await.ok(), Some(Value::Array(vec![])));
        let nested = parse(b"*2\r\n*2\r\n:1\r\n$1\r\nx\r\n*1\r\n*-1\r\n")
            .await
            .ok();
        assert_eq!(
            nested,
            Some(Value::Array(vec![
                Value::Array(vec![Value::Int(1), Value::Bulk(b"x".to_vec())]),
                Value::Array(vec![Value::Nil]),
            ]))
        );
    }

    #[tokio::test]
    async fn replies_past_the_bound_are_refused_before_they_are_held() {
        let limited = |bytes: Vec<u8>, max: usize| async move {
            let mut r = tokio::io::BufReader::new(&bytes[..]);
            read_value_limited(&mut r, max).await
        };
        // A status line that never ends: refused after the line cap, not read whole.
        let endless = [b"+".as_slice(), &vec![b'a'; 1 << 20]].concat();
        assert!(matches!(
            limited(endless, DEFAULT_MAX_REPLY_BYTES).await,
            Err(RespError::TooLarge(_))
        ));
        // A bulk string, an array and nested arrays over the budget.
        let bulk = format!("${}\r\n", 2000).into_bytes();
        assert!(matches!(
            limited(bulk, 1024).await,
            Err(RespError::TooLarge(_))
        ));
        let array = b"*100000\r\n".to_vec();
        assert!(matches!(
            limited(array, 1 << 20).await,
            Err(RespError::TooLarge(_))
        ));
        let many = [b"*3\r\n".as_slice(), &b":1\r\n".repeat(3)].concat();
        assert_eq!(
            limited(many.clone(), 1024).await.expect("fits"),
            Value::Array(vec![Value::Int(1); 3])
        );
        assert!(matches!(
            limited(many, 64).await,
            Err(RespError::TooLarge(_))
        ));
    }

    #[tokio::test]
    async fn rejects_bad_input() {
        assert!(matches!(parse(b"").await, Err(RespError::Closed)));
        assert!(matches!(
            parse(b"?x\r\n").await,
            Err(RespError::Protocol(_))
        ));
        assert!(matches!(parse(b"$3\r\nab").await, Err(RespError::Io(_))));
        assert!(matches!(
            parse(b"$999999999999\r\n").await,
            Err(RespError::TooLarge(_))
        ));
        let deep = "*1\r\n".repeat(20) + ":1\r\n";
        assert!(matches!(
            parse(deep.as_bytes()).await,
            Err(RespError::Protocol(_))
        ));
    }

    #[test]
    fn encodes_commands() {
        let mut out = Vec::new();
        encode_command(&mut out, &["GET", "k y"]);
        assert_eq!(out, b"*2\r\n$3\r\nGET\r\n$3\r\nk y\r\n");
    }

    #[tokio::test]
    async fn pairs_and_fields() {
        let v = parse(b"*4\r\n$4\r\nname\r\n$1\r\ng\r\n$7\r\npending\r\n:3\r\n")
            .await
            .unwrap_or(Value::Nil);
        assert_eq!(v.field("pending").and_then(Value::as_i64), Some(3));
        assert_eq!(v.pairs().len(), 2);
    }
}
