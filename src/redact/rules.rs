//! Redaction rules: loading, validating and compiling `redaction-rules/*.yaml` and `--rules FILE`.
//!
//! Rules are data. The shipped files are embedded at build time; user files add to them. A rule
//! that does not compile, matches the empty string, or reuses an id is an error naming the file,
//! line and rule, raised before anything is collected.

use std::path::Path;

use anyhow::{bail, Context, Result};
use regex::bytes::{Regex as BytesRegex, RegexBuilder as BytesRegexBuilder};
use regex::Regex;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::yaml::{Node, Yaml};

/// The shipped rule files, embedded so the binary works anywhere.
pub(crate) const SHIPPED: &[(&str, &str)] = &[
    (
        "redaction-rules/config-keys.yaml",
        include_str!("../../redaction-rules/config-keys.yaml"),
    ),
    (
        "redaction-rules/log-patterns.yaml",
        include_str!("../../redaction-rules/log-patterns.yaml"),
    ),
];

#[derive(Debug)]
pub struct RuleSet {
    pub(crate) keep: Vec<Regex>,
    pub(crate) keys: Vec<KeyRule>,
    pub(crate) patterns: Vec<PatternRule>,
    pub(crate) blocks: Vec<BlockRule>,
    /// sha256 over every rule file's bytes, in load order (recorded in the manifest).
    pub(crate) sha256: String,
    pub(crate) files: Vec<String>,
    /// Every rule with its kind, id, reason and file, in load order (`rules list`).
    pub(crate) catalogue: Vec<RuleInfo>,
}

/// One rule as `rules list` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct RuleInfo {
    pub(crate) kind: &'static str,
    pub(crate) id: String,
    pub(crate) why: String,
    pub(crate) file: String,
}

#[derive(Debug)]
pub(crate) struct KeyRule {
    pub(crate) id: String,
    pub(crate) names: Vec<Regex>,
    pub(crate) paths: Vec<Regex>,
    pub(crate) values: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct PatternRule {
    pub(crate) id: String,
    pub(crate) keywords: Vec<String>,
    /// A keyword-gated regex, or (`record: emg-event`, `field: N`) a field of EMG's event
    /// records: a value on nearly every line (the clientId) is found by position, not by a
    /// regex gated on a keyword that every line has.
    pub(crate) matcher: Matcher,
    /// A match whose text this regex finds is not a secret (a flag's meaning depends on the
    /// command: `-p 4` is a process count; `code=ECONNRESET` is an error code).
    pub(crate) unless: Option<BytesRegex>,
}

#[derive(Debug)]
pub(crate) enum Matcher {
    Regex(BytesRegex),
    /// 1-based field of `<ts> [level][host][pid][org][env][proxy][ip][clientId][corr]…`.
    EmgField(usize),
}

/// An EMG event record found by its own grammar wherever it starts in a line (after a docker,
/// kubectl or journald prefix, a CR or NUL padding, or a second record spliced onto the line):
/// the timestamp (ISO or 2.x epoch ms), `[level]`, the host (`[::1]:8000` in brackets too), pid,
/// org, env, the URL (which may hold brackets), the client IP, then the clientId, ended by the
/// correlation id (whole, or torn with the line), the end of a torn line, or the next record's
/// timestamp.
static EMG_CLIENT_ID: std::sync::LazyLock<BytesRegex> = std::sync::LazyLock::new(|| {
    regex::bytes::RegexBuilder::new(concat!(
        r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z|\d{13})\x20",
        r"\[(?:error|warn|info|debug|trace|fatal)\]",
        r"\[(?:\[[^\]\r\n]{0,64}\](?::\d{1,5})?|[^\[\]\r\n]{0,300})\]",
        r"\[\d{0,10}\]\[[^\[\]\r\n]{0,200}\]\[[^\[\]\r\n]{0,200}\]",
        r"\[[^\r\n]{0,8192}?\]\[[0-9A-Fa-f.:]{0,45}\]",
        r"\[([^\[\]\r\n]{0,1024}?)",
        r"(?:\]\[[0-9A-Za-z_.:-]{0,128}(?:\]|\r?\n?\z)|\r?\n?\z|\d{4}-\d\d-\d\dT\d\d:\d\d|\d{13}\x20\[)",
    ))
    .unicode(false)
    .build()
    .expect("static regex")
});

