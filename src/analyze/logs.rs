//! Log triage: one streaming pass over EMG logs (current bracketed records and the 2.x
//! `<epoch ms> <level> k=v, …` records), counting what the 502 diagnosis looks for: 502 and
//! 504 responses, `socket hang up`, ECONNRESET, ETIMEDOUT, ECONNREFUSED, by target, proxy and
//! hour, with first/last occurrence and a few (already redacted) sample lines.
//!
//! Memory stays bounded whatever the log size: maps are keyed by target/proxy/hour, the
//! correlation map that ties a 502 to its target is capped, samples and gaps are capped.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::Serialize;

use crate::record::{iso_millis, Record};

const SAMPLES: usize = 5;
const CORRELATIONS: usize = 4096;
/// Distinct targets, proxies and hours kept apart; the rest is "(other)".
const KEYS: usize = 500;

/// Failures and successes per minute and target, bounded: at most `TIMELINE_TARGETS` targets
/// (the rest is "(other)") and `TIMELINE_CELLS` minute×target cells (later ones are dropped and
/// counted).
#[derive(Debug, Default)]
pub(crate) struct Timeline {
    pub(crate) targets: Vec<String>,
    /// (minute since the epoch, target index) → [failures, successes].
    pub(crate) cells: BTreeMap<(i64, u16), [u32; 2]>,
    pub(crate) dropped: u64,
}

const TIMELINE_TARGETS: usize = 32;
const TIMELINE_CELLS: usize = 200_000;

impl Timeline {
    fn add(&mut self, ms: i64, target: &str, failed: bool) {
        let index = match self.targets.iter().position(|t| t == target) {
            Some(i) => i,
            None if self.targets.len() < TIMELINE_TARGETS - 1 => {
                self.targets.push(target.to_string());
                self.targets.len() - 1
            }
            None => match self.targets.iter().position(|t| t == "(other)") {
                Some(i) => i,
                None => {
                    self.targets.push("(other)".into());
                    self.targets.len() - 1
                }
            },
        };
        let key = (ms.div_euclid(60_000), index as u16);
        if self.cells.len() >= TIMELINE_CELLS && !self.cells.contains_key(&key) {
            self.dropped += 1;
            return;
        }
        self.cells.entry(key).or_default()[usize::from(!failed)] += 1;
    }

    /// Target names as shown (redacted).
    fn rename(&mut self, mut name: impl FnMut(&str) -> String) {
        for target in &mut self.targets {
            *target = name(target);
        }
    }
}

/// What makes a line worth parsing: errors (every reset, refusal, timeout, TLS or DNS failure is
/// logged at warn or error with `error` in its message or level), 5xx, aborts (the client's
/// 499, the target's aborted response), target responses (for the idle times), versions.
/// Fewer words is fewer passes: each costs a scan of the logs.
const INTERESTING_WORDS: [&str; 7] = [
    "error",
    "aborted",
    "targetResponse",
    "[50",
    "s=50",
    " version is ",
    // 2.x request starts (`sourceRequest m=`, `targetRequest m=`): the target and client of
    // each correlation id, which 2.x error and status records do not all carry.
    "Request m=",
];

/// Whether one line is worth parsing (the line-by-line reference the block scan is tested
/// against).
#[cfg(test)]
static INTERESTING: std::sync::LazyLock<aho_corasick::AhoCorasick> =
    std::sync::LazyLock::new(|| {
        aho_corasick::AhoCorasick::new(INTERESTING_WORDS).expect("static patterns")
    });

/// The same words as one SIMD Teddy searcher (aho-corasick's packed searcher): over a block it
/// is about twice as fast as a memmem pass per word (measured on the 1 GB bench corpus: 30
/// against 67 ms per 91 MB), and the memmem passes remain where Teddy cannot run (no SSSE3).
enum Finders {
    Teddy(aho_corasick::packed::Searcher),
    Memmem(Vec<memchr::memmem::Finder<'static>>),
}

impl Finders {
    /// Where each interesting word starts (a line with several gives at least one).
    fn each(&self, block: &[u8], mut found: impl FnMut(usize)) {
        match self {
            Finders::Teddy(teddy) => teddy.find_iter(block).for_each(|m| found(m.start())),
            Finders::Memmem(finders) => finders
                .iter()
                .for_each(|f| f.find_iter(block).for_each(&mut found)),
        }
    }
}

static FINDERS: std::sync::LazyLock<Finders> =
    std::sync::LazyLock::new(
        || match aho_corasick::packed::Searcher::new(INTERESTING_WORDS) {
            Some(teddy) => Finders::Teddy(teddy),
            None => Finders::Memmem(
                INTERESTING_WORDS
                    .iter()
                    .map(|w| memchr::memmem::Finder::new(w.as_bytes()))
                    .collect(),
            ),
        },
    );

static VERSION_IS: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
    std::sync::LazyLock::new(|| memchr::memmem::Finder::new(" version is "));

#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) status_502: u64,
    pub(crate) status_504: u64,
    pub(crate) socket_hang_up: u64,
    pub(crate) econnreset: u64,
    pub(crate) etimedout: u64,
    pub(crate) econnrefused: u64,
    /// Resets of target requests EMG aborted because the client had left.
    pub(crate) client_abort: u64,
}

impl Counts {
    fn is_empty(&self) -> bool {
        *self == Counts::default()
    }
}

