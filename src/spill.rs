//! Lists that may be too long to hold: one record per collected file (its manifest row, its
//! redaction report, its listing, its zip directory record) kept until the seal. A `Tape` holds
//! bytes in memory up to `IN_MEMORY`, then in an unnamed temporary file (`O_TMPFILE`: no name
//! another user could open or swap, gone when the process ends however it ends); a `Spill` is
//! a tape of JSON lines. So a collect of any number of files holds a fixed amount of them;
//! read back, they come out as they went in.
//!
//! Only what is written into the bundle anyway goes here (names, counts, hashes): never a
//! secret value (the pseudonym map, which may hold values, stays in memory, bounded).

use std::fs::File;
use std::io::{self, BufReader, Read};
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Bytes held before they go to the file (and the write buffer after).
const IN_MEMORY: usize = 256 << 10;

/// Bytes appended and read back in order. Appending cannot fail: bytes the file does not
/// take (no temporary file can be made, a write fails) stay in memory, a failed write is tried
/// again at the next append, and reading gives them back all the same.
pub(crate) struct Tape {
    /// Bytes not in the file (all of them while there is no file).
    tail: Vec<u8>,
    file: Option<File>,
    /// Bytes in the file.
    filed: u64,
    /// Where the file goes (the bundle's dir), before the system's temporary dir.
    dir: Option<PathBuf>,
    /// No temporary file could be made: the bytes stay in memory (correct, just not bounded).
    no_file: bool,
    /// Bytes held in memory before they go to a file (a test makes it small).
    limit: usize,
}

impl Tape {
    /// An empty tape whose file, if it comes to need one, is made in `dir` (else in the
    /// system's temporary dir).
    pub(crate) fn new(dir: Option<PathBuf>) -> Tape {
        Tape {
            tail: Vec::new(),
            file: None,
            filed: 0,
            dir,
            no_file: false,
            limit: IN_MEMORY,
        }
    }

    pub(crate) fn len(&self) -> u64 {
        self.filed + self.tail.len() as u64
    }

    /// Goes to the file past `limit` bytes (tests reach the file with a few records).
    #[cfg(test)]
    pub(crate) fn limit_for_tests(&mut self, limit: usize) {
        self.limit = limit;
    }

    pub(crate) fn append(&mut self, bytes: &[u8]) {
        self.tail.extend_from_slice(bytes);
        self.settle();
    }

    /// Everything appended, from the start (the file is read by position: appending goes on).
    pub(crate) fn reader(&self) -> Reading<'_> {
        self.range(0, self.len())
    }

    /// The bytes from `start` to `end`.
    pub(crate) fn range(&self, start: u64, end: u64) -> Reading<'_> {
        Reading {
            tape: self,
            at: start,
            end,
        }
    }

    fn unnamed_file(&self) -> io::Result<File> {
        match &self.dir {
            Some(dir) => tempfile::tempfile_in(dir).or_else(|_| tempfile::tempfile()),
            None => tempfile::tempfile(),
        }
    }

    /// Moves the held bytes to the file once they pass the limit.
    fn settle(&mut self) {
        if self.tail.len() < self.limit || self.no_file {
            return;
        }
        if self.file.is_none() {
            match self.unnamed_file() {
                Ok(file) => self.file = Some(file),
                Err(_) => {
                    self.no_file = true;
                    return;
                }
            }
        }
        // At its place, not at the file's offset: a write that failed half-way is written
        // over by the next one, and until then the bytes stay in the tail.
        if let Some(Ok(())) = self
            .file
            .as_ref()
            .map(|f| f.write_all_at(&self.tail, self.filed))
        {
            self.filed += self.tail.len() as u64;
            self.tail.clear();
        }
    }
}

/// A range of a tape: the file's part by position, then the tail's.
pub(crate) struct Reading<'a> {
    tape: &'a Tape,
    at: u64,
    end: u64,
}

impl Read for Reading<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let filed = self.tape.filed;
        let want = buf.len().min(self.end.saturating_sub(self.at) as usize);
        if want == 0 {
            return Ok(0);
        }
        if let (Some(file), true) = (&self.tape.file, self.at < filed) {
            let want = want.min((filed - self.at) as usize);
            let n = file.read_at(&mut buf[..want], self.at)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the temporary list file shrank",
                ));
            }
            self.at += n as u64;
            return Ok(n);
        }
        let from = (self.at - filed) as usize;
        buf[..want].copy_from_slice(&self.tape.tail[from..from + want]);
        self.at += want as u64;
        Ok(want)
    }
}

/// Records as JSON lines on a tape.
pub(crate) struct Spill<T> {
    tape: Tape,
    len: usize,
    _records: PhantomData<fn() -> T>,
}

impl std::fmt::Debug for Tape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tape").field("bytes", &self.len()).finish()
    }
}

impl<T> std::fmt::Debug for Spill<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spill")
            .field("len", &self.len)
            .field("bytes", &self.bytes())
            .finish()
    }
}

impl<T> Default for Spill<T> {
    fn default() -> Self {
        Spill::new(None)
    }
}

