//! The zip's central directory, kept on a tape instead of in memory. rawzip holds every entry's
//! directory record until its archive is finished (about 180 bytes an entry: 20 000 logs, 3.6
//! MB). So the archive is finished every `BATCH` entries with its directory set aside (onto a
//! `Tape`, not into the bundle), and a new one goes on at the same offset. At the seal the
//! records go into the bundle in order, then the end records that count all of them: one zip,
//! as if one archive had written it (the records are rawzip's own bytes).

use std::cell::RefCell;
use std::io::{self, Write};
use std::path::PathBuf;
use std::rc::Rc;

use anyhow::{bail, Context, Result};

use super::Hashing;
use crate::spill::Tape;

/// Entries per archive: what rawzip holds at most.
const BATCH: usize = 1024;

const CENTRAL_RECORD: &[u8; 4] = b"PK\x01\x02";
const ZIP64_END: &[u8; 4] = b"PK\x06\x06";
const ZIP64_LOCATOR: &[u8; 4] = b"PK\x06\x07";
const END: &[u8; 4] = b"PK\x05\x06";
/// Zip 4.5: what zip64 needs to extract (rawzip's value).
const ZIP64_VERSION: u16 = 45;

/// What the bundle's bytes go through while a batch's directory is set aside.
pub(super) type Aside = Rc<RefCell<Option<Vec<u8>>>>;

pub(super) struct Archive {
    /// `None` only while a batch is being finished.
    zip: Option<rawzip::ZipArchiveWriter<Hashing>>,
    aside: Aside,
    in_batch: usize,
    records: Tape,
    entries: u64,
    /// An entry needed zip64 (rawzip then writes the zip64 end records; so do we).
    zip64: bool,
    batch: usize,
}

impl Archive {
    /// An archive writing to `out`, whose directory waits in `dir` (see `Tape`).
    pub(super) fn new(out: Hashing, dir: Option<PathBuf>) -> Archive {
        let aside = out.aside.clone();
        Archive {
            zip: Some(rawzip::ZipArchiveWriter::new(out)),
            aside,
            in_batch: 0,
            records: Tape::new(dir),
            entries: 0,
            zip64: false,
            batch: BATCH,
        }
    }

    /// The archive the next entry goes into (a new one when the batch is full).
    pub(super) fn next(&mut self) -> Result<&mut rawzip::ZipArchiveWriter<Hashing>> {
        if self.in_batch == self.batch {
            let out = self.set_aside()?;
            self.zip = Some(
                rawzip::ZipArchiveWriter::builder()
                    .with_offset(out.bytes)
                    .build(out),
            );
        }
        self.in_batch += 1;
        Ok(self.zip.as_mut().expect("an archive between batches"))
    }

    /// Finishes the current archive with its directory records onto the tape.
    fn set_aside(&mut self) -> Result<Hashing> {
        let zip = self.zip.take().expect("an archive between batches");
        *self.aside.borrow_mut() = Some(Vec::new());
        let finished = zip.finish();
        let written = self.aside.borrow_mut().take().unwrap_or_default();
        let out = finished.context("cannot finish the zip's directory")?;
        let (len, count) = records(&written);
        if count != self.in_batch {
            bail!(
                "the zip's directory held {count} records for {} entries",
                self.in_batch
            );
        }
        self.records.append(&written[..len]);
        self.zip64 |= written[len..].starts_with(ZIP64_END);
        self.entries += count as u64;
        self.in_batch = 0;
        Ok(out)
    }

