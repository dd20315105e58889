//! The keep-alive race from the logs alone: per target, how long the target had been idle
//! before each request, for the requests that reset and for those that succeeded.
//!
//! EMG logs no socket ids, so the idle time is the time from the previous response the same
//! worker (pid) got from the target to this request's start (its record time minus the time it
//! took): a lower bound on the reused socket's idle time, exact for one request at a time (Node's
//! agent reuses the most recently freed socket). After a reset the worker's pool toward the
//! target starts again, so the next request counts from the reset; but a success right after a
//! reset gives no sample while the pool looks like one socket: it opened a fresh connection, and
//! counting it would call a fresh connection's success a survived pause.
//!
//! A race leaves a shape no target failure does: resets gather in one band of idle times that
//! few successes share, above the idle times at which reuse works. A target that sends a FIN at
//! T gives a narrow band just above T (the FIN was in flight; later requests see it and open a
//! fresh connection); a middlebox that drops idle connections silently resets everything above
//! T. Hang-ups of a failing target spread over short and long idle times alike.
//!
//! Memory is bounded: at most `KEYS` workers×targets and `SAMPLES` successes per target (a
//! uniform reservoir beyond that); resets are capped at `RESETS` per target.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

const KEYS: usize = 4096;
/// At most 128 targets × 12 288 samples × 8 bytes = 12 MiB, whatever the logs hold: the
/// run's whole budget is 64 MiB (issue #22). 8 192 successes sampled uniformly separate a
/// reset band as well as all of them.
const TARGETS: usize = 128;
const SAMPLES: usize = 8_192;
const RESETS: usize = 4_096;
/// A race needs a socket that sat idle: a band starting below this is not one.
const MIN_IDLE_MS: u32 = 100;

#[derive(Debug, Clone, Copy)]
struct Sample {
    idle_ms: u32,
    taken_ms: u32,
}

#[derive(Debug, Default)]
struct Samples {
    resets: Vec<Sample>,
    successes: Vec<Sample>,
    /// Successes seen (the reservoir keeps `SAMPLES` of them).
    seen: u64,
    rng: u64,
}

/// One worker's pool toward one target, as far as its records show.
#[derive(Debug, Clone, Copy)]
struct Worker {
    /// When it last got a response from (or a reset by) the target.
    free_ms: i64,
    /// Whether that was a reset.
    after_reset: bool,
    /// Whether two resets in a row showed more than one pooled socket.
    many_sockets: bool,
}

#[derive(Debug, Default)]
pub(crate) struct Idle {
    /// (pid, target), hashed → that worker's pool toward the target. A hash, not the strings:
    /// this runs on every target response of every log.
    last_free: HashMap<u64, Worker>,
    by_target: BTreeMap<String, Samples>,
}

impl Idle {
    /// Files are read newest first: idle times never run across a file boundary.
    pub(crate) fn new_file(&mut self) {
        self.last_free.clear();
    }

