use std::os::unix::fs::PermissionsExt;

use crate::harness::*;

#[test]
fn missing_config_dir_lists_what_was_tried_and_the_flag() {
    let t = Test::new();
    std::fs::remove_dir_all(t.config_dir()).unwrap();
    let t = t.collect("x.zip");
    let run = t.run();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(&t.config_dir().display().to_string())
            && run.stderr.contains("(from default)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--config-dir"), "{}", run.stderr);
    assert_nothing_left(&t);

    let run = Test::new()
        .collect("y.zip")
        .args(["-c", "/nonexistent/emg"])
        .run();
    assert_eq!(run.code, 1);
    assert!(
        run.stderr
            .contains("`/nonexistent/emg` (from --config-dir)"),
        "{}",
        run.stderr
    );
}

/// One malformed config is left out with its file, line and column; everything else (the
/// other configs, the logs) is still collected, and the bundle says it is partial (exit 3).
#[test]
fn a_malformed_config_is_skipped_with_file_line_column_and_the_rest_collected() {
    let t = Test::new()
        .config("default.yaml", "edgemicro:\n  port: 8000\n")
        .config(
            "o-e-config.yaml",
            "edgemicro:\n  port: 8000\n  logging: {level: info\n  plugins: x\n",
        )
        .log(
            "edgemicro-gw-1-api.log",
            "2026-01-01T00:00:00.000Z info 1 ok\n",
        )
        .collect("x.zip")
        .args(["--json"]);
    let run = t.run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    let reason = skip_reason(&json, "o-e-config.yaml");
    assert!(reason.contains("malformed YAML at "), "{reason}");
    let pos = reason.split("malformed YAML at ").nth(1).unwrap();
    let mut parts = pos.split(':');
    assert!(
        parts.next().unwrap().parse::<u32>().is_ok()
            && parts.next().unwrap().parse::<u32>().is_ok(),
        "line:column in {reason}"
    );
    let entries = unzip_all(&t.path("out/x.zip"));
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"config/default.yaml"), "{names:?}");
    assert!(names.contains(&"logs/edgemicro-gw-1-api.log"), "{names:?}");
    assert!(!names.contains(&"config/o-e-config.yaml"), "{names:?}");
}

#[test]
fn hostile_log_entries_are_skipped_with_reasons_and_exit_3() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "OUTSIDESECRET\n").unwrap();
    let t = Test::minimal().log("edgemicro-ok-1-api.log", "fine\n");
    let logs = t.log_dir();
    std::os::unix::fs::symlink(
        outside.path().join("secret.txt"),
        logs.join("edgemicro-out-1-api.log"),
    )
    .unwrap();
    std::os::unix::fs::symlink(logs.join("gone"), logs.join("edgemicro-broken-1-api.log")).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(logs.join("edgemicro-fifo-1-api.log"))
        .status()
        .unwrap()
        .success());
    let _socket =
        std::os::unix::net::UnixListener::bind(logs.join("edgemicro-sock-1-api.log")).unwrap();
    let t = t.collect("h.zip").args(["--json"]);
    let started = std::time::Instant::now();
    let run = t.run();
    assert!(started.elapsed().as_secs() < 30, "never blocks on the FIFO");
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    for (name, reason) in [
        ("out", "outside the directory"),
        ("broken", "broken symbolic link"),
        ("fifo", "a FIFO"),
        ("sock", "a socket"),
    ] {
        let said = skip_reason(&json, &format!("edgemicro-{name}-1-api.log"));
        assert!(said.contains(reason), "{name}: {said}");
    }
    let entries = unzip_all(&t.path("out/h.zip"));
    assert!(entries
        .iter()
        .any(|(n, _)| n == "logs/edgemicro-ok-1-api.log"));
    assert!(!entries.iter().any(|(_, b)| contains(b, b"OUTSIDESECRET")));
}

