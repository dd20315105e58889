//! Reading a file one bounded line at a time: memory stays flat for any file, a 5 MB line or a
//! 2 GB file without a newline included.
//!
//! An over-long line is handed over in pieces of at most `MAX_PIECE` bytes, cut after a
//! separator (space, `,`, `;`, `&`, `]`, `"`) when one is near the end, so a token is not split
//! between two pieces for the redactor.

use std::io::{self, BufRead};

pub(crate) const MAX_PIECE: usize = 1 << 20;
/// How far back from the limit a separator is looked for.
const CUT_WINDOW: usize = 16 << 10;

pub(crate) struct BoundedLines<R> {
    reader: R,
    carry: Vec<u8>,
}

/// One piece of input: a whole line, or a part of an over-long one.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum Piece {
    /// Ends with `\n` or at end of input.
    End,
    /// Cut short; the next piece continues the same line.
    Cut,
}

impl<R: BufRead> BoundedLines<R> {
    pub(crate) fn new(reader: R) -> Self {
        BoundedLines {
            reader,
            carry: Vec::new(),
        }
    }

    /// Reads the next piece into `buf` (cleared first). `None` at end of input.
    pub(crate) fn next_into(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<Piece>> {
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
                cut_piece(buf, &mut self.carry);
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

/// Ends a piece of an over-long line after the last separator within `CUT_WINDOW` of its end
/// (so a token is not split between pieces); what follows goes to `carry`.
fn cut_piece(buf: &mut Vec<u8>, carry: &mut Vec<u8>) {
    let from = buf.len().saturating_sub(CUT_WINDOW);
    let cut = buf[from..]
        .iter()
        .rposition(|b| matches!(b, b' ' | b',' | b';' | b'&' | b']' | b'"' | b'\t'))
        .map_or(buf.len(), |p| from + p + 1);
    carry.extend_from_slice(&buf[cut..]);
    buf.truncate(cut);
}

/// What `Blocks::next_into` handed over.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum Block {
    /// Whole lines (the last one may lack its `\n` at the end of input).
    Lines,
    /// A piece of a line longer than the block size, as `BoundedLines` cuts it.
    Piece(Piece),
}

/// Whole lines, many at a time (up to `cap` bytes): one automaton pass per block instead of
/// one per line. A line longer than `cap` is handed over in pieces cut at a separator.
pub(crate) struct Blocks<R> {
    reader: R,
    carry: Vec<u8>,
    cap: usize,
    eof: bool,
    /// A read error that came after some bytes: those are handed over first, then this.
    pending: Option<io::Error>,
}

impl<R: std::io::Read> Blocks<R> {
    pub(crate) fn new(reader: R, cap: usize) -> Self {
        Blocks {
            reader,
            carry: Vec::new(),
            cap,
            eof: false,
            pending: None,
        }
    }

    /// Drops everything up to and including the first `\n` (after a seek into a line).
    pub(crate) fn skip_line(&mut self) -> io::Result<()> {
        let mut buf = Vec::new();
        loop {
            match self.next_into(&mut buf)? {
                None => return Ok(()),
                Some(Block::Piece(Piece::Cut)) => continue,
                Some(Block::Piece(Piece::End)) => return Ok(()),
                Some(Block::Lines) => {
                    if let Some(nl) = memchr::memchr(b'\n', &buf) {
                        self.carry.splice(0..0, buf[nl + 1..].iter().copied());
                    }
                    return Ok(());
                }
            }
        }
    }

    /// The next block into `buf` (cleared first); `None` at the end of input.
    pub(crate) fn next_into(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<Block>> {
        buf.clear();
        if let Some(e) = self.pending.take() {
            return Err(e);
        }
        buf.append(&mut self.carry);
        while buf.len() < self.cap && !self.eof {
            let start = buf.len();
            buf.resize(self.cap, 0);
            let n = loop {
                match self.reader.read(&mut buf[start..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            let n = match n {
                Ok(n) => n,
                Err(e) => {
                    buf.truncate(start);
                    if buf.is_empty() {
                        return Err(e);
                    }
                    // Hand over what was read (a last line may stay unterminated), then fail.
                    self.pending = Some(e);
                    return Ok(Some(Block::Lines));
                }
            };
            buf.truncate(start + n);
            if n == 0 {
                self.eof = true;
            } else if memchr::memchr(b'\n', &buf[start..]).is_some() && buf.len() >= self.cap / 2 {
                break; // enough whole lines for one pass
            }
        }
        if buf.is_empty() {
            return Ok(None);
        }
        if let Some(last) = memchr::memrchr(b'\n', buf) {
            self.carry.extend_from_slice(&buf[last + 1..]);
            buf.truncate(last + 1);
            return Ok(Some(Block::Lines));
        }
        if self.eof {
            return Ok(Some(Block::Lines)); // the unterminated last line
        }
        // One line longer than a block: cut it at a separator near the end.
        cut_piece(buf, &mut self.carry);
        Ok(Some(Block::Piece(Piece::Cut)))
    }
}

#[cfg(test)]
mod block_tests {
    use super::*;

    #[test]
    fn blocks_keep_every_byte_once_and_stay_bounded() {
        let mut input = Vec::new();
        for i in 0..5000 {
            input.extend_from_slice(format!("line {i} with some text\n").as_bytes());
        }
        input.extend_from_slice(&vec![b'x'; 3000]); // a long unterminated tail
        input.extend_from_slice(b" end");
        let mut blocks = Blocks::new(&input[..], 1024);
        let (mut all, mut buf) = (Vec::new(), Vec::new());
        let mut kinds = Vec::new();
        while let Some(kind) = blocks.next_into(&mut buf).unwrap() {
            assert!(buf.len() <= 1024 + CUT_WINDOW, "bounded: {}", buf.len());
            if kind == Block::Lines && !buf.ends_with(b"\n") {
                assert!(
                    all.len() + buf.len() == input.len(),
                    "only the last block lacks a newline"
                );
            }
            kinds.push(kind);
            all.extend_from_slice(&buf);
        }
        assert_eq!(all, input);
        assert!(kinds.contains(&Block::Piece(Piece::Cut)));
    }

    #[test]
    fn skip_line_drops_a_partial_first_line() {
        let mut blocks = Blocks::new(&b"tail of a line\nfirst whole\nsecond\n"[..], 1024);
        blocks.skip_line().unwrap();
        let mut buf = Vec::new();
        assert_eq!(blocks.next_into(&mut buf).unwrap(), Some(Block::Lines));
        assert_eq!(buf, b"first whole\nsecond\n");
    }
}