impl<T> Spill<T> {
    /// An empty list whose file, if it comes to need one, is made in `dir`.
    pub(crate) fn new(dir: Option<PathBuf>) -> Spill<T> {
        Spill {
            tape: Tape::new(dir),
            len: 0,
            _records: PhantomData,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The records' encoded size: about what they take as compact JSON.
    pub(crate) fn bytes(&self) -> u64 {
        self.tape.len()
    }
}

impl<T: Serialize> Spill<T> {
    /// Adds a record. A file that cannot be written leaves the records in memory (the tape
    /// keeps what it could not write and tries again), so nothing is lost either way.
    pub(crate) fn push(&mut self, record: T) {
        let mut line = serde_json::to_vec(&record)
            .expect("plain data (strings, numbers, string-keyed maps) serializes");
        line.push(b'\n');
        self.len += 1;
        self.tape.append(&line);
    }
}

impl<T: Serialize> Extend<T> for Spill<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, records: I) {
        records.into_iter().for_each(|r| self.push(r));
    }
}

impl<T: Serialize> FromIterator<T> for Spill<T> {
    fn from_iter<I: IntoIterator<Item = T>>(records: I) -> Self {
        let mut spill = Spill::default();
        spill.extend(records);
        spill
    }
}

impl<T: DeserializeOwned> Spill<T> {
    /// The records in the order they were pushed.
    pub(crate) fn iter(&self) -> impl Iterator<Item = io::Result<T>> + '_ {
        serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 16, self.tape.reader()))
            .into_iter::<T>()
            .map(|r| r.map_err(io::Error::from))
    }

    /// The first `n` records (a page's table), ended early by a read error.
    pub(crate) fn first(&self, n: usize) -> Vec<T> {
        self.iter().take(n).map_while(Result::ok).collect()
    }

    /// Every record through `f`, as a new list beside this one.
    pub(crate) fn rewritten(&self, mut f: impl FnMut(T) -> T) -> io::Result<Spill<T>>
    where
        T: Serialize,
    {
        let mut out = Spill::new(self.tape.dir.clone());
        for record in self.iter() {
            out.push(f(record?));
        }
        Ok(out)
    }
}

/// Serialized as the sequence of its records, read back one at a time.
impl<T: Serialize + DeserializeOwned> Serialize for Spill<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = s.serialize_seq(Some(self.len))?;
        for record in self.iter() {
            seq.serialize_element(&record.map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, serde::Deserialize)]
    struct Row {
        name: String,
        n: u64,
    }

    fn rows(count: u64) -> Vec<Row> {
        (0..count)
            .map(|n| Row {
                // Names with newlines, quotes and non-ASCII survive the line encoding.
                name: format!("logs/a\n\"{n}\"é"),
                n,
            })
            .collect()
    }

    /// In memory, in the file, and across the two: what comes out is what went in, in order,
    /// and serializes as the list would.
    #[test]
    fn records_come_back_as_they_went_in() {
        for (count, limit) in [(0, 64), (3, 1 << 20), (1000, 64), (1000, 4096)] {
            let mut spill = Spill::new(None);
            spill.tape.limit = limit;
            let want = rows(count);
            spill.extend(rows(count));
            assert_eq!(spill.len(), want.len());
            assert_eq!(spill.tape.file.is_some(), count > 0 && limit < 1 << 20);
            let back: Vec<Row> = spill.iter().map(Result::unwrap).collect();
            assert_eq!(back, want);
            assert_eq!(
                serde_json::to_string(&spill).unwrap(),
                serde_json::to_string(&want).unwrap()
            );
            assert_eq!(spill.first(2), want.into_iter().take(2).collect::<Vec<_>>());
        }
    }

    /// What is held in memory stays under the limit however many records come, and the tape
    /// reads back byte for byte while it is still being appended to.
    #[test]
    fn memory_stays_bounded() {
        let mut spill = Spill::new(Some(std::env::temp_dir()));
        for row in rows(50_000) {
            spill.push(row);
            assert!(spill.tape.tail.len() < IN_MEMORY + 256);
        }
        assert!(spill.bytes() > 1 << 20);
        assert_eq!(spill.iter().count(), 50_000);
        let mut tape = Tape::new(None);
        tape.limit = 100;
        let mut want = Vec::new();
        for i in 0..2000u32 {
            let piece = i.to_le_bytes().repeat(i as usize % 7);
            tape.append(&piece);
            want.extend_from_slice(&piece);
            if i % 500 == 0 {
                let mut back = Vec::new();
                tape.reader().read_to_end(&mut back).unwrap();
                assert_eq!(back, want);
            }
        }
        assert_eq!(tape.len(), want.len() as u64);
    }

    /// Without a place for the file, the list stays whole in memory.
    #[test]
    fn no_temporary_file_keeps_it_in_memory() {
        let mut kept = Spill::<Row>::new(Some("/nonexistent/dir".into()));
        kept.tape.limit = 16;
        kept.tape.no_file = true;
        for row in rows(100) {
            kept.push(row);
        }
        assert!(kept.tape.file.is_none());
        assert_eq!(
            kept.iter().map(Result::unwrap).collect::<Vec<_>>(),
            rows(100)
        );
    }
}
