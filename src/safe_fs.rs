//! Opening host files the way a tool running as root on a production gateway must: never
//! following a symlink out of its directory, never blocking on a FIFO, never opening a device.
//!
//! Every read of a host file goes through `open_in_dir`; it returns a reason instead of an error
//! for files that are skipped on purpose, so the caller can list them in the manifest.

use std::fs::{File, Metadata, OpenOptions};
use std::io;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// A file that was opened, with the metadata of what was actually opened (not of the link).
pub(crate) struct Opened {
    pub(crate) file: File,
    pub(crate) meta: Metadata,
    /// The path read: the entry itself, or the target of a symlink that stays inside the dir.
    pub(crate) path: PathBuf,
}

/// Opens `dir/name` for reading if it is (or links, inside `dir`, to) a regular file.
/// `Err(reason)` says why it was skipped, in words for the manifest.
pub(crate) fn open_in_dir(dir: &Path, name: &std::ffi::OsStr) -> Result<Opened, String> {
    let path = dir.join(name);
    let link = std::fs::symlink_metadata(&path).map_err(|e| io_reason(&e))?;
    let target = if link.file_type().is_symlink() {
        let canon_dir = dir.canonicalize().map_err(|e| io_reason(&e))?;
        let target = path
            .canonicalize()
            .map_err(|_| "broken symbolic link (not followed)".to_string())?;
        if target.parent() != Some(canon_dir.as_path()) {
            return Err(format!(
                "symbolic link to `{}`, outside the directory (not followed)",
                target.display()
            ));
        }
        target
    } else {
        path
    };
    // Refuse special files before opening (opening a socket fails, a device may have effects);
    // the fstat below catches a swap between this check and the open.
    let seen = std::fs::metadata(&target).map_err(|e| io_reason(&e))?;
    if !seen.file_type().is_file() {
        return Err(special_reason(&seen));
    }
    // O_NONBLOCK: a FIFO swapped in after the listing opens at once instead of hanging;
    // O_NOFOLLOW: a symlink swapped in after the check is refused, not followed.
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(&target)
        .map_err(|e| io_reason(&e))?;
    let meta = file.metadata().map_err(|e| io_reason(&e))?;
    if !meta.file_type().is_file() {
        return Err(special_reason(&meta));
    }
    Ok(Opened {
        file,
        meta,
        path: target,
    })
}

fn special_reason(meta: &Metadata) -> String {
    format!("{} (not read)", kind_of(meta))
}

/// What a file that is not a regular file is, in words for a reason.
/// What `walk` found below a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Walked {
    File,
    /// A symbolic link: reported, never followed.
    Link,
    /// A FIFO, socket or device: never opened by a walk.
    Other,
}

/// One entry below the walked directory: its name relative to it (`logs/a.log`), the directory
/// it is in and its own name (for `open_in_dir`), and its kind.
#[derive(Debug, Clone)]
pub(crate) struct WalkEntry {
    pub(crate) name: String,
    pub(crate) dir: PathBuf,
    pub(crate) file_name: std::ffi::OsString,
    pub(crate) kind: Walked,
}

