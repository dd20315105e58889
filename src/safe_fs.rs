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
pub struct Opened {
    pub file: File,
    pub meta: Metadata,
    /// The path read: the entry itself, or the target of a symlink that stays inside the dir.
    pub path: PathBuf,
}

/// Opens `dir/name` for reading if it is (or links, inside `dir`, to) a regular file.
/// `Err(reason)` says why it was skipped, in words for the manifest.
pub fn open_in_dir(dir: &Path, name: &std::ffi::OsStr) -> Result<Opened, String> {
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
    let kind = meta.file_type();
    let what = if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else if kind.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    };
    format!("{what} (not read)")
}

/// The kind of skip reason an operator can act on, in lower case.
pub fn io_reason(err: &io::Error) -> String {
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
