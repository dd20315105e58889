//! Running another program without ever hanging on it: a wall-clock bound, output read on a
//! thread (a chatty child cannot block on a full pipe), killed when the bound is reached.
//!
//! A long-lived child that runs with root's privileges (tcpdump) is started through `tied`: this
//! binary again, as a hidden `exec-tied` command that asks the kernel to kill it when its parent
//! dies (`PR_SET_PDEATHSIG`), arms an `alarm` as its own time bound, and then execs the program
//! (both survive the exec). `kill -9` of the tool therefore never leaves the child running, and
//! this needs no `unsafe` pre-exec hook.

use std::ffi::OsString;
use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The hidden subcommand that `tied` runs.
pub(crate) const EXEC_TIED: &str = "exec-tied";

/// A command that runs `program args…` tied to this process, and killed by SIGALRM after
/// `alarm_seconds` whatever happens to us.
pub(crate) fn tied(program: &str, args: &[String], alarm_seconds: u64) -> Command {
    let me = std::env::current_exe().unwrap_or_else(|_| "/proc/self/exe".into());
    let mut cmd = Command::new(me);
    cmd.arg(EXEC_TIED)
        .arg(std::process::id().to_string())
        .arg(alarm_seconds.to_string())
        .arg("--")
        .arg(program)
        .args(args);
    cmd
}

/// The child side of `tied`: returns only when it cannot exec (127) or the parent is gone (125).
pub(crate) fn exec_tied(parent: u32, alarm_seconds: u64, argv: &[OsString]) -> i32 {
    use std::os::unix::process::CommandExt;
    if nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).is_err() {
        eprintln!("edgemicro-diag: error: cannot tie the child to its parent");
        return 125;
    }
    // The parent may have died before the line above: then nobody would ever send the signal.
    if nix::unistd::getppid().as_raw() as u32 != parent {
        return 125;
    }
    let Some((program, args)) = argv.split_first() else {
        return 125;
    };
    let secs = u32::try_from(alarm_seconds).unwrap_or(u32::MAX).max(1);
    nix::unistd::alarm::set(secs);
    let err = Command::new(program).args(args).exec();
    eprintln!(
        "edgemicro-diag: error: cannot run {}: {}",
        program.to_string_lossy(),
        crate::safe_fs::io_reason(&err)
    );
    127
}

pub(crate) struct Finished {
    pub(crate) status: ExitStatus,
    /// stdout followed by stderr, at most 64 KiB of each.
    pub(crate) output: String,
}

/// Reads at most `limit` bytes of a child's pipe on a thread (a chatty child never blocks on a
/// full pipe), then drops the pipe.
pub(crate) fn drain(
    pipe: impl Read + Send + 'static,
    limit: u64,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.take(limit).read_to_end(&mut buf);
        buf
    })
}

/// `Ok(None)` when the program ran out of time (it was killed); `Err` when it could not start.
pub(crate) fn run_bounded(cmd: &mut Command, limit: Duration) -> std::io::Result<Option<Finished>> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = child.stdout.take().map(|p| drain(p, 64 << 10));
    let err = child.stderr.take().map(|p| drain(p, 64 << 10));
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let joined = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
        h.and_then(|h| h.join().ok()).unwrap_or_default()
    };
    let mut output = joined(out);
    output.extend(joined(err));
    Ok(status.map(|status| Finished {
        status,
        output: String::from_utf8_lossy(&output).into_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_in_time_and_output_is_captured() {
        let done = run_bounded(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(5),
        )
        .unwrap()
        .unwrap();
        assert_eq!(done.status.code(), Some(3));
        assert!(done.output.contains("out") && done.output.contains("err"));
        let started = Instant::now();
        assert!(
            run_bounded(Command::new("sleep").arg("30"), Duration::from_millis(300))
                .unwrap()
                .is_none()
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(run_bounded(
            &mut Command::new("/nonexistent/program"),
            Duration::from_secs(1)
        )
        .is_err());
    }
}
