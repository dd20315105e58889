//! The byte-level pass over every collected file: keyword-gated patterns, multi-line blocks
//! (PEM private keys) and the known-secret literals, one line at a time.
//!
//! It only ever sees one (bounded) line and writes that line's redacted form; what it never
//! does is hold a file, or let a match span a replacement it already made.

use std::collections::BTreeMap;

use super::keywords::Keywords;
use serde::Serialize;

use super::carry::{carry_hint, Carry};
use super::literals::Literals;
use super::pseudonym::{Pseudonyms, Seen, MAP_MAX};
use super::rules::{emg_field_spans, token, Matcher, RuleSet};

/// Capture slots for rules without a regex (never used to search).
static EMPTY_SLOTS: std::sync::LazyLock<regex::bytes::Regex> =
    std::sync::LazyLock::new(|| regex::bytes::Regex::new("x").expect("static"));

/// Line numbers kept per rule and file for the report; counts stay exact past it.
const LINES_KEPT: usize = 50;

#[derive(Clone, Copy)]
enum Owner {
    Pattern(usize),
    Block(usize),
}

/// Compiled once per run from the rule set plus the secrets the YAML pass found.
pub struct TextEngine<'r> {
    rules: &'r RuleSet,
    /// Where the keywords occur: which lines each pattern rule runs on.
    keywords: Keywords,
    /// Indexes of the field rules (checked on every line).
    field_rules: Vec<usize>,
    /// Per distinct keyword: every rule it gates (one keyword may gate several rules).
    owners: Vec<Vec<Owner>>,
    literals: Option<Literals>,
    literal_rules: Vec<String>,
    /// Per literal: the plain value it is (or encodes), which a pseudonym is made from.
    literal_plain: Vec<Vec<u8>>,
    pseudonyms: Option<&'r Pseudonyms>,
}

/// A secret value known by its bytes (from the YAML pass, the environment or argv), replaced
/// wherever it occurs, and the rule that made it known.
#[derive(Clone)]
pub struct KnownSecret {
    pub value: Vec<u8>,
    pub(crate) rule: String,
    /// For an encoded form (percent, base64): the plain value, so both get one pseudonym.
    pub(crate) encodes: Option<Vec<u8>>,
    /// A piece of a larger secret (a line of a wrapped blob): searched as is, never decoded.
    pub(crate) piece: bool,
}

impl KnownSecret {
    pub fn new(value: impl Into<Vec<u8>>, rule: &str) -> Self {
        KnownSecret {
            value: value.into(),
            rule: rule.to_string(),
            encodes: None,
            piece: false,
        }
    }

    /// A piece of a larger secret (see `piece`).
    pub(crate) fn piece(value: impl Into<Vec<u8>>, rule: &str) -> Self {
        KnownSecret {
            piece: true,
            ..KnownSecret::new(value, rule)
        }
    }
}

impl std::fmt::Debug for KnownSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KnownSecret({}, (redacted))", self.rule)
    }
}

/// What one file's redaction did, by rule: never a value.
#[derive(Debug, Default, Clone, Serialize, serde::Deserialize)]
pub struct FileReport {
    pub(crate) total: u64,
    pub(crate) by_rule: BTreeMap<String, RuleHits>,
    /// With `--pseudonymize`: each token's first occurrence in this file (`file` left empty).
    #[serde(skip)]
    pub(crate) pseudonyms: Vec<Seen>,
    /// More distinct tokens than the map keeps were written.
    #[serde(skip)]
    pub(crate) map_truncated: bool,
}

#[derive(Debug, Default, Clone, Serialize, serde::Deserialize)]
pub(crate) struct RuleHits {
    pub(crate) count: u64,
    /// The first line numbers (1-based) where the rule fired.
    pub(crate) lines: Vec<u64>,
}

impl FileReport {
    pub(crate) fn add(&mut self, rule: &str, line: u64) {
        self.total += 1;
        let hits = self.by_rule.entry(rule.to_string()).or_default();
        hits.count += 1;
        if hits.lines.len() < LINES_KEPT && hits.lines.last() != Some(&line) {
            hits.lines.push(line);
        }
    }
}

/// How much of a cut piece's end the next piece is redacted after: longer than any key and
/// separator a rule reads before its secret.
const TAIL: usize = 256;

/// Secrets shorter than this are not replaced as literals: too many innocent matches.
pub const MIN_LITERAL: usize = 6;

