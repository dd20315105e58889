//! The known secrets as one searcher: a DFA over each value's first `HEAD` bytes finds where a
//! secret may start, and the whole value is then compared there.
//!
//! A DFA over the whole values is the fastest scan but costs memory in proportion to their
//! bytes: a config with two EMG keys and two PEM keys, each in ten encodings, made a 12 MB
//! automaton (twice: the redactor and the self-check). The heads keep the same scan for a
//! fraction of that, and a secret's head without the rest of it is rare enough to cost nothing.
//!
//! Hundreds of values (every secret in a dozen encodings) leave the automaton no prefilter, so
//! it walked every byte at ~450 MB/s, twice per log byte (the redactor and the self-check). A
//! sampled 4-gram filter in front of it looks at one position in `step`: any value of at least
//! `step + 3` bytes covers one sampled position with a 4-gram of its own first `step + 3`
//! bytes, so a position whose 4-gram is in no value cannot be near a match, and the automaton
//! runs, anchored, only at the few starts a hit leaves open. Same matches, a fraction of the work.

use aho_corasick::{
    AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Anchored, Input, MatchKind, StartKind,
};

/// Bytes of each value in the automaton.
const HEAD: usize = 24;
/// The filter's table: 2^BITS bits (128 KiB, cache-resident).
const BITS: u32 = 20;

/// The 4-grams of every value's first `step + 3` bytes, as bits of a hashed table.
struct Sampler {
    bits: Box<[u64]>,
    step: usize,
}

impl Sampler {
    /// `None` when a value is too short to leave a sampling step worth having.
    fn new(values: &[Vec<u8>]) -> Option<Self> {
        let shortest = values.iter().map(Vec::len).min()?;
        // A longer step skips more, but puts more 4-grams in the table; 13 keeps it sparse.
        let step = shortest.min(16).checked_sub(3).filter(|&s| s >= 2)?;
        let mut bits = vec![0u64; 1 << (BITS - 6)].into_boxed_slice();
        for v in values {
            for k in 0..step {
                let h = Self::hash(&v[k..k + 4]);
                bits[h >> 6] |= 1 << (h & 63);
            }
        }
        Some(Sampler { bits, step })
    }

    fn hash(gram: &[u8]) -> usize {
        let g = u32::from_le_bytes([gram[0], gram[1], gram[2], gram[3]]);
        (g.wrapping_mul(0x9E37_79B1) >> (32 - BITS)) as usize
    }

    fn hit(&self, haystack: &[u8], at: usize) -> bool {
        let h = Self::hash(&haystack[at..at + 4]);
        self.bits[h >> 6] & (1 << (h & 63)) != 0
    }
}

pub(crate) struct Literals {
    heads: AhoCorasick,
    sampler: Option<Sampler>,
    values: Vec<Vec<u8>>,
    /// Per head: the values that can match where it does (those starting with it, and those it
    /// starts with), longest first.
    candidates: Vec<Vec<usize>>,
}

impl Literals {
    /// `None` when there is nothing to search for.
    pub(crate) fn new<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<Self> {
        let values: Vec<Vec<u8>> = values.into_iter().map(<[u8]>::to_vec).collect();
        let mut heads: Vec<&[u8]> = values.iter().map(|v| &v[..v.len().min(HEAD)]).collect();
        heads.sort_unstable();
        heads.dedup();
        if heads.is_empty() {
            return None;
        }
        let candidates = heads
            .iter()
            .map(|head| {
                let mut c: Vec<usize> = (0..values.len())
                    .filter(|&i| values[i].starts_with(head) || head.starts_with(&values[i]))
                    .collect();
                c.sort_by_key(|&i| std::cmp::Reverse(values[i].len()));
                c
            })
            .collect();
        let heads = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .kind(Some(AhoCorasickKind::DFA))
            .start_kind(StartKind::Both)
            .build(&heads)
            .expect("literal secrets build an automaton");
        Some(Literals {
            heads,
            sampler: Sampler::new(&values),
            values,
            candidates,
        })
    }

    /// The leftmost (then longest) value at or after `at`: start, end, index of the value.
    fn find_at(&self, haystack: &[u8], at: usize) -> Option<(usize, usize, usize)> {
        let Some(sampler) = &self.sampler else {
            return self.scan_at(haystack, at);
        };
        // Samples at at, at+step, …: a value starting at s >= at covers the one sample in
        // s..s+step, so it is found from that sample, and in order of s.
        let mut next_start = at;
        let mut i = at;
        while i + 4 <= haystack.len() {
            if sampler.hit(haystack, i) {
                for s in next_start.max((i + 1).saturating_sub(sampler.step))..=i {
                    if let Some(m) = self.whole_at(haystack, s) {
                        return Some(m);
                    }
                }
                next_start = i + 1;
            }
            i += sampler.step;
        }
        None
    }

