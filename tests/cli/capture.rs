//! Real tcpdump on loopback (CI runs as root and installs tcpdump): bounds, filter, the pcap in
//! the bundle, and the analysis of real connections to servers this test starts. The failure
//! paths (no tcpdump, no permission) use a PATH without tcpdump and a fake one.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::harness::*;

/// Root and tcpdump, or a clear skip message (the capture needs both).
pub(crate) fn can_capture() -> bool {
    let has_tcpdump = std::process::Command::new("tcpdump")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !(is_root() && has_tcpdump) {
        assert!(
            std::env::var_os("EDGEMICRO_DIAG_REQUIRE_CAPTURE").is_none(),
            "EDGEMICRO_DIAG_REQUIRE_CAPTURE is set but root={} tcpdump={has_tcpdump}",
            is_root()
        );
        eprintln!(
            "SKIPPED: capturing needs root and tcpdump (CI has both; .ci/run installs tcpdump)"
        );
        return false;
    }
    true
}

pub(crate) fn listener() -> (TcpListener, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    (l, port)
}

/// Echo-ish server: answers every request with a small response, until the client leaves.
pub(crate) fn answering_server(l: TcpListener, connections: usize) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for stream in l.incoming().take(connections) {
            let mut s = stream.unwrap();
            let mut buf = [0u8; 4096];
            while let Ok(n) = s.read(&mut buf) {
                if n == 0
                    || s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .is_err()
                {
                    break;
                }
            }
        }
    })
}

/// Sends `count` requests on one connection, `pause` apart.
pub(crate) fn client(port: u16, count: usize, pause: Duration) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 4096];
    for _ in 0..count {
        s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let _ = s.read(&mut buf);
        std::thread::sleep(pause);
    }
}

fn capture_json(t: &Test) -> serde_json::Value {
    let run = t.run();
    assert!(run.code == 0 || run.code == 3, "{}", run.stderr);
    run.json()
}

/// The packets of a pcap as the real tcpdump reads them.
pub(crate) fn tcpdump_read(pcap: &[u8]) -> Vec<String> {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), pcap).unwrap();
    let out = std::process::Command::new("tcpdump")
        .args(["-n", "-r"])
        .arg(file.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "tcpdump -r: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn time_bound_and_filter_are_honoured_and_the_pcap_parses() {
    if !can_capture() {
        return;
    }
    let (target, target_port) = listener();
    let (other, other_port) = listener();
    let servers = [answering_server(target, 1), answering_server(other, 1)];
    let t = Test::example()
        .collect("c.zip")
        .args([
            "--json",
            "--capture-seconds",
            "3",
            "--capture-interface",
            "lo",
            "--capture-host",
            "127.0.0.1",
        ])
        .args(["--capture-port".to_string(), target_port.to_string()]);
    let traffic = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1200)); // tcpdump is listening by then
        let a = std::thread::spawn(move || client(target_port, 5, Duration::from_millis(50)));
        client(other_port, 5, Duration::from_millis(50));
        a.join().unwrap();
    });
    let started = Instant::now();
    let json = capture_json(&t);
    let took = started.elapsed();
    traffic.join().unwrap();
    servers.into_iter().for_each(|s| s.join().unwrap());
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(20),
        "took {took:?}"
    );
    let capture = &json["capture"];
    assert_eq!(capture["status"], "captured", "{json}");
    assert_eq!(capture["stopped_by"], "time");
    assert_eq!(capture["unredacted"], false);
    assert_eq!(capture["snaplen"], 128);
    let zip = t.path("out/c.zip");
    sha256sum_check(&zip);
    let entries = unzip_all(&zip);
    let pcap = entry(&entries, "capture/targets.pcap");
    assert_eq!(capture["bytes"], pcap.len());
    let packets = tcpdump_read(pcap);
    assert!(packets.len() >= 10, "{packets:?}");
    let target_tag = format!(".{target_port}");
    let other_tag = format!(".{other_port}");
    assert!(
        packets.iter().all(|p| p.contains(&target_tag)),
        "only the target port: {packets:?}"
    );
    assert!(
        !packets.iter().any(|p| p.contains(&other_tag)),
        "the other port is filtered out"
    );
    assert!(entries.iter().any(|(n, _)| n == "findings.json"));
    assert_eq!(manifest_of(&entries)["capture"], *capture);
}