impl<'r> TextEngine<'r> {
    pub fn new(rules: &'r RuleSet, known: &[KnownSecret]) -> Self {
        // Distinct keywords, each with the rules it gates: the SIMD searcher takes at most 64
        // patterns, and rules share their words (`key`, `secret`, `token`).
        let mut keywords: Vec<Vec<u8>> = Vec::new();
        let mut owners: Vec<Vec<Owner>> = Vec::new();
        let gated = rules
            .patterns
            .iter()
            .enumerate()
            .flat_map(|(i, r)| r.keywords.iter().map(move |k| (k, Owner::Pattern(i))))
            .chain(
                rules
                    .blocks
                    .iter()
                    .enumerate()
                    .flat_map(|(i, r)| r.keywords.iter().map(move |k| (k, Owner::Block(i)))),
            );
        for (k, owner) in gated {
            let k = k.as_bytes().to_ascii_lowercase();
            match keywords.iter().position(|seen| *seen == k) {
                Some(at) => owners[at].push(owner),
                None => {
                    keywords.push(k);
                    owners.push(vec![owner]);
                }
            }
        }
        // Keywords are matched against an A–Z-lowercased copy of the text (same offsets): a
        // case-sensitive automaton of lowercase words can use the SIMD Teddy searcher, a
        // case-insensitive one (~60 words) cannot (profiled: it was a third of the time).
        let keywords = Keywords::new(&keywords);
        let known: Vec<&KnownSecret> = known
            .iter()
            .filter(|k| k.value.len() >= MIN_LITERAL)
            .collect();
        let literals = Literals::new(known.iter().map(|k| k.value.as_slice()));
        let literal_rules = known.iter().map(|k| k.rule.clone()).collect();
        let literal_plain = known
            .iter()
            .map(|k| k.encodes.clone().unwrap_or_else(|| k.value.clone()))
            .collect();
        let field_rules = rules
            .patterns
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r.matcher, Matcher::EmgField(_)))
            .map(|(i, _)| i)
            .collect();
        TextEngine {
            rules,
            keywords,
            field_rules,
            owners,
            literals,
            literal_rules,
            literal_plain,
            pseudonyms: None,
        }
    }

    /// Tokens become `REDACTED_<RULE>_<12 hex>` (see `pseudonym`).
    pub(crate) fn pseudonymize(mut self, pseudonyms: &'r Pseudonyms) -> Self {
        self.pseudonyms = Some(pseudonyms);
        self
    }

    /// A redactor for one file (block state and line numbers are per file).
    pub fn file(&self) -> FileRedactor<'_, 'r> {
        FileRedactor {
            engine: self,
            block: None,
            line_no: 0,
            spans: Vec::new(),
            patterns_fired: vec![false; self.rules.patterns.len()],
            blocks_fired: vec![false; self.rules.blocks.len()],
            line_rules: Vec::new(),
            slots: self
                .rules
                .patterns
                .iter()
                .map(|r| match &r.matcher {
                    Matcher::Regex(regex) => regex.capture_locations(),
                    Matcher::EmgField(_) => EMPTY_SLOTS.capture_locations(),
                })
                .collect(),
            fired: Vec::new(),
            literal: Vec::new(),
            block_keywords: Vec::new(),
            block_literals: Vec::new(),
            carry_literal: None,
            lowered: Vec::new(),
            field_spans: Vec::new(),
            carry_pattern: None,
            carry: None,
            tail: Vec::new(),
            joined: Vec::new(),
            skip: 0,
            tokens_seen: std::collections::HashSet::new(),
            found: None,
            report: FileReport::default(),
        }
    }
}

pub struct FileRedactor<'e, 'r> {
    engine: &'e TextEngine<'r>,
    block: Option<usize>,
    line_no: u64,
    /// Start, end, rule, and the literal pattern when a known secret made the span.
    spans: Vec<(usize, usize, &'e str, Option<usize>)>,
    patterns_fired: Vec<bool>,
    blocks_fired: Vec<bool>,
    /// The rules that replaced something in the last line (for previews).
    line_rules: Vec<&'e str>,
    /// Capture positions per pattern rule, reused across lines (no allocation per match).
    slots: Vec<regex::bytes::CaptureLocations>,
    /// Keyword owners and literal spans of the line at hand; block-wide hits, reused.
    fired: Vec<usize>,
    literal: Vec<(usize, usize, usize)>,
    block_keywords: Vec<(usize, usize)>,
    block_literals: Vec<(usize, usize, usize)>,
    /// The rest of a known secret that crossed a line end: bytes left, literal pattern.
    carry_literal: Option<(usize, usize)>,
    /// A secret a rule found running to the end of a line that was cut (a 1 MiB piece, or a
    /// log driver's 16 KiB split): the next line starts with the rest of it.
    carry_pattern: Option<&'e str>,
    /// A line that names a secret whose value comes on the next line(s) (`authorization:` in
    /// util.inspect output, a rawHeaders name, a k8s `- name: X_SECRET`, `'set-cookie': [`).
    carry: Option<Carry>,
    /// The last bytes of a piece that was cut mid-line: the next piece is redacted after them,
    /// so a match across the cut (`"password":"` | `SECRET"`) is found (only the new bytes are
    /// written).
    tail: Vec<u8>,
    /// `tail` + the piece at hand (reused), and how many of its bytes were written already.
    joined: Vec<u8>,
    skip: usize,
    /// The text lowercased (A–Z only) for the keyword search, reused.
    lowered: Vec<u8>,
    /// Spans of the field rules (the clientId) in the line at hand, reused.
    field_spans: Vec<(usize, usize)>,
    /// Pseudonyms already in `report.pseudonyms` (bounded by MAP_MAX).
    tokens_seen: std::collections::HashSet<String>,
    /// With `collecting`: every value replaced, as a known secret (configs only: small).
    pub(crate) found: Option<Vec<KnownSecret>>,

    pub(crate) report: FileReport,
}

impl<'e, 'r> FileRedactor<'e, 'r> {
    /// Also keeps every replaced value in `found`.
    pub(crate) fn collecting(mut self) -> Self {
        self.found = Some(Vec::new());
        self
    }