/// Every span of field `n` in a line: the field of the record that starts the line when it
/// reads as one whole record (most lines, found by position in one pass), else, for the
/// clientId, of every record found by its grammar anywhere in the line.
pub(crate) fn emg_field_spans(line: &[u8], n: usize, out: &mut Vec<(usize, usize)>) {
    if let Some(fields) = whole_record(line) {
        let (start, end) = fields[n - 1];
        if end > start {
            out.push((start, end));
        }
        return;
    }
    if n - 1 != crate::record::CLIENT_ID || memchr::memmem::find(line, b"][").is_none() {
        return;
    }
    for caps in EMG_CLIENT_ID.captures_iter(line) {
        if let Some(m) = caps.get(1).filter(|m| !m.is_empty()) {
            out.push((m.start(), m.end()));
        }
    }
}

/// The fields of the line when it is one EMG event record from its first byte, placed with no
/// doubt: fifteen separators, the client IP and the correlation id in their shapes. Anything
/// less sure goes to the grammar above, which finds the clientId by what surrounds it.
fn whole_record(line: &[u8]) -> Option<[(usize, usize); crate::record::FIELDS]> {
    use crate::record::{CLIENT_IP, CORRELATION};
    let record = crate::record::event_record(line).filter(|r| r.exact)?;
    let field = |i: usize| &line[record.fields[i].0..record.fields[i].1];
    // One table lookup per byte: this runs on every line of every log.
    let ip_ok = field(CLIENT_IP)
        .iter()
        .all(|b| SHAPE[*b as usize] & IP != 0);
    let corr_ok = field(CORRELATION)
        .iter()
        .all(|b| SHAPE[*b as usize] & ID != 0);
    (ip_ok && corr_ok).then_some(record.fields)
}

/// Byte classes of the client IP (hex digits, `.`, `:`) and the correlation id (alphanumerics,
/// `-`, `_`, `.`, `:`).
const IP: u8 = 1;
const ID: u8 = 2;
static SHAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_hexdigit() || c == b'.' || c == b':' {
            table[b] |= IP;
        }
        if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.' | b':') {
            table[b] |= ID;
        }
        b += 1;
    }
    table
};

