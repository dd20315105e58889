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