#[test]
fn unreadable_log_is_skipped_with_the_reason() {
    let t = Test::minimal()
        .log("edgemicro-ok-1-api.log", "fine\n")
        .log("edgemicro-locked-1-api.log", "x\n");
    std::fs::set_permissions(
        t.log_dir().join("edgemicro-locked-1-api.log"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let t = t.collect("u.zip").args(["--json"]);
    let run = t.run_unprivileged();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    let said = skip_reason(&json, "edgemicro-locked-1-api.log");
    assert!(said.contains("permission denied"), "{said}");
}

#[test]
fn output_dir_missing_or_unwritable_fails_before_any_work() {
    let t = Test::example().args(["collect", "-y", "-o", "no/such/dir/b.zip"]);
    let run = t.run();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("/no/such/dir` does not exist"),
        "{}",
        run.stderr
    );

    let t = Test::example();
    std::fs::create_dir(t.path("ro")).unwrap();
    std::fs::set_permissions(t.path("ro"), std::fs::Permissions::from_mode(0o555)).unwrap();
    let log_dir = t.log_dir();
    let run = t
        .args(["collect", "-y", "-o", "ro/b.zip", "--log-dir"])
        .args([log_dir])
        .run_unprivileged();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot create") && run.stderr.contains("permission denied"),
        "{}",
        run.stderr
    );
}

#[test]
fn existing_bundle_is_a_usage_error_unless_forced() {
    let t = Test::example().collect("b.zip");
    assert_eq!(t.run().code, 0);
    let again = t.run();
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(
        again.stderr.contains("already exists") && again.stderr.contains("--force"),
        "{}",
        again.stderr
    );
    let t = t.args(["--force"]);
    assert_eq!(t.run().code, 0);
    sha256sum_check(&t.path("out/b.zip"));
}

#[test]
fn no_logs_gives_a_bundle_with_a_warning_and_exit_3() {
    let t = Test::minimal().collect("n.zip").args(["--json"]);
    let run = t.run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["status"], "partial");
    assert!(
        json["warnings"]
            .to_string()
            .contains("no edgemicro-*.log files"),
        "{json}"
    );
    unzip_test(&t.path("out/n.zip"));
}

#[test]
fn non_utf8_and_crlf_pass_through_except_where_redacted() {
    let mut log = b"2026-01-01T00:00:00.000Z [error][h][1][o][e][p?apikey=BINSECRET99][][][c1][x][][GET][502][socket hang up][ECONNRESET][]\r\n".to_vec();
    log.extend_from_slice(b"latin1 caf\xe9 \xff\xfe raw bytes\r\n");
    log.extend_from_slice(b"no newline at the end");
    let t = Test::minimal()
        .log("edgemicro-bin-1-api.log", &log)
        .collect("b.zip");
    assert_eq!(t.run().code, 0);
    let body = unzip_all(&t.path("out/b.zip"))
        .into_iter()
        .find(|(n, _)| n.starts_with("logs/"))
        .unwrap()
        .1;
    let expected = String::from_utf8_lossy(&log).replace("BINSECRET99", "REDACTED_QUERY_SECRET");
    let mut want = log.clone();
    let at = want.windows(11).position(|w| w == b"BINSECRET99").unwrap();
    want.splice(at..at + 11, b"REDACTED_QUERY_SECRET".iter().copied());
    assert_eq!(body, want, "{expected}");
}

