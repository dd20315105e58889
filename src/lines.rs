//! Reading a file one bounded line at a time: memory stays flat for any file, a 5 MB line or a
//! 2 GB file without a newline included.
//!
//! An over-long line is handed over in pieces of at most `MAX_PIECE` bytes, cut after a
//! separator (space, `,`, `;`, `&`, `]`, `"`) when one is near the end, so a token is not split
//! between two pieces for the redactor.

use std::io::{self, BufRead};

pub const MAX_PIECE: usize = 1 << 20;
/// How far back from the limit a separator is looked for.
const CUT_WINDOW: usize = 16 << 10;

pub struct BoundedLines<R> {
    reader: R,
    carry: Vec<u8>,
}

/// One piece of input: a whole line, or a part of an over-long one.
#[derive(Debug, PartialEq, Eq)]
pub enum Piece {
    /// Ends with `\n` or at end of input.
    End,
    /// Cut short; the next piece continues the same line.
    Cut,
}

impl<R: BufRead> BoundedLines<R> {
    pub fn new(reader: R) -> Self {
        BoundedLines {
            reader,
            carry: Vec::new(),
        }
    }

    /// Reads the next piece into `buf` (cleared first). `None` at end of input.
    pub fn next_into(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<Piece>> {
        buf.clear();
        buf.append(&mut self.carry);
        if let Some(i) = memchr::memchr(b'\n', buf) {
            self.carry.extend_from_slice(&buf[i + 1..]);
            buf.truncate(i + 1);
            return Ok(Some(Piece::End));
        }
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok((!buf.is_empty()).then_some(Piece::End));
            }
            let room = MAX_PIECE - buf.len();
            let window = &available[..available.len().min(room)];
            if let Some(i) = memchr::memchr(b'\n', window) {
                buf.extend_from_slice(&window[..=i]);
                self.reader.consume(i + 1);
                return Ok(Some(Piece::End));
            }
            let n = window.len();
            buf.extend_from_slice(window);
            self.reader.consume(n);
            if buf.len() >= MAX_PIECE {
                let from = buf.len().saturating_sub(CUT_WINDOW);
                let cut = buf[from..]
                    .iter()
                    .rposition(|b| matches!(b, b' ' | b',' | b';' | b'&' | b']' | b'"' | b'\t'))
                    .map_or(buf.len(), |p| from + p + 1);
                self.carry.extend_from_slice(&buf[cut..]);
                buf.truncate(cut);
                return Ok(Some(Piece::Cut));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(input: &[u8]) -> Vec<(Vec<u8>, Piece)> {
        let mut lines = BoundedLines::new(io::BufReader::with_capacity(1000, input));
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(p) = lines.next_into(&mut buf).unwrap() {
            out.push((buf.clone(), p));
        }
        out
    }

    #[test]
    fn lines_keep_their_endings_and_bytes() {
        let got = pieces(b"a\r\nb\xff\n\nlast");
        let lines: Vec<&[u8]> = got.iter().map(|(l, _)| l.as_slice()).collect();
        assert_eq!(lines, vec![b"a\r\n".as_slice(), b"b\xff\n", b"\n", b"last"]);
    }

    #[test]
    fn long_lines_come_in_bounded_pieces_cut_at_separators() {
        let mut input = Vec::new();
        for i in 0..300_000 {
            input.extend_from_slice(format!("tok{i} ").as_bytes());
        }
        input.push(b'\n');
        let got = pieces(&input);
        assert!(got.len() > 1);
        assert!(got.iter().all(|(l, _)| l.len() <= MAX_PIECE));
        assert!(got[..got.len() - 1]
            .iter()
            .all(|(l, p)| *p == Piece::Cut && l.ends_with(b" ")));
        let joined: Vec<u8> = got.into_iter().flat_map(|(l, _)| l).collect();
        assert_eq!(joined, input, "nothing lost or duplicated");
    }
}