/// Every entry but directories below `root`, links never followed, at most `WALK_DEPTH` levels
/// and `WALK_FILES` entries, sorted by name: how an unzipped bundle or a directory given to
/// `redact` is read.
pub(crate) fn walk(root: &Path) -> io::Result<Vec<WalkEntry>> {
    let mut out = Vec::new();
    let mut stack = vec![(root.to_path_buf(), String::new(), 0)];
    while let Some((dir, prefix, depth)) = stack.pop() {
        for item in std::fs::read_dir(&dir)? {
            let item = item?;
            let name = format!("{prefix}{}", item.file_name().to_string_lossy());
            let kind = item.file_type()?;
            let kind = if kind.is_dir() {
                if depth < WALK_DEPTH {
                    stack.push((item.path(), format!("{name}/"), depth + 1));
                }
                continue;
            } else if kind.is_file() {
                Walked::File
            } else if kind.is_symlink() {
                Walked::Link
            } else {
                Walked::Other
            };
            if out.len() < WALK_FILES {
                out.push(WalkEntry {
                    name,
                    dir: dir.clone(),
                    file_name: item.file_name(),
                    kind,
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

const WALK_DEPTH: usize = 8;
const WALK_FILES: usize = 100_000;

pub(crate) fn kind_of(meta: &Metadata) -> &'static str {
    let kind = meta.file_type();
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else {
        "not a regular file"
    }
}

/// Characters that would make a name mean something else to a reader: C0 and C1 controls and
/// DEL (terminal escapes, newlines), and the Unicode marks that reorder text on screen.
fn is_deceptive(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// A host file name as a bundle entry name: bytes that are not UTF-8, control characters,
/// reordering marks, `\` and `:` (a path separator and a drive or stream mark where support
/// engineers unzip; zip writers strip what comes before them) and `%` itself become `%XX`. The mapping is one to one, so two names never become the same entry.
pub(crate) fn entry_name(raw: &std::ffi::OsStr) -> String {
    let mut out = String::with_capacity(raw.len());
    for chunk in raw.as_encoded_bytes().utf8_chunks() {
        for c in chunk.valid().chars() {
            if is_deceptive(c) || matches!(c, '\\' | ':' | '%') {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Text for a terminal or a log: control characters and reordering marks escaped (`\u{1b}`),
/// so a file name or a log's content can never move the cursor or recolour the screen.
pub(crate) fn shown(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| is_deceptive(c) && c != '\n') {
        return text.into();
    }
    text.chars()
        .map(|c| {
            if is_deceptive(c) && c != '\n' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// Why a log that is a hard link must not be read (unless `--follow-hardlinks`): in a dir that
/// other users can write, a second name for a file may be another file's contents (`ln
/// /etc/shadow /var/tmp/edgemicro-x.log` where the kernel allows it).
pub(crate) fn hardlink_reason(dir: &Path, meta: &Metadata) -> Option<String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if meta.nlink() <= 1 {
        return None;
    }
    let dir_meta = std::fs::metadata(dir).ok()?;
    let others_write = dir_meta.permissions().mode() & 0o022 != 0
        || (dir_meta.uid() != 0 && dir_meta.uid() != nix::unistd::geteuid().as_raw());
    others_write.then(|| {
        format!(
            "a hard link ({} names for one file) in a directory other users can write: it may be another file's contents (not read; --follow-hardlinks reads it)",
            meta.nlink()
        )
    })
}

/// A host file that must be a regular file (a config, a package.json): opened without
/// blocking (a FIFO or a device is refused, not waited on), at most `max` bytes read.
pub(crate) fn read_regular(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    use io::Read;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(io::Error::other(special_reason(&meta)));
    }
    let mut out = Vec::new();
    file.take(max).read_to_end(&mut out)?;
    Ok(out)
}

/// A small file the user named (a rules file): read whole, at most `max` bytes, without ever
/// blocking beyond a signal or `wait`. A FIFO or a pipe (`--rules <(…)`) is read as it is
/// written, polled in slices, so SIGINT/SIGTERM/SIGHUP end the wait within a fraction of a
/// second; a directory, a socket or a device is refused.
pub(crate) fn read_small(path: &Path, max: u64, wait: std::time::Duration) -> io::Result<Vec<u8>> {
    use io::Read;
    let mut file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    let too_big = || io::Error::other(format!("larger than {max} bytes"));
    let mut out = Vec::new();
    if meta.file_type().is_file() {
        (&mut file).take(max + 1).read_to_end(&mut out)?;
        return if out.len() as u64 > max {
            Err(too_big())
        } else {
            Ok(out)
        };
    }
    if !meta.file_type().is_fifo() {
        return Err(io::Error::other(special_reason(&meta)));
    }
    let deadline = std::time::Instant::now() + wait;
    let mut buf = [0u8; 8192];
    loop {
        use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
        if let Some(Err(e)) = crate::signals::Interrupt::current().map(|i| i.check()) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, e.message));
        }
        if std::time::Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("nothing finished writing it within {} s", wait.as_secs()),
            ));
        }
        let mut fds = [PollFd::new(
            std::os::fd::AsFd::as_fd(&file),
            PollFlags::POLLIN,
        )];
        match poll(&mut fds, PollTimeout::from(200u16)) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        match file.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() as u64 > max {
                    return Err(too_big());
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => return Err(e),
        }
    }
}

/// The kind of skip reason an operator can act on, in lower case.
pub(crate) fn io_reason(err: &io::Error) -> String {
    match err.kind() {
        io::ErrorKind::PermissionDenied => {
            "permission denied (run as the user that runs edgemicro)".into()
        }
        io::ErrorKind::NotFound => "does not exist".into(),
        _ if err.raw_os_error() == Some(libc::ELOOP) => "symbolic link (not followed)".into(),
        _ => err.to_string().to_lowercase(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn entry_names_are_escaped_one_to_one() {
        let names: Vec<&[u8]> = vec![
            b"edgemicro-\xff.log",
            b"edgemicro-\xfe.log",
            b"edgemicro-%FF.log",
            b"edgemicro-..\\..\\x.log",
            b"edgemicro-\x1b[31mred.log",
            b"edgemicro-a\nb.log",
            b"edgemicro-\xe2\x80\xaegol.exe.log",
            b"edgemicro-\xc2\x9b2J.log",
            b"edgemicro-plain.log",
            b"edgemicro.log-2021-06-23T03:00",
            b"C:edgemicro.log",
            b"edgemicro-\xc3\xa9t\xc3\xa9.log",
        ];
        let escaped: Vec<String> = names
            .iter()
            .map(|n| entry_name(OsStr::from_bytes(n)))
            .collect();
        let unique: std::collections::BTreeSet<&String> = escaped.iter().collect();
        assert_eq!(unique.len(), names.len(), "{escaped:?}");
        for e in &escaped {
            assert!(
                !e.chars().any(|c| is_deceptive(c) || c == '\\' || c == ':'),
                "{e:?}"
            );
            // A zip writer keeps the name as given: the manifest and the zip agree.
            let name = format!("logs/{e}");
            assert_eq!(rawzip::path::ZipFilePath::from_str(&name).as_str(), name);
        }
        assert_eq!(escaped[0], "edgemicro-%FF.log");
        assert_eq!(escaped[2], "edgemicro-%25FF.log");
        assert_eq!(escaped[8], "edgemicro-plain.log");
        assert_eq!(shown("a\x1b[2Jb\u{202e}c"), "a\\u{1b}[2Jb\\u{202e}c");
    }

    #[test]
    fn fifos_links_out_and_broken_links_are_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ok.log"), "x\n").unwrap();
        std::fs::write(outside.path().join("secret"), "x\n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("out.log"))
            .unwrap();
        std::os::unix::fs::symlink(dir.path().join("ok.log"), dir.path().join("in.log")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("broken.log")).unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join("fifo.log"))
            .status()
            .unwrap();
        assert!(status.success());

        assert!(open_in_dir(dir.path(), OsStr::new("ok.log")).is_ok());
        assert!(
            open_in_dir(dir.path(), OsStr::new("in.log")).is_ok(),
            "links inside the dir are read"
        );
        assert!(open_in_dir(dir.path(), OsStr::new("out.log"))
            .err()
            .unwrap()
            .contains("outside"));
        assert!(open_in_dir(dir.path(), OsStr::new("broken.log"))
            .err()
            .unwrap()
            .contains("broken"));
        assert!(open_in_dir(dir.path(), OsStr::new("fifo.log"))
            .err()
            .unwrap()
            .contains("FIFO"));
    }
}
