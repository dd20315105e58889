//! The bundle: one zip written as a stream (so its sha256 is computed while it is written), with
//! a per-entry sha256, a leak self-check on every byte, `manifest.json` last, an atomic seal
//! (`<name>.partial` → `<name>`, mode 0600 from creation) and a `sha256sum -c` sidecar.
//! `verify` reads the same manifest types back.
//!
//! It never writes an entry byte that has not passed the self-check, never overwrites a file
//! without `--force`, and never leaves a `.partial` behind: dropping an unsealed writer removes it.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::exit::Fail;
use crate::redact::KnownSecret;
use crate::spill::Spill;
use deflate::Deflater;

mod deflate;
mod directory;
mod inflate;
mod manifest;
mod readme;
use crate::settings::Output;
use crate::signals::Interrupt;
pub(crate) use manifest::{LogListed, Manifest, ManifestView, Redaction, SettingsUsed};
pub(crate) use readme::readme;

/// zlib-rs level 5 on every core: on EMG logs a bundle smaller than `zip -6` makes, in less
/// time than `zip -1` takes (level 6: 6 % smaller, 25 % slower; benchmark in README).
const DEFLATE_LEVEL: u32 = 5;
pub(crate) const MANIFEST: &str = "manifest.json";
/// `verify` reads no more of a manifest than this, or `MANIFEST_PER_ENTRY` per entry the bundle
/// holds when that is more: ours take about 450 bytes a file (150 000 logs: 67 MB), and a
/// hostile bundle must hold real entries to be read further.
const MAX_MANIFEST: usize = 64 << 20;
const MANIFEST_PER_ENTRY: usize = 2048;

fn manifest_limit(entries: usize) -> usize {
    MAX_MANIFEST.max(entries.saturating_mul(MANIFEST_PER_ENTRY))
}
/// A sidecar is one line: 64 hex digits, two spaces and a file name.
const MAX_SIDECAR: u64 = 4096 + 80;
/// `--pseudonymize` writes the token map beside the bundle as `<bundle>.map.json`.
pub(crate) const MAP_SUFFIX: &str = ".map.json";

/// A file written beside the bundle: its suffix, and its body made from the bundle's file name
/// and sha256.
pub(crate) type Companion<'a> = (&'a str, &'a dyn Fn(&str, &str) -> Vec<u8>);

/// One entry as listed in the manifest and the JSON report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub(crate) struct FileEntry {
    pub(crate) bytes: u64,
    /// Its name in the zip.
    pub(crate) path: String,
    pub(crate) redactions: u64,
    #[cfg_attr(test, schemars(regex(pattern = "^[0-9a-f]{64}$")))]
    pub(crate) sha256: String,
    /// Where it came from on the host, or what made it.
    pub(crate) source: String,
    pub(crate) truncated: bool,
}

pub(crate) struct Sealed {
    /// `None` when the zip went to stdout.
    pub(crate) path: Option<PathBuf>,
    pub(crate) sha256: String,
    pub(crate) bytes: u64,
}

enum Sink {
    File(BufWriter<File>),
    Stdout(PipeOut),
}

/// `-o -`: the zip goes to stdout through a writer thread, so a reader that stops reading
/// (a stalled ssh, a full pipe) never blocks the run: the run waits in slices and gives up on
/// a signal, restoring the log level on its way out. A closed pipe is an error, not a panic.
struct PipeOut {
    buf: Vec<u8>,
    tx: Option<std::sync::mpsc::SyncSender<Vec<u8>>>,
    thread: Option<std::thread::JoinHandle<io::Result<()>>>,
}

impl PipeOut {
    fn new() -> io::Result<PipeOut> {
        use std::os::fd::AsFd;
        let mut out = File::from(io::stdout().as_fd().try_clone_to_owned()?);
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(16);
        let thread = std::thread::spawn(move || {
            for chunk in rx {
                out.write_all(&chunk)?;
            }
            out.flush()
        });
        Ok(PipeOut {
            buf: Vec::with_capacity(1 << 16),
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    /// Why the writer thread stopped (after it did).
    fn thread_error(&mut self) -> io::Error {
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(Err(e))) => e,
            _ => io::Error::new(io::ErrorKind::BrokenPipe, "stdout was closed"),
        }
    }

    /// Hands the buffer to the writer thread, waiting in slices while the pipe is full.
    fn send(&mut self) -> io::Result<()> {
        use std::sync::mpsc::TrySendError;
        let mut chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(1 << 16));
        loop {
            let Some(tx) = &self.tx else {
                return Err(self.thread_error());
            };
            match tx.try_send(chunk) {
                Ok(()) => return Ok(()),
                Err(TrySendError::Disconnected(_)) => return Err(self.thread_error()),
                Err(TrySendError::Full(back)) => {
                    chunk = back;
                    interrupted()?;
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            }
        }
    }

    /// Everything written out, the thread done; waits in slices, gives up on a signal.
    fn finish(mut self) -> io::Result<()> {
        self.send()?;
        self.tx = None;
        while self.thread.as_ref().is_some_and(|t| !t.is_finished()) {
            interrupted()?;
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(result)) => result,
            _ => Err(io::Error::other("the stdout writer failed")),
        }
    }
}

/// A signal that arrived, as an I/O error that carries the exit code (`Exit::of_error`).
fn interrupted() -> io::Result<()> {
    match crate::signals::Interrupt::current().map(|i| i.check()) {
        Some(Err(fail)) => Err(io::Error::other(fail)),
        _ => Ok(()),
    }
}