/// What the 502 and 504 responses were, from their own records.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct Kinds {
    /// 502 with socket hang up / ECONNRESET: the target closed the connection.
    pub(crate) hangup_502: u64,
    /// 502 with ECONNREFUSED: nothing listened at the target.
    pub(crate) refused_502: u64,
    /// 504 "Gateway timed out trying to reach target": request_timeout expired.
    pub(crate) timeout_504: u64,
    /// 502 after the client left: the source request was aborted (a 499 record first), and
    /// EMG aborted the target request (cores from 3.1.7 on).
    pub(crate) client_abort_502: u64,
    /// 502 with ENOTFOUND / EAI_AGAIN: the target's name did not resolve.
    pub(crate) dns_502: u64,
    /// 502 with a TLS error (EPROTO, self-signed, expired, hostname mismatch).
    pub(crate) tls_502: u64,
    /// 400/431/502 from a header limit (HPE_HEADER_OVERFLOW, "Header overflow").
    pub(crate) header_overflow: u64,
    /// `targetResponse aborted`: the target died in the middle of its response body.
    pub(crate) target_response_aborted: u64,
    /// Source requests the client abandoned (status 499 records).
    pub(crate) client_aborts: u64,
    pub(crate) other_502: u64,
    /// The error codes of the 502s not explained above, with counts.
    pub(crate) other_codes: BTreeMap<String, u64>,
}

/// What an error code and message say about the failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    Reset,
    Refused,
    Dns,
    Tls,
    HeaderOverflow,
    Timeout,
    Other,
}

fn cause(code: &str, err: &str) -> Cause {
    let tls_words = ["certificate", "ssl", "tls", "handshake"];
    match code {
        "ECONNRESET" | "EPIPE" => Cause::Reset,
        "ECONNREFUSED" => Cause::Refused,
        "ENOTFOUND" | "EAI_AGAIN" | "EAI_FAIL" | "EAI_NONAME" => Cause::Dns,
        "EPROTO"
        | "DEPTH_ZERO_SELF_SIGNED_CERT"
        | "SELF_SIGNED_CERT_IN_CHAIN"
        | "CERT_HAS_EXPIRED"
        | "UNABLE_TO_VERIFY_LEAF_SIGNATURE"
        | "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"
        | "ERR_TLS_CERT_ALTNAME_INVALID" => Cause::Tls,
        c if c.starts_with("ERR_SSL_") || c.starts_with("ERR_TLS_") || c.contains("CERT_") => {
            Cause::Tls
        }
        "HPE_HEADER_OVERFLOW" => Cause::HeaderOverflow,
        "ETIMEDOUT" | "ESOCKETTIMEDOUT" => Cause::Timeout,
        _ if err.contains("socket hang up") => Cause::Reset,
        _ if err.contains("Header overflow") || err.contains("HPE_HEADER_OVERFLOW") => {
            Cause::HeaderOverflow
        }
        _ if {
            let lower = err.to_ascii_lowercase();
            tls_words.iter().any(|w| lower.contains(w))
        } =>
        {
            Cause::Tls
        }
        _ => Cause::Other,
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Triage {
    pub lines: u64,
    pub(crate) files: u64,
    pub(crate) totals: Counts,
    pub(crate) kinds: Kinds,
    pub(crate) by_target: BTreeMap<String, Counts>,
    pub(crate) by_proxy: BTreeMap<String, Counts>,
    pub(crate) by_hour: BTreeMap<String, Counts>,
    pub(crate) first: Option<String>,
    pub(crate) last: Option<String>,
    /// The earliest failing records (by time, whatever order the files are read in).
    pub(crate) samples: Vec<String>,
    #[serde(skip)]
    sample_ms: Vec<i64>,
    /// What the gateway said of itself at start (`current edgemicro version is 3.3.7`,
    /// `current nodejs version is v18.20.4`): the newest record of each wins.
    pub(crate) versions: BTreeMap<String, String>,
    #[serde(skip)]
    versions_ms: BTreeMap<String, i64>,
    /// Successful target responses seen: none means the logs are below level info, and idle
    /// times cannot be told.
    pub(crate) target_responses: u64,
    /// The earliest and latest time of any parsed record (not only failures), epoch ms.
    #[serde(skip)]
    span_ms: Option<(i64, i64)>,
    #[serde(skip)]
    first_ms: Option<i64>,
    #[serde(skip)]
    last_ms: Option<i64>,
    /// Idle time before each request, per target: the keep-alive race from the logs alone.
    #[serde(skip)]
    pub(crate) idle: super::idle::Idle,
    /// Per minute and target: failures and successful responses (report.html's timeline).
    #[serde(skip)]
    pub(crate) timeline: Timeline,
    /// Per correlation id: the target, and whether a target error was logged for it.
    #[serde(skip)]
    corr_target: Recent<(String, bool)>,
    /// Correlation ids of source requests the client abandoned (499).
    #[serde(skip)]
    aborted: Recent<()>,
    /// 2.x: the client address (`r=`) of each source request → its correlation id, since a
    /// 2.x status record carries the client's address and not the id.
    #[serde(skip)]
    client_corr: Recent<String>,
    /// 2.x: the URL of each source request, for error records that log `u=undefined`.
    #[serde(skip)]
    corr_url: Recent<String>,
}

/// The last `CORRELATIONS` entries by insertion: memory stays bounded whatever the log holds.
#[derive(Default, Debug)]
struct Recent<V> {
    map: HashMap<String, V>,
    order: VecDeque<String>,
}

impl<V> Recent<V> {
    fn insert(&mut self, key: &str, value: V) {
        if key.is_empty() {
            return;
        }
        if self.map.insert(key.to_string(), value).is_none() {
            if self.order.len() >= CORRELATIONS {
                if let Some(old) = self.order.pop_front() {
                    self.map.remove(&old);
                }
            }
            self.order.push_back(key.to_string());
        }
    }
    fn get(&self, key: &str) -> Option<&V> {
        self.map.get(key)
    }
    fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }
}

/// The stateless half of triaging a block: how many lines it holds and where the lines worth
/// parsing start. It needs no triage, so another thread can do it while this one parses.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    lines: u64,
    starts: Vec<usize>,
}