#[derive(Debug)]
pub(crate) struct BlockRule {
    pub(crate) id: String,
    pub(crate) keywords: Vec<String>,
    pub(crate) begin: BytesRegex,
    pub(crate) end: BytesRegex,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    id: String,
    why: Option<String>,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    paths: Vec<String>,
    #[serde(default)]
    values: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPattern {
    id: String,
    why: Option<String>,
    #[serde(default)]
    keywords: Vec<String>,
    regex: Option<String>,
    /// `emg-event` with `field`: a field of EMG's event records instead of a regex.
    record: Option<String>,
    /// The rules loader reads scalars as text: a number arrives as "8".
    field: Option<String>,
    /// Matches whose whole text this regex finds are left alone.
    unless: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBlock {
    id: String,
    why: Option<String>,
    keywords: Vec<String>,
    begin: String,
    end: String,
}

/// `REDACTED_<RULE>`: YAML-safe as a plain scalar, greppable, fixed per rule (no length leak).
pub(crate) fn token(rule_id: &str) -> String {
    format!("REDACTED_{}", rule_id.to_ascii_uppercase())
}

/// A user's rules file is small; this much is already far more than any real one.
const MAX_RULES_FILE: u64 = 1 << 20;

/// Reads a `--rules` file the safe way (bounded, never blocking past a signal, FIFOs polled).
fn read_rules_file(path: &Path) -> Result<String> {
    let bytes =
        crate::safe_fs::read_small(path, MAX_RULES_FILE, std::time::Duration::from_secs(60))
            .map_err(|e| {
                let reading = format!("while reading rules file `{}`", path.display());
                match crate::signals::Interrupt::current().map(|i| i.check()) {
                    Some(Err(fail)) => anyhow::Error::new(fail).context(reading),
                    _ => anyhow::anyhow!(
                        "cannot read rules file `{}`: {}",
                        path.display(),
                        crate::safe_fs::io_reason(&e)
                    ),
                }
            })?;
    String::from_utf8(bytes)
        .map_err(|_| anyhow::anyhow!("rules file `{}` is not UTF-8 text", path.display()))
}

impl RuleSet {
    /// The shipped rules plus the user's files, validated.
    pub fn load(user_files: &[impl AsRef<Path>]) -> Result<RuleSet> {
        let mut set = RuleSet {
            keep: Vec::new(),
            keys: Vec::new(),
            patterns: Vec::new(),
            blocks: Vec::new(),
            sha256: String::new(),
            files: Vec::new(),
            catalogue: Vec::new(),
        };
        let mut hasher = Sha256::new();
        for (name, text) in SHIPPED {
            hasher.update(text.as_bytes());
            set.add_file(name, text)?;
        }
        for path in user_files {
            let path = path.as_ref();
            let text = read_rules_file(path)?;
            hasher.update(text.as_bytes());
            set.add_file(&path.display().to_string(), &text)?;
        }
        set.sha256 = hex::encode(hasher.finalize());
        Ok(set)
    }

    fn add_file(&mut self, name: &str, text: &str) -> Result<()> {
        let yaml =
            Yaml::parse(text).with_context(|| format!("rules file `{name}` is not valid YAML"))?;
        let Some(Node::Map { entries, .. }) = yaml.docs.first() else {
            bail!("rules file `{name}`: expected a map with `keys`, `patterns` or `blocks`");
        };
        for (key, value) in entries {
            let section = key.as_str().unwrap_or("");
            if section == "keep" {
                for glob in string_list(value)
                    .with_context(|| format!("{name}:{}: `keep`", value.line()))?
                {
                    self.keep.push(glob_regex(&glob, ".*"));
                }
                continue;
            }
            let Node::Seq { items, .. } = value else {
                bail!(
                    "{name}:{}: `{section}` must be a list of rules",
                    value.line()
                );
            };
            for item in items {
                let at = format!("{name}:{}", item.line());
                match section {
                    "keys" => self.add_key(&at, item)?,
                    "patterns" => self.add_pattern(&at, item)?,
                    "blocks" => self.add_block(&at, item)?,
                    other => bail!(
                        "{at}: unknown section `{other}` (expected keep, keys, patterns, blocks)"
                    ),
                }
            }
        }
        self.files.push(name.to_string());
        Ok(())
    }

    /// Records a rule for `rules list`: `at` is `file:line`.
    fn note(&mut self, kind: &'static str, id: &str, why: Option<&str>, at: &str) {
        self.catalogue.push(RuleInfo {
            kind,
            id: id.to_string(),
            why: why.unwrap_or("(no reason given)").to_string(),
            // The shipped files are embedded: a binary-only user has no such path.
            file: match at.strip_prefix("redaction-rules/") {
                Some(rest) => format!("shipped {rest}"),
                None => at.to_string(),
            },
        });
    }

    fn check_id(&self, at: &str, id: &str) -> Result<()> {
        if id.is_empty()
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        {
            bail!("{at}: rule id `{id}` must be lower-case letters, digits and `_`");
        }
        let taken = self.keys.iter().any(|r| r.id == id)
            || self.patterns.iter().any(|r| r.id == id)
            || self.blocks.iter().any(|r| r.id == id);
        if taken {
            bail!("{at}: rule id `{id}` is already defined");
        }
        Ok(())
    }

    fn add_key(&mut self, at: &str, item: &Node) -> Result<()> {
        let raw: RawKey = deserialize(at, item)?;
        self.check_id(at, &raw.id)?;
        self.note("key", &raw.id, raw.why.as_deref(), at);
        if raw.names.is_empty() && raw.paths.is_empty() && raw.values.is_empty() {
            bail!("{at}: rule `{}` needs `names`, `paths` or `values`", raw.id);
        }
        if raw.values.iter().any(String::is_empty) {
            bail!(
                "{at}: rule `{}`: an empty `values` entry would match every value",
                raw.id
            );
        }
        self.keys.push(KeyRule {
            names: raw
                .names
                .iter()
                .map(|g| glob_regex(&normalize_key(g), ".*"))
                .collect(),
            paths: raw
                .paths
                .iter()
                // A path matches at the root or under any parent: a section moved under
                // another key (a plugin's own config) keeps its secrets.
                .map(|g| {
                    let body = glob_body(&normalize_path(g), "[^.]*");
                    Regex::new(&format!(r"^(?:.*\.)?{body}$")).expect("escaped glob")
                })
                .collect(),
            values: raw.values,
            id: raw.id,
        });
        Ok(())
    }

    fn add_pattern(&mut self, at: &str, item: &Node) -> Result<()> {
        let raw: RawPattern = deserialize(at, item)?;
        self.check_id(at, &raw.id)?;
        self.note("pattern", &raw.id, raw.why.as_deref(), at);
        let field = raw
            .field
            .as_deref()
            .map(|f| f.trim().parse::<usize>().unwrap_or(0));
        let matcher = match (&raw.regex, raw.record.as_deref(), field) {
            (Some(regex), None, None) => {
                check_keywords(at, &raw.id, &raw.keywords)?;
                Matcher::Regex(compile(at, &raw.id, regex)?)
            }
            (None, Some("emg-event"), Some(n)) if (1..=16).contains(&n) => Matcher::EmgField(n),
            _ => bail!("{at}: rule `{}`: give `regex` (with `keywords`), or `record: emg-event` with `field: 1..16`", raw.id),
        };
        let unless = match &raw.unless {
            Some(regex) => Some(compile(at, &raw.id, regex)?),
            None => None,
        };
        self.patterns.push(PatternRule {
            id: raw.id,
            keywords: raw.keywords,
            matcher,
            unless,
        });
        Ok(())
    }

    /// The API-key header names a config sets (`apikeys.api-key-header: x-client-key`): their
    /// values in header dumps, util.inspect objects, rawHeaders arrays and query strings are
    /// the API key, like `x-api-key`'s. Names that are not plain header tokens are ignored.
    pub(crate) fn add_api_key_headers(&mut self, names: &[String]) -> Result<()> {
        let mut names: Vec<String> = names
            .iter()
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| {
                (1..=64).contains(&n.len())
                    && n.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
                    && n != "x-api-key"
            })
            .collect();
        names.sort();
        names.dedup();
        if names.is_empty() || self.patterns.iter().any(|p| p.id == "api_key_header") {
            return Ok(());
        }
        let alternatives = names
            .iter()
            .map(|n| regex::escape(n))
            .collect::<Vec<_>>()
            .join("|");
        let regex = format!(
            r#"(?i)(?:\b(?:{alternatives})\b(?:\\?["']?\s*[:=]|["']\s*,|\t)\s*(?:\x1b\[[0-9;]*m)*\\?["']?([^\s"'\\,;}}\]&\x1b]+)|[?&](?:{alternatives})=([^&\s"'#<>\]]+))"#
        );
        self.note(
            "pattern",
            "api_key_header",
            Some("the API-key header names the configs set (api-key-header), in headers and query strings"),
            "the configs",
        );
        self.patterns.push(PatternRule {
            id: "api_key_header".into(),
            keywords: names,
            matcher: Matcher::Regex(compile(
                "the configs' api-key-header",
                "api_key_header",
                &regex,
            )?),
            unless: None,
        });
        Ok(())
    }

    fn add_block(&mut self, at: &str, item: &Node) -> Result<()> {
        let raw: RawBlock = deserialize(at, item)?;
        self.check_id(at, &raw.id)?;
        self.note("block", &raw.id, raw.why.as_deref(), at);
        check_keywords(at, &raw.id, &raw.keywords)?;
        let begin = compile(at, &raw.id, &raw.begin)?;
        let end = compile(at, &raw.id, &raw.end)?;
        self.blocks.push(BlockRule {
            id: raw.id,
            keywords: raw.keywords,
            begin,
            end,
        });
        Ok(())
    }
}

fn deserialize<T: serde::de::DeserializeOwned>(at: &str, node: &Node) -> Result<T> {
    serde_json::from_value(to_json(node)).with_context(|| format!("{at}: invalid rule"))
}

fn to_json(node: &Node) -> serde_json::Value {
    match node {
        Node::Scalar(s) => serde_json::Value::String(s.value.clone()),
        Node::Seq { items, .. } => items.iter().map(to_json).collect(),
        Node::Map { entries, .. } => entries
            .iter()
            .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Node::Alias { .. } => serde_json::Value::Null,
    }
}

fn string_list(node: &Node) -> Result<Vec<String>> {
    match to_json(node) {
        serde_json::Value::Array(items) => items
            .into_iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .context("expected a list of strings")
            })
            .collect(),
        _ => bail!("expected a list of strings"),
    }
}