impl Write for PipeOut {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(buf);
        if self.buf.len() >= 1 << 16 {
            self.send()?;
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::File(w) => w.write(buf),
            Sink::Stdout(w) => w.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::File(w) => w.flush(),
            Sink::Stdout(w) => w.flush(),
        }
    }
}

/// Hashes and counts every byte of the zip on its way out.
struct Hashing {
    inner: Sink,
    hasher: Sha256,
    bytes: u64,
    /// The same count, readable while the zip writer owns this (for --max-bundle-bytes).
    shared: std::rc::Rc<std::cell::Cell<u64>>,
    /// A write failed: the bundle is abandoned. Later writes are discarded instead of failing
    /// again, and `seal` refuses a writer that failed.
    failed: bool,
    /// While set, writes go here instead (a batch's zip directory, kept for the seal).
    aside: directory::Aside,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.failed {
            return Ok(buf.len());
        }
        if let Some(aside) = self.aside.borrow_mut().as_mut() {
            aside.extend_from_slice(buf);
            return Ok(buf.len());
        }
        let n = self.inner.write(buf).map_err(|e| {
            self.failed = true;
            DiskFull::wrap(e, self.bytes + buf.len() as u64)
        })?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        self.shared.set(self.bytes);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The disk (or the file-size limit) ran out while writing the bundle.
#[derive(Debug, thiserror::Error)]
#[error("no space left for the bundle: it needed more than {needed} bytes")]
pub(crate) struct DiskFull {
    pub(crate) needed: u64,
}

impl DiskFull {
    /// ENOSPC and EFBIG become `DiskFull` (with how far the bundle had got); others pass.
    fn wrap(e: io::Error, needed: u64) -> io::Error {
        match e.raw_os_error() {
            Some(libc::ENOSPC) | Some(libc::EFBIG) => io::Error::other(DiskFull { needed }),
            _ => e,
        }
    }
}

/// A `DiskFull` anywhere in the chain becomes exit 1 with what to do about it.
pub(crate) fn disk_full_to_fail(err: anyhow::Error) -> anyhow::Error {
    disk_full_estimated(err, None)
}

/// `disk_full_to_fail` with what the bundle was made of: `in_bundle` bytes (before
/// compression) had gone in when the disk filled, of about `total`; the whole bundle then needs
/// about `needed × total / in_bundle` bytes at the compression seen so far.
pub(crate) fn disk_full_estimated(err: anyhow::Error, logs: Option<(u64, u64)>) -> anyhow::Error {
    let full = err.chain().find_map(|c| {
        c.downcast_ref::<io::Error>()
            .and_then(|e| e.get_ref())
            .and_then(|e| e.downcast_ref::<DiskFull>())
            .map(|d| d.needed)
    });
    let Some(needed) = full else { return err };
    let estimate = match logs {
        Some((in_bundle, total)) if in_bundle > 0 && total > in_bundle => format!(
            ", about {} for the whole bundle ({in_bundle} of about {total} bytes were in)",
            (needed as f64 * total as f64 / in_bundle as f64) as u64
        ),
        _ => String::new(),
    };
    Fail::failure(
        format!("{}{estimate}; nothing was left behind", DiskFull { needed }),
        "free space there, write elsewhere with -o DIR/NAME.zip (or -o -), or bound the bundle with --max-bundle-bytes",
    )
    .into()
}

/// The run's own `.partial` file (`<name>.<random>.partial`, created O_EXCL, mode 0600): no
/// other run can write to it or rename it, and dropping it unsealed removes it.
struct Partial {
    path: tempfile::TempPath,
    target: PathBuf,
    /// `--force` was given and what is at the target may be replaced (a regular file only).
    force: bool,
}

pub(crate) struct BundleWriter {
    /// Zip bytes written so far (compressed), for --max-bundle-bytes.
    written: std::rc::Rc<std::cell::Cell<u64>>,
    zip: directory::Archive,
    partial: Option<Partial>,
    entries: Entries,
    mtime: Option<rawzip::time::UtcDateTime>,
    /// Device and inode of the `.partial`: after the rename, the name must lead to it.
    id: (u64, u64),
    /// `--max-bundle-bytes`: a finished zip larger than this is never put in place.
    max_bytes: Option<u64>,
}

/// `bundle.zip` → `bundle.zip.sha256` (what `sha256sum -c` reads).
pub(crate) fn sidecar_path(bundle: &Path) -> PathBuf {
    companion_path(bundle, ".sha256")
}

/// `bundle.zip` + `.map.json` → `bundle.zip.map.json`.
pub(crate) fn companion_path(bundle: &Path, suffix: &str) -> PathBuf {
    let mut name = bundle.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The dir a bundle is written in (`.` for a bare name).
fn parent_dir(bundle: &Path) -> &Path {
    bundle
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

impl BundleWriter {
    /// Creates the output before any work is done, so a missing or unwritable dir, or an
    /// existing bundle, stops the run at once.
    pub(crate) fn create(
        output: &Output,
        force: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Self> {
        // The manifest's rows wait beside the bundle (in the system's temporary dir for -o -).
        let spill_dir = match output {
            Output::File(target) => Some(parent_dir(target).to_path_buf()),
            Output::Stdout => None,
        };
        let (sink, partial, id) = match output {
            Output::Stdout => (
                Sink::Stdout(PipeOut::new().context("cannot write to stdout")?),
                None,
                (0, 0),
            ),
            Output::File(target) => {
                let (file, partial) = create_partial(target, force)?;
                let meta = file.metadata()?;
                (
                    Sink::File(BufWriter::with_capacity(1 << 16, file)),
                    Some(partial),
                    (meta.dev(), meta.ino()),
                )
            }
        };
        use chrono::{Datelike, Timelike};
        let mtime = rawzip::time::UtcDateTime::from_components(
            now.year().clamp(1980, 2107) as u16,
            now.month() as u8,
            now.day() as u8,
            now.hour() as u8,
            now.minute() as u8,
            now.second() as u8,
            0,
        );
        let written = std::rc::Rc::new(std::cell::Cell::new(0));
        let hashing = Hashing {
            inner: sink,
            hasher: Sha256::new(),
            bytes: 0,
            failed: false,
            shared: written.clone(),
            aside: Default::default(),
        };
        Ok(BundleWriter {
            written,
            zip: directory::Archive::new(hashing, spill_dir.clone()),
            partial,
            entries: Entries {
                files: crate::spill::Spill::new(spill_dir),
                guard: LeakGuard::new(&[]),
                deflater: Deflater::new(DEFLATE_LEVEL),
                plain: 0,
            },
            mtime,
            id,
            max_bytes: None,
        })
    }

    /// `--max-bundle-bytes`: the limit the finished file must hold (checked before it is named).
    pub(crate) fn limit(&mut self, max: Option<u64>) {
        self.max_bytes = max;
    }

    /// Bytes of zip written so far, plus the plain bytes still being compressed (at most what
    /// they will add): never less than the bundle will have when they are out.
    pub(crate) fn bytes_written(&self) -> u64 {
        self.written.get() + self.entries.deflater.in_flight()
    }

    /// Bytes given to entries whose compressed form has gone out (the rest is in flight).
    pub(crate) fn plain_bytes(&self) -> u64 {
        self.entries.plain - self.entries.deflater.in_flight()
    }

    /// Arms the self-check with every secret the plan knows, before the first entry.
    pub(crate) fn set_known(&mut self, known: &[KnownSecret]) {
        self.entries.guard = LeakGuard::new(known);
    }

    /// Starts an entry (zip64 is chosen by the sizes it comes to).
    pub(crate) fn entry(&mut self, path: &str) -> Result<Entry<'_>> {
        // The manifest lists the name given here, so the zip must hold exactly it.
        if rawzip::path::ZipFilePath::from_str(path).as_str() != path {
            bail!("`{path}` is not a name a zip can hold as it is");
        }
        let mut file = self
            .zip
            .next()?
            .new_file(path)
            .compression_method(rawzip::CompressionMethod::DEFLATE)
            .unix_permissions(0o100600);
        if let Some(mtime) = self.mtime {
            file = file.last_modified(mtime);
        }
        let (zip, _) = file
            .start()
            .with_context(|| format!("cannot start bundle entry `{path}`"))?;
        self.entries.guard.reset();
        self.entries.deflater.discard();
        Ok(Entry {
            zip,
            entries: &mut self.entries,
            written: &self.written,
            path: path.to_string(),
            hasher: Sha256::new(),
            crc: crc32fast::Hasher::new(),
            bytes: 0,
        })
    }

    /// Writes a whole small entry (README, facts, reports).
    pub(crate) fn small(
        &mut self,
        path: &str,
        source: &str,
        bytes: &[u8],
        redactions: u64,
    ) -> Result<()> {
        let mut entry = self.entry(path)?;
        entry.write_all(bytes)?;
        entry.finish(source, redactions, false)
    }

    /// Where lists too long to hold wait: beside the bundle (None: the system's temporary dir).
    pub(crate) fn spill_dir(&self) -> Option<PathBuf> {
        self.partial
            .as_ref()
            .map(|p| parent_dir(&p.target).to_path_buf())
    }

    /// An empty list that waits, past what memory holds, beside the bundle.
    pub(crate) fn spill<T>(&self) -> Spill<T> {
        Spill::new(self.spill_dir())
    }

    /// The entries written so far, taken for the report (the manifest entry, written at the
    /// seal, is not among them).
    pub(crate) fn take_files(&mut self) -> Spill<FileEntry> {
        std::mem::take(&mut self.entries.files)
    }

    pub(crate) fn files(&self) -> &Spill<FileEntry> {
        &self.entries.files
    }

    /// Writes the manifest last, finishes the zip, fsyncs, renames `.partial` into place and
    /// writes the sidecar. Until the rename nothing is visible under the bundle's name.
    pub(crate) fn seal(self, manifest: &Manifest, interrupt: &Interrupt) -> Result<Sealed> {
        self.seal_with(manifest, None, interrupt)
    }

    /// `seal`, plus a private file beside the bundle (`<bundle><suffix>`, mode 0600) made from
    /// the bundle's sha256: it is written before the bundle's rename and put in place right
    /// after it, so there is never one without the other.
    ///
    /// The rename is the commit point: a signal before it cancels the run (nothing is left);
    /// one after it is too late to matter, the bundle is complete.
    pub(crate) fn seal_with(
        mut self,
        manifest: &Manifest,
        companion: Option<Companion<'_>>,
        interrupt: &Interrupt,
    ) -> Result<Sealed> {
        let mut entry = self.entry(MANIFEST)?;
        // As an io::Error, the entry's own (a signal, the leak self-check) comes back as it was.
        manifest.write(&mut entry).map_err(io::Error::from)?;
        entry.seal()?;
        let hashing = self.zip.finish()?;
        if hashing.failed {
            bail!("the bundle could not be written completely");
        }
        let sha256 = hex::encode(hashing.hasher.finalize());
        let bytes = hashing.bytes;
        // Over the limit: the .partial is dropped (deleted), nothing is put in place. Logs were
        // left out to fit; what remains is what every bundle needs.
        if let (Some(max), Some(_)) = (self.max_bytes, &self.partial) {
            if bytes > max {
                bail!(Fail::failure(
                    format!("the bundle came to {bytes} bytes, more than --max-bundle-bytes {max}; nothing was written"),
                    format!("raise --max-bundle-bytes to at least {bytes} (configs, findings, facts, the report page and the manifest are always included), or take less log with --since or --max-log-bytes"),
                ));
            }
        }
        flush_sink(hashing.inner, bytes)?;
        let Some(partial) = self.partial.take() else {
            return Ok(Sealed {
                path: None,
                sha256,
                bytes,
            });
        };
        let target = put_in_place(partial, &sha256, bytes, companion, interrupt)?;
        // What we report must be what is on disk under that name: our own file.
        let on_disk = std::fs::symlink_metadata(&target).ok();
        if on_disk.is_none_or(|m| (m.dev(), m.ino()) != (self.id.0, self.id.1)) {
            bail!(
                "`{}` was replaced by another process right after it was written; check it with `edgemicro-diag verify`",
                target.display()
            );
        }
        Ok(Sealed {
            path: Some(target),
            sha256,
            bytes,
        })
    }
}

/// Renames `from` to `to` without replacing anything there, or (with `force`) replacing a
/// regular file only: a device, a FIFO, a socket, a directory or a link is never replaced.
fn place(from: tempfile::TempPath, to: &Path, force: bool) -> Result<()> {
    if force {
        if let Ok(meta) = std::fs::symlink_metadata(to) {
            if !meta.file_type().is_file() {
                bail!(Fail::usage(
                    format!(
                        "`{}` is {}; --force replaces regular files only",
                        to.display(),
                        crate::safe_fs::kind_of(&meta)
                    ),
                    "choose another path with -o PATH",
                ));
            }
        }
        return from
            .persist(to)
            .map_err(|e| e.error)
            .with_context(|| format!("cannot rename the bundle's files into `{}`", to.display()));
    }
    from.persist_noclobber(to).map_err(|e| {
        if e.error.kind() == io::ErrorKind::AlreadyExists {
            Fail::failure(
                format!("`{}` appeared while the bundle was being written; it was not replaced", to.display()),
                "another run may be writing the same path: choose another path with -o PATH, or pass --force",
            )
            .into()
        } else {
            anyhow::Error::from(e.error).context(format!("cannot rename the bundle's files into `{}`", to.display()))
        }
    })
}

/// The output as given, checked before any work: `-o -` needs an open stdout that is not a
/// terminal; a file path goes through `output_path`.
pub(crate) fn resolve_output(settings: &crate::settings::Settings) -> Result<Output> {
    match &settings.output {
        Output::Stdout => {
            use std::io::IsTerminal;
            use std::os::fd::AsFd;
            // A closed fd 1 is reopened on /dev/null by Rust's runtime (or writes to it count as
            // done): either way the zip would go nowhere while we report its sha256.
            let nowhere = match nix::sys::stat::fstat(io::stdout().as_fd()) {
                Ok(st) => {
                    (st.st_mode & libc::S_IFMT) == libc::S_IFCHR
                        && (libc::major(st.st_rdev), libc::minor(st.st_rdev)) == (1, 3)
                }
                Err(_) => true,
            };
            if nowhere {
                bail!(Fail::failure(
                    "-o -: stdout is closed (or /dev/null); the zip would go nowhere",
                    "redirect stdout to a file or a pipe, or write a file with -o PATH",
                ));
            }
            if io::stdout().is_terminal() {
                bail!(Fail::usage(
                    "-o -: stdout is a terminal; a zip there is noise",
                    "redirect it (-o - > gw1.zip, or | ssh …), or write a file with -o PATH",
                ));
            }
            Ok(Output::Stdout)
        }
        Output::File(path) => {
            let name = crate::settings::default_bundle_name(
                &settings.host,
                settings.case_id.as_deref(),
                settings.started,
            );
            Ok(Output::File(output_path(path, &name, settings.force)?))
        }
    }
}

/// Where a bundle given as `-o PATH` goes: inside PATH when it is a directory (with the
/// default name), else PATH itself. Refused before any work: a name that `sha256sum -c` or a
/// terminal would misread (control characters), an existing path without `--force`, and with
/// `--force` anything but a regular file.
pub(crate) fn output_path(path: &Path, default_name: &str, force: bool) -> Result<PathBuf> {
    let target = match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => path.join(default_name),
        _ => path.to_path_buf(),
    };
    // Printed, recorded and scripted: an absolute path means the same from anywhere.
    let target = std::path::absolute(&target).unwrap_or(target);
    let name = target
        .file_name()
        .map(|n| n.as_encoded_bytes())
        .unwrap_or_default();
    if name.is_empty() || name.iter().any(|b| *b < 0x20 || *b == 0x7f) {
        bail!(Fail::usage(
            format!("-o `{}`: the file name holds a control character (newline, tab, escape) or is empty", target.display().to_string().escape_debug()),
            "choose a plain file name, e.g. -o gw1.zip",
        ));
    }
    let sidecar = sidecar_path(&target);
    // A map left from an earlier bundle of this name would pass for this one's.
    let map = companion_path(&target, MAP_SUFFIX);
    for existing in [target.as_path(), sidecar.as_path(), map.as_path()] {
        let Ok(meta) = std::fs::symlink_metadata(existing) else {
            continue;
        };
        if !force {
            bail!(Fail::usage(
                format!("`{}` already exists", existing.display()),
                "choose another path with -o PATH, or pass --force to replace it",
            ));
        }
        if !meta.file_type().is_file() {
            bail!(Fail::usage(
                format!(
                    "`{}` is {}; --force replaces regular files only",
                    existing.display(),
                    crate::safe_fs::kind_of(&meta)
                ),
                "choose another path with -o PATH",
            ));
        }
    }
    let dir = parent_dir(&target);
    if !dir.is_dir() {
        bail!(Fail::failure(
            format!("output dir `{}` does not exist", dir.display()),
            "create it, or choose another path with -o PATH",
        ));
    }
    Ok(target)
}

fn create_partial(target: &Path, force: bool) -> Result<(File, Partial)> {
    let name = target.file_name().unwrap_or_default().to_string_lossy();
    // Mode 0600 at creation: the bundle is never readable by others, not even for a moment.
    let tmp = tempfile::Builder::new()
        .prefix(&format!("{name}."))
        .suffix(".partial")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(parent_dir(target))
        .map_err(|e| {
            Fail::failure(
                format!(
                    "cannot create the bundle in `{}`: {}",
                    parent_dir(target).display(),
                    crate::safe_fs::io_reason(&e)
                ),
                "choose a writable dir with -o PATH",
            )
        })?;
    let (file, path) = tmp.into_parts();
    Ok((
        file,
        Partial {
            path,
            target: target.to_path_buf(),
            force,
        },
    ))
}

/// A file written in full (mode 0600, fsynced) in the bundle's dir under a temporary name;
/// `persist` puts it in place in one rename.
fn write_beside(bundle: &Path, body: &[u8]) -> io::Result<tempfile::NamedTempFile> {
    let mut tmp = tempfile::Builder::new()
        .prefix(".edgemicro-diag-")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(parent_dir(bundle))?;
    tmp.write_all(body)?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}

/// One entry being written: hashes, self-checks, then compresses.
/// What every entry adds to: the list for the manifest, the self-check, the compressor.
struct Entries {
    /// The manifest's rows: on disk past a few thousand files, so any number fits in memory.
    files: Spill<FileEntry>,
    guard: LeakGuard,
    deflater: Deflater,
    /// Bytes given to entries (before compression), for a full disk's estimate.
    plain: u64,
}

pub(crate) struct Entry<'w> {
    zip: rawzip::ZipEntryWriter<'w, Hashing>,
    entries: &'w mut Entries,
    written: &'w std::rc::Rc<std::cell::Cell<u64>>,
    path: String,
    hasher: Sha256,
    crc: crc32fast::Hasher,
    bytes: u64,
}

impl Write for Entry<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(rule) = self.entries.guard.scan(buf) {
            // Exit 4 wherever this error surfaces: `Exit::of_error` finds the `Fail` inside.
            let leak = LeakFound {
                entry: self.path.clone(),
                rule,
            };
            return Err(io::Error::other(Fail::integrity(leak.to_string())));
        }
        self.entries.deflater.write(buf, &mut self.zip)?;
        self.entries.plain += buf.len() as u64;
        self.hasher.update(buf);
        self.crc.update(buf);
        self.bytes += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'w> Entry<'w> {
    /// Bytes of the whole zip written so far, plus what is still being compressed.
    pub(crate) fn bundle_bytes(&self) -> u64 {
        self.written.get() + self.entries.deflater.in_flight()
    }

    /// Writes out what is still being compressed, so `bundle_bytes` is exact, not an upper
    /// bound (near `--max-bundle-bytes` the bound would cut a log that fits).
    pub(crate) fn settle(&mut self) -> io::Result<()> {
        self.entries.deflater.drain(&mut self.zip)
    }

    /// Whether plain bytes of this entry are still being compressed.
    pub(crate) fn in_flight(&self) -> bool {
        self.entries.deflater.in_flight() > 0
    }

    /// Ends the entry's data in the zip (its self-check first: nothing after a leak).
    fn seal(mut self) -> Result<(Sha256, u64, String, &'w mut Entries)> {
        self.entries.guard.finish(&self.path)?;
        self.entries.deflater.finish(&mut self.zip)?;
        let descriptor = rawzip::DataDescriptorOutput::new(self.crc.finalize(), self.bytes);
        self.zip
            .finish(descriptor)
            .with_context(|| format!("cannot finish bundle entry `{}`", self.path))?;
        Ok((self.hasher, self.bytes, self.path, self.entries))
    }

    pub(crate) fn finish(self, source: &str, redactions: u64, truncated: bool) -> Result<()> {
        let (hasher, bytes, path, entries) = self.seal()?;
        entries.files.push(FileEntry {
            path,
            source: source.to_string(),
            bytes,
            sha256: hex::encode(hasher.finalize()),
            redactions,
            truncated,
        });
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
#[error("self-check: a known secret (rule `{rule}`) would be written to `{entry}`; the bundle was not sealed")]
pub(crate) struct LeakFound {
    pub(crate) entry: String,
    pub(crate) rule: String,
}

/// The last line of defence: every secret value the tool knows (and its encodings) is searched
/// in every byte written, across write boundaries.
struct LeakGuard {
    ac: Option<crate::redact::literals::Literals>,
    rules: Vec<String>,
    tail: Vec<u8>,
    keep: usize,
    found: Option<String>,
}

impl LeakGuard {
    fn new(known: &[KnownSecret]) -> Self {
        let known: Vec<&KnownSecret> = known
            .iter()
            .filter(|k| k.value.len() >= crate::redact::MIN_LITERAL)
            .collect();
        let ac = crate::redact::literals::Literals::new(known.iter().map(|k| k.value.as_slice()));
        let keep = known.iter().map(|k| k.value.len()).max().unwrap_or(1) - 1;
        LeakGuard {
            ac,
            rules: known.iter().map(|k| k.rule.clone()).collect(),
            tail: Vec::new(),
            keep,
            found: None,
        }
    }

    fn reset(&mut self) {
        self.tail.clear();
    }

    /// Searches `buf` and the seam with the previous write, without copying `buf` whole.
    fn scan(&mut self, buf: &[u8]) -> Option<String> {
        let ac = self.ac.as_ref()?;
        let mut joint = std::mem::take(&mut self.tail);
        joint.extend_from_slice(&buf[..buf.len().min(self.keep)]);
        let hit = ac.find(&joint).or_else(|| ac.find(buf));
        if buf.len() >= self.keep {
            joint.clear();
            joint.extend_from_slice(&buf[buf.len() - self.keep..]);
        } else {
            let drop = joint.len().saturating_sub(self.keep);
            joint.drain(..drop);
        }
        self.tail = joint;
        let rule = self.rules[hit?].clone();
        self.found = Some(rule.clone());
        Some(rule)
    }

    fn finish(&mut self, entry: &str) -> Result<()> {
        match self.found.take() {
            Some(rule) => Err(Fail::integrity(
                LeakFound {
                    entry: entry.to_string(),
                    rule,
                }
                .to_string(),
            )
            .into()),
            None => Ok(()),
        }
    }
}

/// The result of `verify`: what was checked.
#[derive(Debug, Serialize)]
pub struct Verified {
    pub(crate) entries: usize,
    pub(crate) bytes: u64,
    pub(crate) sidecar: Option<bool>,
}

/// An extracted bundle (what `unzip` left in a directory): manifest.json ↔ files one to one,
/// every sha256. Links are not followed and count as a mismatch: `unzip` of a bundle makes none.
pub(crate) fn verify_dir(dir: &Path) -> Result<Verified> {
    let bad = |what: String| -> anyhow::Error {
        Fail::integrity(format!("`{}`: {what}", dir.display())).into()
    };
    let opened = crate::safe_fs::open_in_dir(dir, std::ffi::OsStr::new(MANIFEST))
        .map_err(|why| bad(format!("no readable {MANIFEST} ({why})")))?;
    let walked = crate::safe_fs::walk(dir)?;
    let limit = manifest_limit(walked.len());
    let mut manifest = Vec::new();
    opened
        .file
        .take(limit as u64 + 1)
        .read_to_end(&mut manifest)?;
    if manifest.len() > limit {
        return Err(bad(format!("{MANIFEST} is larger than {limit} bytes")));
    }
    let listed: ManifestView = serde_json::from_slice(&manifest)
        .map_err(|e| bad(format!("{MANIFEST} is not valid: {e}")))?;
    let mut expected: std::collections::BTreeMap<String, String> = listed
        .files
        .iter()
        .map(|f| (f.path.clone(), f.sha256.clone()))
        .collect();
    let (mut entries, mut bytes) = (0, 0);
    for item in walked {
        let name = item.name;
        match item.kind {
            crate::safe_fs::Walked::Link => {
                return Err(bad(format!(
                    "`{name}` is a symbolic link (a bundle holds none)"
                )))
            }
            _ if name == MANIFEST => continue,
            _ => {}
        }
        let Some(want) = expected.remove(&name) else {
            return Err(bad(format!("`{name}` is not listed in the manifest")));
        };
        // A FIFO or device is refused here, never opened.
        let opened = crate::safe_fs::open_in_dir(&item.dir, &item.file_name)
            .map_err(|why| bad(format!("`{name}`: {why}")))?;
        let mut hasher = Sha256::new();
        let mut reader = opened.file;
        let mut buf = vec![0; 1 << 16];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            bytes += n as u64;
        }
        let sum = hex::encode(hasher.finalize());
        if sum != want {
            return Err(bad(format!(
                "`{name}`: sha256 {sum} does not match the manifest's {want}"
            )));
        }
        entries += 1;
    }
    if let Some(missing) = expected.keys().next() {
        return Err(bad(format!(
            "`{missing}` is in the manifest but not in the directory"
        )));
    }
    Ok(Verified {
        entries: entries + 1,
        bytes,
        sidecar: None,
    })
}

/// Zip CRCs, entry names, manifest ↔ entries one to one, every sha256, and the sidecar.
pub fn verify(bundle: &Path) -> Result<Verified> {
    if bundle.is_dir() {
        return verify_dir(bundle);
    }
    let file = File::open(bundle).with_context(|| format!("cannot open `{}`", bundle.display()))?;
    let bad = |what: String| -> anyhow::Error {
        Fail::integrity(format!("`{}`: {what}", bundle.display())).into()
    };
    let listed_entries = central_directory_entries(bundle);
    let mut zip = zip::ZipArchive::new(file).map_err(|e| match looks_like_zip(bundle) {
        // A damaged bundle is an integrity failure; something else entirely is a mistake.
        true => bad(format!("not a readable zip: {e}")),
        false => Fail::failure(
            format!("`{}` is not a zip file", bundle.display()),
            "give the .zip a collect wrote (its .sha256 sidecar sits beside it)",
        )
        .into(),
    })?;
    // The zip crate indexes entries by name, so a second entry with the same name would hide
    // behind the first: compare with the count the zip's end record declares.
    if let Some(declared) = listed_entries.filter(|n| *n > zip.len() as u64) {
        return Err(bad(format!(
            "an entry name appears twice ({declared} entries, {} distinct names)",
            zip.len()
        )));
    }
    let read = read_entries(&mut zip, &bad)?;
    let manifest = read.manifest.ok_or_else(|| bad(format!("no {MANIFEST}")))?;
    let listed: ManifestView = serde_json::from_slice(&manifest)
        .map_err(|e| bad(format!("{MANIFEST} is not valid: {e}")))?;
    let mut sums = read.sums;
    for file in &listed.files {
        match sums.remove(&file.path) {
            None => {
                return Err(bad(format!(
                    "`{}` is in the manifest but not in the zip",
                    file.path
                )))
            }
            Some(sum) if sum != file.sha256 => {
                return Err(bad(format!(
                    "`{}`: sha256 {sum} does not match the manifest's {}",
                    file.path, file.sha256
                )))
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = sums.keys().next() {
        return Err(bad(format!(
            "entry `{extra}` is not listed in the manifest"
        )));
    }
    Ok(Verified {
        entries: read.entries,
        bytes: read.bytes,
        sidecar: check_sidecar(bundle)?,
    })
}

/// Every entry of a zip read to its end (so its CRC-32 is checked): its sha256, and the
/// manifest's text.
struct ZipRead {
    sums: std::collections::BTreeMap<String, String>,
    manifest: Option<Vec<u8>>,
    entries: usize,
    bytes: u64,
}

fn read_entries(
    zip: &mut zip::ZipArchive<File>,
    bad: &dyn Fn(String) -> anyhow::Error,
) -> Result<ZipRead> {
    let mut seen = BTreeSet::new();
    let count = zip.len();
    let limit = manifest_limit(count);
    let mut inflater = inflate::Inflater::new();
    let mut read = ZipRead {
        sums: std::collections::BTreeMap::new(),
        manifest: None,
        entries: 0,
        bytes: 0,
    };
    for i in 0..zip.len() {
        // Raw: inflated by our one decompressor (see `inflate`).
        let entry = zip
            .by_index_raw(i)
            .map_err(|e| bad(format!("entry {i}: {e}")))?;
        let name = String::from_utf8_lossy(entry.name_raw()).to_string();
        if name.starts_with('/')
            || name.split(['/', '\\']).any(|part| part == "..")
            || entry.enclosed_name().is_none()
        {
            return Err(bad(format!("entry `{name}` has an unsafe path")));
        }
        if !seen.insert(name.clone()) {
            return Err(bad(format!("entry `{name}` appears twice")));
        }
        // A link entry would make `unzip` create a symlink where support extracts the bundle.
        if entry.unix_mode().is_some_and(|m| m & 0o170000 == 0o120000) {
            return Err(bad(format!("entry `{name}` is a symbolic link")));
        }
        let mut hasher = Sha256::new();
        let mut body = Vec::new();
        let (method, crc, size) = (entry.compression(), entry.crc32(), entry.size());
        let (mut bytes, mut too_big) = (0u64, false);
        inflater
            .read(entry, method, crc, size, |piece| {
                hasher.update(piece);
                bytes += piece.len() as u64;
                if name == MANIFEST {
                    too_big = body.len() + piece.len() > limit;
                    if too_big {
                        return Err(format!("{MANIFEST} is larger than {limit} bytes (not read; a bundle of {count} entries has a far smaller one)"));
                    }
                    body.extend_from_slice(piece);
                }
                Ok(())
            })
            .map_err(|e| match too_big {
                true => bad(e),
                false => bad(format!("entry `{name}`: {e}")),
            })?;
        read.bytes += bytes;
        if name == MANIFEST {
            read.manifest = Some(body);
        } else {
            read.sums.insert(name, hex::encode(hasher.finalize()));
        }
    }
    read.entries = seen.len();
    Ok(read)
}

/// The `.sha256` sidecar beside a zip, when there is one: it must name the zip's sha256.
fn check_sidecar(bundle: &Path) -> Result<Option<bool>> {
    let sidecar = sidecar_path(bundle);
    if !sidecar.exists() {
        return Ok(None);
    }
    // One line: a sha256, two spaces, a name. Read no more than a line could hold, and never
    // block on a FIFO planted there.
    let opened = crate::safe_fs::open_in_dir(
        parent_dir(&sidecar),
        sidecar.file_name().unwrap_or_default(),
    )
    .map_err(|why| anyhow::anyhow!("cannot read `{}`: {why}", sidecar.display()))?;
    let mut text = String::new();
    opened
        .file
        .take(MAX_SIDECAR)
        .read_to_string(&mut text)
        .with_context(|| format!("cannot read `{}`", sidecar.display()))?;
    let expected = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    let actual = sha256_file(bundle)?;
    if expected != actual {
        bail!(Fail::integrity(format!(
            "`{}` says {expected}, the bundle's sha256 is {actual}",
            sidecar.display()
        )));
    }
    Ok(Some(true))
}

/// The zip's last bytes to stdout, or the file flushed and synced (a full disk says so).
fn flush_sink(sink: Sink, bytes: u64) -> Result<()> {
    match sink {
        Sink::Stdout(w) => w.finish().context("cannot write the zip to stdout")?,
        Sink::File(w) => {
            let file = w
                .into_inner()
                .map_err(|e| DiskFull::wrap(e.into_error(), bytes))
                .context("cannot write the bundle")?;
            file.sync_all()
                .map_err(|e| DiskFull::wrap(e, bytes))
                .context("cannot flush the bundle to disk")?;
        }
    }
    Ok(())
}

/// The sidecar (and a companion) put in place, then the bundle renamed to its name; what was
/// placed is taken back when a later step fails. Returns the bundle's path.
fn put_in_place(
    partial: Partial,
    sha256: &str,
    bytes: u64,
    companion: Option<Companion<'_>>,
    interrupt: &Interrupt,
) -> Result<PathBuf> {
    // The sidecar (and the map) go in place before the bundle: once the bundle has its
    // name, it is complete with them. If the bundle cannot follow, they are taken back.
    let name = partial
        .target
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .to_string();
    let mut beside = vec![(
        write_beside(&partial.target, format!("{sha256}  {name}\n").as_bytes())
            .map_err(|e| DiskFull::wrap(e, bytes))
            .context("cannot write the .sha256 sidecar")?,
        sidecar_path(&partial.target),
    )];
    if let Some((suffix, body)) = companion {
        let tmp = write_beside(&partial.target, &body(&name, sha256))
            .map_err(|e| DiskFull::wrap(e, bytes))
            .context("cannot write the file beside the bundle")?;
        beside.push((tmp, companion_path(&partial.target, suffix)));
    }
    interrupt.stage("seal")?;
    let mut placed: Vec<PathBuf> = Vec::new();
    let take_back = |placed: &[PathBuf]| {
        for path in placed {
            let _ = std::fs::remove_file(path);
        }
    };
    for (tmp, path) in beside {
        if let Err(e) = place(tmp.into_temp_path(), &path, partial.force) {
            take_back(&placed);
            return Err(e);
        }
        placed.push(path);
    }
    let Partial {
        path,
        target,
        force,
    } = partial;
    if let Err(e) = place(path, &target, force) {
        take_back(&placed);
        return Err(e);
    }
    Ok(target)
}

/// Whether a file starts like a zip (a local header, or the end record of an empty zip).
fn looks_like_zip(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    File::open(path)
        .and_then(|mut f| f.read_exact(&mut magic))
        .is_ok_and(|()| magic == [0x50, 0x4b, 0x03, 0x04] || magic == [0x50, 0x4b, 0x05, 0x06])
}

/// The entry count the zip declares: the end-of-central-directory record's, or the ZIP64
/// record's when the first says 0xFFFF (`None` when neither can be read: the other checks
/// still run).
fn central_directory_entries(path: &Path) -> Option<u64> {
    use std::io::Seek;
    let mut file = File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    let tail = len.min(65_557);
    file.seek(std::io::SeekFrom::Start(len - tail)).ok()?;
    let mut buf = Vec::with_capacity(tail as usize);
    (&mut file).take(tail).read_to_end(&mut buf).ok()?;
    let at = buf
        .windows(4)
        .rposition(|w| w == [0x50, 0x4b, 0x05, 0x06])?;
    let total = u16::from_le_bytes(buf.get(at + 10..at + 12)?.try_into().ok()?);
    if total != 0xFFFF {
        return Some(u64::from(total));
    }
    // ZIP64: the locator (20 bytes, just before the end record) points at the ZIP64 end record,
    // whose total entry count is a u64 at offset 32.
    let locator = buf.get(at.checked_sub(20)?..at)?;
    if locator[..4] != [0x50, 0x4b, 0x06, 0x07] {
        return None;
    }
    let record = u64::from_le_bytes(locator[8..16].try_into().ok()?);
    file.seek(std::io::SeekFrom::Start(record)).ok()?;
    let mut head = [0u8; 40];
    file.read_exact(&mut head).ok()?;
    (head[..4] == [0x50, 0x4b, 0x06, 0x06])
        .then(|| u64::from_le_bytes(head[32..40].try_into().unwrap_or_default()))
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hex::encode(hasher.finalize()));
        }
        hasher.update(&buf[..n]);
    }
}

/// Writes a small companion file (`analyze --html`) the way bundles are written: a temporary
/// file beside it, then a rename that never replaces anything (an existing file or a symlink
/// planted at the path is refused, not followed).
pub(crate) fn write_new_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut file = tempfile::Builder::new()
        .prefix(".edgemicro-diag.")
        .suffix(".partial")
        .tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    file.persist_noclobber(path).map_err(|e| {
        let exists = e.error.kind() == std::io::ErrorKind::AlreadyExists;
        let err = anyhow::Error::from(e.error);
        if exists {
            err.context("it exists already; choose another name")
        } else {
            err
        }
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::pseudonym::Pseudonyms;

    /// The pseudonym key, in any of its forms, is refused like any known secret: the bundle is
    /// not sealed and no `.partial` stays.
    #[test]
    fn the_pseudonym_key_never_enters_a_bundle() {
        let key = [7u8; 32];
        let pseudonyms = Pseudonyms::with_key(key, false);
        let forms = [
            hex::encode(key),
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, key),
        ];
        for form in forms {
            let dir = tempfile::tempdir().unwrap();
            let target = dir.path().join("b.zip");
            let mut writer =
                BundleWriter::create(&Output::File(target.clone()), false, chrono::Utc::now())
                    .unwrap();
            writer.set_known(&pseudonyms.guarded());
            writer.small("ok.txt", "t", b"nothing here", 0).unwrap();
            let err = writer
                .small("x.txt", "t", format!("key={form}\n").as_bytes(), 0)
                .unwrap_err();
            assert_eq!(
                crate::exit::Exit::of_error(&err),
                crate::exit::Exit::Integrity
            );
            assert!(err.to_string().contains("pseudonym_key"), "{err}");
            assert!(!err.to_string().contains(&form));
            drop(writer);
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
    }
}