    /// Redacts one line (with its line ending, if any) into `out`. `continues` says the previous
    /// call ended mid-line (an over-long line handed over in pieces): same line number.
    pub fn line(&mut self, line: &[u8], continues: bool, out: &mut Vec<u8>) {
        if continues && !self.tail.is_empty() {
            let mut joined = std::mem::take(&mut self.joined);
            joined.clear();
            joined.extend_from_slice(&self.tail);
            joined.extend_from_slice(line);
            self.skip = self.tail.len();
            self.one_line(&joined, continues, out);
            self.skip = 0;
            self.joined = joined;
        } else {
            self.one_line(line, continues, out);
        }
        self.keep_tail(line);
    }

    /// Remembers the end of `line` when it was cut (no line break), for the next piece.
    fn keep_tail(&mut self, line: &[u8]) {
        self.tail.clear();
        if !line.is_empty() && !line.ends_with(b"\n") {
            self.tail
                .extend_from_slice(&line[line.len().saturating_sub(TAIL)..]);
        }
    }

    fn one_line(&mut self, line: &[u8], continues: bool, out: &mut Vec<u8>) {
        let engine: &'e TextEngine<'r> = self.engine;
        self.fired.clear();
        self.lowered.clear();
        self.lowered.extend(line.iter().map(u8::to_ascii_lowercase));
        // The block walk's buffer, free between blocks.
        let mut hits = std::mem::take(&mut self.block_keywords);
        hits.clear();
        engine.keywords.hits(&self.lowered, &mut hits);
        self.fired.extend(hits.iter().map(|&(_, k)| k));
        self.block_keywords = hits;
        self.literal.clear();
        if let Some(literals) = &engine.literals {
            literals.find_all(line, &mut self.literal);
        }
        self.redact_line(line, continues, out);
    }

