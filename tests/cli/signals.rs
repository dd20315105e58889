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
    let partial = t.path("out/sig.zip.partial");
    let deadline = Instant::now() + Duration::from_secs(60);
    // Wait until the bundle is being written, then signal.
    while !partial.exists() {
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
