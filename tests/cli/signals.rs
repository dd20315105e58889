//! Real signals mid-write: the `.partial` disappears, nothing else is left, exit 130/143.

use std::time::{Duration, Instant};

use crate::harness::*;

fn big_log_test(name: &str) -> Test {
    let line = "2026-01-01T00:00:00.000Z [info][10.1.2.3:8080][1][o][e][orders/v1?apikey=SIGSECRETKEY1][10.0.0.9][CLIENTIDVALUE][c][plugins-middleware][targetRequest][GET][][][][]\n";
    let t = Test::minimal();
    let mut f = std::io::BufWriter::new(
        std::fs::File::create(t.log_dir().join("edgemicro-big-1-api.log")).unwrap(),
    );
    for _ in 0..(150 << 20) / line.len() {
        std::io::Write::write_all(&mut f, line.as_bytes()).unwrap();
    }
    drop(f);
    t.collect(name)
}

fn interrupt_mid_write(signal: &str, expected: i32) {
    let t = big_log_test("sig.zip");
    let mut child = t
        .command()
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Wait until the bundle is being written, then signal.
    while partial_of(&t, "sig.zip").is_none() {
        assert!(Instant::now() < deadline, "no .partial appeared");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be interrupted"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still writing when signalled"
    );
    let (code, stderr) = signal_and_wait(child, signal);
    assert_eq!(code, Some(expected), "{stderr}");
    assert_nothing_left(&t);
}

#[test]
fn sigterm_mid_write_leaves_nothing_and_exits_143() {
    interrupt_mid_write("-TERM", 143);
}

#[test]
fn sigint_mid_write_leaves_nothing_and_exits_130() {
    interrupt_mid_write("-INT", 130);
}

#[test]
fn sighup_mid_write_leaves_nothing_and_exits_129() {
    interrupt_mid_write("-HUP", 129);
}

/// A followed log on stdin whose pipe never closes (`docker logs -f | …` without --max-seconds):
/// the run sits in the collect stage until a signal ends it, and must still leave nothing.
fn interrupt_a_stalled_stdin_log(signal: &str, expected: i32) {
    let t = Test::minimal()
        .log(
            "edgemicro-h-1-api.log",
            "2026-01-01T00:00:00.000Z info 1 x\n",
        )
        .collect("stdin.zip")
        .args(["--stdin-log", "follow.log"]);
    let mut child = t
        .command()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"2026-01-01T00:00:01.000Z info 1 followed\n").unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still reading the open pipe when signalled"
    );
    let (code, stderr) = signal_and_wait(child, signal);
    drop(stdin);
    assert_eq!(code, Some(expected), "{stderr}");
    assert_nothing_left(&t);
}

#[test]
fn sigterm_while_reading_a_stalled_stdin_log_leaves_nothing() {
    interrupt_a_stalled_stdin_log("-TERM", 143);
}

#[test]
fn sigint_while_reading_a_stalled_stdin_log_leaves_nothing() {
    interrupt_a_stalled_stdin_log("-INT", 130);
}

#[test]
fn sighup_while_reading_a_stalled_stdin_log_leaves_nothing() {
    interrupt_a_stalled_stdin_log("-HUP", 129);
}

/// Runs `t` until it prints `stalled at STAGE` (a debug-build hook that holds the run at the
/// start of that stage), then sends a real signal; returns the exit code and stderr.
fn signal_at_stage(
    t: &Test,
    stage: &str,
    signal: &str,
    at_stage: impl FnOnce(),
) -> (Option<i32>, String) {
    use std::io::BufRead;
    let mut child = t
        .command()
        .env("EDGEMICRO_DIAG_TEST_STALL", stage)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in stderr.lines().map_while(Result::ok) {
            let _ = tx.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let marker = format!("stalled at {stage}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line == marker => break,
            Ok(_) => {}
            Err(e) => panic!("never reached {stage}: {e}"),
        }
    }
    at_stage();
    let sent = std::process::Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    (status.code(), reader.join().unwrap())
}

/// The level switched for the reproduction is restored when a signal lands in discovery.
fn interrupt_discovery(signal: &str, expected: i32) {
    let t = Test::minimal()
        .log(
            "edgemicro-h-1-api.log",
            "2026-01-01T00:00:00.000Z info 1 x\n",
        )
        .collect("d.zip")
        .args(["--log-level", "info", "--reproduce-seconds", "1"]);
    let config = t.config_dir().join("o-e-config.yaml");
    let before = std::fs::read(&config).unwrap();
    let (code, stderr) = signal_at_stage(&t, "discover", signal, || {
        assert_ne!(std::fs::read(&config).unwrap(), before, "switched to info");
    });
    assert_eq!(code, Some(expected), "{stderr}");
    assert_eq!(std::fs::read(&config).unwrap(), before, "level restored");
    let extra: Vec<_> = std::fs::read_dir(t.config_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("edgemicro-diag"))
        .collect();
    assert!(extra.is_empty(), "backup/state left: {extra:?}");
    assert_nothing_left(&t);
}

#[test]
fn sigterm_during_discovery_restores_the_level_and_leaves_nothing() {
    interrupt_discovery("-TERM", 143);
}

#[test]
fn sighup_during_discovery_restores_the_level_and_leaves_nothing() {
    interrupt_discovery("-HUP", 129);
}

/// At the seal everything is written (zip finished and fsynced, the pseudonym map in its temp
/// file): a signal before the rename leaves none of it.
fn interrupt_seal(signal: &str, expected: i32) {
    let t = Test::minimal()
        .config(
            "o-e-config.yaml",
            "edgemicro:\n  port: 8000\n  redisPassword: sealSecret123\n",
        )
        .log(
            "edgemicro-h-1-api.log",
            "2026-01-01T00:00:00.000Z info 1 auth sealSecret123 failed\n",
        )
        .collect("s.zip")
        .args(["--pseudonymize"]);
    let (code, stderr) = signal_at_stage(&t, "seal", signal, || {
        let mut names: Vec<String> = std::fs::read_dir(t.path("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(
            names[0].starts_with(".edgemicro-diag-") && names[1].starts_with(".edgemicro-diag-"),
            "the sidecar's and the map's temp files: {names:?}"
        );
        assert!(
            names[2].starts_with("s.zip.") && names[2].ends_with(".partial"),
            "{names:?}"
        );
    });
    assert_eq!(code, Some(expected), "{stderr}");
    assert_nothing_left(&t);
}

#[test]
fn sigint_at_the_seal_leaves_no_bundle_no_map_no_temp_file() {
    interrupt_seal("-INT", 130);
}

#[test]
fn sigterm_at_the_seal_leaves_no_bundle_no_map_no_temp_file() {
    interrupt_seal("-TERM", 143);
}