#[test]
fn user_rules_add_to_the_shipped_ones_and_a_bad_rule_is_named() {
    let t = Test::minimal().log(
        "edgemicro-h-1-api.log",
        "2026-01-01T00:00:00.000Z info 1 vault unsealed with pin=PIN8842ZZ ok\n",
    );
    std::fs::write(
        t.path("mine.yaml"),
        "patterns:\n  - id: vault_pin\n    why: our plugin logs it\n    keywords: [pin=]\n    regex: '(?i)\\bpin=(\\S+)'\n",
    )
    .unwrap();
    std::fs::write(
        t.path("bad.yaml"),
        "patterns:\n  - id: broken\n    keywords: [x]\n    regex: '(unclosed'\n",
    )
    .unwrap();
    let good = t.path("mine.yaml");
    let bad = t.path("bad.yaml");
    let t = t.collect("r.zip");
    let run = t
        .command()
        .args(["--rules".as_ref(), good.as_os_str()])
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let log = unzip_all(&t.path("out/r.zip"))
        .into_iter()
        .find(|(n, _)| n.starts_with("logs/"))
        .unwrap()
        .1;
    assert_eq!(
        String::from_utf8(log).unwrap(),
        "2026-01-01T00:00:00.000Z info 1 vault unsealed with pin=REDACTED_VAULT_PIN ok\n"
    );

    let run = t
        .command()
        .args(["--force".as_ref(), "--rules".as_ref(), bad.as_os_str()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("bad.yaml:2")
            && stderr.contains("`broken`")
            && stderr.contains("does not compile"),
        "{stderr}"
    );
}

#[test]
fn empty_files_many_small_files_and_non_utf8_names() {
    use std::os::unix::ffi::OsStrExt;
    let t = Test::minimal().log("edgemicro-empty-1-api.log", "");
    for i in 0..10_000 {
        std::fs::write(
            t.log_dir().join(format!("edgemicro-small-{i:05}-api.log")),
            format!("2026-01-01T00:00:00.000Z info 1 line {i}\n"),
        )
        .unwrap();
    }
    let odd = std::ffi::OsStr::from_bytes(b"edgemicro-caf\xe9-1-api.log");
    std::fs::write(
        t.log_dir().join(odd),
        "2026-01-01T00:00:00.000Z info 1 latin-1 name\n",
    )
    .unwrap();
    let t = t.collect("many.zip").args(["--json"]);
    let started = std::time::Instant::now();
    let run = t.run();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "10 000 files in bounded time: {:?}",
        started.elapsed()
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    let files = json["files"].as_array().unwrap();
    assert_eq!(
        files
            .iter()
            .filter(|f| f["path"].as_str().unwrap().starts_with("logs/"))
            .count(),
        10_002
    );
    assert_eq!(
        files
            .iter()
            .find(|f| f["path"] == "logs/edgemicro-empty-1-api.log")
            .unwrap()["bytes"],
        0
    );
    assert!(
        files
            .iter()
            .any(|f| f["path"] == "logs/edgemicro-caf%E9-1-api.log"),
        "a non-UTF-8 byte is stored as %XX (one to one: two such names never collide)"
    );
    let zip = t.path("out/many.zip");
    sha256sum_check(&zip);
    assert_eq!(
        Test::new()
            .args(["verify".into(), zip.into_os_string()])
            .run()
            .code,
        0
    );
}

#[test]
fn a_world_writable_output_dir_gets_a_warning_and_the_bundle_stays_private() {
    let t = Test::example();
    std::fs::set_permissions(t.path("out"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let t = t.collect("w.zip").args(["--json"]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.json()["warnings"]
            .to_string()
            .contains("is world-writable (mode 777)"),
        "{}",
        run.stdout_str()
    );
    let mode = std::fs::metadata(t.path("out/w.zip"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

/// A 256 KiB tmpfs mounted for one test (root only), unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_leaves_nothing_and_says_how_far_the_bundle_got() {
    let t = Test::minimal();
    let disk = t.path("small-disk");
    std::fs::create_dir(&disk).unwrap();
    let mounted = is_root()
        && std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(&disk)
            .status()
            .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("SKIPPED: a real full disk needs root to mount a small tmpfs (CI runs as root)");
        return;
    }
    let _guard = SmallDisk(disk.clone());
    // ~1.5 MB of hex noise: far more than the 256 KiB disk, even compressed.
    let log = noisy_log(0x9e37_79b9_7f4a_7c15, 1_500_000);
    let log_dir = t.log_dir();
    std::fs::write(log_dir.join("edgemicro-h-1-api.log"), log).unwrap();
    let run = t
        .args([
            "collect".into(),
            "-y".into(),
            "--log-dir".into(),
            log_dir.into_os_string(),
            "-o".into(),
            disk.join("b.zip").into_os_string(),
        ])
        .run();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("no space left for the bundle: it needed more than"),
        "{}",
        run.stderr
    );
    // The bytes written when the disk filled are a lower bound; the estimate scales them by
    // how much of the logs was in, and a 256 KiB disk cannot hold what it estimates.
    let estimate: u64 = run
        .stderr
        .split("about ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no estimate: {}", run.stderr));
    assert!(estimate > 256 << 10, "{}", run.stderr);
    assert!(
        run.stderr.contains("--max-bundle-bytes"),
        "the hint says what to do: {}",
        run.stderr
    );
    let left: Vec<_> = std::fs::read_dir(&disk)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "no partial bundle left on the full disk: {left:?}"
    );
}

#[test]
fn a_log_that_grows_while_read_is_copied_as_it_was_at_open_and_said_so() {
    let t = Test::minimal();
    let log = t.log_dir().join("edgemicro-live-1-api.log");
    let line = "2026-01-01T00:00:00.000Z [info][h][1][o][e][orders][10.0.0.1][][c][plugins-middleware][targetRequest][GET][][][][]\n";
    std::fs::write(&log, line.repeat(200_000)).unwrap(); // ~23 MB
    let at_start = line.len() * 200_000;
    let t = t.collect("g.zip").args(["--json"]);
    let child = t
        .command()
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // edgemicro keeps writing while the bundle is made (bounded: until the run ends, at most 60 s).
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, log) = (stop.clone(), log.clone());
        std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let mut f = std::fs::OpenOptions::new().append(true).open(log).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed)
                && started.elapsed() < std::time::Duration::from_secs(60)
            {
                std::io::Write::write_all(
                    &mut f,
                    "2026-01-01T00:00:09.000Z info 1 appended while collecting\n".as_bytes(),
                )
                .unwrap();
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        })
    };
    let out = child.wait_with_output().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    writer.join().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["exit_code"], 0, "{json}");
    assert!(
        json["warnings"]
            .to_string()
            .contains("grew while being read"),
        "{json}"
    );
    let copied = entry(
        &unzip_all(&t.path("out/g.zip")),
        "logs/edgemicro-live-1-api.log",
    )
    .to_vec();
    let now = std::fs::read(&log).unwrap();
    assert!(
        copied.len() >= at_start && copied.len() < now.len(),
        "{} of {}",
        copied.len(),
        now.len()
    );
    assert_eq!(
        &now[..copied.len()],
        &copied[..],
        "a prefix of the live file, as it was at open"
    );
}