    /// The longest value starting exactly at `s`.
    fn whole_at(&self, haystack: &[u8], s: usize) -> Option<(usize, usize, usize)> {
        let input = Input::new(haystack)
            .span(s..haystack.len())
            .anchored(Anchored::Yes);
        let m = self.heads.find(input)?;
        let rest = &haystack[s..];
        self.candidates[m.pattern().as_usize()]
            .iter()
            .find(|&&v| rest.starts_with(&self.values[v]))
            .map(|&v| (s, s + self.values[v].len(), v))
    }

    /// The unfiltered scan, for value sets with a value too short to sample.
    fn scan_at(&self, haystack: &[u8], mut at: usize) -> Option<(usize, usize, usize)> {
        while at <= haystack.len() {
            let m = self
                .heads
                .find(Input::new(haystack).span(at..haystack.len()))?;
            let rest = &haystack[m.start()..];
            if let Some(&v) = self.candidates[m.pattern().as_usize()]
                .iter()
                .find(|&&v| rest.starts_with(&self.values[v]))
            {
                return Some((m.start(), m.start() + self.values[v].len(), v));
            }
            at = m.start() + 1; // a head alone: another secret may start inside it
        }
        None
    }

    /// Every match, non-overlapping, leftmost-longest, as (start, end, index of the value).
    pub(crate) fn find_all(&self, haystack: &[u8], out: &mut Vec<(usize, usize, usize)>) {
        let mut at = 0;
        while let Some(m) = self.find_at(haystack, at) {
            out.push(m);
            at = m.1;
        }
    }

    /// The first value found, if any.
    pub(crate) fn find(&self, haystack: &[u8]) -> Option<usize> {
        self.find_at(haystack, 0).map(|m| m.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_matches_as_leftmost_longest_over_whole_values() {
        let long_a = "A".repeat(30) + "tailA";
        let long_b = "A".repeat(30) + "tailBB";
        let values: Vec<&[u8]> = vec![
            long_a.as_bytes(),
            long_b.as_bytes(),
            b"AAAAAAAA",                            // a prefix of both heads
            b"xAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAnope", // its head starts inside a failed one
            b"secret-one",
        ];
        let lit = Literals::new(values.iter().copied()).unwrap();
        let whole = AhoCorasickBuilder::new()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&values)
            .unwrap();
        for hay in [
            format!("..{long_b}..{long_a}..secret-one"),
            format!("{}tailC and AAAAAAAA", "A".repeat(30)),
            format!("x{}tail? secret-onesecret-one", "A".repeat(30)),
            "nothing here".to_string(),
        ] {
            let mut got = Vec::new();
            lit.find_all(hay.as_bytes(), &mut got);
            let want: Vec<(usize, usize, usize)> = whole
                .find_iter(&hay)
                .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
                .collect();
            assert_eq!(got, want, "{hay}");
        }
    }

    /// The sampled filter finds exactly what one automaton over the whole values finds, on
    /// values and haystacks over a small alphabet (overlaps, shared prefixes, values inside
    /// values, matches at both ends), for every value length the filter samples with.
    #[test]
    fn sampling_never_changes_a_match() {
        use proptest::prelude::*;
        let value = proptest::collection::vec(prop::sample::select(b"ab%=".to_vec()), 6..40);
        let values = proptest::collection::vec(value, 1..12);
        let pieces = proptest::collection::vec((0usize..12, 0usize..40, 0usize..6), 0..40);
        proptest!(ProptestConfig::with_cases(400), |(values in values, pieces in pieces)| {
            let lit = Literals::new(values.iter().map(Vec::as_slice)).unwrap();
            let whole = AhoCorasickBuilder::new()
                .match_kind(MatchKind::LeftmostLongest)
                .build(&values)
                .unwrap();
            // A haystack of value fragments and filler, so matches are frequent and torn.
            let mut hay = Vec::new();
            for (v, cut, filler) in pieces {
                let v = &values[v % values.len()];
                hay.extend_from_slice(&v[..cut.min(v.len())]);
                hay.extend(std::iter::repeat_n(b'b', filler));
            }
            let mut got = Vec::new();
            lit.find_all(&hay, &mut got);
            let want: Vec<(usize, usize, usize)> = whole
                .find_iter(&hay)
                .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
                .collect();
            // Equal values are one pattern to the filter and two to the automaton.
            let same = |a: &(usize, usize, usize), b: &(usize, usize, usize)| {
                a.0 == b.0 && a.1 == b.1 && values[a.2] == values[b.2]
            };
            prop_assert!(got.len() == want.len() && got.iter().zip(&want).all(|(a, b)| same(a, b)),
                "{got:?} != {want:?}");
        });
    }
}