#[test]
fn byte_bound_stops_the_capture_and_holds_in_the_bundle() {
    if !can_capture() {
        return;
    }
    let (target, port) = listener();
    let server = answering_server(target, 1);
    let t = Test::example()
        .collect("b.zip")
        .args([
            "--json",
            "--capture-seconds",
            "30",
            "--capture-interface",
            "lo",
            "--capture-max-bytes",
            "6000",
        ])
        .args(["--capture-port".to_string(), port.to_string()]);
    let traffic = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1200));
        client(port, 200, Duration::from_millis(5));
    });
    let started = Instant::now();
    let json = capture_json(&t);
    assert!(
        started.elapsed() < Duration::from_secs(25),
        "stopped by bytes, not by the 30 s bound"
    );
    traffic.join().unwrap();
    server.join().unwrap();
    assert_eq!(json["capture"]["stopped_by"], "bytes", "{json}");
    let pcap = entry(&unzip_all(&t.path("out/b.zip")), "capture/targets.pcap").to_vec();
    assert!(
        pcap.len() <= 6000 && pcap.len() > 1000,
        "{} bytes",
        pcap.len()
    );
    assert!(
        !tcpdump_read(&pcap).is_empty(),
        "whole packets: the real tcpdump reads it"
    );
}

#[test]
fn idle_close_race_and_early_close_are_found_in_real_traffic() {
    if !can_capture() {
        return;
    }
    // Target 1 closes a keep-alive connection after 1 s idle without a Keep-Alive hint; the
    // client reuses it 1.3 s later, as EMG's pool does: the request meets a closed socket (RST).
    let (racy, racy_port) = listener();
    let race_server = std::thread::spawn(move || {
        let (mut s, _) = racy.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .unwrap();
        std::thread::sleep(Duration::from_secs(1));
    });
    // Target 2 reads the request and hangs up without answering.
    let (rude, rude_port) = listener();
    let hangup_server = std::thread::spawn(move || {
        let (mut s, _) = rude.accept().unwrap();
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
    });
    let t = Test::example()
        .collect("r.zip")
        .args([
            "--json",
            "--capture-seconds",
            "5",
            "--capture-interface",
            "lo",
            "--capture-host",
            "127.0.0.1",
        ])
        .args([
            "--capture-port".to_string(),
            format!("{racy_port},{rude_port}"),
        ]);
    let traffic = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(1200));
        let mut s = TcpStream::connect(("127.0.0.1", racy_port)).unwrap();
        let mut buf = [0u8; 4096];
        s.write_all(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let _ = s.read(&mut buf);
        std::thread::sleep(Duration::from_millis(1300));
        let _ = s.write_all(b"GET /2 HTTP/1.1\r\nHost: t\r\n\r\n");
        std::thread::sleep(Duration::from_millis(200));
        let mut h = TcpStream::connect(("127.0.0.1", rude_port)).unwrap();
        h.write_all(b"GET /hangup HTTP/1.1\r\nHost: t\r\n\r\n")
            .unwrap();
        assert_eq!(h.read(&mut buf).unwrap_or(0), 0, "no answer");
    });
    let json = capture_json(&t);
    traffic.join().unwrap();
    race_server.join().unwrap();
    hangup_server.join().unwrap();
    let findings = json["findings"].as_array().unwrap();
    let race = findings
        .iter()
        .find(|f| f["id"] == "keepalive-race")
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(race["severity"], "high");
    assert_eq!(race["evidence"]["races"], 1);
    let idle = race["evidence"]["target_idle_close_s_median"]
        .as_f64()
        .unwrap();
    assert!((0.9..1.5).contains(&idle), "measured idle close {idle}");
    let example = &race["evidence"]["examples"][0];
    assert!(example["request_after_fin_packet"].as_u64() > example["target_fin_packet"].as_u64());
    assert!(example["target_rst_packet"].as_u64() > example["request_after_fin_packet"].as_u64());
    let hangup = findings
        .iter()
        .find(|f| f["id"] == "target-hangup")
        .unwrap_or_else(|| panic!("{json}"));
    assert_eq!(hangup["evidence"]["connections"], 1);
    assert!(hangup["evidence"]["examples"][0]["target"]
        .as_str()
        .unwrap()
        .ends_with(&format!(":{rude_port}")));
    let entries = unzip_all(&t.path("out/r.zip"));
    let md = String::from_utf8(entry(&entries, "findings.md").to_vec()).unwrap();
    assert!(
        md.contains("## keepalive-race (high)") && md.contains("## target-hangup (high)"),
        "{md}"
    );
    // report.html draws the caught race as a sequence: FIN, the request after it, the RST.
    let page = String::from_utf8(entry(&entries, "report.html").to_vec()).unwrap();
    crate::report_page::check_page(&page);
    let fin = example["target_fin_packet"].to_string();
    assert!(
        page.contains("The capture: races caught")
            && page.contains(&format!("#{fin} FIN after"))
            && page.contains("RST → 502 socket hang up"),
        "the capture section with packet numbers"
    );
}

