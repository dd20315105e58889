//! Hostile hosts, round 2 (issue #15): what another local user writes must never steer root's
//! tools, clobber a file or hang a run. Each test plays the attacker or the fault for real:
//! hostile log records and names generated in many variants, real tcpdump as root, real
//! signals, `setpriv` to `nobody`, symlinks and FIFOs planted where the tool looks.

use std::time::{Duration, Instant};

use crate::capture::{answering_server, can_capture, client, listener, tcpdump_read};
use crate::harness::*;

/// Host fields an attacker can write into a `targetRequest error` record: each would change the
/// meaning of a BPF filter or a command line if it reached one as text.
fn hostile_hosts() -> Vec<String> {
    let mut out: Vec<String> = [
        "127.0.0.1)) or ((tcp",
        "127.0.0.1 or tcp",
        "127.0.0.1) or (tcp",
        "localhost or port 22",
        "not host 127.0.0.1",
        "tcp",
        "-w/tmp/x",
        "127.0.0.1\tor\ttcp",
        "$(id)",
        "`id`",
        "a;b",
        "[::1]) or (tcp",
        "::1)) or ((ip6",
        "127.0.0.1 and port 1 or tcp",
        "1.2.3.999",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for joiner in [" or ", ")or(", "))or((", " || "] {
        for tail in ["tcp", "udp", "ip", "port 22", "portrange 1-65535"] {
            out.push(format!("127.0.0.1{joiner}{tail}"));
        }
    }
    out
}

fn error_record(host_field: &str, port: &str) -> String {
    format!("2026-01-01T00:00:00.000Z [error][{host_field}:{port}][1][o][e][p/x][127.0.0.1][][f88ede10-d3d6-11eb-95aa-9949482cc78e][plugins-middleware][targetRequest error][GET][][socket hang up][ECONNRESET][5]\n")
}

/// Root's capture filter is built from parsed addresses and numbers only: every hostile host
/// field in the logs is dropped with a warning, the one valid target stays, and the real pcap
/// holds no packet of another service.
#[test]
fn log_records_cannot_widen_roots_capture_filter() {
    if !can_capture() {
        return;
    }
    let (target, target_port) = listener();
    let (other, other_port) = listener();
    let servers = [answering_server(target, 1), answering_server(other, 1)];
    let mut log = String::new();
    for host in hostile_hosts() {
        log.push_str(&error_record(&host, &target_port.to_string()));
        // The port field is hostile too.
        log.push_str(&error_record("127.0.0.1", &format!("{target_port} or tcp")));
    }
    log.push_str(&error_record("127.0.0.1", &target_port.to_string()));
    let t = Test::minimal()
        .log("edgemicro-gw-1-api.log", &log)
        .collect("h.zip")
        .args([
            "--json",
            "--capture-seconds",
            "3",
            "--capture-interface",
            "lo",
        ]);
    let traffic = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1200));
        let a = std::thread::spawn(move || client(target_port, 3, Duration::from_millis(50)));
        client(other_port, 3, Duration::from_millis(50));
        a.join().unwrap();
    });
    let run = t.run();
    traffic.join().unwrap();
    servers.into_iter().for_each(|s| s.join().unwrap());
    assert!(run.code == 0 || run.code == 3, "{}", run.stderr);
    let json = run.json();
    let capture = &json["capture"];
    assert_eq!(
        capture["filter"],
        format!("tcp and (((host 127.0.0.1) and port {target_port}))"),
        "{capture}"
    );
    assert_eq!(capture["targets"].as_array().unwrap().len(), 1, "{capture}");
    assert!(capture["targets"][0]["source"]
        .as_str()
        .unwrap()
        .contains("targetRequest error in log"));
    assert!(
        json["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("no valid host:port")),
        "dropped records are reported: {}",
        json["warnings"]
    );
    let entries = unzip_all(&t.path("out/h.zip"));
    let packets = tcpdump_read(entry(&entries, "capture/targets.pcap"));
    assert!(!packets.is_empty());
    let other_tag = format!(".{other_port}");
    assert!(
        !packets.iter().any(|p| p.contains(&other_tag)),
        "another service's traffic was captured: {packets:?}"
    );
}