/// A record's own failure counts: its status, error message and code.
fn counts_of(rec: &Record) -> Counts {
    let mut c = Counts::default();
    if rec.err.contains("socket hang up") {
        c.socket_hang_up = 1;
    }
    match rec.code {
        "ECONNRESET" => c.econnreset = 1,
        "ETIMEDOUT" => c.etimedout = 1,
        "ECONNREFUSED" => c.econnrefused = 1,
        _ => {}
    }
    match rec.status {
        "502" => c.status_502 = 1,
        "504" => c.status_504 = 1,
        _ => {}
    }
    c
}

impl Scan {
    pub(crate) fn of(block: &[u8]) -> Scan {
        let lines = memchr::memchr_iter(b'\n', block).count() as u64
            + u64::from(!block.is_empty() && !block.ends_with(b"\n"));
        let mut starts: Vec<usize> = Vec::new();
        FINDERS.each(block, |at| {
            starts.push(memchr::memrchr(b'\n', &block[..at]).map_or(0, |p| p + 1));
        });
        starts.sort_unstable();
        starts.dedup();
        Scan { lines, starts }
    }
}

impl Triage {
    pub(crate) fn start_file(&mut self) {
        self.files += 1;
        self.idle.new_file();
    }

    /// One line (redacted, with or without its line ending).
    #[cfg(test)]
    pub(crate) fn line(&mut self, line: &[u8]) {
        self.lines += 1;
        // Most lines are plain request records; only errors, 5xx and target responses count.
        if INTERESTING.is_match(line) {
            self.parse(line);
        }
    }

    /// Many whole redacted lines at once: the lines holding an interesting word are parsed,
    /// each once, in order.
    pub fn block(&mut self, block: &[u8]) {
        let scan = Scan::of(block);
        self.scanned(block, &scan);
    }

    /// Parses the lines a [`Scan`] of `block` found, in order.
    pub(crate) fn scanned(&mut self, block: &[u8], scan: &Scan) {
        self.lines += scan.lines;
        for &start in &scan.starts {
            let end = memchr::memchr(b'\n', &block[start..]).map_or(block.len(), |p| start + p + 1);
            self.parse(&block[start..end]);
        }
    }

    fn parse(&mut self, line: &[u8]) {
        let Ok(text) = std::str::from_utf8(line) else {
            return;
        };
        let text = text.trim_end_matches(['\r', '\n']);
        if let Some(at) = VERSION_IS.find(text.as_bytes()) {
            self.version(text, at);
        }
        let Some(rec) = crate::record::read(text) else {
            return;
        };
        self.record(&rec, text);
    }

    fn record(&mut self, rec: &Record, text: &str) {
        if self.request_start(rec) {
            return;
        }
        // A 2.x record without its correlation id: the one its client's request started with
        // (copied: the helpers below update the maps).
        let (corr, found);
        let rec = match (rec.corr, rec.client) {
            ("", client) if !client.is_empty() => match self.client_corr.get(client) {
                Some(known) => {
                    corr = known.clone();
                    found = Record {
                        corr: corr.as_str(),
                        ..*rec
                    };
                    &found
                }
                None => rec,
            },
            _ => rec,
        };
        // The record's own target, else the one its request started with (2.x): copied only
        // then, since the map it comes from changes below.
        let target_of: Option<std::borrow::Cow<str>> = match rec.target {
            Some(t) => Some(t.into()),
            None => self
                .corr_target
                .get(rec.corr)
                .map(|(t, _)| t.clone().into()),
        };
        if let Some(ms) = rec.millis {
            self.span_ms = Some(match self.span_ms {
                Some((a, b)) => (a.min(ms), b.max(ms)),
                None => (ms, ms),
            });
        }
        let mut c = counts_of(rec);
        let target_error =
            rec.message == "targetRequest error" || rec.message == "targetResponse error";
        if rec.status == "499" || rec.message.starts_with("sourceResponse on close") {
            self.kinds.client_aborts += 1;
            self.aborted.insert(rec.corr, ());
            return;
        }
        if rec.message == "targetResponse aborted" {
            self.kinds.target_response_aborted += 1;
        }
        let client_left = self.aborted.contains(rec.corr);
        if let (Some(t), false) = (target_of.as_deref(), client_left) {
            self.idle_outcome(rec, t, &c, target_error);
        }
        if matches!(rec.status, "400" | "431") && cause(rec.code, rec.err) == Cause::HeaderOverflow
        {
            self.kinds.header_overflow += 1;
        }
        if client_left && c.socket_hang_up + c.econnreset > 0 {
            // EMG aborted the target request itself: not the target's doing.
            c.socket_hang_up = 0;
            c.econnreset = 0;
            c.client_abort = u64::from(target_error);
        }
        if c.is_empty() {
            return;
        }
        let target = target_of.map_or_else(|| "unknown".to_string(), |t| t.into_owned());
        self.once_per_request(rec, &mut c, &target, target_error);
        self.kind_of_failure(rec, &c);
        self.tally(rec, &c, target, text);
    }

