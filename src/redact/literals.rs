//! The known secrets as one searcher: a DFA over each value's first `HEAD` bytes finds where a
//! secret may start, and the whole value is then compared there.
//!
//! A DFA over the whole values is the fastest scan but costs memory in proportion to their
//! bytes: a config with two EMG keys and two PEM keys, each in ten encodings, made a 12 MB
//! automaton (twice: the redactor and the self-check). The heads keep the same scan for a
//! fraction of that, and a secret's head without the rest of it is rare enough to cost nothing.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, Input, MatchKind};

/// Bytes of each value in the automaton.
const HEAD: usize = 24;

pub struct Literals {
    heads: AhoCorasick,
    values: Vec<Vec<u8>>,
    /// Per head: the values that can match where it does (those starting with it, and those it
    /// starts with), longest first.
    candidates: Vec<Vec<usize>>,
}

impl Literals {
    /// `None` when there is nothing to search for.
    pub fn new<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Option<Self> {
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
            .build(&heads)
            .expect("literal secrets build an automaton");
        Some(Literals {
            heads,
            values,
            candidates,
        })
    }

    /// The leftmost (then longest) value at or after `at`: start, end, index of the value.
    fn find_at(&self, haystack: &[u8], mut at: usize) -> Option<(usize, usize, usize)> {
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
    pub fn find_all(&self, haystack: &[u8], out: &mut Vec<(usize, usize, usize)>) {
        let mut at = 0;
        while let Some(m) = self.find_at(haystack, at) {
            out.push(m);
            at = m.1;
        }
    }

    /// The first value found, if any.
    pub fn find(&self, haystack: &[u8]) -> Option<usize> {
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
}
