//! A list that may be too long to hold: one record per collected file (its manifest row, its
//! redaction report, its listing) kept until the seal. Records are JSON lines, in memory up to
//! `IN_MEMORY` bytes, then in an unnamed temporary file (`O_TMPFILE`: no name another user
//! could open or swap, gone when the process ends however it ends). So a collect of any number
//! of files holds a fixed amount of them; read back, they come out as they went in.
//!
//! Only what is written into the bundle anyway goes here (names, counts, hashes): never a
//! secret value (the pseudonym map, which may hold values, stays in memory, bounded).

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::marker::PhantomData;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Encoded bytes held before they go to the file (and the write buffer after).
const IN_MEMORY: usize = 256 << 10;

pub(crate) struct Spill<T> {
    /// Encoded records not in the file (all of them while there is no file).
    tail: Vec<u8>,
    file: Option<File>,
    /// Bytes in the file.
    filed: u64,
    len: usize,
    /// Where the file goes (the bundle's dir), before the system's temporary dir.
    dir: Option<PathBuf>,
    /// No temporary file could be made: records stay in memory (correct, just not bounded).
    no_file: bool,
    /// Bytes held in memory before they go to a file (a test makes it small).
    limit: usize,
    _records: PhantomData<fn() -> T>,
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
    /// An empty list whose file, if it comes to need one, is made in `dir` (else in the
    /// system's temporary dir).
    pub(crate) fn new(dir: Option<PathBuf>) -> Spill<T> {
        Spill {
            tail: Vec::new(),
            file: None,
            filed: 0,
            len: 0,
            dir,
            no_file: false,
            limit: IN_MEMORY,
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
        self.filed + self.tail.len() as u64
    }

    fn unnamed_file(&self) -> io::Result<File> {
        match &self.dir {
            Some(dir) => tempfile::tempfile_in(dir).or_else(|_| tempfile::tempfile()),
            None => tempfile::tempfile(),
        }
    }

    /// Moves the held records to the file once they pass the limit.
    fn settle(&mut self) -> io::Result<()> {
        if self.tail.len() < self.limit || self.no_file {
            return Ok(());
        }
        if self.file.is_none() {
            match self.unnamed_file() {
                Ok(file) => self.file = Some(file),
                Err(_) => {
                    self.no_file = true;
                    return Ok(());
                }
            }
        }
        if let Some(file) = &mut self.file {
            file.write_all(&self.tail)?;
            self.filed += self.tail.len() as u64;
            self.tail.clear();
        }
        Ok(())
    }
}

impl<T: Serialize> Spill<T> {
    pub(crate) fn push(&mut self, record: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.tail, record)?;
        self.tail.push(b'\n');
        self.len += 1;
        self.settle()
    }
}

impl<T: DeserializeOwned> Spill<T> {
    /// The records in the order they were pushed.
    pub(crate) fn iter(&self) -> impl Iterator<Item = io::Result<T>> + '_ {
        let read = Reading {
            file: self.file.as_ref(),
            at: 0,
            end: self.filed,
            tail: &self.tail,
        };
        serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 16, read))
            .into_iter::<T>()
            .map(|r| r.map_err(io::Error::from))
    }

    /// The first `n` records (a page's table), ended early by a read error.
    pub(crate) fn first(&self, n: usize) -> Vec<T> {
        self.iter().take(n).map_while(Result::ok).collect()
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

/// The file's part by position (the file keeps its own offset for the writes), then the tail.
struct Reading<'a> {
    file: Option<&'a File>,
    at: u64,
    end: u64,
    tail: &'a [u8],
}

impl Read for Reading<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let (Some(file), true) = (self.file, self.at < self.end) {
            let want = buf.len().min((self.end - self.at) as usize);
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
        self.tail.read(buf)
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
            spill.limit = limit;
            let want = rows(count);
            for row in &want {
                spill.push(row).unwrap();
            }
            assert_eq!(spill.len(), want.len());
            assert_eq!(spill.file.is_some(), count > 0 && limit < 1 << 20);
            let back: Vec<Row> = spill.iter().map(Result::unwrap).collect();
            assert_eq!(back, want);
            assert_eq!(
                serde_json::to_string(&spill).unwrap(),
                serde_json::to_string(&want).unwrap()
            );
            assert_eq!(spill.first(2), want.into_iter().take(2).collect::<Vec<_>>());
        }
    }

    /// What is held in memory stays under the limit however many records come.
    #[test]
    fn memory_stays_bounded() {
        let mut spill = Spill::new(Some(std::env::temp_dir()));
        for row in rows(50_000) {
            spill.push(&row).unwrap();
            assert!(spill.tail.len() < IN_MEMORY + 256);
        }
        assert!(spill.bytes() > 1 << 20);
        assert_eq!(spill.iter().count(), 50_000);
    }

    /// Without a place for the file, the list stays whole in memory.
    #[test]
    fn no_temporary_dir_keeps_it_in_memory() {
        let mut spill = Spill::new(Some("/nonexistent/dir".into()));
        spill.limit = 16;
        // The fallback (the system's temporary dir) exists here: the file is made there.
        spill.push(&rows(1).remove(0)).unwrap();
        assert!(spill.file.is_some());
        let mut kept = Spill::<Row>::new(None);
        kept.limit = 16;
        kept.no_file = true;
        for row in rows(100) {
            kept.push(&row).unwrap();
        }
        assert!(kept.file.is_none());
        assert_eq!(
            kept.iter().map(Result::unwrap).collect::<Vec<_>>(),
            rows(100)
        );
    }
}