fn check_keywords(at: &str, id: &str, keywords: &[String]) -> Result<()> {
    if keywords.is_empty() || keywords.iter().any(|k| k.trim().is_empty()) {
        bail!("{at}: rule `{id}` needs non-empty `keywords` (they decide which lines the regex runs on)");
    }
    Ok(())
}

/// ASCII mode: the notes measured Unicode classes ~100x slower, and logs are bytes anyway.
fn compile(at: &str, id: &str, pattern: &str) -> Result<BytesRegex> {
    let regex = BytesRegexBuilder::new(pattern)
        .unicode(false)
        .size_limit(1 << 24)
        // Each rule's lazy DFA cache grows with the text it sees until this bound; at the 2 MiB
        // default, 20-odd rules alone held 37 MiB by the first GB of logs (heaptrack), for no
        // measurable speed over 1 MiB.
        .dfa_size_limit(1 << 20)
        .build()
        .with_context(|| format!("{at}: rule `{id}`: regex does not compile"))?;
    if regex.is_match(b"") {
        bail!("{at}: rule `{id}`: regex matches the empty string, so it would redact everywhere");
    }
    Ok(regex)
}

/// Key names as the rules see them: lower case, camelCase split, `-` `.` and space as `_`.
pub(crate) fn normalize_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    let mut prev_lower = false;
    for c in key.chars() {
        if c.is_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        match c {
            '-' | '.' | ' ' => out.push('_'),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

fn normalize_path(path: &str) -> String {
    path.split('.')
        .map(normalize_key)
        .collect::<Vec<_>>()
        .join(".")
}

fn glob_regex(glob: &str, star: &str) -> Regex {
    Regex::new(&format!("^{}$", glob_body(glob, star))).expect("escaped glob is a valid regex")
}

/// A glob as regex syntax: literal text escaped, `*` as `star`.
fn glob_body(glob: &str, star: &str) -> String {
    glob.split('*')
        .map(regex::escape)
        .collect::<Vec<_>>()
        .join(star)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_rules_load_and_every_rule_file_is_embedded() {
        let set = RuleSet::load(&[] as &[&str]).unwrap();
        assert!(set.keys.len() >= 6 && set.patterns.len() >= 10 && !set.blocks.is_empty());
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/redaction-rules");
        for entry in std::fs::read_dir(dir).unwrap() {
            let name = entry.unwrap().file_name().into_string().unwrap();
            if name.ends_with(".yaml") {
                let embedded = format!("redaction-rules/{name}");
                assert!(
                    SHIPPED.iter().any(|(n, _)| *n == embedded),
                    "{name} is not in SHIPPED"
                );
            }
        }
    }

    /// Every shipped rule says why it exists (redaction-rules/README.md promises it).
    #[test]
    fn every_shipped_rule_says_why() {
        let mut rules = 0;
        for (name, text) in SHIPPED {
            let yaml = Yaml::parse(text).unwrap();
            let Some(Node::Map { entries, .. }) = yaml.docs.first() else {
                panic!("{name}")
            };
            for (key, section) in entries {
                let Node::Seq { items, .. } = section else {
                    panic!("{name}:{}", section.line())
                };
                if key.as_str() == Some("keep") {
                    continue; // globs, each with its comment
                }
                for item in items {
                    let Node::Map { entries, .. } = item else {
                        panic!("{name}:{}", item.line())
                    };
                    let why = entries
                        .iter()
                        .find(|(k, _)| k.as_str() == Some("why"))
                        .and_then(|(_, v)| v.as_str());
                    assert!(
                        why.is_some_and(|w| w.len() >= 15),
                        "{name}:{}: a rule without a `why`",
                        item.line()
                    );
                    rules += 1;
                }
            }
        }
        assert!(rules >= 20, "{rules}");
    }

    /// The clientId of every record in a line, whatever precedes it and however the record
    /// is cut or joined: many prefixes × record shapes, the key found and nothing else.
    #[test]
    fn client_ids_are_found_by_the_records_grammar() {
        let prefixes = [
            "",
            "svc_1  | ",
            "gateway-7f9c_1    | ",
            "2026-01-01T00:00:00.123456789Z ",
            "Jan 02 03:04:05 gw1 edgemicro[4242]: ",
            "\r",
            "\0\0\0\0",
            "\u{1b}[32m",
            "[pod/emg-0/edgemicro] ",
        ];
        let hosts = [
            "127.0.0.1:8000",
            "[::1]:8000",
            "0:8000",
            "",
            "orders.internal:443",
        ];
        let urls = ["orders/v1", "orders?x[a]=1&y[]=2", "p/x?a=[1]", ""];
        let times = ["2026-01-01T00:00:00.000Z", "1700000000123"];
        let mut n = 0;
        for prefix in prefixes {
            for host in hosts {
                for url in urls {
                    for time in times {
                        n += 1;
                        let key = format!("KEY{n:04}abcdefghij");
                        let record = format!("{time} [error][{host}][12][o][e][{url}][::ffff:10.0.0.{}][{key}][f88ede10-d3d6-11eb-95aa-9949482cc78e][plugins-middleware][targetRequest error][GET][502][socket hang up][ECONNRESET][5]", n % 250);
                        for (shape, line) in [
                            ("whole", format!("{prefix}{record}\n")),
                            ("spliced", format!("{prefix}{record}{record}\n")),
                            (
                                "torn",
                                format!(
                                    "{prefix}{}\n",
                                    &record[..record.find(&key).unwrap() + key.len()]
                                ),
                            ),
                        ] {
                            let mut spans = Vec::new();
                            emg_field_spans(line.as_bytes(), 8, &mut spans);
                            let got: Vec<&str> = spans.iter().map(|&(a, z)| &line[a..z]).collect();
                            let want = if shape == "spliced" { 2 } else { 1 };
                            assert_eq!(got, vec![key.as_str(); want], "{shape}: {line:?}");
                        }
                    }
                }
            }
        }
        // An empty clientId (core 3.0.2–3.0.4) takes nothing, not the correlation id.
        let mut spans = Vec::new();
        let line = b"x 2026-01-01T00:00:00.000Z [info][h:1][1][o][e][u][1.2.3.4][][corr-1][c][m][GET][][][][]\n";
        emg_field_spans(line, 8, &mut spans);
        assert!(spans.is_empty(), "{spans:?}");
    }

    #[test]
    fn emg_fields_by_position() {
        // Field `n`'s span in a line, as the engine finds it (`None`: no span).
        let field = |line: &[u8], n| {
            let mut spans = Vec::new();
            emg_field_spans(line, n, &mut spans);
            spans.first().map(|&(s, e)| line[s..e].to_vec())
        };
        let line = b"2021-06-23T03:52:24.110Z [info][h:80][1][o][e][p?x=1][1.2.3.4][CLIENTKEY][corr][c][m][GET][][][][]\n";
        assert_eq!(field(line, 8), Some(b"CLIENTKEY".to_vec()));
        assert_eq!(field(line, 1), Some(b"info".to_vec()));
        assert_eq!(field(line, 13), None, "empty field");
        assert_eq!(
            field(b"2021-06-23T03:52:24.110Z info 7928 worker 1 is online", 8),
            None,
            "plain record"
        );
        assert_eq!(field(b"[info][a]", 1), None, "no timestamp");
    }

    #[test]
    fn normalization() {
        assert_eq!(normalize_key("redisPassword"), "redis_password");
        assert_eq!(normalize_key("x-api-key"), "x_api_key");
        assert_eq!(normalize_key("Requestkey"), "requestkey");
        assert_eq!(normalize_key("keySecretMessage"), "key_secret_message");
        assert_eq!(normalize_key("CLIENT_SECRET"), "client_secret");
    }

    fn load_user(text: &str) -> Result<RuleSet> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mine.yaml");
        std::fs::write(&path, text).unwrap();
        RuleSet::load(&[path])
    }

    #[test]
    fn bad_user_rules_are_rejected_with_file_line_and_rule() {
        let err =
            load_user("patterns:\n  - id: broken\n    keywords: [x]\n    regex: '(unclosed'\n")
                .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("mine.yaml:2") && msg.contains("`broken`"),
            "{msg}"
        );

        let err = load_user("patterns:\n  - id: empty\n    keywords: [x]\n    regex: 'a*'\n")
            .unwrap_err();
        assert!(format!("{err:#}").contains("empty string"), "{err:#}");

        let err =
            load_user("patterns:\n  - id: jwt\n    keywords: [x]\n    regex: 'x+'\n").unwrap_err();
        assert!(format!("{err:#}").contains("already defined"), "{err:#}");

        let err = load_user("keys:\n  - id: mine\n    nmes: [x]\n").unwrap_err();
        assert!(format!("{err:#}").contains("mine.yaml:2"), "{err:#}");
    }

    #[test]
    fn user_rules_add_to_shipped_ones() {
        let set = load_user("keys:\n  - id: vault_pin\n    names: [vaultPin]\n").unwrap();
        let rule = set.keys.iter().find(|r| r.id == "vault_pin").unwrap();
        assert!(rule.names[0].is_match("vault_pin"));
    }
}