#[test]
fn missing_tcpdump_is_a_warning_with_the_install_hint_and_exit_3() {
    let empty = tempfile::tempdir().unwrap();
    let t = Test::example()
        .env("PATH", &empty.path().display().to_string())
        .collect("m.zip")
        .args([
            "--json",
            "--capture-seconds",
            "2",
            "--capture-host",
            "127.0.0.1",
        ]);
    let run = t.run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["capture"]["status"], "skipped");
    assert!(
        json["capture"]["reason"]
            .as_str()
            .unwrap()
            .contains("tcpdump is not installed"),
        "{json}"
    );
    assert!(
        json["capture"]["hint"]
            .as_str()
            .unwrap()
            .contains("apt-get install tcpdump"),
        "{json}"
    );
    sha256sum_check(&t.path("out/m.zip"));
    assert!(
        unzip_all(&t.path("out/m.zip"))
            .iter()
            .any(|(n, _)| n.starts_with("logs/")),
        "the rest of the bundle is written"
    );
}

#[test]
fn no_permission_is_a_warning_with_the_setcap_hint_and_exit_3() {
    // A stand-in for tcpdump run without root or CAP_NET_RAW: exactly what the real one prints.
    let bin = tempfile::tempdir().unwrap();
    let fake = bin.path().join("tcpdump");
    std::fs::write(&fake, "#!/bin/sh\necho \"tcpdump: any: You don't have permission to perform this capture on that device\" >&2\necho '(socket: Operation not permitted)' >&2\nexit 1\n").unwrap();
    std::fs::set_permissions(&fake, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.path().display(),
        std::env::var("PATH").unwrap()
    );
    let t = Test::example().env("PATH", &path).collect("p.zip").args([
        "--json",
        "--capture-seconds",
        "2",
        "--capture-host",
        "127.0.0.1",
    ]);
    let run = t.run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert!(
        json["capture"]["reason"]
            .as_str()
            .unwrap()
            .contains("no permission"),
        "{json}"
    );
    assert!(
        json["capture"]["hint"]
            .as_str()
            .unwrap()
            .contains("setcap cap_net_raw,cap_net_admin=eip"),
        "{json}"
    );
    assert!(json["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["source"] == "capture"));
}

fn signal_during_a_capture_stops_tcpdump_and_leaves_nothing(signal: &str, expected: i32) {
    if !can_capture() {
        return;
    }
    let (_target, port) = listener();
    let t = Test::example()
        .collect("s.zip")
        .args(["--capture-seconds", "60", "--capture-interface", "lo"])
        .args(["--capture-port".to_string(), port.to_string()]);
    let child = t
        .command()
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Matches tcpdump itself, not edgemicro-diag (whose argv holds `--capture-port N`).
    let filter = format!("^tcpdump .*port {port}");
    let tcpdump_running = || {
        std::process::Command::new("pgrep")
            .args(["-f", &filter])
            .output()
            .is_ok_and(|o| !o.stdout.is_empty())
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !tcpdump_running() {
        assert!(Instant::now() < deadline, "tcpdump never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    let (code, stderr) = signal_and_wait(child, signal);
    assert_eq!(code, Some(expected), "{stderr}");
    assert!(!tcpdump_running(), "tcpdump was stopped");
    assert_nothing_left(&t);
}

#[test]
fn sigterm_during_a_capture_stops_tcpdump_and_leaves_nothing() {
    signal_during_a_capture_stops_tcpdump_and_leaves_nothing("-TERM", 143);
}

#[test]
fn sigint_during_a_capture_stops_tcpdump_and_leaves_nothing() {
    signal_during_a_capture_stops_tcpdump_and_leaves_nothing("-INT", 130);
}

#[test]
fn sighup_during_a_capture_stops_tcpdump_and_leaves_nothing() {
    signal_during_a_capture_stops_tcpdump_and_leaves_nothing("-HUP", 129);
}