#[test]
fn a_log_truncated_while_read_is_copied_up_to_where_it_ended_and_said_so() {
    let t = Test::minimal();
    let log = t.log_dir().join("edgemicro-rot-1-api.log");
    let line = "2026-01-01T00:00:00.000Z [info][h][1][o][e][orders][10.0.0.1][][c][plugins-middleware][targetRequest][GET][][][][]\n";
    let lines = (150 << 20) / line.len();
    std::fs::write(&log, line.repeat(lines)).unwrap();
    let size = (line.len() * lines) as u64;
    let t = t.collect("r.zip").args(["--json"]);
    let child = t
        .command()
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Rotation by copytruncate: once the bundle is being written, the log drops to 0 bytes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    // Wait until log data flows into the .partial (the log is open and being read), however
    // slow the machine: a fixed sleep raced with discovery on a loaded host.
    let flowing = || {
        partial_of(&t, "r.zip")
            .and_then(|p| std::fs::metadata(p).ok())
            .is_some_and(|m| m.len() > 8192)
    };
    while !flowing() {
        assert!(
            std::time::Instant::now() < deadline,
            "no log data reached the .partial"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    std::fs::OpenOptions::new()
        .write(true)
        .open(&log)
        .unwrap()
        .set_len(0)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["exit_code"], 0, "{json}");
    let warning = json["warnings"].to_string();
    assert!(
        warning.contains("edgemicro-rot-1-api.log: shrank while being read"),
        "{json}"
    );
    let copied = entry(
        &unzip_all(&t.path("out/r.zip")),
        "logs/edgemicro-rot-1-api.log",
    )
    .to_vec();
    assert!(
        !copied.is_empty() && (copied.len() as u64) < size,
        "{} of {size}",
        copied.len()
    );
    assert!(
        warning.contains(&format!("{} of {size} bytes copied", copied.len())),
        "{warning}"
    );
    // What was read, as it was: a prefix of the original (the last line may be cut where the
    // file ended).
    let original = line.repeat(lines);
    assert_eq!(&copied[..], &original.as_bytes()[..copied.len()]);
}

#[test]
fn a_read_only_log_dir_is_collected_and_left_as_it_was() {
    let t = Test::minimal().log(
        "edgemicro-ro-1-api.log",
        "2026-01-01T00:00:00.000Z error 1 socket hang up ECONNRESET\n",
    );
    let logs = t.log_dir();
    std::fs::set_permissions(&logs, std::fs::Permissions::from_mode(0o555)).unwrap();
    let before: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let t = t.collect("ro.zip");
    let run = t.run_unprivileged();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let entries = unzip_all(&t.path("out/ro.zip"));
    assert!(contains(
        entry(&entries, "logs/edgemicro-ro-1-api.log"),
        b"socket hang up"
    ));
    let after: Vec<_> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "nothing written into the log dir");
    assert_eq!(
        std::fs::metadata(&logs).unwrap().permissions().mode() & 0o777,
        0o555
    );
}