    /// Redacts a block of whole lines into `out`: each automaton runs once over the block, and
    /// a line with no keyword, no known secret and no open key block is copied as is (most
    /// lines). `continues`: the block starts with the rest of a line cut into pieces.
    pub fn lines(&mut self, block: &[u8], continues: bool, out: &mut Vec<u8>) {
        // The rest of a cut line is redacted after the end of its previous piece.
        if continues && !self.tail.is_empty() {
            let first = memchr::memchr(b'\n', block).map_or(block.len(), |p| p + 1);
            self.line(&block[..first], true, out);
            if first < block.len() {
                self.lines(&block[first..], false, out);
            }
            return;
        }
        self.tail.clear();
        let (keywords, literals) = self.block_hits(block);
        let (mut k, mut l, mut start) = (0, 0, 0);
        let mut first = true;
        while start < block.len() {
            let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |p| start + p + 1);
            let line = &block[start..end];
            let k0 = k;
            while k < keywords.len() && keywords[k].0 < end {
                k += 1;
            }
            let l0 = l;
            while l < literals.len() && literals[l].0 < end {
                l += 1;
            }
            let cont = continues && first;
            if k0 == k && l0 == l && self.left_as_is(line) {
                if !cont {
                    self.line_no += 1;
                }
                out.extend_from_slice(line);
            } else {
                self.fired.clear();
                self.fired
                    .extend(keywords[k0..k].iter().map(|(_, owner)| *owner));
                self.literal.clear();
                // A known secret that runs past the end of its line goes on in the next one
                // (and the one after: a wrapped blob spans many).
                if let Some((rest, pattern)) = self.carry_literal.take() {
                    self.literal.push((
                        0,
                        rest.min(line.len() - usize::from(line.ends_with(b"\n"))),
                        pattern,
                    ));
                    if rest > line.len() {
                        self.carry_literal = Some((rest - line.len(), pattern));
                    }
                }
                // The line's own bytes end before its `\n`: a replacement never eats the newline.
                let content = line.len() - usize::from(line.ends_with(b"\n"));
                for &(s, e, pattern) in &literals[l0..l] {
                    self.literal
                        .push((s - start, (e - start).min(content), pattern));
                    if e > end {
                        self.carry_literal = Some((e - end, pattern));
                    }
                }
                self.redact_line(line, cont, out);
            }
            first = false;
            start = end;
        }
        self.block_keywords = keywords;
        self.block_literals = literals;
        let last = block[..block.len().saturating_sub(1)]
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |p| p + 1);
        self.keep_tail(&block[last..]);
    }

    /// Keyword hits (with the keywords hidden inside each) and known-secret literals of a
    /// whole block, each in order: the walk over its lines takes them line by line.
    #[allow(clippy::type_complexity)]
    fn block_hits(&mut self, block: &[u8]) -> (Vec<(usize, usize)>, Vec<(usize, usize, usize)>) {
        let engine: &'e TextEngine<'r> = self.engine;
        let mut keywords: Vec<(usize, usize)> = std::mem::take(&mut self.block_keywords);
        keywords.clear();
        self.lowered.clear();
        self.lowered
            .extend(block.iter().map(u8::to_ascii_lowercase));
        // In order of their start: the walk takes them line by line.
        engine.keywords.hits(&self.lowered, &mut keywords);
        let mut literals: Vec<(usize, usize, usize)> = std::mem::take(&mut self.block_literals);
        literals.clear();
        if let Some(all) = &engine.literals {
            all.find_all(block, &mut literals);
        }
        (keywords, literals)
    }

    /// A line without keywords or literals is copied as is unless a field rule (the clientId,
    /// checked on every line by position) finds a value, or an earlier line left a block or a
    /// carry open, or the line itself starts one.
    fn left_as_is(&mut self, line: &[u8]) -> bool {
        let engine: &'e TextEngine<'r> = self.engine;
        for &p in &engine.field_rules {
            if let Matcher::EmgField(n) = engine.rules.patterns[p].matcher {
                self.field_spans.clear();
                emg_field_spans(line, n, &mut self.field_spans);
                if self
                    .field_spans
                    .iter()
                    .any(|&(a, z)| !is_token(&line[a..z]))
                {
                    return false;
                }
            }
        }
        self.block.is_none()
            && self.carry_literal.is_none()
            && self.carry_pattern.is_none()
            && self.carry.is_none()
            && !carry_hint(line)
    }

    /// The per-line core: keyword owners in `self.fired`, literal spans in `self.literal`.
    fn redact_line(&mut self, line: &[u8], continues: bool, out: &mut Vec<u8>) {
        if !continues {
            self.line_no += 1;
        }
        let engine: &'e TextEngine<'r> = self.engine;
        let rules: &'e RuleSet = engine.rules;
        self.spans.clear();
        self.line_rules.clear();
        self.fire_owners();
        let skip = self.skip;
        self.blocks(&line[skip..], rules);
        if skip > 0 {
            for span in &mut self.spans {
                span.0 += skip;
                span.1 += skip;
            }
        }
        let content = line.len() - usize::from(line.ends_with(b"\n"));
        let content = content - usize::from(line[..content].ends_with(b"\r"));
        self.carried_spans(&line[..content], skip);
        self.pattern_spans(line, rules);
        // A cut line: no line break at its end, or exactly a log driver's 16 KiB split.
        let cut = !line.ends_with(b"\n") || (content > 0 && content.is_multiple_of(16384));
        if cut {
            self.carry_pattern = self
                .spans
                .iter()
                .find(|s| s.1 == content && s.3.is_none() && s.1 > s.0)
                .map(|s| s.2);
        }
        for &(start, end, pattern) in &self.literal {
            self.spans.push((
                start,
                end,
                engine.literal_rules[pattern].as_str(),
                Some(pattern),
            ));
        }
        self.write(line, out);
    }

    /// The rules whose keywords the line holds (`self.fired`) are the ones run on it.
    fn fire_owners(&mut self) {
        let engine: &'e TextEngine<'r> = self.engine;
        self.patterns_fired.iter_mut().for_each(|f| *f = false);
        self.blocks_fired.iter_mut().for_each(|f| *f = false);
        for &owner in &self.fired {
            for owner in &engine.owners[owner] {
                match *owner {
                    Owner::Pattern(p) => self.patterns_fired[p] = true,
                    Owner::Block(b) => self.blocks_fired[b] = true,
                }
            }
        }
    }

    /// What earlier lines said this one holds: the rest of a value cut at the previous piece's
    /// end, or a value a carry rule expects (wrapped inspect output, name/value pairs).
    fn carried_spans(&mut self, content: &[u8], skip: usize) {
        if let Some(rule) = self.carry_pattern.take() {
            let rest = content
                .iter()
                .position(|b| b" \t\"',;&<>[]{}".contains(b))
                .unwrap_or(content.len());
            if rest > 0 {
                self.spans.push((0, rest, rule, None));
            }
        }
        // After a cut, the rules see the previous piece's end: a carry made from it is moot.
        let carried = self.carry.take().filter(|_| skip == 0);
        if let Some(carry) = carried {
            if let Some((a, z)) = carry.value_in(content) {
                self.spans.push((a, z, carry.rule(), None));
            }
        }
        self.carry = carried
            .and_then(|c| c.goes_on(content))
            .or_else(|| Carry::after(content));
    }

    /// Every field rule (by position) and every fired pattern rule (by regex, each match's
    /// first group that took part) on the line, less the matches a rule's `unless` excuses.
    fn pattern_spans(&mut self, line: &[u8], rules: &'e RuleSet) {
        for (p, rule) in rules.patterns.iter().enumerate() {
            let regex = match &rule.matcher {
                Matcher::EmgField(n) => {
                    self.field_spans.clear();
                    emg_field_spans(line, *n, &mut self.field_spans);
                    for &(start, end) in &self.field_spans {
                        self.spans.push((start, end, rule.id.as_str(), None));
                    }
                    continue;
                }
                Matcher::Regex(regex) => regex,
            };
            if !self.patterns_fired[p] {
                continue;
            }
            // No `is_match` first: a capture search runs the lazy DFA to find the match and
            // the capture engine on that span only, so a line without a match costs the same,
            // and `is_match` could fall back to the slow engine on a whole line (measured:
            // json_secret at 8 µs a line when `"` is everywhere).
            let mut at = 0;
            while at <= line.len() {
                let slots = &mut self.slots[p];
                let Some(m) = regex.captures_read_at(slots, line, at) else {
                    break;
                };
                // The first group that took part is the secret (alternatives such as
                // `'quoted words'|"…"|bare` each have their own); none: the whole match.
                let (start, end) = (1..slots.len())
                    .find_map(|i| slots.get(i))
                    .unwrap_or((m.start(), m.end()));
                let excused = rule
                    .unless
                    .as_ref()
                    .is_some_and(|u| u.is_match(&line[m.start()..m.end()]));
                if !excused {
                    self.spans.push((start, end, rule.id.as_str(), None));
                }
                at = if m.end() > m.start() {
                    m.end()
                } else {
                    m.end() + 1
                };
            }
        }
    }

    fn blocks(&mut self, line: &[u8], rules: &'e RuleSet) {
        let (start, end) = content_bounds(line);
        if let Some(b) = self.block {
            let rule = &rules.blocks[b];
            if let Some(m) = rule.end.find(line) {
                self.block = None;
                if m.start() > start {
                    self.spans.push((start, m.start(), rule.id.as_str(), None));
                }
            } else if let Some((s, e)) = key_material(line, start, end) {
                self.spans.push((s, e, rule.id.as_str(), None));
            } else {
                self.block = None; // a line that is not key material: the block was truncated
            }
            return;
        }
        for (b, rule) in rules.blocks.iter().enumerate() {
            if !self.blocks_fired[b] {
                continue;
            }
            if let Some(begin) = rule.begin.find(line) {
                match rule.end.find_at(line, begin.end()) {
                    Some(m) if m.start() > begin.end() => {
                        self.spans
                            .push((begin.end(), m.start(), rule.id.as_str(), None))
                    }
                    Some(_) => {}
                    None => {
                        if end > begin.end() {
                            self.spans.push((begin.end(), end, rule.id.as_str(), None));
                        }
                        self.block = Some(b);
                    }
                }
                return;
            }
        }
    }

    fn write(&mut self, line: &[u8], out: &mut Vec<u8>) {
        // Bytes before `skip` were written with the previous piece; a span across the cut
        // replaces its part in this piece.
        let skip = self.skip;
        if skip > 0 {
            self.spans.retain_mut(|s| {
                s.0 = s.0.max(skip);
                s.1 > skip
            });
        }
        if self.spans.is_empty() {
            out.extend_from_slice(&line[skip..]);
            return;
        }
        let engine: &'e TextEngine<'r> = self.engine;
        self.spans
            .sort_unstable_by_key(|s| (s.0, std::cmp::Reverse(s.1)));
        let mut at = skip;
        let mut i = 0;
        while i < self.spans.len() {
            let (start, mut end, rule, mut literal) = self.spans[i];
            i += 1;
            while i < self.spans.len() && self.spans[i].0 < end {
                end = end.max(self.spans[i].1);
                literal = literal.or(self.spans[i].3);
                i += 1;
            }
            if start < at || is_token(&line[start..end]) {
                continue;
            }
            out.extend_from_slice(&line[at..start]);
            // A pseudonym is made from the plain secret when a known one is (part of) the span:
            // its encodings, and its halves on two lines, get the same token.
            let value = match literal {
                Some(p) => engine.literal_plain[p].as_slice(),
                None => &line[start..end],
            };
            if let (Some(found), None) = (&mut self.found, literal) {
                found.push(KnownSecret::new(value, rule));
            }
            let line_no = self.line_no;
            let token = self.emit(rule, value, line_no);
            out.extend_from_slice(token.as_bytes());
            self.line_rules.push(rule);
            at = end;
        }
        out.extend_from_slice(&line[at..]);
    }

    /// The token for one replacement, counted in the report (and recorded for the map).
    pub(crate) fn emit(&mut self, rule: &str, value: &[u8], line: u64) -> String {
        self.report.add(rule, line);
        let Some(pseudonyms) = self.engine.pseudonyms else {
            return token(rule);
        };
        let token = pseudonyms.token(rule, value);
        if !self.tokens_seen.contains(&token) {
            if self.tokens_seen.len() < MAP_MAX {
                self.tokens_seen.insert(token.clone());
                self.report.pseudonyms.push(Seen {
                    token: token.clone(),
                    rule: rule.to_string(),
                    file: String::new(),
                    line,
                    value: pseudonyms.keep_values.then(|| {
                        String::from_utf8_lossy(super::pseudonym::normalize(value)).into_owned()
                    }),
                });
            } else {
                self.report.map_truncated = true;
            }
        }
        token
    }

    /// The rules that replaced something in the last line, and its 1-based number.
    pub(crate) fn last_line(&self) -> (u64, &[&'e str]) {
        (self.line_no, &self.line_rules)
    }

    /// True while a multi-line block (a PEM key) is open at the end of the input: redaction
    /// failed closed to the end of the file.
    pub(crate) fn open_block(&self) -> bool {
        self.block.is_some()
    }
}