    /// A failed request is logged twice (its target error, then the 502/504 status record):
    /// it goes on the timeline once, and the status record's repeated message and code are not
    /// counted again.
    fn once_per_request(&mut self, rec: &Record, c: &mut Counts, target: &str, target_error: bool) {
        let had_error = self
            .corr_target
            .get(rec.corr)
            .is_some_and(|(_, errored)| *errored);
        if target_error && target != "unknown" {
            self.corr_target
                .insert(rec.corr, (target.to_string(), true));
        }
        if let Some(ms) = rec.millis {
            if target_error || !had_error {
                self.timeline.add(ms, target, true);
            }
        }
        if !target_error && (c.status_502 + c.status_504) > 0 && had_error {
            c.socket_hang_up = 0;
            c.econnreset = 0;
            c.etimedout = 0;
            c.econnrefused = 0;
        }
    }

    /// A 2.x request start: which client and which target each correlation id belongs to
    /// (2.x error and status records do not all carry them). True when `rec` was one.
    fn request_start(&mut self, rec: &Record) -> bool {
        match rec.message {
            "sourceRequest" => {
                self.corr_url.insert(rec.corr, rec.proxy.to_string());
                self.client_corr.insert(rec.client, rec.corr.to_string());
                true
            }
            "targetRequest" => {
                if let Some(t) = rec.target {
                    self.corr_target.insert(rec.corr, (t.to_string(), false));
                }
                true
            }
            _ => false,
        }
    }

    /// What the idle estimate learns from a target's answer, reset or freed socket.
    fn idle_outcome(&mut self, rec: &Record, target: &str, c: &Counts, target_error: bool) {
        let Some(ms) = rec.millis else {
            return;
        };
        let reset = c.econnreset + c.socket_hang_up > 0;
        let taken = rec.taken_ms.unwrap_or(0);
        match rec.message {
            "targetResponse" if !rec.status.starts_with('5') => {
                self.target_responses += 1;
                self.timeline.add(ms, target, false);
                self.idle.outcome(rec.pid, target, ms, taken, false);
            }
            "targetResponse close" => self.idle.freed(rec.pid, target, ms),
            _ if target_error && reset => self.idle.outcome(rec.pid, target, ms, taken, true),
            _ => {}
        }
    }

    /// Why a 502 or 504 happened, by its error code and message.
    fn kind_of_failure(&mut self, rec: &Record, c: &Counts) {
        let kinds = &mut self.kinds;
        if c.status_502 == 1 {
            match cause(rec.code, rec.err) {
                Cause::Refused => kinds.refused_502 += 1,
                Cause::Reset if self.aborted.contains(rec.corr) => kinds.client_abort_502 += 1,
                Cause::Reset => kinds.hangup_502 += 1,
                Cause::Dns => kinds.dns_502 += 1,
                Cause::Tls => kinds.tls_502 += 1,
                Cause::HeaderOverflow => kinds.header_overflow += 1,
                Cause::Timeout | Cause::Other => {
                    kinds.other_502 += 1;
                    if kinds.other_codes.len() < 32 || kinds.other_codes.contains_key(rec.code) {
                        *kinds.other_codes.entry(rec.code.to_string()).or_default() += 1;
                    }
                }
            }
        }
        if c.status_504 == 1 {
            kinds.timeout_504 += 1;
        }
    }

    /// Adds a failure to the totals, per target, proxy and hour, the first and last seen, and
    /// the samples.
    fn tally(&mut self, rec: &Record, c: &Counts, target: String, text: &str) {
        let proxy = match rec.proxy {
            "" | "undefined" => self.corr_url.get(rec.corr).map_or("", String::as_str),
            url => url,
        };
        let proxy = proxy.split('?').next().unwrap_or("").to_string();
        // Every time in the output is UTC RFC 3339, whatever the record wrote (2.x epoch ms).
        let hour = match rec.millis.and_then(chrono::DateTime::from_timestamp_millis) {
            Some(t) => t.format("%Y-%m-%dT%H:00").to_string(),
            None => rec
                .time
                .get(..13)
                .map(|h| format!("{h}:00"))
                .unwrap_or_default(),
        };
        // Paths carry ids (orders/123): past KEYS distinct keys the rest is counted as "(other)",
        // so memory stays bounded whatever the log holds.
        for (map, key) in [
            (&mut self.by_target, target),
            (&mut self.by_proxy, proxy),
            (&mut self.by_hour, hour),
        ] {
            let key = if map.len() < KEYS || map.contains_key(&key) {
                key
            } else {
                "(other)".to_string()
            };
            add(map.entry(key).or_default(), c);
        }
        add(&mut self.totals, c);
        // Logs are read newest file first: keep the earliest and the latest, not the order seen.
        let at = rec.millis.unwrap_or(0);
        let shown = || {
            rec.millis
                .and_then(chrono::DateTime::from_timestamp_millis)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_else(|| rec.time.to_string())
        };
        if self.first_ms.is_none_or(|f| at < f) {
            self.first_ms = Some(at);
            self.first = Some(shown());
        }
        if self.last_ms.is_none_or(|l| at > l) {
            self.last_ms = Some(at);
            self.last = Some(shown());
        }
        if (c.status_502 + c.status_504) > 0 {
            // A 2.x epoch-ms time is shown as RFC 3339, like every other time in the output.
            let epoch = rec.time.len() == 13 && rec.time.bytes().all(|b| b.is_ascii_digit());
            match epoch {
                true => self.sample(at, &text.replacen(rec.time, &shown(), 1)),
                false => self.sample(at, text),
            }
        }
    }