/// `--max-bundle-bytes N` holds for every N: either a bundle no larger than N, or exit 1 with
/// the size it came to and nothing left behind.
#[test]
fn max_bundle_bytes_holds_for_every_limit() {
    for limit in [
        512u64,
        4 << 10,
        9 << 10,
        20 << 10,
        200 << 10,
        1 << 20,
        16 << 20,
    ] {
        let t = Test::example()
            .collect("m.zip")
            .args(["--max-bundle-bytes", &limit.to_string()]);
        let run = t.run();
        let bundle = t.path("out/m.zip");
        match run.code {
            1 => {
                assert!(
                    run.stderr.contains("the bundle came to")
                        && run.stderr.contains("nothing was written"),
                    "{limit}: {}",
                    run.stderr
                );
                assert_nothing_left(&t);
            }
            0 | 3 => {
                let size = std::fs::metadata(&bundle).unwrap().len();
                assert!(size <= limit, "{limit}: a bundle of {size} bytes");
                sha256sum_check(&bundle);
            }
            other => panic!("{limit}: exit {other}: {}", run.stderr),
        }
    }
}

/// The room `--max-bundle-bytes` keeps for what is written after the logs is what those entries
/// take (measured from their render), not a flat guess: with a limit a little above the size
/// of the whole bundle, every log is in, whole; with a limit under the size of the bundle
/// without logs, nothing is written and the error says the size it came to.
#[test]
fn max_bundle_bytes_keeps_only_the_room_the_trailing_entries_take() {
    let full = Test::example().collect("full.zip");
    assert_eq!(full.run().code, 0);
    let whole = std::fs::metadata(full.path("out/full.zip")).unwrap().len();
    let logs: Vec<String> = unzip_all(&full.path("out/full.zip"))
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.starts_with("logs/"))
        .collect();
    assert!(logs.len() >= 2, "{logs:?}");
    // The reserve is the trailing entries as rendered before each log (about 12 KiB here)
    // plus as much again and 16 KiB for what that log adds, and a few hundred bytes per file
    // for the manifest and the zip directory: 40 KiB over the bundle's size holds it all (a
    // flat guess of 256 KiB did not).
    let limit = whole + (40 << 10);
    let t =
        Test::example()
            .collect("m.zip")
            .args(["--max-bundle-bytes", &limit.to_string(), "--json"]);
    let run = t.run();
    assert_eq!(
        run.code,
        0,
        "a {whole}-byte bundle under a {limit}-byte limit: {}",
        run.stdout_str()
    );
    let got: Vec<String> = unzip_all(&t.path("out/m.zip"))
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.starts_with("logs/"))
        .collect();
    assert_eq!(got, logs);
    let json = run.json();
    assert!(json["files"]
        .as_array()
        .unwrap()
        .iter()
        .all(|f| f["truncated"] != true));
}

