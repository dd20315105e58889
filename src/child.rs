//! Running another program without ever hanging on it: a wall-clock bound, output read on a
//! thread (a chatty child cannot block on a full pipe), killed when the bound is reached.

use std::io::Read;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Finished {
    pub status: ExitStatus,
    /// stdout followed by stderr, at most 64 KiB of each.
    pub output: String,
}

/// `Ok(None)` when the program ran out of time (it was killed); `Err` when it could not start.
pub fn run_bounded(cmd: &mut Command, limit: Duration) -> std::io::Result<Option<Finished>> {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let read = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(pipe) = pipe {
                let _ = pipe.take(64 << 10).read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = read(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = read(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
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
    let mut output = out.join().unwrap_or_default();
    output.extend(err.join().unwrap_or_default());
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