    /// `… current edgemicro version is 3.3.7` / `… current nodejs version is v18.20.4`, in
    /// the console and the 3.x log formats; a version is digits and dots (a `v` first).
    fn version(&mut self, text: &str, at: usize) {
        let before = &text[..at];
        let what = match before.rsplit(' ').next() {
            Some("edgemicro") => "edgemicro",
            Some("nodejs") | Some("node") => "nodejs",
            Some("microgateway-core") | Some("core") => "microgateway-core",
            _ => return,
        };
        let value: String = text[at + " version is ".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
            .take(32)
            .collect();
        if value
            .trim_start_matches('v')
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
        {
            let ms = text
                .get(..24)
                .and_then(iso_millis)
                .or_else(|| text.get(..13).and_then(|t| t.parse().ok()))
                .unwrap_or(0);
            if self.versions_ms.get(what).is_none_or(|seen| ms >= *seen) {
                self.versions_ms.insert(what.to_string(), ms);
                self.versions.insert(what.to_string(), value);
            }
        }
    }

    /// Keeps the `SAMPLES` earliest failing lines, in time order.
    fn sample(&mut self, at: i64, text: &str) {
        let slot = if self.samples.len() < SAMPLES {
            self.samples.push(String::new());
            self.sample_ms.push(at);
            self.samples.len() - 1
        } else {
            match self.sample_ms.iter().enumerate().max_by_key(|(_, ms)| **ms) {
                Some((i, latest)) if at < *latest => i,
                _ => return,
            }
        };
        self.samples[slot] = text.chars().take(400).collect();
        self.sample_ms[slot] = at;
        let mut order: Vec<usize> = (0..self.samples.len()).collect();
        order.sort_by_key(|i| self.sample_ms[*i]);
        self.samples = order.iter().map(|i| self.samples[*i].clone()).collect();
        self.sample_ms = order.iter().map(|i| self.sample_ms[*i]).collect();
    }

    /// The span of the records read (errors, 5xx and target responses), RFC 3339 UTC.
    pub(crate) fn span(&self) -> Option<(String, String)> {
        let show = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms)
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
                .unwrap_or_default()
        };
        self.span_ms.map(|(a, b)| (show(a), show(b)))
    }

    /// Passes every text the triage shows (sample lines, proxy paths, target names) through
    /// `redact`: the triage may read unredacted logs, its output never shows them.
    pub(crate) fn redact_shown(&mut self, mut redact: impl FnMut(&str) -> String) {
        for sample in &mut self.samples {
            *sample = redact(sample);
        }
        for map in [&mut self.by_target, &mut self.by_proxy] {
            *map =
                std::mem::take(map)
                    .into_iter()
                    .fold(BTreeMap::new(), |mut out, (key, counts)| {
                        add(out.entry(redact(&key)).or_default(), &counts);
                        out
                    });
        }
        self.timeline.rename(&mut redact);
        self.idle.rename_targets(redact);
    }
}