/// A log dir read as it is listed (never held as names) still takes each file once: in many
/// generated dirs of plain logs, in-dir symbolic links and hard links, created in random order
/// (so the dir lists them in varied orders), a file is collected exactly once: under its own
/// name when it has one, else under the first of its names. `*.log` files without an EMG name
/// are taken only from a dir with no EMG-named log, and never leave a skip when one exists.
#[test]
fn every_file_of_a_log_dir_is_read_once_whatever_its_names() {
    for round in 0..6u64 {
        let mut gen = Gen(0xd15c_0000 + round);
        let t = Test::minimal();
        let logs = t.log_dir();
        let plain = 3 + (gen.next() % 6) as usize;
        // (file's content, the name it must be collected under)
        let mut want: Vec<(String, String)> = Vec::new();
        // What each name is, made in the dir when its turn comes.
        type Make = Box<dyn Fn(&std::path::Path)>;
        let mut made: Vec<Make> = Vec::new();
        for i in 0..plain {
            let name = format!("edgemicro-{}-{i}-api.log", gen.hex(6));
            let body = format!("2026-01-01T00:00:00.000Z info 1 plain {round} {i}\n");
            want.push((body.clone(), name.clone()));
            let n = name.clone();
            made.push(Box::new(move |d| {
                std::fs::write(d.join(&n), &body).unwrap()
            }));
        }
        // Symbolic links (EMG-named) to some plain logs: the plain name wins.
        for j in 0..(gen.next() % 4) as usize {
            let target = want[j % plain].1.clone();
            let name = format!("edgemicro-{}-s{j}-api.log", gen.hex(6));
            made.push(Box::new(move |d| {
                std::os::unix::fs::symlink(&target, d.join(&name)).unwrap()
            }));
        }
        // A file known only by hard links: the first of its names wins.
        let names = [
            format!("edgemicro-{}-h1-api.log", gen.hex(6)),
            format!("edgemicro-{}-h2-api.log", gen.hex(6)),
        ];
        let body = format!("2026-01-01T00:00:00.000Z info 1 linked {round}\n");
        want.push((body.clone(), names.iter().min().unwrap().clone()));
        // Created in a generated order; the hard link's second name after its first.
        let mut order: Vec<usize> = (0..made.len()).collect();
        for k in (1..order.len()).rev() {
            order.swap(k, (gen.next() % (k as u64 + 1)) as usize);
        }
        std::fs::write(logs.join(&names[0]), &body).unwrap();
        for k in order {
            made[k](&logs);
        }
        std::fs::hard_link(logs.join(&names[0]), logs.join(&names[1])).unwrap();
        // Not EMG-named: ignored here, since the dir has EMG-named logs.
        std::fs::write(
            logs.join("other.log"),
            "2026-01-01T00:00:00.000Z info 1 other\n",
        )
        .unwrap();
        let t = t.collect("links.zip").args(["--json"]);
        let run = t.run();
        assert_eq!(run.code, 0, "round {round}: {}", run.stderr);
        let entries = unzip_all(&t.path("out/links.zip"));
        let logs_in: Vec<&(String, Vec<u8>)> = entries
            .iter()
            .filter(|(n, _)| n.starts_with("logs/"))
            .collect();
        assert_eq!(logs_in.len(), want.len(), "round {round}: {logs_in:?}");
        for (body, name) in &want {
            let got: Vec<&str> = logs_in
                .iter()
                .filter(|(_, b)| b == body.as_bytes())
                .map(|(n, _)| n.as_str())
                .collect();
            assert_eq!(got, [format!("logs/{name}")], "round {round}: {body}");
        }
        assert_eq!(
            run.json()["skipped"],
            serde_json::json!([]),
            "round {round}"
        );
    }
    // A named dir with no EMG-named log: its `*.log`s, each once.
    let t = Test::minimal()
        .log("app.log", "2026-01-01T00:00:00.000Z info 1 app\n")
        .log("worker.log", "2026-01-01T00:00:00.000Z info 1 worker\n");
    std::os::unix::fs::symlink("app.log", t.log_dir().join("current.log")).unwrap();
    let t = t.collect("any.zip");
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let mut names: Vec<String> = unzip_all(&t.path("out/any.zip"))
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.starts_with("logs/"))
        .collect();
    names.sort();
    assert_eq!(names, ["logs/app.log", "logs/worker.log"]);
}