    /// A request's outcome on `target`: `at_ms` is the record's time, `taken_ms` how long the
    /// request took (the record's last field), `reset` whether the connection was reset or hung up.
    pub(crate) fn outcome(
        &mut self,
        pid: &str,
        target: &str,
        at_ms: i64,
        taken_ms: i64,
        reset: bool,
    ) {
        let key = worker_key(pid, target);
        let start = at_ms - taken_ms.max(0);
        let idle = self
            .last_free
            .get(&key)
            .map(|w| start - w.free_ms)
            .filter(|idle| *idle >= 0);
        let (after_reset, mut many) = self
            .last_free
            .get(&key)
            .map_or((false, false), |w| (w.after_reset, w.many_sockets));
        // Two resets in a row: the second reused another idle socket, so this pool holds more
        // than one.
        many |= after_reset && reset;
        if self.last_free.len() < KEYS || self.last_free.contains_key(&key) {
            let w = self.last_free.entry(key).or_insert(Worker {
                free_ms: at_ms,
                after_reset: reset,
                many_sockets: many,
            });
            *w = Worker {
                free_ms: w.free_ms.max(at_ms),
                after_reset: reset,
                many_sockets: many,
            };
        }
        let Some(idle) = idle else {
            return;
        };
        // A reset destroys its socket: in a pool of one, the next request goes out on a fresh
        // connection, and a success then says nothing of the pause it followed.
        if after_reset && !reset && !many {
            return;
        }
        if self.by_target.len() >= TARGETS && !self.by_target.contains_key(target) {
            return;
        }
        let samples = self.by_target.entry(target.to_string()).or_default();
        let sample = Sample {
            idle_ms: u32::try_from(idle).unwrap_or(u32::MAX),
            taken_ms: u32::try_from(taken_ms.max(0)).unwrap_or(u32::MAX),
        };
        if reset {
            if samples.resets.len() < RESETS {
                samples.resets.push(sample);
            }
            return;
        }
        samples.seen += 1;
        if samples.successes.len() < SAMPLES {
            samples.successes.push(sample);
        } else {
            // Reservoir sampling (xorshift): every success is kept with the same chance.
            samples.rng ^= samples.rng << 13 | 0x9e37_79b9;
            samples.rng ^= samples.rng >> 7;
            samples.rng ^= samples.rng << 17;
            let slot = samples.rng % samples.seen;
            if let Some(kept) = samples.successes.get_mut(slot as usize) {
                *kept = sample;
            }
        }
    }

    /// The end of a response (`targetResponse close`): the socket went back to the pool.
    pub(crate) fn freed(&mut self, pid: &str, target: &str, at_ms: i64) {
        if let Some(free) = self.last_free.get_mut(&worker_key(pid, target)) {
            free.free_ms = free.free_ms.max(at_ms);
        }
    }

    /// Target names as shown (redacted); samples of targets that become one name are joined.
    pub(crate) fn rename_targets(&mut self, mut name: impl FnMut(&str) -> String) {
        for (target, mut samples) in std::mem::take(&mut self.by_target) {
            let into = self.by_target.entry(name(&target)).or_default();
            into.resets.append(&mut samples.resets);
            into.successes.append(&mut samples.successes);
            into.seen += samples.seen;
        }
    }

    /// Resets and successes on `target` in `bins` equal bins of idle time, up to the 99th
    /// percentile of all idle times (or just past the estimated close).
    pub(crate) fn histogram(&self, target: &str, bins: usize) -> Option<Histogram> {
        let s = self.by_target.get(target)?;
        let mut all: Vec<u32> = s
            .resets
            .iter()
            .chain(&s.successes)
            .map(|r| r.idle_ms)
            .collect();
        if all.is_empty() || bins == 0 {
            return None;
        }
        all.sort_unstable();
        let top = all[(all.len() * 99 / 100).min(all.len() - 1)].max(1);
        let bin_ms = (f64::from(top) / bins as f64).max(1.0);
        let mut out = vec![(0u64, 0u64); bins];
        let slot = |ms: u32| ((f64::from(ms) / bin_ms) as usize).min(bins - 1);
        s.resets.iter().for_each(|r| out[slot(r.idle_ms)].0 += 1);
        s.successes.iter().for_each(|r| out[slot(r.idle_ms)].1 += 1);
        Some(Histogram {
            bin_s: bin_ms / 1000.0,
            bins: out,
        })
    }

    /// Successes with a known idle time on `target`.
    pub(crate) fn successes_on(&self, target: &str) -> u64 {
        self.by_target.get(target).map_or(0, |s| s.seen)
    }

    /// What idle time says about each target with resets.
    pub(crate) fn estimates(&self) -> Vec<Estimate> {
        self.by_target
            .iter()
            .filter(|(_, s)| !s.resets.is_empty())
            .map(|(target, s)| estimate(target, s))
            .collect()
    }
}

