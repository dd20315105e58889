//! Secrets whose value comes on a later line than the word that names them: util.inspect
//! output that wrapped (`authorization:` then `'Basic …'`), Node's multi-line `rawHeaders`
//! arrays (`'X-Api-Key',` then `'…',`), a Kubernetes env entry (`- name: DB_PASSWORD` then
//! `value: …`) and a multi-line array under a credential key (`'set-cookie': [` then one cookie
//! per line up to `]`).
//!
//! It only ever looks at the line at hand and says what the next one holds; it never holds a
//! file, and a line it cannot read as such a value is left to the other rules.

use regex::bytes::{Regex, RegexBuilder};
use std::sync::LazyLock;

/// What the previous line said the next one holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Carry {
    /// Its first value is the secret.
    Value(&'static str),
    /// Its `value` is the secret (the pair's name said so).
    Pair,
    /// Every element up to the closing `]` is a secret (for cookies, the part after `NAME=`).
    Array(&'static str),
}

fn build(re: &str) -> Regex {
    RegexBuilder::new(re)
        .unicode(false)
        .build()
        .expect("static regex")
}

/// A secret's key and a colon with no value, or `= [`/`: [` opening a multi-line array.
static KEY: LazyLock<Regex> = LazyLock::new(|| {
    build(
        r#"(?i)(?:^|[\s{,])['"]?[\w-]{0,40}?(authorization|cookie|password|passwd|passphrase|secret|token|api[_-]?key|apikey|credentials?|-key)s?['"]?(?:\x1b\[[0-9;]*m)*\s*(?::|=)\s*(\[)?\s*$"#,
    )
});

/// A quoted header name alone on its line, as Node prints a long `rawHeaders` array.
static HEADER_NAME: LazyLock<Regex> = LazyLock::new(|| {
    build(
        r#"(?i)^\s*['"]([\w-]*(?:authorization|cookie|token|secret|password|passwd|api-?key|apikey|auth|session|credential|signature)[\w-]*|[\w-]+-key)['"],\s*$"#,
    )
});

/// A name/value pair whose name says it holds a secret: a Kubernetes env entry
/// (`- name: DB_PASSWORD`), a HAR or JSON header list (`"name": "Authorization",`).
static PAIR_NAME: LazyLock<Regex> = LazyLock::new(|| {
    build(
        r#"(?i)^\s*(?:-\s+)?['"]?name['"]?\s*:\s*['"]?([\w.-]*(?:key|secret|token|password|passwd|pass|pwd|pat|credentials?|auth|authorization|cookie|session|signature))['"]?\s*,?\s*$"#,
    )
});

/// Cheap gate: could this line make the next one carry a secret? (Most lines: no, and they
/// stay on the fast path.)
pub(crate) fn carry_hint(line: &[u8]) -> bool {
    let t = line.trim_ascii();
    match t.last() {
        Some(b':' | b'[') => true,
        Some(b',') => matches!(t.first(), Some(b'\'' | b'"')) && t.len() < 96,
        _ => {
            let t = t.strip_prefix(b"- ").unwrap_or(t);
            let t = t.strip_prefix(b"\"").unwrap_or(t);
            t.starts_with(b"name")
        }
    }
}

fn rule_of(word: &[u8]) -> &'static str {
    match word.to_ascii_lowercase().as_slice() {
        b"authorization" => "authorization",
        w if w.ends_with(b"cookie") => "cookie",
        _ => "kv_secret",
    }
}

impl Carry {
    /// What `content` (a line without its line ending) says about the next line.
    pub(crate) fn after(content: &[u8]) -> Option<Carry> {
        if !carry_hint(content) {
            return None;
        }
        if let Some(caps) = KEY.captures(content) {
            let rule = rule_of(caps.get(1)?.as_bytes());
            return Some(match caps.get(2) {
                Some(_) => Carry::Array(rule),
                None => Carry::Value(rule),
            });
        }
        if let Some(caps) = HEADER_NAME.captures(content) {
            return Some(Carry::Value(rule_of(caps.get(1)?.as_bytes())));
        }
        let name = PAIR_NAME.captures(content)?.get(1)?.as_bytes();
        let public = name.to_ascii_uppercase();
        (!public.windows(6).any(|w| w == b"PUBLIC")).then_some(Carry::Pair)
    }

