//! `--low-priority`: a bundle made on a gateway under load should take what the gateway leaves.
//! Every thread of this process gets nice 19 (the CPU) and the idle I/O class (the disk), as
//! `sos report --low-priority` does; threads started later inherit both.
//!
//! The I/O class is set with `ionice` (util-linux, also a busybox applet): the call has no safe
//! binding and `unsafe` is forbidden here. Where `ionice` is missing, nice 19 still lowers the
//! I/O priority the kernel derives for a process without one (best effort, level 7).

use std::time::Duration;

/// What could be lowered.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub(crate) struct Lowered {
    pub(crate) cpu: bool,
    pub(crate) io: bool,
    /// Why one of them could not be lowered.
    pub(crate) note: Option<String>,
}

/// The lowest CPU priority.
const NICE: i32 = 19;
/// `ionice -c 3`: idle, served only when no other process wants the disk.
const IDLE_CLASS: &str = "3";

/// Lowers every thread of this process.
pub(crate) fn lower() -> Lowered {
    let threads = threads();
    let cpu = threads.iter().all(|&tid| {
        rustix::process::Pid::from_raw(tid as i32)
            .is_some_and(|pid| rustix::process::setpriority_process(Some(pid), NICE).is_ok())
    });
    let mut cmd = std::process::Command::new("ionice");
    cmd.args(["-c", IDLE_CLASS, "-p"])
        .args(threads.iter().map(u32::to_string));
    let io = crate::child::run_bounded(&mut cmd, Duration::from_secs(5));
    let (io, io_note) = match io {
        Ok(Some(done)) if done.status.success() => (true, None),
        Ok(Some(done)) => (false, Some(format!("ionice failed: {}", done.output.trim()))),
        Ok(None) => (false, Some("ionice did not answer in 5 s".to_string())),
        Err(e) => (
            false,
            Some(format!(
                "ionice could not run ({e}); the disk priority follows nice 19 (best effort, level 7)"
            )),
        ),
    };
    let note = match (cpu, io_note) {
        (false, n) => Some(
            ["the CPU priority could not be lowered".to_string()]
                .into_iter()
                .chain(n)
                .collect::<Vec<_>>()
                .join("; "),
        ),
        (true, n) => n,
    };
    Lowered { cpu, io, note }
}

/// This process's thread ids (the process id alone when /proc cannot be read).
fn threads() -> Vec<u32> {
    let mut tids: Vec<u32> = std::fs::read_dir("/proc/self/task")
        .map(|dir| {
            dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    if tids.is_empty() {
        tids.push(std::process::id());
    }
    tids.sort_unstable();
    tids
}