fn worker_key(pid: &str, target: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h =
        std::hash::BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default()
            .build_hasher();
    h.write(pid.as_bytes());
    h.write_u8(0xff);
    h.write(target.as_bytes());
    h.finish()
}

/// Idle times binned: (resets, successes) per bin of `bin_s` seconds; the last bin holds the rest.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    pub(crate) bin_s: f64,
    pub(crate) bins: Vec<(u64, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Verdict {
    /// Idle time explains the resets: the keep-alive race.
    KeepaliveRace,
    /// The resets spread over idle times the successes share: the target fails by itself.
    NotIdle,
    /// Too few requests to tell.
    TooFew,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub(crate) enum Confidence {
    High,
    Medium,
    Low,
}

/// min / median / max in seconds.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Spread {
    pub(crate) min: f64,
    pub(crate) median: f64,
    pub(crate) max: f64,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Estimate {
    pub(crate) target: String,
    pub(crate) verdict: Verdict,
    pub(crate) confidence: Confidence,
    /// Requests with a known idle time before them.
    pub(crate) resets: usize,
    pub(crate) successes: usize,
    /// The idle time (s) from which the target had closed: the shortest idle before a reset in
    /// the band. `None` unless the verdict is a race.
    pub(crate) idle_close_s: Option<f64>,
    /// The target's idle close lies in (low, high]: above the longest idle a reuse survived,
    /// at most the shortest idle a reuse died at.
    pub(crate) interval_s: Option<(f64, f64)>,
    /// The band of idle times (s) holding the resets.
    pub(crate) band_s: (f64, f64),
    /// Share of the resets inside the band, and of requests inside it that reset.
    pub(crate) resets_in_band: f64,
    pub(crate) reset_rate_in_band: f64,
    /// Reset rate among requests that had been idle less than the band.
    pub(crate) reset_rate_below_band: f64,
    pub(crate) idle_before_resets_s: Spread,
    pub(crate) idle_before_successes_s: Option<Spread>,
    /// Median time (s) a reset request took, and a successful one: a target that worked for a
    /// while before hanging up was not racing a close.
    pub(crate) reset_took_median_s: f64,
    pub(crate) success_took_median_s: Option<f64>,
    pub(crate) reason: String,
}

fn spread(mut v: Vec<u32>) -> Option<Spread> {
    if v.is_empty() {
        return None;
    }
    v.sort_unstable();
    let s = |ms: u32| f64::from(ms) / 1000.0;
    Some(Spread {
        min: s(v[0]),
        median: s(v[v.len() / 2]),
        max: s(v[v.len() - 1]),
    })
}

fn median_s(v: &[Sample], of: impl Fn(&Sample) -> u32) -> Option<f64> {
    let mut m: Vec<u32> = v.iter().map(of).collect();
    m.sort_unstable();
    m.get(m.len() / 2).map(|ms| f64::from(*ms) / 1000.0)
}

fn round3(s: f64) -> f64 {
    (s * 1000.0).round() / 1000.0
}

/// Hypergeometric tail: drawing `group` of `total` requests of which `resets` reset, the chance
/// of at most `at_most` resets in the group.
fn coincidence(total: usize, resets: usize, group: usize, at_most: usize) -> f64 {
    if group == 0 || resets == 0 || group > total {
        return 1.0;
    }
    let (n, k, g) = (total as f64, resets as f64, group as f64);
    // P(X = 0) = prod (total - resets - i) / (total - i), i < group; then step up to at_most.
    let mut ln_p0 = 0.0;
    for i in 0..group {
        let good = n - k - i as f64;
        if good <= 0.0 {
            ln_p0 = f64::NEG_INFINITY;
            break;
        }
        ln_p0 += good.ln() - (n - i as f64).ln();
    }
    let mut p = ln_p0.exp();
    let mut sum = p;
    for x in 0..at_most.min(group).min(resets) {
        let x = x as f64;
        let denominator = (x + 1.0) * (n - k - g + x + 1.0);
        if denominator <= 0.0 {
            break;
        }
        p *= (k - x) * (g - x) / denominator;
        sum += p;
    }
    sum.min(1.0)
}

/// The run of idle times where resets outweigh successes, and what lies below it.
struct Band {
    /// Requests in idle order: (idle ms, reset?).
    all: Vec<(u32, bool)>,
    /// The band's first and last index in `all`.
    at: (usize, usize),
    lo: u32,
    hi: u32,
    resets_in: usize,
    successes_below: usize,
    /// Share of all resets inside the band; reset rates inside, below and near it.
    share_in: f64,
    rate_in: f64,
    rate_below: f64,
    rate_near: f64,
    /// The longest idle a reuse survived below the band: the close lies above it.
    survived: Option<u32>,
    /// How likely so few resets below the band would be if resets did not depend on idle.
    chance: f64,
}

impl Band {
    fn of(s: &Samples) -> Band {
        // Requests in idle order; the band is the run of idle times where resets outweigh
        // successes two to one (maximum subarray: +1 per reset, -1/2 per success).
        let mut all: Vec<(u32, bool)> = s
            .resets
            .iter()
            .map(|r| (r.idle_ms, true))
            .chain(s.successes.iter().map(|r| (r.idle_ms, false)))
            .collect();
        all.sort_unstable_by_key(|(idle, reset)| (*idle, !*reset));
        let (mut best, mut at) = (f64::MIN, (0, 0));
        let (mut sum, mut from) = (0.0, 0);
        for (i, (_, reset)) in all.iter().enumerate() {
            if sum <= 0.0 {
                sum = 0.0;
                from = i;
            }
            sum += if *reset { 1.0 } else { -0.5 };
            if sum > best {
                best = sum;
                at = (from, i);
            }
        }
        let (lo, hi) = (all[at.0].0, all[at.1].0);
        let band = &all[at.0..=at.1];
        let resets_in = band.iter().filter(|(_, r)| *r).count();
        let below = &all[..at.0];
        let resets_below = below.iter().filter(|(_, r)| *r).count();
        let rate_below = if below.is_empty() {
            0.0
        } else {
            resets_below as f64 / below.len() as f64
        };
        let survived = below
            .iter()
            .rev()
            .find(|(_, reset)| !*reset)
            .map(|(idle, _)| *idle);
        // A band is a property of idle time only if it survives a little widening: one that
        // splits requests made after the same pause (a few ms of jitter apart) is a
        // coincidence of order.
        let margin = 5u32.max(lo / 33);
        let near: Vec<&(u32, bool)> = all
            .iter()
            .filter(|(idle, _)| *idle + margin >= lo && *idle <= hi.saturating_add(margin))
            .collect();
        let rate_near = near.iter().filter(|(_, r)| *r).count() as f64 / near.len().max(1) as f64;
        // The band was picked to fit, so the bar is low: 1 in 10 000 for a sure race; up to 1
        // in 100 it is called one with low confidence, since few requests cannot reach the bar.
        let chance = coincidence(
            band.len() + below.len(),
            resets_in + resets_below,
            below.len(),
            resets_below,
        );
        Band {
            at,
            lo,
            hi,
            resets_in,
            successes_below: below.len() - resets_below,
            share_in: resets_in as f64 / s.resets.len() as f64,
            rate_in: resets_in as f64 / band.len() as f64,
            rate_below,
            rate_near,
            survived,
            chance,
            all,
        }
    }

    fn below(&self) -> usize {
        self.at.0
    }

    /// Race, not idle, or too few, and the reason in words.
    fn verdict(
        &self,
        s: &Samples,
        reset_took: f64,
        success_took: Option<f64>,
    ) -> (Verdict, String) {
        let (resets, successes) = (s.resets.len(), s.successes.len());
        let (lo, hi, chance) = (self.lo, self.hi, self.chance);
        let worked_first = reset_took > 0.2f64.max(2.0 * success_took.unwrap_or(0.0));
        if resets < 3 || successes < 3 {
            (
                Verdict::TooFew,
                format!("{resets} reset(s) and {successes} success(es) with a known idle time: too few to tell"),
            )
        } else if worked_first {
            (
                Verdict::NotIdle,
                format!("the resets took {reset_took:.3} s (median), successes {:.3} s: the target was working on the requests before it closed", success_took.unwrap_or(0.0)),
            )
        } else if self.share_in >= 0.75
            && lo >= MIN_IDLE_MS
            && self.successes_below >= 3.max(successes / 10)
            && self.rate_below <= 0.1
            && chance < 1e-2
            && self.rate_near >= 0.5
        {
            (
                Verdict::KeepaliveRace,
                format!(
                    "{} of {resets} resets came after {:.3}–{:.3} s idle, where {:.0} % of requests reset; below that, {:.0} % of {} requests did (by chance: p = {chance:.1e})",
                    self.resets_in,
                    f64::from(lo) / 1000.0,
                    f64::from(hi) / 1000.0,
                    self.rate_in * 100.0,
                    self.rate_below * 100.0,
                    self.below()
                ),
            )
        } else if s.successes.iter().map(|r| r.idle_ms).max()
            < s.resets.iter().map(|r| r.idle_ms).min()
        {
            // Cleanly apart, and still not enough to tell from chance: say so, not "the same
            // range".
            (
                Verdict::TooFew,
                format!(
                    "every reset came after a longer pause (from {:.3} s) than every success (up to {:.3} s), but {} requests are too few to tell that from chance (p = {chance:.1e})",
                    f64::from(lo) / 1000.0,
                    f64::from(self.survived.unwrap_or(0)) / 1000.0,
                    resets + successes
                ),
            )
        } else {
            (
                Verdict::NotIdle,
                format!(
                    "resets came after idle times from {:.3} to {:.3} s, the same range as the successes: idle time does not explain them",
                    s.resets.iter().map(|r| r.idle_ms).min().unwrap_or(0) as f64 / 1000.0,
                    s.resets.iter().map(|r| r.idle_ms).max().unwrap_or(0) as f64 / 1000.0,
                ),
            )
        }
    }

    fn confidence(&self, verdict: Verdict, resets: usize, successes: usize) -> Confidence {
        match verdict {
            Verdict::TooFew => Confidence::Low,
            Verdict::KeepaliveRace if self.chance >= 1e-4 => Confidence::Low,
            _ if resets >= 10
                && successes >= 10
                && (self.share_in >= 0.9 || verdict == Verdict::NotIdle)
                && self.rate_below <= 0.05 =>
            {
                Confidence::High
            }
            _ if resets >= 5 => Confidence::Medium,
            _ => Confidence::Low,
        }
    }

    /// Where the close lies in [survived, lo]: a FIN in flight resets only just after the close
    /// (later requests get a fresh socket and succeed), so `lo` is it. When no reuse succeeded
    /// after a longer pause (a silent drop resets every one), nothing places it nearer either
    /// end, and the middle errs least.
    fn close_ms(&self) -> f64 {
        let silent = !self.all[self.at.1 + 1..].iter().any(|(_, reset)| !*reset);
        match self.survived {
            Some(below) if silent => (f64::from(below) + f64::from(self.lo)) / 2.0,
            _ => f64::from(self.lo),
        }
    }
}

fn estimate(target: &str, s: &Samples) -> Estimate {
    let band = Band::of(s);
    let (resets, successes) = (s.resets.len(), s.successes.len());
    let reset_took = median_s(&s.resets, |r| r.taken_ms).unwrap_or(0.0);
    let success_took = median_s(&s.successes, |r| r.taken_ms);
    let (verdict, reason) = band.verdict(s, reset_took, success_took);
    let confidence = band.confidence(verdict, resets, successes);
    let race = verdict == Verdict::KeepaliveRace;
    let (lo, hi) = (band.lo, band.hi);
    Estimate {
        target: target.to_string(),
        verdict,
        confidence,
        resets,
        successes,
        idle_close_s: race.then(|| round3(band.close_ms() / 1000.0)),
        interval_s: race.then(|| {
            (
                round3(f64::from(band.survived.unwrap_or(0)) / 1000.0),
                round3(f64::from(lo) / 1000.0),
            )
        }),
        band_s: (
            round3(f64::from(lo) / 1000.0),
            round3(f64::from(hi) / 1000.0),
        ),
        resets_in_band: round3(band.share_in),
        reset_rate_in_band: round3(band.rate_in),
        reset_rate_below_band: round3(band.rate_below),
        idle_before_resets_s: spread(s.resets.iter().map(|r| r.idle_ms).collect())
            .expect("resets are not empty"),
        idle_before_successes_s: spread(s.successes.iter().map(|r| r.idle_ms).collect()),
        reset_took_median_s: reset_took,
        success_took_median_s: success_took,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds a sequence of (gap before the request in ms, reset?) on one target, one worker,
    /// requests taking 2 ms.
    fn run(gaps: &[(i64, bool)]) -> Estimate {
        let mut idle = Idle::default();
        let mut now = 1_000_000;
        idle.outcome("1", "t:80", now, 2, false);
        for (gap, reset) in gaps {
            now += gap + 2;
            idle.outcome("1", "t:80", now, 2, *reset);
        }
        idle.estimates().remove(0)
    }

    /// The outcomes a pool of one socket sees behind a silent drop at `close` ms: a pause of
    /// `close` or more resets the pooled socket, and the next request goes out on a fresh one.
    fn silent_drop(gaps: Vec<i64>, close: i64) -> Vec<(i64, bool)> {
        let mut pooled = true;
        gaps.into_iter()
            .map(|gap| {
                let reset = pooled && gap >= close;
                pooled = !reset;
                (gap, reset)
            })
            .collect()
    }

    /// A race, with its close within 20 % of `close` ms.
    fn race_near(e: &Estimate, close: i64, what: &str) {
        assert_eq!(e.verdict, Verdict::KeepaliveRace, "{what}: {e:?}");
        let found = e.idle_close_s.unwrap() * 1000.0;
        assert!(
            (found - close as f64).abs() <= 0.2 * close as f64,
            "{what}: {found} {e:?}"
        );
    }

    /// Deterministic pseudo-random gaps from 50 ms to 3 s.
    fn gaps(n: usize, seed: u64) -> Vec<i64> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                50 + (x % 2950) as i64
            })
            .collect()
    }

    #[test]
    fn a_silent_idle_drop_is_a_race_with_the_threshold_found() {
        for (seed, close) in [(1, 1500), (2, 800), (3, 2200), (4, 400)] {
            let seq: Vec<(i64, bool)> = gaps(80, seed)
                .into_iter()
                .map(|g| (g, g >= close))
                .collect();
            let e = run(&seq);
            assert_eq!(e.verdict, Verdict::KeepaliveRace, "{close}: {e:?}");
            let found = e.idle_close_s.unwrap();
            assert!(
                (found - close as f64 / 1000.0).abs() <= 0.2 * close as f64 / 1000.0,
                "{close}: {found}"
            );
            let (low, high) = e.interval_s.unwrap();
            assert!(
                low * 1000.0 < close as f64 && close as f64 <= high * 1000.0 + 1.0,
                "{e:?}"
            );
        }
    }

    /// Traffic with few distinct pauses (a poller, a health check): the close lies between the
    /// longest pause a reuse survived and the shortest that reset, and when every longer pause
    /// reset too (a silent drop), the middle of that gap is the estimate, not its top.
    #[test]
    fn a_silent_drop_seen_through_coarse_pauses_is_placed_between_them() {
        for (seed, close) in [(21u64, 1200i64), (22, 1500), (23, 800), (24, 2000)] {
            let pauses = [0.2, 0.5, 0.8, 1.28, 1.6, 2.0].map(|f| (f * close as f64) as i64);
            let mut x = seed;
            let seq: Vec<(i64, bool)> = (0..60)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let gap = pauses[(x % pauses.len() as u64) as usize];
                    (gap, gap >= close)
                })
                .collect();
            let e = run(&seq);
            assert_eq!(e.verdict, Verdict::KeepaliveRace, "{close}: {e:?}");
            let found = e.idle_close_s.unwrap() * 1000.0;
            assert!(
                (found - close as f64).abs() <= 0.1 * close as f64,
                "{close}: {found} {e:?}"
            );
            let (low, high) = e.interval_s.unwrap();
            assert!(
                low * 1000.0 < close as f64 && close as f64 <= high * 1000.0 + 1.0,
                "{e:?}"
            );
        }
    }

    /// The shape support sees most: a middlebox drops connections idle for T, and about 20 of
    /// 60 requests reset. Whatever the order of the pauses (60 seeds for each T), the race is
    /// found and T placed within 20 %.
    #[test]
    fn sixty_requests_through_a_silent_drop_are_a_race_whatever_the_order() {
        for close in [1000i64, 1500, 2000] {
            for seed in 1..=60u64 {
                let e = run(&silent_drop(gaps(60, seed * 7919), close));
                race_near(&e, close, &format!("{close} #{seed}"));
            }
        }
    }

    /// As a real pool sees a silent drop: a request after a reset goes out on a fresh
    /// connection and succeeds whatever the pause before it, so its pause says nothing of the
    /// close. The race is still found, and the close placed within 20 %.
    #[test]
    fn a_silent_drop_through_a_real_pool_is_a_race() {
        for (seed, close) in [
            (31u64, 1200i64),
            (32, 1500),
            (33, 800),
            (34, 2200),
            (35, 400),
        ] {
            let e = run(&silent_drop(gaps(120, seed), close));
            race_near(&e, close, &close.to_string());
        }
    }

    #[test]
    fn a_fin_in_flight_gives_a_narrow_band_and_still_a_race() {
        for (seed, close) in [(5, 1000), (6, 1500), (7, 700)] {
            // Resets only within 100 ms after the close; later requests open a fresh socket.
            let seq: Vec<(i64, bool)> = gaps(120, seed)
                .into_iter()
                .map(|g| (g, (close..close + 100).contains(&g)))
                .chain((0..6).map(|i| (close + 10 + i * 15, true)))
                .collect();
            let e = run(&seq);
            assert_eq!(e.verdict, Verdict::KeepaliveRace, "{close}: {e:?}");
            let found = e.idle_close_s.unwrap();
            assert!(
                (found * 1000.0 - close as f64).abs() <= 0.2 * close as f64,
                "{e:?}"
            );
        }
    }

    #[test]
    fn hang_ups_spread_over_idle_times_are_not_a_race() {
        for (seed, every) in [(8, 5), (9, 3), (10, 4), (11, 7)] {
            let seq: Vec<(i64, bool)> = gaps(100, seed)
                .into_iter()
                .enumerate()
                .map(|(i, g)| (g, i % every == 0))
                .collect();
            let e = run(&seq);
            assert_eq!(e.verdict, Verdict::NotIdle, "every {every}: {e:?}");
            assert_eq!(e.idle_close_s, None);
        }
    }

    /// A target failing half its requests, reached never sooner than 0.5 s apart: resets fill
    /// every idle time, and no short idle shows reuse working, so nothing points at idle time.
    #[test]
    fn frequent_hang_ups_with_no_short_idle_are_not_a_race() {
        for (seed, every) in [(12, 2), (13, 2), (14, 3)] {
            let seq: Vec<(i64, bool)> = gaps(60, seed)
                .into_iter()
                .enumerate()
                .map(|(i, g)| (g + 450, i % every == 0))
                .collect();
            let e = run(&seq);
            assert_ne!(e.verdict, Verdict::KeepaliveRace, "every {every}: {e:?}");
        }
    }

    #[test]
    fn few_requests_are_too_few() {
        let e = run(&[(2000, true), (100, false), (2000, true)]);
        assert_eq!(e.verdict, Verdict::TooFew);
        assert_eq!(e.confidence, Confidence::Low);
    }

    /// Two workers each keep their own pool: one worker's traffic does not make the other's
    /// socket look fresh.
    #[test]
    fn idle_is_per_worker() {
        let mut idle = Idle::default();
        idle.outcome("1", "t:80", 0, 1, false);
        idle.outcome("2", "t:80", 500, 1, false);
        idle.outcome("1", "t:80", 2000, 1, true);
        let s = &idle.by_target["t:80"];
        assert_eq!(
            s.resets[0].idle_ms, 1999,
            "from worker 1's own last response"
        );
    }

    /// Request loops with a few fixed gaps and a little jitter (what test clients and cron jobs
    /// do): a target failing every k-th request must never look like a race, whatever the seed.
    #[test]
    fn periodic_hang_ups_with_discrete_gaps_are_never_a_race() {
        let sets: [&[i64]; 4] = [
            &[50, 300, 700, 1200],
            &[100, 1000],
            &[200, 500, 900, 1500, 2500],
            &[1000, 1010, 2000],
        ];
        let mut false_races = Vec::new();
        for seed in 1..400u64 {
            let set = sets[(seed % 4) as usize];
            let every = [3, 4, 5, 7][(seed / 4 % 4) as usize];
            let n = 40 + (seed % 3) as usize * 30;
            let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let seq: Vec<(i64, bool)> = (0..n)
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let jitter = (x >> 40) as i64 % 7 - 3;
                    (
                        set[(x % set.len() as u64) as usize] + jitter,
                        i % every == every - 1,
                    )
                })
                .collect();
            let e = run(&seq);
            if e.verdict == Verdict::KeepaliveRace {
                false_races.push((seed, e.reason));
            }
        }
        assert!(
            false_races.is_empty(),
            "{} false races: {:?}",
            false_races.len(),
            &false_races[..false_races.len().min(5)]
        );
    }

    /// Many races of both shapes (a FIN in flight for 100 ms, a silent drop) at idle closes from
    /// 0.3 to 3 s under random traffic: found, and the close estimated within ±20 %.
    #[test]
    fn races_of_both_shapes_are_found_across_closes_and_traffic() {
        let (mut tried, mut found, mut off) = (0, 0, Vec::new());
        for seed in 1..300u64 {
            let mut x = seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1;
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            let close = 300 + (next() % 2700) as i64;
            let silent = seed % 2 == 0;
            let n = 60 + (next() % 60) as usize;
            let seq: Vec<(i64, bool)> = (0..n)
                .map(|_| {
                    let gap = 50 + (next() % (2 * close as u64 + 500)) as i64;
                    let reset = if silent {
                        gap >= close
                    } else {
                        (close..close + 100).contains(&gap)
                    };
                    (gap, reset)
                })
                .collect();
            if seq.iter().filter(|(_, r)| *r).count() < 5 {
                continue;
            }
            tried += 1;
            let e = run(&seq);
            if e.verdict == Verdict::KeepaliveRace {
                found += 1;
                let est = e.idle_close_s.unwrap() * 1000.0;
                if (est - close as f64).abs() > 0.2 * close as f64 {
                    off.push((seed, close, est));
                }
            }
        }
        eprintln!("races found {found} of {tried}");
        assert!(found * 100 >= tried * 95, "found {found} of {tried}");
        assert!(off.is_empty(), "estimates off by more than 20 %: {off:?}");
    }
}