    /// Writes the whole directory and the end records; gives back what the zip went to.
    pub(super) fn finish(mut self) -> Result<Hashing> {
        let mut out = self.set_aside()?;
        let offset = out.bytes;
        io::copy(&mut self.records.reader(), &mut out)
            .context("cannot write the zip's directory")?;
        let size = self.records.len();
        let entries = self.entries;
        let mut end = Vec::with_capacity(98);
        if self.zip64 || entries >= 0xFFFF || size >= 0xFFFF_FFFF || offset >= 0xFFFF_FFFF {
            let at = out.bytes;
            end.extend_from_slice(ZIP64_END);
            end.extend_from_slice(&44u64.to_le_bytes()); // the record's size after this field
            end.extend_from_slice(&ZIP64_VERSION.to_le_bytes()); // made by
            end.extend_from_slice(&ZIP64_VERSION.to_le_bytes()); // needed
            end.extend_from_slice(&[0; 8]); // this disk, the directory's disk
            end.extend_from_slice(&entries.to_le_bytes()); // on this disk
            end.extend_from_slice(&entries.to_le_bytes()); // in all
            end.extend_from_slice(&size.to_le_bytes());
            end.extend_from_slice(&offset.to_le_bytes());
            end.extend_from_slice(ZIP64_LOCATOR);
            end.extend_from_slice(&0u32.to_le_bytes()); // the zip64 end record's disk
            end.extend_from_slice(&at.to_le_bytes());
            end.extend_from_slice(&1u32.to_le_bytes()); // disks
        }
        let count = entries.min(0xFFFF) as u16;
        end.extend_from_slice(END);
        end.extend_from_slice(&[0; 4]); // disk numbers
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&count.to_le_bytes());
        end.extend_from_slice(&(size.min(0xFFFF_FFFF) as u32).to_le_bytes());
        end.extend_from_slice(&(offset.min(0xFFFF_FFFF) as u32).to_le_bytes());
        end.extend_from_slice(&0u16.to_le_bytes()); // no comment
        out.write_all(&end).context("cannot finish the zip")?;
        out.flush().context("cannot finish the zip")?;
        Ok(out)
    }
}

/// The directory records at the start of what an archive's finish wrote: their length and
/// count (the end records follow them).
fn records(written: &[u8]) -> (usize, usize) {
    let (mut at, mut count) = (0, 0);
    while written.len() >= at + 46 && written[at..].starts_with(CENTRAL_RECORD) {
        let field = |i: usize| u16::from_le_bytes([written[at + i], written[at + i + 1]]) as usize;
        at += 46 + field(28) + field(30) + field(32);
        count += 1;
    }
    (at.min(written.len()), count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    /// A zip of `count` small stored entries, its directory set aside every `batch` entries.
    fn zip_of(count: usize, batch: usize) -> Vec<u8> {
        let file = tempfile::tempfile().unwrap();
        let out = Hashing {
            inner: super::super::Sink::File(io::BufWriter::new(file.try_clone().unwrap())),
            hasher: sha2::Sha256::default(),
            bytes: 0,
            shared: Default::default(),
            failed: false,
            aside: Default::default(),
        };
        let mut archive = Archive::new(out, None);
        archive.batch = batch;
        archive.records.limit_for_tests(64);
        for i in 0..count {
            let (mut entry, config) = archive
                .next()
                .unwrap()
                .new_file(format!("logs/entry-{i}.log").as_str())
                .unix_permissions(0o100600)
                .start()
                .unwrap();
            let mut data = config.wrap(&mut entry);
            data.write_all(format!("line {i}\n").as_bytes()).unwrap();
            let (_, descriptor) = data.finish().unwrap();
            entry.finish(descriptor).unwrap();
        }
        let out = archive.finish().unwrap();
        let super::super::Sink::File(mut w) = out.inner else {
            unreachable!()
        };
        w.flush().unwrap();
        let mut bytes = Vec::new();
        let mut file = file;
        use std::io::Seek;
        file.seek(io::SeekFrom::Start(0)).unwrap();
        file.read_to_end(&mut bytes).unwrap();
        bytes
    }

    /// Setting the directory aside changes no byte: the zip is the one a single archive
    /// writes, however the entries fall into batches, and a zip reader lists every entry.
    #[test]
    fn batches_make_the_zip_one_archive_makes() {
        for count in [0, 1, 2, 7, 10, 33] {
            let whole = zip_of(count, usize::MAX);
            for batch in [1, 2, 3, 10] {
                assert!(
                    zip_of(count, batch) == whole,
                    "{count} entries in batches of {batch}"
                );
            }
            let mut zip = zip::ZipArchive::new(io::Cursor::new(&whole)).unwrap();
            assert_eq!(zip.len(), count);
            for i in 0..count {
                let mut text = String::new();
                zip.by_name(&format!("logs/entry-{i}.log"))
                    .unwrap()
                    .read_to_string(&mut text)
                    .unwrap();
                assert_eq!(text, format!("line {i}\n"));
            }
        }
    }

    /// Past 65 534 entries the count needs zip64's end records: written, and read back.
    #[test]
    fn a_zip_of_more_entries_than_the_end_record_counts() {
        let count = 0xFFFF + 3;
        let bytes = zip_of(count, 1024);
        assert_eq!(bytes.windows(4).filter(|w| w == ZIP64_END).count(), 1);
        let zip = zip::ZipArchive::new(io::Cursor::new(&bytes)).unwrap();
        assert_eq!(zip.len(), count);
        assert_eq!(bytes, zip_of(count, usize::MAX));
    }
}