    pub(crate) fn rule(self) -> &'static str {
        match self {
            Carry::Value(r) | Carry::Array(r) => r,
            Carry::Pair => "env_secret",
        }
    }

    /// The secret's span in `content`, the line after the one that named it.
    pub(crate) fn value_in(self, content: &[u8]) -> Option<(usize, usize)> {
        match self {
            Carry::Value(_) => first_value(content),
            Carry::Pair => {
                let t = content.len() - content.trim_ascii_start().len();
                let rest = &content[t..];
                let key = [&b"value:"[..], b"\"value\":", b"'value':"]
                    .into_iter()
                    .find(|k| rest.starts_with(k))?;
                let at = t + key.len();
                let (a, z) = first_value(&content[at..])?;
                // `- name: PWD` / `value: /opt/apigee`: a path is not a secret.
                (content[at + a] != b'/').then_some((at + a, at + z))
            }
            Carry::Array(rule) => {
                let (a, z) = first_value(content)?;
                if content[a..z].starts_with(b"]") {
                    return None;
                }
                let (a, z) = match rule {
                    // `NAME=VALUE; Path=/`: the name says which cookie it was, the
                    // attributes how it was set.
                    "cookie" => {
                        let a = a + memchr::memchr(b'=', &content[a..z]).map_or(0, |e| e + 1);
                        (a, a + memchr::memchr(b';', &content[a..z]).unwrap_or(z - a))
                    }
                    _ => (a, z),
                };
                (a < z).then_some((a, z))
            }
        }
    }

    /// Whether the carry goes on past `content`: an array goes on to its closing `]`.
    pub(crate) fn goes_on(self, content: &[u8]) -> Option<Carry> {
        match self {
            Carry::Array(_) if !content.contains(&b']') => Some(self),
            _ => None,
        }
    }
}

/// The first value on a line: after indentation, a quote and an auth scheme (`'Basic …'`), up
/// to the closing quote or a delimiter.
fn first_value(content: &[u8]) -> Option<(usize, usize)> {
    let mut a = content.iter().position(|b| !b.is_ascii_whitespace())?;
    // A YAML sequence item under the key: its value.
    if content[a..].starts_with(b"- ") {
        a += 2 + content[a + 2..].iter().take_while(|b| **b == b' ').count();
    }
    let quote = matches!(content.get(a), Some(b'\'' | b'"' | b'`')).then(|| content[a]);
    if quote.is_some() {
        a += 1;
    }
    for scheme in [&b"basic "[..], b"bearer ", b"digest ", b"token "] {
        if content.len() >= a + scheme.len()
            && content[a..a + scheme.len()].eq_ignore_ascii_case(scheme)
        {
            a += scheme.len();
        }
    }
    let z = a + content[a..]
        .iter()
        .position(|b| match quote {
            Some(q) => *b == q,
            None => b" \t,;}]".contains(b),
        })
        .unwrap_or(content.len() - a);
    // A key of its own (`user:` under `credentials:`) is structure, not a value.
    let after = if quote.is_some() { z + 1 } else { z };
    let is_key = content[a..z].ends_with(b":")
        || content
            .get(after..)
            .is_some_and(|r| r.trim_ascii_start().starts_with(b":"))
        || (quote.is_none() && plain_key_line(&content[a..]));
    (z > a && !is_key).then_some((a, z))
}

/// `a b: value`, `a b:`: an unquoted YAML key with spaces in it starts the line.
fn plain_key_line(rest: &[u8]) -> bool {
    let end = rest
        .iter()
        .position(|b| b"'\"{}[],#".contains(b))
        .unwrap_or(rest.len());
    let head = &rest[..end];
    head.windows(2).any(|w| w == b": ") || head.ends_with(b":")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the carries over `text` and returns every carried secret's text.
    fn carried(text: &str) -> Vec<String> {
        let mut carry = None;
        let mut found = Vec::new();
        for line in text.lines() {
            let line = line.as_bytes();
            let held: Option<Carry> = carry.take();
            if let Some(c) = held {
                if let Some((a, z)) = c.value_in(line) {
                    found.push(String::from_utf8_lossy(&line[a..z]).into_owned());
                }
            }
            carry = held
                .and_then(|c| c.goes_on(line))
                .or_else(|| Carry::after(line));
        }
        found
    }

    #[test]
    fn values_on_later_lines_are_found_and_structure_is_not() {
        let cases = [
            ("headers: {\n  authorization:\n    'Bearer S1',", vec!["S1"]),
            ("  rawHeaders: [\n    'Host',\n    'gw',\n    'X-Auth-Token',\n    'S2',\n    'Accept',\n    '*/*'\n  ],", vec!["S2"]),
            ("    'X-Gw-Key',\n    'S3',", vec!["S3"]),
            ("  'x-apigee-key':\n    'S9'", vec!["S9"]),
            ("  - name: DB_PASSWORD\n    value: \"S4\"\n  - name: LOG_LEVEL\n    value: info", vec!["S4"]),
            ("  - name: TLS_PUBLIC_KEY\n    value: \"pk\"", vec![]),
            ("        - name: npm_config__authToken\n          value: S10", vec!["S10"]),
            ("    {\n      \"name\": \"Authorization\",\n      \"value\": \"S11\"\n    }", vec!["S11"]),
            ("  - name: PWD\n    value: /opt/apigee", vec![]),
            ("  'set-cookie': [\n    'sid=S5; Path=/',\n    'lb=S6; Secure'\n  ],\n  'x': 'y'", vec!["S5", "S6"]),
            ("api_keys = [\n  'S7',\n  'S8' ]\nnext: 1", vec!["S7", "S8"]),
            ("credentials:\n  user: ops\n", vec![]),
            ("rawHeaders: [\n  'Host',\n  'gw'\n]", vec![]),
        ];
        for (text, want) in cases {
            assert_eq!(carried(text), want, "{text}");
        }
    }
}
