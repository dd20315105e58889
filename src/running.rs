//! Running edgemicro processes, read from /proc: which they are, and which config dir each one
//! reads (its `-c/--configDir`, else `$HOME/.edgemicro` of its own environment, else of its
//! user's passwd entry). `sudo edgemicro-diag` or a root shell uses this to find the gateway's
//! config before root's own `~/.edgemicro`.
//!
//! Reads only: argv, cwd, environ, the owner of /proc/PID and the files its stdout and stderr
//! write to; runs nothing.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// A running edgemicro (`edgemicro start`, its cluster workers, `node …/edgemicro …`).
#[derive(Debug, Clone)]
pub(crate) struct Running {
    pub(crate) pid: u32,
    pub(crate) uid: u32,
    pub(crate) argv: Vec<String>,
}

/// Every running edgemicro but this tool, lowest pid (the cluster master) first.
pub(crate) fn edgemicro() -> Vec<Running> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<Running> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter_map(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let argv: Vec<String> = raw
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let is_emg = argv.iter().take(3).any(|a| is_edgemicro(a));
            let uid = std::fs::metadata(format!("/proc/{pid}")).ok()?.uid();
            is_emg.then_some(Running { pid, uid, argv })
        })
        .collect();
    found.sort_by_key(|p| p.pid);
    found
}

/// `edgemicro`, `/usr/local/bin/edgemicro`, `…/node_modules/edgemicro/cli/edgemicro.js`: a path
/// with a component named edgemicro (not `edgemicro-diag`, not `--crate-name edgemicro_diag`).
fn is_edgemicro(arg: &str) -> bool {
    Path::new(arg)
        .components()
        .any(|c| matches!(c.as_os_str().to_str(), Some("edgemicro" | "edgemicro.js")))
}

/// How a config dir was found from a running edgemicro.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum How {
    /// Its `-c DIR` / `--configDir DIR`.
    Flag,
    /// `$HOME/.edgemicro` of its environment.
    Home,
    /// `.edgemicro` in its user's home (passwd).
    UserHome,
}

impl Running {
    /// The config dir this process reads, when it exists as a directory.
    pub(crate) fn config_dir(&self) -> Option<(PathBuf, How)> {
        let cwd = std::fs::read_link(format!("/proc/{}/cwd", self.pid)).ok();
        if let Some(dir) = config_dir_flag(&self.argv) {
            let dir = match (Path::new(&dir).is_absolute(), cwd) {
                (true, _) => PathBuf::from(dir),
                (false, Some(cwd)) => cwd.join(dir),
                (false, None) => return None,
            };
            return dir.is_dir().then_some((dir, How::Flag));
        }
        let home = environ_var(self.pid, "HOME")
            .map(|h| (PathBuf::from(h), How::Home))
            .filter(|(h, _)| h.is_absolute());
        let user = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(self.uid))
            .ok()
            .flatten()
            .map(|u| (u.dir, How::UserHome));
        home.into_iter()
            .chain(user)
            .map(|(h, how)| (h.join(".edgemicro"), how))
            .find(|(dir, _)| dir.is_dir())
    }
}

impl Running {
    /// The regular files its stdout (1) and stderr (2) are open for writing on: the console log
    /// of `nohup edgemicro start` (nohup.out), of a shell redirect, of systemd's
    /// `StandardOutput=append:FILE`. Pipes, terminals, sockets, /dev/null and deleted files are
    /// not. Needs the process's user or root (the kernel hides another user's fds).
    pub(crate) fn console_files(&self) -> Vec<(u8, PathBuf)> {
        [1u8, 2]
            .into_iter()
            .filter_map(|fd| {
                let path = std::fs::read_link(format!("/proc/{}/fd/{fd}", self.pid)).ok()?;
                let info =
                    std::fs::read_to_string(format!("/proc/{}/fdinfo/{fd}", self.pid)).ok()?;
                let writes = info
                    .lines()
                    .find_map(|l| l.strip_prefix("flags:"))
                    .and_then(|f| u32::from_str_radix(f.trim(), 8).ok())
                    .is_some_and(|flags| flags & libc::O_ACCMODE as u32 != libc::O_RDONLY as u32);
                let deleted = path.as_os_str().as_encoded_bytes().ends_with(b" (deleted)");
                (writes && path.is_absolute() && !deleted && path.is_file()).then_some((fd, path))
            })
            .collect()
    }
}

/// The value of `-c DIR`, `-cDIR`, `--configDir DIR` or `--configDir=DIR` after `start` (EMG's
/// option is `-c, --configDir`; the other commands take it too).
fn config_dir_flag(argv: &[String]) -> Option<String> {
    let mut words = argv.iter();
    while let Some(w) = words.next() {
        if w == "-c" || w.eq_ignore_ascii_case("--configdir") {
            return words.next().cloned();
        }
        if let Some((flag, value)) = w.split_once('=') {
            if flag.eq_ignore_ascii_case("--configdir") {
                return Some(value.to_string());
            }
        }
        if let Some(value) = w
            .strip_prefix("-c")
            .filter(|v| !v.is_empty() && !w.starts_with("--"))
        {
            return Some(value.to_string());
        }
    }
    None
}

/// One variable of a process's environment (readable by its owner and root only).
fn environ_var(pid: u32, name: &str) -> Option<String> {
    let raw =
        crate::safe_fs::read_regular(Path::new(&format!("/proc/{pid}/environ")), 1 << 20).ok()?;
    raw.split(|b| *b == 0).find_map(|kv| {
        let kv = std::str::from_utf8(kv).ok()?;
        let (k, v) = kv.split_once('=')?;
        (k == name && !v.is_empty()).then(|| v.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edgemicro_is_told_from_its_neighbours() {
        for (arg, want) in [
            ("edgemicro", true),
            ("/usr/local/bin/edgemicro", true),
            ("/opt/apigee/node_modules/edgemicro/cli/edgemicro", true),
            ("/usr/lib/node_modules/edgemicro/cli/edgemicro.js", true),
            ("./edgemicro", true),
            ("edgemicro-diag", false),
            ("/usr/local/bin/edgemicro-diag", false),
            ("edgemicro_diag", false),
            ("/home/me/edgemicro-logs/tail", false),
            ("node", false),
        ] {
            assert_eq!(is_edgemicro(arg), want, "{arg}");
        }
    }

    #[test]
    fn the_config_dir_flag_in_every_spelling() {
        let argv = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        for (cmd, want) in [
            (
                "node /usr/bin/edgemicro start -o o -e e -k K -s S -c /opt/emg",
                Some("/opt/emg"),
            ),
            ("edgemicro start -c/opt/emg -o o", Some("/opt/emg")),
            ("edgemicro start --configDir /srv/cfg", Some("/srv/cfg")),
            ("edgemicro start --configdir=/srv/cfg", Some("/srv/cfg")),
            ("edgemicro start -o o -e e -k K -s S", None),
            ("edgemicro start --cluster -o o", None),
        ] {
            assert_eq!(config_dir_flag(&argv(cmd)).as_deref(), want, "{cmd}");
        }
    }
}