fn add(into: &mut Counts, c: &Counts) {
    into.status_502 += c.status_502;
    into.status_504 += c.status_504;
    into.socket_hang_up += c.socket_hang_up;
    into.econnreset += c.econnreset;
    into.etimedout += c.etimedout;
    into.econnrefused += c.econnrefused;
    into.client_abort += c.client_abort;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Teddy and the memmem fallback find the same interesting lines, and every line the
    /// line-by-line check calls interesting, whatever words share a line.
    #[test]
    fn both_finders_find_every_interesting_line() {
        let teddy = aho_corasick::packed::Searcher::new(INTERESTING_WORDS).expect("this CPU");
        let teddy = Finders::Teddy(teddy);
        let memmem = Finders::Memmem(
            INTERESTING_WORDS
                .iter()
                .map(|w| memchr::memmem::Finder::new(w.as_bytes()))
                .collect(),
        );
        let mut block = Vec::new();
        let words = [
            "error",
            "aborted",
            "targetResponse",
            "[502]",
            "s=504",
            " version is ",
            "Request m=",
            "plain",
        ];
        for (i, a) in words.iter().enumerate() {
            for b in &words[i..] {
                block.extend_from_slice(format!("x{a} y{b}z\nnothing here\n").as_bytes());
            }
        }
        let starts = |f: &Finders| {
            let mut v = Vec::new();
            f.each(&block, |at| {
                v.push(memchr::memrchr(b'\n', &block[..at]).map_or(0, |p| p + 1))
            });
            v.sort_unstable();
            v.dedup();
            v
        };
        let mut expected = Vec::new();
        let mut at = 0;
        for line in block.split_inclusive(|b| *b == b'\n') {
            if INTERESTING.is_match(line) {
                expected.push(at);
            }
            at += line.len();
        }
        assert_eq!(starts(&teddy), expected);
        assert_eq!(starts(&memmem), expected);
    }

    const CURRENT: &str = "\
2021-06-23T03:52:20.100Z [info][10.1.2.3:8080][3][myorg][test][emg_badtarget/flakey/hangup][][][aaa][plugins-middleware][targetResponse][GET][200][][][5]
2021-06-23T03:52:24.109Z [warn][10.1.2.3:8080][3][myorg][test][emg_badtarget/flakey/hangup][][][6b08][plugins-middleware][targetRequest error][GET][][socket hang up][ECONNRESET][395]
2021-06-23T03:52:24.110Z [error][0:8000][3][myorg][test][emg_badtarget/flakey/hangup][][][6b08][microgateway-core][][GET][502][socket hang up][ECONNRESET][]
2021-06-23T04:10:00.000Z [error][10.1.2.9:9000][3][myorg][test][slow/x?apikey=REDACTED_QUERY_SECRET][][][c504][plugins-middleware][targetRequest error][GET][][socket hang up][ECONNRESET][2002]
2021-06-23T04:10:00.001Z [error][0:8000][3][myorg][test][slow/x?apikey=REDACTED_QUERY_SECRET][][][c504][microgateway-core][][GET][504][Gateway timed out trying to reach target][][]
2021-06-23T04:11:00.000Z [error][0:8000][3][myorg][test][down/y][][][c999][microgateway-core][][GET][502][connect ECONNREFUSED 10.1.2.7:80][ECONNREFUSED][]
2021-06-23T04:12:00.000Z [error][0:8000][1][myorg][test][][][][][microgateway-core][][GET][404][no match found][][]
";

    #[test]
    fn current_format_counts_by_target_proxy_and_hour() {
        let mut t = Triage::default();
        CURRENT.lines().for_each(|l| t.line(l.as_bytes()));
        assert_eq!(t.totals.status_502, 2);
        assert_eq!(t.totals.status_504, 1);
        assert_eq!(
            t.totals.socket_hang_up, 2,
            "each target error once, not again on its 502/504"
        );
        assert_eq!(
            (t.kinds.hangup_502, t.kinds.refused_502, t.kinds.timeout_504),
            (1, 1, 1)
        );
        assert_eq!(
            t.by_target["10.1.2.3:8080"].status_502, 1,
            "the 502 is tied to its target"
        );
        assert_eq!(t.by_target["10.1.2.9:9000"].status_504, 1);
        assert_eq!(
            t.by_proxy["slow/x"].status_504, 1,
            "query strings are not part of the proxy"
        );
        assert_eq!(t.by_hour["2021-06-23T03:00"].status_502, 1);
        assert_eq!(t.first.as_deref(), Some("2021-06-23T03:52:24.109Z"));
        assert_eq!(t.last.as_deref(), Some("2021-06-23T04:11:00.000Z"));
        let estimates = t.idle.estimates();
        let idle = &estimates[0];
        assert_eq!(idle.target, "10.1.2.3:8080");
        assert!(
            (idle.idle_before_resets_s.min - 3.614).abs() < 0.001,
            "idle from the last response (03:52:20.100) to the request's start (24.109 - 0.395 s): {idle:?}"
        );
        assert_eq!(t.samples.len(), 3);
    }

    /// A query with `][` in it (`?f[a][b]=1`) does not hide the record: the triage reads it with
    /// the redactor's parser, target and all.
    #[test]
    fn a_url_holding_brackets_keeps_its_record() {
        let mut t = Triage::default();
        for url in ["p/x?f[a][b]=1", "p/x?q=][", "p/x?a[]=1&b[c]=2"] {
            let line = format!("2021-06-23T03:52:24.109Z [warn][10.1.2.3:8080][3][o][e][{url}][][][6b08][plugins-middleware][targetRequest error][GET][][socket hang up][ECONNRESET][395]");
            t.line(line.as_bytes());
        }
        assert_eq!(
            t.by_target["10.1.2.3:8080"].socket_hang_up, 3,
            "{:?}",
            t.by_target
        );
    }

    #[test]
    fn block_and_line_triage_agree() {
        let (mut by_line, mut by_block) = (Triage::default(), Triage::default());
        CURRENT.lines().for_each(|l| by_line.line(l.as_bytes()));
        by_block.block(CURRENT.as_bytes());
        assert_eq!(by_line.lines, by_block.lines);
        assert_eq!(by_line.totals, by_block.totals);
        assert_eq!(by_line.by_target, by_block.by_target);
    }

    #[test]
    fn fast_timestamps_agree_with_chrono() {
        for ts in [
            "2021-06-23T03:52:24.110Z",
            "2000-02-29T23:59:59.999Z",
            "1970-01-01T00:00:00.000Z",
            "2026-12-31T12:00:00.001Z",
        ] {
            let chrono = chrono::DateTime::parse_from_rfc3339(ts)
                .unwrap()
                .timestamp_millis();
            assert_eq!(iso_millis(ts), Some(chrono), "{ts}");
        }
    }

    #[test]
    fn old_2x_format_is_understood() {
        let mut t = Triage::default();
        for line in [
            "1624420344100 info targetRequest m=GET, u=/ping, h=localhost:8080, i=aa007400",
            "1624420344109 error name=Error, message=socket hang up, code=ECONNRESET, stack=Error: socket hang up",
            "    at createHangUpError (_http_client.js:331:15)",
            "1624420344110 error m=GET, u=/ping, h=gw:8000, r=10.0.0.1:5000, s=502, name=Error, message=socket hang up, code=ECONNRESET, stack=Error: socket hang up",
        ] {
            t.line(line.as_bytes());
        }
        assert_eq!(t.totals.status_502, 1);
        assert_eq!(t.kinds.hangup_502, 1);
        assert_eq!(t.by_proxy["ping"].status_502, 1);
        assert!(t.totals.econnreset >= 1);
    }

    /// What core 2.5.17 really writes (a cluster master's log, tests/emg/gateway2.js): the
    /// target error has `u=undefined, h=` and no client, the 502 record no correlation id.
    /// The request is followed from its start: the target and proxy are named, the reset is
    /// counted once, and the sample shows an RFC 3339 time.
    /// Core 2.5.13 and older, logging to the console, drop the epoch: `<level> <text> k=v`.
    /// The records count the same, bare or behind docker compose's prefix.
    #[test]
    fn records_of_2x_consoles_without_the_epoch_are_understood() {
        for prefix in ["", "gw_1  | "] {
            let mut t = Triage::default();
            for line in [
                "info sourceRequest m=GET, u=/h/x, h=127.0.0.1:18902, r=127.0.0.1:42078, i=21c8f770",
                "info targetRequest m=GET, u=/x, h=10.0.0.5:8080, i=21c8f770",
                "warn targetRequest error m=GET, u=/x, h=10.0.0.5:8080, r=:0, d=10, i=21c8f770, name=Error, message=socket hang up, code=ECONNRESET, stack=Error: socket hang up",
                "    at connResetException (node:internal/errors:720:14)",
                "error m=GET, u=/h/x, h=127.0.0.1:18902, r=127.0.0.1:42078, s=502, name=Error, message=socket hang up, code=ECONNRESET, stack=Error: socket hang up",
                "info: a plain line = not a record",
            ] {
                t.line(format!("{prefix}{line}").as_bytes());
            }
            assert_eq!(t.totals.status_502, 1, "{prefix:?}");
            assert_eq!(t.kinds.hangup_502, 1, "{prefix:?}");
            assert_eq!(
                t.by_target["10.0.0.5:8080"].status_502, 1,
                "{prefix:?}: {:?}",
                t.by_target
            );
        }
    }

    #[test]
    fn core_2_5_17_records_are_joined_by_correlation_id_and_client() {
        let mut t = Triage::default();
        for line in [
            "1795998580839 info sourceRequest m=GET, u=/h/x?apikey=REDACTED, h=127.0.0.1:18902, r=127.0.0.1:42078, i=21c8f770-ec55",
            "1795998580839 info sourceRequest m=GET, u=/other, h=127.0.0.1:18902, r=127.0.0.1:42099, i=99c8f770-ec55",
            "1795998580844 info targetRequest m=GET, u=/x?apikey=REDACTED, h=127.0.0.1:18903, i=21c8f770-ec55",
            "1795998580850 warn targetRequest error m=undefined, u=undefined, h=, r=:0, d=10, i=21c8f770-ec55, name=Error, message=socket hang up, code=ECONNRESET, stack=Error: socket hang up",
            "    at connResetException (node:internal/errors:720:14)",
            "1795998580851 error m=GET, u=/h/x?apikey=REDACTED, h=127.0.0.1:18902, r=127.0.0.1:42078, s=502, name=Error, message=socket hang up, code=ECONNRESET, stack=Error: socket hang up",
        ] {
            t.line(line.as_bytes());
        }
        assert_eq!(t.by_target.keys().collect::<Vec<_>>(), ["127.0.0.1:18903"]);
        let target = &t.by_target["127.0.0.1:18903"];
        assert_eq!((target.status_502, target.econnreset), (1, 1));
        assert_eq!(t.by_proxy.keys().collect::<Vec<_>>(), ["h/x"]);
        assert_eq!(t.kinds.hangup_502, 1);
        assert!(
            t.samples[0].starts_with("2026-11-30T00:29:40.851Z error m=GET"),
            "{:?}",
            t.samples
        );
    }

    /// 2.x epoch-millisecond records next to ISO ones (a host upgraded mid-incident): first and
    /// last are chosen by time, not by text, and both are written as RFC 3339 UTC.
    #[test]
    fn epoch_and_iso_times_come_out_as_rfc3339_in_time_order() {
        let mut t = Triage::default();
        for line in [
            "2021-06-23T03:52:24.110Z [error][0:8000][1][o][e][ping][1.2.3.4][][c1][microgateway-core][][GET][502][socket hang up][ECONNRESET][]",
            "1527621764751 error m=GET, u=/ping, h=gw:8000, r=10.0.0.1:5000, s=502, name=Error, message=socket hang up, code=ECONNRESET, stack=Error: socket hang up",
        ] {
            t.line(line.as_bytes());
        }
        assert_eq!(t.first.as_deref(), Some("2018-05-29T19:22:44.751Z"));
        assert_eq!(t.last.as_deref(), Some("2021-06-23T03:52:24.110Z"));
        assert!(
            t.by_hour.contains_key("2018-05-29T19:00"),
            "{:?}",
            t.by_hour.keys()
        );
    }

    /// The versions a gateway logs at start, from the console format and from plain records;
    /// the newest wins when a host was upgraded.
    #[test]
    fn versions_are_read_from_the_logs() {
        let mut t = Triage::default();
        for line in [
            "2026-01-01T00:00:00.000Z [1] [microgateway edgemicro] current nodejs version is v16.20.2",
            "2026-01-02T00:00:00.000Z [1] [microgateway edgemicro] current nodejs version is v18.20.4",
            "2026-01-02T00:00:00.001Z [1] [microgateway edgemicro] current edgemicro version is 3.3.7",
            "2026-01-01T00:00:00.000Z [1] [microgateway edgemicro] current edgemicro version is 3.3.1",
            "2026-01-02T00:00:00.002Z info 1 someone said the version is unknown",
        ] {
            t.line(line.as_bytes());
        }
        assert_eq!(
            t.versions.get("nodejs").map(String::as_str),
            Some("v18.20.4")
        );
        assert_eq!(
            t.versions.get("edgemicro").map(String::as_str),
            Some("3.3.7")
        );
        assert_eq!(t.versions.len(), 2);
    }

    /// Each failure class by its own words, whichever field carries them; a 502 after the
    /// client left is not the target's hang-up.
    #[test]
    fn causes_are_told_apart_by_code_and_message() {
        let rec = |corr: &str, msg: &str, status: &str, err: &str, code: &str| {
            format!("2026-01-01T00:00:00.000Z [error][10.0.0.1:443][7][o][e][p/x][1.2.3.4][][{corr}][plugins-middleware][{msg}][GET][{status}][{err}][{code}][3]")
        };
        let gw = |corr: &str, status: &str, err: &str, code: &str| {
            format!("2026-01-01T00:00:00.001Z [error][0:8000][7][o][e][p/x][1.2.3.4][][{corr}][microgateway-core][][GET][{status}][{err}][{code}][]")
        };
        let mut t = Triage::default();
        let mut lines = vec![
            gw(
                "d1",
                "502",
                "getaddrinfo ENOTFOUND api.example.invalid",
                "ENOTFOUND",
            ),
            gw(
                "d2",
                "502",
                "getaddrinfo EAI_AGAIN api.example",
                "EAI_AGAIN",
            ),
            gw(
                "t1",
                "502",
                "self signed certificate",
                "DEPTH_ZERO_SELF_SIGNED_CERT",
            ),
            gw("t2", "502", "certificate has expired", "CERT_HAS_EXPIRED"),
            gw(
                "t3",
                "502",
                "Hostname/IP does not match certificate's altnames",
                "ERR_TLS_CERT_ALTNAME_INVALID",
            ),
            gw(
                "t4",
                "502",
                "write EPROTO 140:error:1408F10B:SSL routines:ssl3_get_record:wrong version number",
                "EPROTO",
            ),
            gw(
                "h1",
                "400",
                "Parse Error: Header overflow",
                "HPE_HEADER_OVERFLOW",
            ),
            rec("a1", "targetResponse aborted", "200", "", ""),
        ];
        // The client leaves: a 499 record, then EMG's abort of the target request, then a 502.
        lines.push(rec(
            "c1",
            "sourceResponse on close, source request aborted - abort target request",
            "499",
            "",
            "",
        ));
        lines.push(rec(
            "c1",
            "targetRequest error",
            "",
            "socket hang up",
            "ECONNRESET",
        ));
        lines.push(gw("c1", "502", "socket hang up", "ECONNRESET"));
        // A real hang-up on the same target, for contrast.
        lines.push(rec(
            "r1",
            "targetRequest error",
            "",
            "socket hang up",
            "ECONNRESET",
        ));
        lines.push(gw("r1", "502", "socket hang up", "ECONNRESET"));
        for l in &lines {
            t.line(l.as_bytes());
        }
        let k = &t.kinds;
        assert_eq!(
            (k.dns_502, k.tls_502, k.header_overflow),
            (2, 4, 1),
            "{k:?}"
        );
        assert_eq!(k.target_response_aborted, 1);
        assert_eq!(
            (k.client_aborts, k.client_abort_502, k.hangup_502),
            (1, 1, 1),
            "{k:?}"
        );
        let target = &t.by_target["10.0.0.1:443"];
        assert_eq!(
            (target.client_abort, target.socket_hang_up),
            (1, 1),
            "{target:?}"
        );
        assert_eq!(k.other_502, 0, "{:?}", k.other_codes);
    }

    /// Records behind transport prefixes, padding or a torn record are counted like bare ones.
    #[test]
    fn records_are_found_behind_any_framing() {
        let bare = [
            "2021-06-23T03:52:24.109Z [warn][10.1.2.3:8080][3][o][e][p/x][][][c1][plugins-middleware][targetRequest error][GET][][socket hang up][ECONNRESET][5]",
            "2021-06-23T03:52:24.110Z [error][0:8000][3][o][e][p/x][][][c1][microgateway-core][][GET][502][socket hang up][ECONNRESET][]",
            "1624420344110 error m=GET, u=/ping, h=gw:8000, r=10.0.0.1:5000, s=502, name=Error, message=socket hang up, code=ECONNRESET, stack=Error: socket hang up",
        ];
        let prefixes = [
            "svc_1  | ",
            "edgemicro-7d9f-x2 | ",
            "2026-11-29T10:00:00.123456789Z ",
            "Nov 29 10:00:00 gw1 edgemicro[4242]: ",
            "\r",
            "\0\0\0",
            "2021-06-23T03:52:24.108Z [error][0:8000][3][o][e][torn",
            "[pod/emg-0/edgemicro] ",
        ];
        let mut reference = Triage::default();
        bare.iter().for_each(|l| reference.line(l.as_bytes()));
        assert_eq!(reference.totals.status_502, 2);
        for prefix in prefixes {
            let mut t = Triage::default();
            for l in bare {
                t.line(format!("{prefix}{l}").as_bytes());
            }
            assert_eq!(t.totals, reference.totals, "behind {prefix:?}");
            assert_eq!(
                t.kinds.hangup_502, reference.kinds.hangup_502,
                "behind {prefix:?}"
            );
            assert_eq!(t.by_target, reference.by_target, "behind {prefix:?}");
        }
    }
}