/// With only hostile records, nothing is captured at all (and nothing is guessed).
#[test]
fn only_hostile_targets_means_no_capture() {
    let mut log = String::new();
    for host in hostile_hosts() {
        log.push_str(&error_record(&host, "8080"));
    }
    // A fake tcpdump that would record its arguments if it were ever run.
    let bin = tempfile::tempdir().unwrap();
    let called = bin.path().join("called");
    std::fs::write(
        bin.path().join("tcpdump"),
        format!(
            "#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\nexit 1\n",
            called.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.path().join("tcpdump"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let t = Test::minimal()
        .log("edgemicro-gw-1-api.log", &log)
        .env("PATH", &path)
        .collect("h.zip")
        .args(["--json", "--capture-seconds", "1"]);
    let run = t.run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["capture"]["status"], "skipped", "{}", json["capture"]);
    assert!(
        !called.exists(),
        "tcpdump ran with {:?}",
        std::fs::read_to_string(&called)
    );
}

/// Configs are trusted over logs: with a proxies[].url, log records add no target.
#[test]
fn config_targets_win_over_log_records() {
    let bin = tempfile::tempdir().unwrap();
    let called = bin.path().join("called");
    std::fs::write(
        bin.path().join("tcpdump"),
        format!("#!/bin/sh\nprintf '%s\\n' \"$*\" >> {}\necho 'tcpdump: You don'\"'\"'t have permission' >&2\nexit 1\n", called.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.path().join("tcpdump"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let t = Test::minimal()
        .config(
            "o-e-cache-config.yaml",
            "proxies:\n  - name: orders\n    url: http://127.0.0.7:8081/orders\n",
        )
        .log("edgemicro-gw-1-api.log", error_record("127.0.0.9", "22"))
        .env("PATH", &path)
        .collect("c.zip")
        .args(["--json", "--capture-seconds", "1"]);
    let run = t.run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let args = std::fs::read_to_string(&called).unwrap();
    assert!(
        args.ends_with("tcp and (((host 127.0.0.7) and port 8081))\n"),
        "{args}"
    );
    assert!(
        args.contains("-w -"),
        "tcpdump writes to a pipe, never a path: {args}"
    );
    assert!(!args.contains("127.0.0.9"), "{args}");
}

/// `--capture-host` and `--capture-port` take values, not text: every hostile one is a usage
/// error (exit 2) before anything runs.
#[test]
fn capture_flags_refuse_anything_but_addresses_names_and_numbers() {
    for host in hostile_hosts() {
        let t = Test::minimal().collect("f.zip").args([
            "--capture-seconds",
            "1",
            "--capture-host",
            &host,
        ]);
        let run = t.run();
        assert_eq!(run.code, 2, "--capture-host {host:?}: {}", run.stderr);
        assert_nothing_left(&t);
    }
    for port in ["0", "65536", "80 or tcp", "-1", "22)", "http"] {
        let t = Test::minimal().collect("f.zip").args([
            "--capture-seconds",
            "1",
            "--capture-port",
            port,
        ]);
        let run = t.run();
        assert_eq!(run.code, 2, "--capture-port {port:?}: {}", run.stderr);
    }
}

/// The pids of processes whose command line starts with `tcpdump` and mentions `needle`.
fn tcpdumps_with(needle: &str) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.starts_with("tcpdump ") && text.contains(needle) {
            out.push(pid);
        }
    }
    out
}

/// `kill -9` of the tool mid-capture: root's tcpdump dies with it (PR_SET_PDEATHSIG), and it
/// was never given a path to write.
#[test]
fn kill_9_during_a_capture_leaves_no_tcpdump_running() {
    if !can_capture() {
        return;
    }
    let (_target, port) = listener();
    let t = Test::example()
        .collect("k.zip")
        .args(["--capture-seconds", "600", "--capture-interface", "lo"])
        .args(["--capture-port".to_string(), port.to_string()]);
    let mut child = t
        .command()
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let needle = format!("port {port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let pids = loop {
        let pids = tcpdumps_with(&needle);
        if !pids.is_empty() {
            break pids;
        }
        assert!(Instant::now() < deadline, "tcpdump never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    for pid in &pids {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
        let w = args.iter().position(|a| *a == b"-w").expect("-w given");
        assert_eq!(args[w + 1], b"-", "tcpdump writes to our pipe only");
    }
    child.kill().unwrap(); // SIGKILL: no handler, no cleanup of ours runs
    child.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    while !tcpdumps_with(&needle).is_empty() {
        assert!(
            Instant::now() < deadline,
            "tcpdump still runs after the tool was killed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `--force` replaces regular files only: a device node, a FIFO, a socket, a directory in the
/// way of the name, or a symbolic link at the output path is refused (exit 2) and left as it
/// was. The device is made here (`mknod`), never /dev/null itself.
#[test]
fn force_never_replaces_what_is_not_a_regular_file() {
    let t = Test::minimal();
    let out = t.path("out");
    let mut planted: Vec<(String, std::path::PathBuf)> = Vec::new();
    if is_root() {
        let dev = out.join("null");
        assert!(std::process::Command::new("mknod")
            .arg(&dev)
            .args(["c", "1", "3"])
            .status()
            .unwrap()
            .success());
        planted.push(("a device".into(), dev));
    }
    let fifo = out.join("fifo.zip");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    planted.push(("a FIFO".into(), fifo));
    let sock = out.join("sock.zip");
    let _listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    planted.push(("a socket".into(), sock));
    let victim = t.path("victim.txt");
    std::fs::write(&victim, "keep me\n").unwrap();
    let link = out.join("link.zip");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    planted.push(("a symbolic link".into(), link));
    // The sidecar's name taken by a directory.
    std::fs::create_dir(out.join("d.zip.sha256")).unwrap();
    planted.push(("a directory".into(), out.join("d.zip")));
    for (kind, path) in &planted {
        let before = std::fs::symlink_metadata(path).ok().map(|m| m.file_type());
        let run = Test::minimal()
            .args(["collect", "-y", "--force", "-c"])
            .args([
                t.config_dir(),
                "--log-dir".into(),
                t.log_dir(),
                "-o".into(),
                path.clone(),
            ])
            .run();
        assert_eq!(run.code, 2, "{kind}: {}", run.stderr);
        assert!(
            run.stderr.contains("regular files only"),
            "{kind}: {}",
            run.stderr
        );
        assert_eq!(
            std::fs::symlink_metadata(path).ok().map(|m| m.file_type()),
            before,
            "{kind} was replaced"
        );
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me\n");
    let left: Vec<_> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("partial") || n.starts_with(".edgemicro-diag"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// `-o DIR` writes the default bundle name inside DIR; the bundle passes its own verify.
#[test]
fn output_to_a_directory_writes_the_default_name_inside() {
    let t = Test::minimal().log(
        "edgemicro-gw-1-api.log",
        "2026-01-01T00:00:00.000Z info 1 ok\n",
    );
    let (logs, out) = (t.log_dir(), t.path("out"));
    let t = t
        .args(["collect", "-y", "--json", "--log-dir"])
        .args([logs, "-o".into(), out]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let bundle = std::path::PathBuf::from(run.json()["bundle"].as_str().unwrap());
    assert_eq!(bundle.parent().unwrap(), t.path("out"));
    let name = bundle.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        name.starts_with("edgemicro-diag-") && name.ends_with(".zip"),
        "{name}"
    );
    sha256sum_check(&bundle);
    let verify = Test::new()
        .args(["verify".into(), bundle.into_os_string()])
        .run();
    assert_eq!(verify.code, 0, "{}", verify.stderr);
}

/// Control characters in the bundle's file name would break the `sha256sum -c` sidecar (a
/// newline) or a terminal (an escape): refused with exit 2, nothing written.
#[test]
fn control_characters_in_the_output_name_are_refused() {
    for c in (0u8..0x20).chain([0x7f]) {
        if c == 0 {
            continue; // a NUL cannot be passed in argv at all
        }
        let t = Test::minimal();
        let name = format!("a{}b.zip", c as char);
        let path = t.path("out").join(&name);
        let t = t.args(["collect", "-y", "-o"]).args([path]);
        let run = t.run();
        assert_eq!(run.code, 2, "{c:#x}: {}", run.stderr);
        assert_nothing_left(&t);
    }
}

/// `collect -o -` with stdout closed: the zip would go nowhere, so exit 1 (not 0 with a sha256).
#[test]
fn closed_stdout_is_a_failure_not_a_bundle() {
    let t = Test::minimal().args(["collect", "-y", "--json", "-o", "-"]);
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("\"$0\" \"$@\" >&-")
        .arg(BIN)
        .args(["collect", "-y", "--json", "-o", "-", "-c"])
        .arg(t.config_dir())
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", t.path("home"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(json["sha256"].is_null(), "{json}");
    assert!(json["error"].as_str().unwrap().contains("stdout is closed"));
}

/// Starts `t` stalled at `stall` (`seal:N`) and waits until it is writing its `.partial` of
/// `name`: a second run can then race it at the seal.
fn writing_then_stalled(t: &Test, stall: &str, name: &str) -> std::process::Child {
    let child = t
        .command()
        .env("EDGEMICRO_DIAG_TEST_STALL", stall)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while partial_of(t, name).is_none() {
        assert!(Instant::now() < deadline, "the run never started writing");
        std::thread::sleep(Duration::from_millis(20));
    }
    child
}

/// Two runs with the same `-o` at once: each writes its own `.partial`; the one that finishes
/// second does not replace the first one's bundle (exit 1, nothing of its own left), and what
/// is on disk is exactly what its run reported.
#[test]
fn two_runs_with_the_same_output_never_swap_bundles() {
    let t = Test::minimal()
        .log(
            "edgemicro-gw-1-api.log",
            "2026-01-01T00:00:00.000Z info 1 ok\n",
        )
        .collect("same.zip")
        .args(["--json"]);
    let slow = writing_then_stalled(&t, "seal:4", "same.zip");
    std::thread::sleep(Duration::from_millis(300));
    let fast = t.run();
    assert_eq!(fast.code, 0, "{}", fast.stderr);
    let fast_json = fast.json();
    let slow = slow.wait_with_output().unwrap();
    assert_eq!(
        slow.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&slow.stderr)
    );
    let slow_json: serde_json::Value = serde_json::from_slice(&slow.stdout).unwrap();
    assert!(slow_json["bundle"].is_null(), "{slow_json}");
    assert!(
        slow_json["error"].as_str().unwrap().contains("appeared"),
        "{slow_json}"
    );
    let zip = t.path("out/same.zip");
    let on_disk = sha256_of(&zip);
    assert_eq!(fast_json["sha256"], on_disk);
    sha256sum_check(&zip);
    let names: Vec<String> = std::fs::read_dir(t.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "only the bundle and its sidecar: {names:?}");
}

/// The same race with `--force`: replacing is allowed, and the sha256 reported is that of the
/// file on disk.
#[test]
fn a_forced_second_writer_reports_the_file_on_disk() {
    let t = Test::minimal()
        .log(
            "edgemicro-gw-1-api.log",
            "2026-01-01T00:00:00.000Z info 1 ok\n",
        )
        .collect("f.zip")
        .args(["--json", "--force"]);
    let slow = writing_then_stalled(&t, "seal:4", "f.zip");
    std::thread::sleep(Duration::from_millis(300));
    let fast = t.run();
    assert_eq!(fast.code, 0, "{}", fast.stderr);
    let slow = slow.wait_with_output().unwrap();
    assert_eq!(slow.status.code(), Some(0));
    let slow_json: serde_json::Value = serde_json::from_slice(&slow.stdout).unwrap();
    let zip = t.path("out/f.zip");
    assert_eq!(
        slow_json["sha256"],
        sha256_of(&zip),
        "the last writer's bundle is on disk"
    );
    sha256sum_check(&zip);
}

/// A directory planted at the sidecar's name after the run started: the bundle is not put in
/// place without its sidecar (exit 1, nothing left), instead of `bundle: null` beside a bundle.
#[test]
fn a_sidecar_that_cannot_be_written_leaves_no_bundle_behind() {
    let t = Test::minimal()
        .log(
            "edgemicro-gw-1-api.log",
            "2026-01-01T00:00:00.000Z info 1 ok\n",
        )
        .collect("s.zip")
        .args(["--json"]);
    let child = writing_then_stalled(&t, "seal:3", "s.zip");
    std::fs::create_dir(t.path("out/s.zip.sha256")).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json["bundle"].is_null());
    assert!(
        !t.path("out/s.zip").exists(),
        "a bundle without its sidecar"
    );
    std::fs::remove_dir(t.path("out/s.zip.sha256")).unwrap();
    assert_nothing_left(&t);
}

fn sha256_of(path: &std::path::Path) -> String {
    let out = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Log file names another user chose: bytes that are not UTF-8, every control character, a
/// Windows path, terminal escapes and reordering marks. Every file becomes its own entry (no
/// two collide after decoding), no entry name or terminal line carries a control character or
/// a backslash, and the bundle passes its own verify.
#[test]
fn hostile_log_names_become_distinct_plain_entry_names() {
    use std::os::unix::ffi::OsStrExt;
    let t = Test::minimal();
    let mut names: Vec<Vec<u8>> = Vec::new();
    for b in (1u8..0x20).chain([0x7f]).chain(0x80..=0xff) {
        if b == b'/' {
            continue;
        }
        names.push([b"edgemicro-".as_slice(), &[b], b".log"].concat());
    }
    for special in [
        "edgemicro-..\\..\\x.log",
        "edgemicro-\u{1b}[31mred\u{1b}[0m.log",
        "edgemicro-\u{1b}]0;title\u{7}.log",
        "edgemicro-\u{202e}gol.exe.log",
        "edgemicro-\u{9b}2J.log",
        "edgemicro-%FF.log",
        "edgemicro-%25.log",
    ] {
        names.push(special.as_bytes().to_vec());
    }
    for name in &names {
        std::fs::write(
            t.log_dir().join(std::ffi::OsStr::from_bytes(name)),
            "2026-01-01T00:00:00.000Z info 1 ok\n",
        )
        .unwrap();
    }
    let t = t.collect("n.zip").args(["--json"]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let zip = t.path("out/n.zip");
    let verify = Test::new()
        .args(["verify".into(), zip.clone().into_os_string()])
        .run();
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    let list = std::process::Command::new("unzip")
        .arg("-Z1")
        .arg(&zip)
        .output()
        .unwrap();
    let listed: Vec<&[u8]> = list
        .stdout
        .split(|b| *b == b'\n')
        .filter(|l| l.starts_with(b"logs/"))
        .collect();
    assert_eq!(listed.len(), names.len(), "one entry per file");
    for entry in &listed {
        assert!(
            !entry.iter().any(|b| *b < 0x20 || *b == 0x7f || *b == b'\\'),
            "{:?}",
            String::from_utf8_lossy(entry)
        );
        let text = std::str::from_utf8(entry).expect("entry names are UTF-8");
        assert!(
            !text
                .chars()
                .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c)),
            "{text:?}"
        );
    }
    // The human summary on a terminal-bound stderr: no raw escape reaches it.
    let human = Test::minimal();
    copy_dir(&t.log_dir(), &human.log_dir());
    let human = human.collect("h.zip");
    let run = human.run();
    assert!(!run.stderr.contains('\u{1b}'), "{:?}", run.stderr);
}

/// A log that is a hard link in a directory other users can write may be another file's
/// contents: skipped with the reason, read only with --follow-hardlinks. (The link is made
/// here as root; with fs.protected_hardlinks=0 any user can make it.)
#[test]
fn hard_links_in_a_shared_log_dir_are_skipped_unless_asked() {
    use std::os::unix::fs::PermissionsExt;
    let t = Test::minimal();
    let secret = t.path("home/private.txt");
    std::fs::write(&secret, "root-only content PLANTED_HARDLINK_SECRET\n").unwrap();
    std::fs::set_permissions(t.log_dir(), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::hard_link(&secret, t.log_dir().join("edgemicro-x-1-api.log")).unwrap();
    let t = t.collect("l.zip").args(["--json"]);
    let run = t.run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert!(
        skip_reason(&json, "edgemicro-x-1-api.log").contains("hard link"),
        "{json}"
    );
    let entries = unzip_all(&t.path("out/l.zip"));
    assert!(!entries
        .iter()
        .any(|(_, b)| contains(b, b"PLANTED_HARDLINK_SECRET")));

    let t = t.args(["--follow-hardlinks", "--force"]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let entries = unzip_all(&t.path("out/l.zip"));
    assert!(entries
        .iter()
        .any(|(n, _)| n == "logs/edgemicro-x-1-api.log"));
}

/// Runs `t` with a wall-clock bound: a run that takes longer is killed and the test fails.
fn run_within(t: &Test, limit: Duration) -> Run {
    let mut child = t
        .command()
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the run took longer than {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap().into()
}

/// YAML built to exhaust memory or time: merge keys that fan out at every level, and anchors
/// nested inside anchors (each level's copy holds all the levels below). Each is refused with
/// its reason in seconds, and everything else is collected (exit 3).
#[test]
fn yaml_bombs_are_refused_and_the_rest_is_collected() {
    let mut bombs: Vec<(String, String)> = Vec::new();
    for (fan, levels) in [(2usize, 40usize), (3, 25), (8, 19), (16, 12)] {
        let mut y = String::from("b0: &b0 {x: 1}\n");
        for i in 1..levels {
            let refs = vec![format!("*b{}", i - 1); fan].join(", ");
            y.push_str(&format!("b{i}: &b{i} {{<<: [{refs}]}}\n"));
        }
        y.push_str(&format!(
            "edgemicro:\n  <<: *b{}\n  port: 8000\n",
            levels - 1
        ));
        bombs.push((format!("merge fan-out {fan} x {levels}"), y));
    }
    // The parser stops nesting at a few hundred levels; width makes up for it.
    for (depth, width) in [(200usize, 1_000usize), (100, 3_000)] {
        let leaves: String = (0..width).map(|j| format!("k{j}: v, ")).collect();
        let mut y = String::from("edgemicro:\n  port: 8000\nnest: ");
        for i in 0..depth {
            y.push_str(&format!("&a{i} {{{leaves}c: "));
        }
        y.push('x');
        y.push_str(&"}".repeat(depth));
        y.push('\n');
        bombs.push((format!("nested anchors {depth} deep, {width} wide"), y));
    }
    for (what, yaml) in bombs {
        let t = Test::minimal()
            .config("o-e-config.yaml", &yaml)
            .log(
                "edgemicro-gw-1-api.log",
                "2026-01-01T00:00:00.000Z info 1 ok\n",
            )
            .collect("y.zip")
            .args(["--json"]);
        let run = run_within(&t, Duration::from_secs(30));
        assert_eq!(run.code, 3, "{what}: {}", run.stderr);
        let json = run.json();
        let reason = skip_reason(&json, "o-e-config.yaml");
        assert!(
            reason.contains("merge keys") || reason.contains("anchors nest"),
            "{what}: {reason}"
        );
        let entries = unzip_all(&t.path("out/y.zip"));
        assert!(
            entries
                .iter()
                .any(|(n, _)| n == "logs/edgemicro-gw-1-api.log"),
            "{what}"
        );
        assert!(
            entries.iter().any(|(n, _)| n == "config/default.yaml"),
            "{what}"
        );
    }
}

/// No date, size or duration panics (exit 101): every numeric and time flag of every command
/// gets the extremes and the nonsense, and each run ends with one of the documented codes.
#[test]
fn no_flag_value_panics() {
    let values = [
        "0",
        "-1",
        "1",
        "4294967296",
        "18446744073709551615",
        "18446744073709551616",
        "300000y",
        "99999999999999d",
        "18446744073709551615s",
        "9999-12-31T23:59:59Z",
        "0000-01-01T00:00:00Z",
        "+275760-09-13T00:00:00Z",
        "1ns",
        "16E",
        "17179869184G",
        "1e9",
        "",
        " ",
        "NaN",
    ];
    let collect_flags = [
        "--since",
        "--until",
        "--max-log-bytes",
        "--max-bundle-bytes",
        "--max-seconds",
        "--capture-max-bytes",
        "--capture-max-packets",
        "--reproduce-seconds",
        "--from-pid",
    ];
    let documented = [0, 1, 2, 3, 4];
    for flag in collect_flags {
        for value in values {
            let t = Test::minimal().collect("p.zip").args([flag, value]);
            let run = run_within(&t, Duration::from_secs(60));
            assert!(
                documented.contains(&run.code) && !run.stderr.contains("panicked"),
                "collect {flag} {value:?}: exit {}: {}",
                run.code,
                run.stderr
            );
        }
    }
    for flag in ["--lb-idle-timeout", "--probe-max-seconds"] {
        for value in values {
            let t = Test::minimal().args(["analyze", "--log-dir"]).args([
                Test::minimal().log_dir().into_os_string(),
                flag.into(),
                value.into(),
            ]);
            let run = run_within(&t, Duration::from_secs(60));
            assert!(
                documented.contains(&run.code) && !run.stderr.contains("panicked"),
                "analyze {flag} {value:?}: exit {}: {}",
                run.code,
                run.stderr
            );
        }
    }
}

const LEVELLED: &str =
    "edgemicro:\n  port: 8000\n  logging:\n    level: error\n    dir: /var/tmp\n";

/// The config dir holds exactly what it held before (the level restored, no backup or state
/// file left).
fn assert_config_untouched(t: &Test) {
    assert_eq!(
        std::fs::read_to_string(t.config_dir().join("o-e-config.yaml")).unwrap(),
        LEVELLED,
        "the level was not restored"
    );
    let extra: Vec<String> = std::fs::read_dir(t.config_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.contains("edgemicro-diag"))
        .collect();
    assert!(extra.is_empty(), "{extra:?}");
}

/// Sends `signal` to a running child and checks it ended within one second with `expected`.
fn signal_ends_within_a_second(child: std::process::Child, signal: &str, expected: i32) {
    let pid = child.id();
    let started = Instant::now();
    let sent = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let mut child = child;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert_eq!(status.code(), Some(expected));
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "still running 1 s after {signal}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A reader that stops reading `-o -` (a stalled ssh): the run is blocked on a full pipe with
/// the level switched to debug. Each of SIGINT, SIGTERM and SIGHUP ends it within a second and
/// puts the level back.
#[test]
fn a_stalled_stdout_pipe_never_holds_a_signal_or_the_log_level() {
    for (signal, expected) in [("-INT", 130), ("-TERM", 143), ("-HUP", 129)] {
        let t = Test::minimal()
            .config("o-e-config.yaml", LEVELLED)
            .log("edgemicro-gw-1-api.log", noisy_log(7, 4 << 20))
            .args([
                "collect",
                "-y",
                "--log-level",
                "debug",
                "-o",
                "-",
                "--log-dir",
            ]);
        let t = {
            let logs = t.log_dir();
            t.args([logs])
        };
        let (reader, writer) = std::io::pipe().unwrap();
        let child = t
            .command()
            .stdout(writer)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // The pipe holds 64 KiB; the zip of 4 MiB of noise is far more: the run is blocked.
        std::thread::sleep(Duration::from_millis(1500));
        signal_ends_within_a_second(child, signal, expected);
        drop(reader);
        assert_config_untouched(&t);
    }
}

/// `--rules FIFO` with nothing writing to it: the open does not block, the wait does not
/// outlive a signal, and the level switch (taken before) is undone.
#[test]
fn a_fifo_given_as_rules_never_holds_a_signal() {
    for (signal, expected) in [("-INT", 130), ("-TERM", 143), ("-HUP", 129)] {
        let t = Test::minimal().config("o-e-config.yaml", LEVELLED);
        let fifo = t.path("rules.yaml");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let t = t
            .collect("r.zip")
            .args(["--log-level", "debug", "--rules"])
            .args([fifo]);
        let child = t
            .command()
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(700));
        assert!(child.id() > 0);
        signal_ends_within_a_second(child, signal, expected);
        assert_config_untouched(&t);
        assert_nothing_left(&t);
    }
}

/// A rules file that a process writes through a FIFO (`--rules <(…)`) is read as written.
#[test]
fn rules_from_a_pipe_are_read() {
    let t = Test::minimal().log(
        "edgemicro-gw-1-api.log",
        "2026-01-01T00:00:00.000Z info 1 token=PIPEDSECRETVALUE1 ok\n",
    );
    let fifo = t.path("rules.yaml");
    assert!(std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(500));
            std::fs::write(
                fifo,
                "patterns:\n  - id: piped\n    why: a test rule read through a pipe\n    keywords: [PIPED]\n    regex: 'PIPEDSECRETVALUE[0-9]'\n",
            )
            .unwrap();
        })
    };
    let t = t.collect("p.zip").args(["--json", "--rules"]).args([fifo]);
    let run = run_within(&t, Duration::from_secs(30));
    writer.join().unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let entries = unzip_all(&t.path("out/p.zip"));
    assert!(!entries
        .iter()
        .any(|(_, b)| contains(b, b"PIPEDSECRETVALUE1")));
}

fn log_level_cmd(t: &Test, args: &[&str]) -> std::process::Command {
    let mut cmd = t.command();
    cmd.arg("log-level")
        .args(args)
        .arg("-c")
        .arg(t.config_dir());
    cmd
}

fn run_cmd(mut cmd: std::process::Command) -> Run {
    cmd.output().unwrap().into()
}

/// A config that is a symbolic link: inside the config dir (Kubernetes' `..data/` layout) its
/// target is edited and the link kept, and restore brings the target back byte for byte; to a
/// file outside the config dir, `set` refuses and changes nothing.
#[test]
fn log_level_on_a_symlinked_config_keeps_the_link_or_refuses() {
    let t = Test::minimal();
    let dir = t.config_dir();
    std::fs::remove_file(dir.join("o-e-config.yaml")).unwrap();
    std::fs::create_dir(dir.join("..2026_01_01")).unwrap();
    std::fs::write(dir.join("..2026_01_01/o-e-config.yaml"), LEVELLED).unwrap();
    std::os::unix::fs::symlink("..2026_01_01", dir.join("..data")).unwrap();
    std::os::unix::fs::symlink("..data/o-e-config.yaml", dir.join("o-e-config.yaml")).unwrap();
    let set = run_cmd(log_level_cmd(&t, &["set", "info"]));
    assert_eq!(set.code, 0, "{}", set.stderr);
    let link = dir.join("o-e-config.yaml");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link was replaced"
    );
    assert!(std::fs::read_to_string(&link)
        .unwrap()
        .contains("level: info"));
    let restore = run_cmd(log_level_cmd(&t, &["restore"]));
    assert_eq!(restore.code, 0, "{}", restore.stderr);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read_to_string(&link).unwrap(), LEVELLED);

    // Outside the config dir: refused, nothing touched.
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("other.yaml");
    std::fs::write(&victim, LEVELLED).unwrap();
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let set = run_cmd(log_level_cmd(&t, &["set", "debug"]));
    assert_eq!(set.code, 1, "{}", set.stderr);
    assert!(set.stderr.contains("symbolic link"), "{}", set.stderr);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), LEVELLED);
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
}

/// A backup or state file replaced by a link (to a file the attacker wants root to read or
/// write) is never read through: restore refuses and the link's target is untouched.
#[test]
fn restore_never_follows_a_planted_backup_or_state_link() {
    for planted in [
        "o-e-config.yaml.edgemicro-diag.bak",
        "o-e-config.yaml.edgemicro-diag.state",
    ] {
        let t = Test::minimal().config("o-e-config.yaml", LEVELLED);
        let set = run_cmd(log_level_cmd(&t, &["set", "info"]));
        assert_eq!(set.code, 0, "{}", set.stderr);
        let victim = t.path("victim.txt");
        std::fs::write(&victim, "not yours\n").unwrap();
        let path = t.config_dir().join(planted);
        std::fs::remove_file(&path).unwrap();
        std::os::unix::fs::symlink(&victim, &path).unwrap();
        let restore = run_cmd(log_level_cmd(&t, &["restore"]));
        assert_eq!(restore.code, 1, "{planted}: {}", restore.stderr);
        assert!(
            restore.stderr.contains("symbolic link"),
            "{}",
            restore.stderr
        );
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "not yours\n");
    }
}

/// Two `set`s at once, and a `set` while another process appends to the file: no update is
/// lost. The appender's lines all survive, and whatever happened, `restore` returns the file
/// to a state that holds them (or the switch was refused and nothing changed).
#[test]
fn concurrent_switches_and_appends_lose_no_update() {
    for round in 0..4 {
        let t = Test::minimal().config("o-e-config.yaml", LEVELLED);
        let file = t.config_dir().join("o-e-config.yaml");
        let a = log_level_cmd(&t, &["set", "info"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let b = log_level_cmd(&t, &["set", "debug"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // An operator's editor appending while the switches run.
        let appender = {
            let file = file.clone();
            std::thread::spawn(move || {
                for i in 0..20 {
                    use std::io::Write;
                    let mut f = std::fs::OpenOptions::new()
                        .append(true)
                        .open(&file)
                        .unwrap();
                    writeln!(f, "# appended {round}-{i}").unwrap();
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        };
        let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
        appender.join().unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        for i in 0..20 {
            let line = format!("# appended {round}-{i}");
            assert!(
                text.contains(&line),
                "round {round}: lost `{line}` (set exits {:?} {:?}):\n{text}",
                a.status.code(),
                b.status.code()
            );
        }
        for out in [&a, &b] {
            assert!(
                matches!(out.status.code(), Some(0) | Some(1)),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// `kill -9` at every step of `set` and of `restore`: what is left is recognised. `restore`
/// brings the file back byte for byte (or says nothing was switched) and removes every
/// leftover; a plain `collect` in between warns only while a switch is really in force.
#[test]
fn kill_9_at_every_step_of_a_switch_is_recoverable() {
    for step in ["loglevel-backup", "loglevel-state", "loglevel-restore"] {
        let t = Test::minimal().config("o-e-config.yaml", LEVELLED);
        if step == "loglevel-restore" {
            let set = run_cmd(log_level_cmd(&t, &["set", "debug"]));
            assert_eq!(set.code, 0, "{}", set.stderr);
        }
        let verb = if step == "loglevel-restore" {
            "restore"
        } else {
            "set"
        };
        let mut cmd = log_level_cmd(
            &t,
            if verb == "set" {
                &["set", "debug"]
            } else {
                &["restore"]
            },
        );
        let mut child = cmd
            .env("EDGEMICRO_DIAG_TEST_STALL", format!("{step}:30"))
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut stderr, &mut line).unwrap();
        assert!(line.contains("stalled at"), "{step}: {line}");
        child.kill().unwrap();
        child.wait().unwrap();
        let collect = Test::minimal();
        let collect = collect.args(["collect", "-y", "--json", "-c"]).args([
            t.config_dir(),
            "--log-dir".into(),
            t.log_dir(),
            "-o".into(),
            t.path(&format!("out/{verb}.zip")),
        ]);
        let run = collect.run();
        let warned = run.json()["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("still switched"));
        let in_force = std::fs::read_to_string(t.config_dir().join("o-e-config.yaml"))
            .unwrap()
            .contains("level: debug");
        assert_eq!(
            warned, in_force,
            "{step}: warning {warned}, level in force {in_force}"
        );
        let restore = run_cmd(log_level_cmd(&t, &["restore"]));
        assert_eq!(restore.code, 0, "{step}: {}", restore.stderr);
        assert_config_untouched(&t);
        // And a new switch works after it.
        let set = run_cmd(log_level_cmd(&t, &["set", "info"]));
        assert_eq!(set.code, 0, "{step}: {}", set.stderr);
        let restore = run_cmd(log_level_cmd(&t, &["restore"]));
        assert_eq!(restore.code, 0, "{step}: {}", restore.stderr);
        assert_config_untouched(&t);
    }
}

/// `log-level show` when the ORG-ENV config cannot be read (run as `nobody`): exit 1 and the
/// reason, never the default.yaml level as if it were in force.
#[test]
fn show_on_an_unreadable_config_is_an_error_not_another_files_level() {
    use std::os::unix::fs::PermissionsExt;
    let t = Test::minimal()
        .config("default.yaml", "edgemicro:\n  logging:\n    level: warn\n")
        .config("o-e-config.yaml", LEVELLED);
    std::fs::set_permissions(
        t.config_dir().join("o-e-config.yaml"),
        std::fs::Permissions::from_mode(0o000),
    )
    .unwrap();
    let config_dir = t.config_dir();
    let t = t.args([
        "log-level".into(),
        "show".into(),
        "-c".into(),
        config_dir.into_os_string(),
    ]);
    let run = t.run_unprivileged();
    if !is_root() && run.code == 0 {
        eprintln!("SKIPPED: this user can read a mode-000 file (not root, yet allowed)");
        return;
    }
    assert_eq!(run.code, 1, "{}{}", run.stderr, run.stdout_str());
    assert!(run.stderr.contains("cannot read"), "{}", run.stderr);
    assert!(!run.stdout_str().contains("warn") && !run.stderr.contains("level: warn"));
}

/// Secret-named variables whose values are ordinary text (`*_KEY=default`, `sha256`, a path, a
/// port) do not stop every collect at the self-check: they are listed by name (never value)
/// as not searched for, while a real token in the same environment is still redacted.
#[test]
fn ordinary_words_in_secret_named_variables_do_not_stop_the_bundle() {
    let t = Test::minimal()
        .config("o-e-config.yaml", "edgemicro:\n  port: 8000\n  redisPassword: default\n")
        .log(
            "edgemicro-gw-1-api.log",
            "2026-01-01T00:00:00.000Z info 1 default sha256 production /etc/ssl/gw.key 8443 tok=Zq8xK2mP9vL4nR7w\n",
        )
        .env("BOT_API_KEY", "default")
        .env("HASH_KEY", "sha256")
        .env("STAGE_SECRET", "production")
        .env("SSL_KEY", "/etc/ssl/gw.key")
        .env("PORT_TOKEN", "84438443")
        .env("REAL_TOKEN", "Zq8xK2mP9vL4nR7w")
        .collect("w.zip")
        .args(["--json"]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    let warnings = json["warnings"].to_string();
    for name in [
        "BOT_API_KEY",
        "HASH_KEY",
        "STAGE_SECRET",
        "SSL_KEY",
        "PORT_TOKEN",
    ] {
        assert!(warnings.contains(name), "{name}: {warnings}");
    }
    assert!(!warnings.contains("REAL_TOKEN"), "{warnings}");
    let entries = unzip_all(&t.path("out/w.zip"));
    let log = entry(&entries, "logs/edgemicro-gw-1-api.log");
    assert!(!contains(log, b"Zq8xK2mP9vL4nR7w"), "the real token leaked");
    for kept in ["default", "sha256", "production", "/etc/ssl/gw.key", "8443"] {
        assert!(contains(log, kept.as_bytes()), "{kept} was destroyed");
    }
    assert_eq!(
        String::from_utf8_lossy(entry(&entries, "config/o-e-config.yaml")),
        "edgemicro:\n  port: 8000\n  redisPassword: REDACTED_PASSWORD\n"
    );
}

/// HOME unset or empty and no -c: no relative `.edgemicro` read from wherever the tool was
/// started, but exit 2 asking for -c (JSON too); with -c it works as usual.
#[test]
fn no_home_means_asking_for_the_config_dir() {
    for home in [None, Some(""), Some("relative/home")] {
        let t = Test::minimal();
        // A decoy `.edgemicro` in the current dir that must not be read.
        std::fs::create_dir_all(t.path(".edgemicro")).unwrap();
        std::fs::write(t.path(".edgemicro/o-e-config.yaml"), "decoy: true\n").unwrap();
        for command in [
            vec!["collect", "-y", "--json", "-o", "out/h.zip"],
            vec!["log-level", "show"],
            vec!["analyze"],
        ] {
            let mut cmd = t.command();
            cmd.args(&command);
            cmd.env_remove("HOME");
            if let Some(home) = home {
                cmd.env("HOME", home);
            }
            let out = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{home:?} {command:?}: {stderr}");
            assert!(
                stderr.contains("-c DIR")
                    || String::from_utf8_lossy(&out.stdout).contains("-c DIR"),
                "{stderr}"
            );
        }
        assert_nothing_left(&t);
    }
}

/// `--since` at or after `--until`, or in the future: the window holds no time, so the bundle
/// says so (warning) and is partial (exit 3), never a silent "complete".
#[test]
fn an_empty_time_window_is_a_partial_bundle_with_a_warning() {
    for (since, until) in [
        ("2026-01-02T00:00:00Z", Some("2026-01-01T00:00:00Z")),
        ("2026-01-01T00:00:00Z", Some("2026-01-01T00:00:00Z")),
        ("2999-01-01T00:00:00Z", None),
    ] {
        let t = Test::minimal()
            .log(
                "edgemicro-gw-1-api.log",
                "2026-01-01T12:00:00.000Z info 1 ok\n",
            )
            .collect("e.zip")
            .args(["--json", "--since", since]);
        let t = match until {
            Some(u) => t.args(["--until", u]),
            None => t,
        };
        let run = t.run();
        assert_eq!(run.code, 3, "{since} {until:?}: {}", run.stderr);
        assert!(
            run.json()["warnings"]
                .to_string()
                .contains("window is empty"),
            "{}",
            run.stdout_str()
        );
    }
}

/// Writes a zip with Python's zipfile (an independent writer) from a small script.
fn python_zip(path: &std::path::Path, script: &str) {
    python(
        &format!(
            "import zipfile, hashlib, json, sys\nz = zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED, allowZip64=True)\n{script}\nz.close()\n"
        ),
        path,
    );
}

/// `verify` under an address-space limit far below what the crafted input declares: it must
/// answer (exit 4) rather than allocate what the bundle asks for.
fn verify_bounded(zip: &std::path::Path) -> Run {
    let out = std::process::Command::new("prlimit")
        .arg("--as=600000000")
        .arg("--")
        .arg(BIN)
        .arg("verify")
        .arg(zip)
        .output()
        .unwrap();
    out.into()
}

/// Crafted bundles: a manifest that inflates to 1 GiB inside a few MB, a sidecar of 1 GiB
/// (sparse), a symbolic-link entry, and a ZIP64 archive of 65,537 entries hiding a duplicate
/// name. `verify` reads bounded amounts and says what is wrong (exit 4).
#[test]
fn verify_reads_bounded_amounts_of_crafted_bundles() {
    let dir = tempfile::tempdir().unwrap();

    let big = dir.path().join("big-manifest.zip");
    python_zip(&big, "z.writestr('manifest.json', b' ' * (1 << 30))");
    let run = verify_bounded(&big);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("larger than"), "{}", run.stderr);

    let ok = dir.path().join("ok.zip");
    python_zip(
        &ok,
        "body = b'hello'\nz.writestr('a.txt', body)\nz.writestr('manifest.json', json.dumps({'files': [{'path': 'a.txt', 'source': 't', 'bytes': 5, 'sha256': hashlib.sha256(body).hexdigest(), 'redactions': 0, 'truncated': False}]}))",
    );
    let sidecar = dir.path().join("ok.zip.sha256");
    std::fs::File::create(&sidecar)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let run = verify_bounded(&ok);
    assert_eq!(run.code, 4, "{}", run.stderr);

    let link = dir.path().join("link.zip");
    python_zip(
        &link,
        "i = zipfile.ZipInfo('logs/x.log')\ni.external_attr = (0o120777 << 16)\nbody = b'/etc/shadow'\nz.writestr(i, body)\nz.writestr('manifest.json', json.dumps({'files': [{'path': 'logs/x.log', 'source': 't', 'bytes': len(body), 'sha256': hashlib.sha256(body).hexdigest(), 'redactions': 0, 'truncated': False}]}))",
    );
    let run = verify_bounded(&link);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("symbolic link"), "{}", run.stderr);

    let many = dir.path().join("many.zip");
    python_zip(
        &many,
        "import warnings\nwarnings.simplefilter('ignore')\nfiles = []\nempty = hashlib.sha256(b'').hexdigest()\nfor i in range(65536):\n    n = 'logs/%05d.log' % i\n    z.writestr(zipfile.ZipInfo(n), b'')\n    files.append({'path': n, 'source': 't', 'bytes': 0, 'sha256': empty, 'redactions': 0, 'truncated': False})\nz.writestr(zipfile.ZipInfo('logs/00000.log'), b'hidden second entry')\nz.writestr('manifest.json', json.dumps({'files': files}))",
    );
    let run = verify_bounded(&many);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("twice"), "{}", run.stderr);
}

/// A FIFO where a config should be: every command that reads it (show, set, restore, collect)
/// refuses it at once instead of blocking on it.
#[test]
fn a_fifo_in_place_of_a_config_never_blocks_any_command() {
    let t = Test::minimal();
    let config = t.config_dir().join("o-e-config.yaml");
    std::fs::remove_file(&config).unwrap();
    assert!(std::process::Command::new("mkfifo")
        .arg(&config)
        .status()
        .unwrap()
        .success());
    let config_dir = t.config_dir().into_os_string();
    for args in [
        vec!["log-level", "show"],
        vec!["log-level", "set", "info"],
        vec!["log-level", "restore"],
        vec!["collect", "-y", "-o", "out/f.zip"],
    ] {
        let mut cmd_args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
        cmd_args.push("-c".into());
        cmd_args.push(config_dir.clone());
        let probe = Test::minimal().args(cmd_args);
        let mut cmd = probe.command();
        cmd.current_dir(t.dir.path());
        let mut child = cmd
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                panic!("{args:?} blocked on the FIFO");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_ne!(status.code(), Some(0), "{args:?} read a FIFO as a config");
    }
}

/// A reader that went away (`| head -c0`, a dropped ssh): no command panics (exit 101) while
/// printing its answer, and the work it did stands.
#[test]
fn a_closed_stdout_pipe_never_panics() {
    let t = Test::minimal().log(
        "edgemicro-gw-1-api.log",
        "2026-01-01T00:00:00.000Z info 1 ok\n",
    );
    let (config, logs) = (t.config_dir(), t.log_dir());
    let zip = t.path("out/p.zip");
    let c = |s: &std::path::Path| s.as_os_str().to_owned();
    let commands: Vec<Vec<std::ffi::OsString>> = vec![
        vec![
            "collect".into(),
            "-y".into(),
            "--json".into(),
            "-c".into(),
            c(&config),
            "--log-dir".into(),
            c(&logs),
            "-o".into(),
            c(&zip),
        ],
        vec![
            "collect".into(),
            "-y".into(),
            "-c".into(),
            c(&config),
            "--log-dir".into(),
            c(&logs),
            "-o".into(),
            c(&t.path("out/q.zip")),
        ],
        vec!["verify".into(), c(&zip)],
        vec!["verify".into(), "--json".into(), c(&zip)],
        vec!["log-level".into(), "show".into(), "-c".into(), c(&config)],
        vec![
            "analyze".into(),
            "--json".into(),
            "-c".into(),
            c(&config),
            "--log-dir".into(),
            c(&logs),
        ],
        vec![
            "analyze".into(),
            "-c".into(),
            c(&config),
            "--log-dir".into(),
            c(&logs),
        ],
        vec!["--help".into()],
    ];
    for args in commands {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = t
            .command()
            .args(&args)
            .stdout(writer)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(101), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

/// `sudo edgemicro-diag collect` (root for a capture) reads the invoking user's
/// `~/.edgemicro`, not root's; the summary says so. A private mount namespace gives the test its
/// own /etc/passwd with that user, so the host is untouched.
#[test]
fn under_sudo_the_invoking_users_config_is_found() {
    if !is_root() {
        eprintln!("SKIPPED: needs root for a private mount namespace");
        return;
    }
    let t = Test::minimal();
    let ops_home = t.path("opshome");
    std::fs::create_dir_all(ops_home.join(".edgemicro")).unwrap();
    std::fs::write(
        ops_home.join(".edgemicro/ops-prod-config.yaml"),
        "edgemicro:\n  port: 8000\n",
    )
    .unwrap();
    let passwd = t.path("passwd");
    let mut text = std::fs::read_to_string("/etc/passwd").unwrap();
    text.push_str(&format!(
        "emgop:x:4242:4242::{}:/bin/sh\n",
        ops_home.display()
    ));
    std::fs::write(&passwd, text).unwrap();
    let zip = t.path("out/sudo.zip");
    let cmd = t.command();
    let inner: Vec<String> = std::iter::once(BIN.to_string())
        .chain(
            ["collect", "-y", "--json", "--log-dir"]
                .iter()
                .map(|s| s.to_string()),
        )
        .chain([
            t.log_dir().display().to_string(),
            "-o".into(),
            zip.display().to_string(),
        ])
        .collect();
    let script = format!(
        "mount --bind {} /etc/passwd && exec \"$@\"",
        passwd.display()
    );
    let out = std::process::Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
        .args(&inner)
        .env_clear()
        .envs(
            cmd.get_envs()
                .filter_map(|(k, v)| Some((k.to_owned(), v?.to_owned()))),
        )
        .env("SUDO_USER", "emgop")
        .current_dir(t.dir.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("unshare failed") || stderr.contains("Operation not permitted") {
        assert!(
            std::env::var_os("EDGEMICRO_DIAG_REQUIRE_CAPTURE").is_none(),
            "CI runs as root and can unshare: {stderr}"
        );
        eprintln!("SKIPPED: no private mount namespace here: {stderr}");
        return;
    }
    assert!(matches!(out.status.code(), Some(0) | Some(3)), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["config_dir"]["path"],
        ops_home.join(".edgemicro").display().to_string(),
        "{json}"
    );
    assert!(
        json["config_dir"]["source"]
            .as_str()
            .unwrap()
            .contains("emgop"),
        "{json}"
    );
    assert_eq!(json["pairs"], serde_json::json!(["ops-prod"]));
}