/// A replacement this tool made (rules run again over YAML the structural pass already edited).
fn is_token(bytes: &[u8]) -> bool {
    let Some(rest) = bytes.strip_prefix(b"REDACTED_") else {
        return false;
    };
    // A pseudonym ends in `_` and 12 lowercase hex digits.
    let rule = match rest.len().checked_sub(13) {
        Some(cut)
            if rest[cut] == b'_'
                && rest[cut + 1..]
                    .iter()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b)) =>
        {
            &rest[..cut]
        }
        _ => rest,
    };
    rule.iter()
        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || *b == b'_')
}

/// The line without leading white space and trailing white space/line ending.
fn content_bounds(line: &[u8]) -> (usize, usize) {
    let start = line
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |p| p + 1);
    (start, end.max(start))
}

/// Inside a PEM block: the bytes to redact when the line still looks like key material
/// (base64, a `Proc-Type:`/`DEK-Info:` header, a blank line), else `None`. A log prefix
/// (`2026-… info 1 MIIE…`) is kept; only its base64 tail goes.
fn key_material(line: &[u8], start: usize, end: usize) -> Option<(usize, usize)> {
    let body = &line[start..end];
    let b64 = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    if body.is_empty() {
        return Some((start, end));
    }
    // Node prints a key in a string concatenation: `'MIIE…\n' +` on each line.
    let lead = body
        .iter()
        .take_while(|b| matches!(b, b'\'' | b'"' | b'`'))
        .count();
    let run = body[lead..].iter().take_while(|b| b64(b)).count();
    let tail = &body[lead + run..];
    if lead > 0
        && run > 0
        && tail.iter().all(|b| {
            matches!(
                b,
                b'\'' | b'"' | b'`' | b' ' | b'+' | b',' | b'\\' | b'n' | b';' | b')'
            )
        })
    {
        return Some((start + lead, start + lead + run));
    }
    let trimmed_end = body
        .iter()
        .rposition(|b| !matches!(b, b'"' | b'\'' | b',' | b'\\'))
        .map_or(0, |p| p + 1);
    let core = &body[..trimmed_end];
    if !core.is_empty() && core.iter().all(b64) {
        return Some((start, start + trimmed_end));
    }
    let header = core.iter().position(|b| *b == b':').is_some_and(|c| {
        c > 0
            && core[..c]
                .iter()
                .all(|b| b.is_ascii_alphabetic() || *b == b'-')
    });
    if header {
        return Some((start, end));
    }
    let last = core
        .iter()
        .rposition(|b| b.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    (core.len() - last >= 16 && core[last..].iter().all(b64))
        .then(|| (start + last, start + trimmed_end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(known: &[KnownSecret], input: &str) -> (String, FileReport) {
        let rules = RuleSet::load(&[] as &[&str]).unwrap();
        let engine = TextEngine::new(&rules, known);
        let mut file = engine.file();
        let mut out = Vec::new();
        for line in input.split_inclusive('\n') {
            file.line(line.as_bytes(), false, &mut out);
        }
        (String::from_utf8(out).unwrap(), file.report)
    }

    #[test]
    fn emg_event_record_keeps_diagnostics_loses_client_id_and_query_key() {
        let line = "2026-11-24T03:23:43.509Z [error][127.0.0.1:18081][1][local][test][hello/ok?apikey=QSECRETQS][127.0.0.1][HSECRETHS][35811a9b][plugins-middleware][targetRequest error][GET][][socket hang up][ECONNRESET][2]\n";
        let (out, report) = run(&[], line);
        assert!(
            !out.contains("QSECRETQS") && !out.contains("HSECRETHS"),
            "{out}"
        );
        for kept in [
            "[error][127.0.0.1:18081]",
            "hello/ok?apikey=",
            "[socket hang up][ECONNRESET][2]",
            "35811a9b",
        ] {
            assert!(out.contains(kept), "{kept} lost: {out}");
        }
        assert_eq!(report.by_rule["client_id"].count, 1);
        assert_eq!(report.by_rule["query_secret"].lines, vec![1]);
    }

    /// A password printed raw may hold `@`, and after it a base64 `/`: all of it goes, and the
    /// host stays; a host with a dot before a `/` (npm's `/@scope/`) is not taken for password.
    #[test]
    fn userinfo_passwords_holding_at_and_slash_go_whole() {
        for (line, secret, kept) in [
            (
                "connecting https://svc:Zx9@AAq2LZh1jn0Qla+b/@db.internal/x\n",
                "AAq2LZh1jn0Qla",
                "@db.internal/x",
            ),
            (
                "proxy http://u:p@ss/w0rd+Q@proxy.corp:3128\n",
                "ss/w0rd+Q",
                "@proxy.corp:3128",
            ),
            (
                "get https://u:PlainPw1@registry.npmjs.org/@apigee/x\n",
                "PlainPw1",
                "registry.npmjs.org/@apigee/x",
            ),
        ] {
            let (out, _) = run(&[], line);
            assert!(!out.contains(secret), "{out}");
            assert!(out.contains(kept), "{kept} lost: {out}");
        }
    }

    #[test]
    fn header_dump_json_and_plain_tokens() {
        let input = concat!(
            "x header={\"host\":\"a\",\"x-api-key\":\"HDRKEY123\",\"authorization\":\"Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.SIGSIGSIG\",\"cookie\":\"session=COOKIESECRET\"}\n",
            "info 1 plugin: request body={\"username\":\"u\",\"password\":\"Pw!@$%^*xyz\"}\n",
            "proxy https://svc:URLPASSWD@proxy.corp:3128 ok\n",
            "Replacing: <E>REDIS</E> by env value: ENVVALUE123\n",
            "  key: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n",
            "nohup edgemicro start -o org -e test -k KEYARG123 -s SECRETARG123\n",
        );
        let (out, _) = run(&[], input);
        for secret in [
            "HDRKEY123",
            "eyJhbGci",
            "SIGSIGSIG",
            "COOKIESECRET",
            "Pw!@$%^*xyz",
            "URLPASSWD",
            "ENVVALUE123",
            "0123456789abcdef0123",
            "KEYARG123",
            "SECRETARG123",
        ] {
            assert!(!out.contains(secret), "{secret} leaked:\n{out}");
        }
        assert!(
            out.contains("proxy.corp:3128") && out.contains("\"username\":\"u\""),
            "{out}"
        );
    }

    #[test]
    fn pem_blocks_fail_closed_and_keep_log_prefixes() {
        let input = concat!(
            "before\n",
            "-----BEGIN RSA PRIVATE KEY-----\n",
            "MIIEpAIBAAKCAQEAPEMLINEONE\n",
            "2026-01-01T00:00:00Z info 1 PEMLOGPREFIXEDLINE0123456789\n",
            "-----END RSA PRIVATE KEY-----\n",
            "after\n",
            "\"key\": \"-----BEGIN PRIVATE KEY-----\\nINLINEPEMBODY\\n-----END PRIVATE KEY-----\\n\"\n",
            "-----BEGIN EC PRIVATE KEY-----\n",
            "TRUNCATEDKEYBODY0123456789\n",
            "diagnostic line survives\n",
        );
        let (out, _) = run(&[], input);
        for secret in [
            "PEMLINEONE",
            "PEMLOGPREFIXEDLINE",
            "INLINEPEMBODY",
            "TRUNCATEDKEYBODY",
        ] {
            assert!(!out.contains(secret), "{secret} leaked:\n{out}");
        }
        for kept in [
            "before",
            "after",
            "2026-01-01T00:00:00Z info 1",
            "diagnostic line survives",
            "-----END RSA PRIVATE KEY-----",
        ] {
            assert!(out.contains(kept), "{kept} lost:\n{out}");
        }
    }

    #[test]
    fn known_literals_are_replaced_anywhere_and_short_ones_ignored() {
        let known = [
            KnownSecret::new(b"redisPW42x".to_vec(), "password"),
            KnownSecret::new(b"abc".to_vec(), "password"),
        ];
        let (out, report) = run(&known, "connecting with redisPW42x failed; abc stays\n");
        assert_eq!(out, "connecting with REDACTED_PASSWORD failed; abc stays\n");
        assert_eq!(report.total, 1);

        // A known secret across a line break (a multi-line YAML value echoed in a log): the
        // block path sees it whole and keeps both line ends.
        let rules = RuleSet::load(&[] as &[&str]).unwrap();
        let multi = [KnownSecret::new(
            b"top half\nbottom half".to_vec(),
            "password",
        )];
        let engine = TextEngine::new(&rules, &multi);
        let mut file = engine.file();
        let mut out = Vec::new();
        file.lines(b"before top half\nbottom half after\n", false, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "before REDACTED_PASSWORD\nREDACTED_PASSWORD after\n"
        );
    }

    #[test]
    fn crlf_and_tokens_are_left_alone() {
        let (out, report) = run(&[], "redisPassword: REDACTED_PASSWORD\r\nplain line\r\n");
        assert_eq!(out, "redisPassword: REDACTED_PASSWORD\r\nplain line\r\n");
        assert_eq!(report.total, 0);
    }

    #[test]
    fn shadowed_keywords_still_fire_their_rules() {
        // End to end: `apikey=` must fire query_secret (keyword key=) even though the
        // leftmost-longest search reports `apikey` there.
        let (out, report) = run(&[], "GET /x?apikey=SHADOWED123 HTTP/1.1\n");
        assert!(!out.contains("SHADOWED123"), "{out}");
        assert!(report.by_rule.contains_key("query_secret"), "{report:?}");
    }

    #[test]
    fn block_path_equals_line_path() {
        let known = [KnownSecret::new(b"plainKNOWN99".to_vec(), "password")];
        let mut input = String::new();
        for i in 0..40 {
            input.push_str(&format!("2026-11-24T03:23:43.509Z [info][h][1][o][e][p?apikey=K{i:03}QQ][1.2.3.4][CID{i:03}XX][c][m][targetRequest][GET][][][][]\n"));
            input.push_str("quiet line with nothing in it\n");
            if i % 7 == 0 {
                input.push_str("-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEAPEMLINEONE\n-----END RSA PRIVATE KEY-----\n");
                input.push_str(
                    "x-api-key: HDR123456 and plainKNOWN99 and redisPW42x\nsecond half\n",
                );
            }
        }
        let rules = RuleSet::load(&[] as &[&str]).unwrap();
        let engine = TextEngine::new(&rules, &known);
        let mut by_line = engine.file();
        let mut expected = Vec::new();
        for line in input.split_inclusive('\n') {
            by_line.line(line.as_bytes(), false, &mut expected);
        }
        for cap in [64, 300, 4096, 1 << 20] {
            let mut by_block = engine.file();
            let mut out = Vec::new();
            let mut blocks = crate::lines::Blocks::new(input.as_bytes(), cap);
            let (mut buf, mut continues) = (Vec::new(), false);
            while let Some(kind) = blocks.next_into(&mut buf).unwrap() {
                match kind {
                    crate::lines::Block::Lines => by_block.lines(&buf, continues, &mut out),
                    crate::lines::Block::Piece(_) => by_block.line(&buf, continues, &mut out),
                }
                continues = kind == crate::lines::Block::Piece(crate::lines::Piece::Cut);
            }
            if cap >= 300 {
                assert_eq!(
                    String::from_utf8_lossy(&out),
                    String::from_utf8_lossy(&expected),
                    "block size {cap}"
                );
                assert_eq!(by_block.report.total, by_line.report.total);
            }
            assert!(!String::from_utf8_lossy(&out).contains("PEMLINEONE"));
            assert!(!String::from_utf8_lossy(&out).contains("plainKNOWN99"));
        }
    }
}

#[cfg(test)]
mod cut_tests {
    use super::*;

    /// A line handed over in two pieces, cut after any separator, through both entry points
    /// (`line` for pieces, `lines` for the block that starts with the rest of the cut).
    #[test]
    fn a_secret_just_after_a_piece_cut_is_found_with_its_key_in_the_previous_piece() {
        let rules = RuleSet::load(&[] as &[&str]).unwrap();
        let engine = TextEngine::new(&rules, &[]);
        let secret = "Q7xLm2Pz9Rt4Vw8Ky3Ab";
        let shapes = [
            r#"{"n":1},{"password":"@"},{"n":1}"#,
            "x Authorization: Bearer @ y",
            "GET /a?b=1&client_secret=@&c=2 ok",
            "x-api-key: '@' next",
            "EDGEMICRO_SECRET=@ more",
            r#"{"apiKey": "@", "n": 1}"#,
        ];
        for shape in shapes {
            let text = format!("{} {}\n", "pad ".repeat(40), shape.replace('@', secret));
            let cuts = text
                .bytes()
                .enumerate()
                .filter(|(_, b)| b" ,;&]\"'".contains(b))
                .map(|(i, _)| i + 1);
            for cut in cuts {
                for block_mode in [false, true] {
                    let mut file = engine.file();
                    let mut out = Vec::new();
                    file.line(&text.as_bytes()[..cut], false, &mut out);
                    let rest = format!("{}next line\n", &text[cut..]);
                    if block_mode {
                        file.lines(rest.as_bytes(), true, &mut out);
                    } else {
                        file.line(&text.as_bytes()[cut..], true, &mut out);
                    }
                    let out = String::from_utf8(out).unwrap();
                    assert!(
                        !out.contains(&secret[..6]) && !out.contains(&secret[14..]),
                        "cut at {cut} (block mode {block_mode}): {out}"
                    );
                    assert!(out.starts_with("pad pad"), "{out}");
                }
            }
        }
    }
}
