//! The logs found, newest first, in bounded memory: a dir of 100 000 rotations must not hold
//! 100 000 records until the last one is collected. Logs are held in runs of `RUN`; a full run
//! is sorted and written to a `Tape` (an unnamed temporary file past 256 KiB); reading merges
//! the runs. Fewer than `RUN` logs never leave memory.
//!
//! On the tape a log is a small binary record (its path as bytes: a name need not be UTF-8).

use std::borrow::Cow;
use std::cmp::Ordering;
use std::io::{self, BufRead, BufReader, Read};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use crate::model::LogFile;
use crate::spill::Tape;

/// Logs held before a run is sorted and written out: about 3 MB of them.
const RUN: usize = 16 << 10;

/// Newest first; names break ties (they are unique, so the order is total).
pub(crate) fn newest_first(a: &LogFile, b: &LogFile) -> Ordering {
    b.modified
        .cmp(&a.modified)
        .then_with(|| a.name.cmp(&b.name))
}

#[derive(Debug)]
pub(crate) struct LogList {
    /// The run being filled; after `sort`, the last run, sorted.
    held: Vec<LogFile>,
    tape: Tape,
    /// Each written run's bytes on the tape.
    runs: Vec<(u64, u64)>,
    len: usize,
    bytes: u64,
    newest: Option<LogFile>,
    oldest: Option<LogFile>,
    /// Logs held per run (a test makes it small).
    run: usize,
}

impl Default for LogList {
    fn default() -> Self {
        LogList {
            held: Vec::new(),
            tape: Tape::new(None),
            runs: Vec::new(),
            len: 0,
            bytes: 0,
            newest: None,
            oldest: None,
            run: RUN,
        }
    }
}

impl LogList {
    pub(crate) fn push(&mut self, log: LogFile) {
        self.len += 1;
        self.bytes += log.size;
        if self
            .newest
            .as_ref()
            .is_none_or(|n| newest_first(&log, n).is_lt())
        {
            self.newest = Some(log.clone());
        }
        if self
            .oldest
            .as_ref()
            .is_none_or(|o| newest_first(&log, o).is_gt())
        {
            self.oldest = Some(log.clone());
        }
        self.held.push(log);
        if self.held.len() >= self.run {
            self.write_run();
        }
    }

    /// Sorts the held run and writes it out.
    fn write_run(&mut self) {
        self.held.sort_unstable_by(newest_first);
        let mut bytes = Vec::with_capacity(self.held.len() * 128);
        for log in self.held.drain(..) {
            encode(&log, &mut bytes);
        }
        let start = self.tape.len();
        self.tape.append(&bytes);
        self.runs.push((start, self.tape.len()));
    }

    /// Ends the listing: every log is in a sorted run.
    pub(crate) fn sort(&mut self) {
        self.held.sort_unstable_by(newest_first);
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The logs' sizes, added.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    pub(crate) fn newest(&self) -> Option<&LogFile> {
        self.newest.as_ref()
    }

    pub(crate) fn oldest(&self) -> Option<&LogFile> {
        self.oldest.as_ref()
    }

    /// Whether any log (in no particular order) is one `f` accepts.
    pub(crate) fn any(&self, f: impl Fn(&LogFile) -> bool) -> bool {
        self.held.iter().any(&f)
            || self
                .runs()
                .any(|run| run.map_while(Result::ok).any(|l| f(&l)))
    }

    fn runs(&self) -> impl Iterator<Item = Run<'_>> + '_ {
        self.runs.iter().map(|&(start, end)| Run {
            read: BufReader::with_capacity(8 << 10, self.tape.range(start, end)),
        })
    }

    /// Every log, newest first (after `sort`): the written runs and the held one merged. A log
    /// the tape cannot give back ends the list with the error.
    pub(crate) fn newest_first(&self) -> impl Iterator<Item = io::Result<LogFile>> + '_ {
        debug_assert!(self.held.is_sorted_by(|a, b| newest_first(a, b).is_le()));
        type Source<'a> = Box<dyn Iterator<Item = io::Result<LogFile>> + 'a>;
        let mut sources: Vec<Source> = self.runs().map(|run| Box::new(run) as Source).collect();
        sources.push(Box::new(self.held.iter().cloned().map(Ok)));
        let mut failed = None;
        // Each source's next log (sources are sorted: the newest of the heads is next).
        let mut heads: Vec<Option<LogFile>> = sources
            .iter_mut()
            .map(|source| {
                source.next().transpose().unwrap_or_else(|e| {
                    failed.get_or_insert(e);
                    None
                })
            })
            .collect();
        std::iter::from_fn(move || {
            if let Some(e) = failed.take() {
                return Some(Err(e));
            }
            let (i, _) = heads
                .iter()
                .enumerate()
                .filter_map(|(i, h)| h.as_ref().map(|h| (i, h)))
                .min_by(|a, b| newest_first(a.1, b.1))?;
            match sources[i].next().transpose() {
                Ok(next) => std::mem::replace(&mut heads[i], next).map(Ok),
                Err(e) => Some(Err(e)),
            }
        })
    }
}

/// One written run, read back a log at a time.
struct Run<'a> {
    read: BufReader<crate::spill::Reading<'a>>,
}

impl Iterator for Run<'_> {
    type Item = io::Result<LogFile>;
    fn next(&mut self) -> Option<io::Result<LogFile>> {
        match self.read.fill_buf() {
            Ok([]) => None,
            Ok(_) => Some(decode(&mut self.read)),
            Err(e) => Some(Err(e)),
        }
    }
}

fn encode(log: &LogFile, out: &mut Vec<u8>) {
    let field = |out: &mut Vec<u8>, bytes: &[u8]| {
        out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
        out.extend_from_slice(bytes);
    };
    field(out, log.path.as_os_str().as_bytes());
    field(out, log.name.as_bytes());
    field(out, log.found_as.as_bytes());
    let (after, since) = match log.modified.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => (1u8, d),
        Err(e) => (0u8, e.duration()),
    };
    out.push(after);
    out.extend_from_slice(&since.as_secs().to_le_bytes());
    out.extend_from_slice(&since.subsec_nanos().to_le_bytes());
    out.extend_from_slice(&log.size.to_le_bytes());
    out.extend_from_slice(&log.id.0.to_le_bytes());
    out.extend_from_slice(&log.id.1.to_le_bytes());
    out.push(log.gz as u8);
}

/// One log, as `encode` wrote it.
fn decode(read: &mut impl Read) -> io::Result<LogFile> {
    let path = read_field(read)?;
    let name = read_field(read)?;
    let found_as = read_field(read)?;
    let mut fixed = [0u8; 1 + 8 + 4 + 8 + 8 + 8 + 1];
    read.read_exact(&mut fixed)?;
    let u64_at = |i: usize| u64::from_le_bytes(fixed[i..i + 8].try_into().expect("8 bytes"));
    let since = Duration::new(
        u64_at(1),
        u32::from_le_bytes(fixed[9..13].try_into().expect("4 bytes")),
    );
    let modified = match fixed[0] {
        1 => SystemTime::UNIX_EPOCH + since,
        _ => SystemTime::UNIX_EPOCH - since,
    };
    let text = |bytes: Vec<u8>| {
        String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    };
    Ok(LogFile {
        path: PathBuf::from(std::ffi::OsString::from_vec(path)),
        name: text(name)?,
        found_as: Cow::Owned(text(found_as)?),
        modified,
        size: u64_at(13),
        id: (u64_at(21), u64_at(29)),
        gz: fixed[37] == 1,
    })
}

fn read_field(read: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut len = [0u8; 4];
    read.read_exact(&mut len)?;
    let mut bytes = vec![0; u32::from_le_bytes(len) as usize];
    read.read_exact(&mut bytes)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logs(count: u64) -> Vec<LogFile> {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        (0..count)
            .map(|i| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                // Few distinct times (ties broken by name), some before 1970.
                let secs = (seed % 50) as i64 * 86_400 - 10 * 86_400;
                let modified = match secs {
                    s if s >= 0 => SystemTime::UNIX_EPOCH + Duration::new(s as u64, i as u32),
                    s => SystemTime::UNIX_EPOCH - Duration::new(s.unsigned_abs(), 7),
                };
                let mut path = b"/var/log/edgemicro/caf\xe9-".to_vec();
                path.extend_from_slice(i.to_string().as_bytes());
                LogFile {
                    path: PathBuf::from(std::ffi::OsString::from_vec(path)),
                    name: format!("edgemicro-{}-{i}-api.log", seed % 7),
                    size: seed % 100_000,
                    modified,
                    found_as: if i % 2 == 0 {
                        Cow::Borrowed("an EMG log")
                    } else {
                        Cow::Owned(format!("console output of pid {i}"))
                    },
                    gz: i % 3 == 0,
                    id: (seed, i),
                }
            })
            .collect()
    }

    /// Held, on the tape, or both: the logs come back newest first as one sort gives them,
    /// every field as it went in, and the figures kept on the way match.
    #[test]
    fn runs_merge_into_the_order_of_one_sort() {
        for (count, run) in [(0, 4), (1, 4), (5, 4), (1000, 7), (1000, 1000), (3000, 256)] {
            let want = {
                let mut all = logs(count);
                all.sort_by(newest_first);
                all
            };
            let mut list = LogList {
                run,
                ..LogList::default()
            };
            for log in logs(count) {
                list.push(log);
            }
            list.sort();
            assert_eq!(
                list.runs.len(),
                count as usize / run,
                "{count} logs in runs of {run}"
            );
            let back: Vec<LogFile> = list.newest_first().map(Result::unwrap).collect();
            assert!(back == want, "{count} logs in runs of {run}");
            assert_eq!(list.len(), want.len());
            assert_eq!(list.bytes(), want.iter().map(|l| l.size).sum::<u64>());
            assert_eq!(list.newest(), want.first());
            assert_eq!(list.oldest(), want.last());
            if let Some(last) = want.last() {
                assert!(list.any(|l| l.id == last.id));
            }
            assert!(!list.any(|l| l.id == (0, u64::MAX)));
        }
    }
}
