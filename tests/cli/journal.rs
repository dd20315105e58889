//! EMG as a systemd service logs to the journal (issue #17): a real journal, written by
//! systemd-journal-remote from journald's export format, read by the real journalctl through
//! `--journal-dir`. Units named like edgemicro are found by themselves; other units, and unit
//! names that are not plain names (text from the journal reaching a command), are never read.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::harness::*;

const REMOTE: &str = "/lib/systemd/systemd-journal-remote";

/// A journal in `dir` with one entry per (unit, message).
pub(crate) fn journal(dir: &std::path::Path, entries: &[(&str, &str)]) -> bool {
    let have = std::path::Path::new(REMOTE).exists()
        && Command::new("journalctl").arg("--version").output().is_ok();
    if !have {
        assert!(
            std::env::var_os("EDGEMICRO_DIAG_REQUIRE_CAPTURE").is_none(),
            "journalctl and systemd-journal-remote are needed (.ci/run installs them)"
        );
        eprintln!("SKIPPED: no journalctl or systemd-journal-remote (CI installs them)");
        return false;
    }
    std::fs::create_dir_all(dir).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    let mut export = String::new();
    for (i, (unit, message)) in entries.iter().enumerate() {
        export.push_str(&format!(
            "__CURSOR=s=1;i={i}\n__REALTIME_TIMESTAMP={}\n__MONOTONIC_TIMESTAMP={i}\n_BOOT_ID=0123456789abcdef0123456789abcdef\n_SYSTEMD_UNIT={unit}\nSYSLOG_IDENTIFIER=edgemicro\n_PID=77\nMESSAGE={message}\n\n",
            now + i as u128
        ));
    }
    let mut remote = Command::new(REMOTE)
        .arg("-o")
        .arg(dir.join("gw.journal"))
        .arg("-")
        .stdin(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    remote
        .stdin
        .take()
        .unwrap()
        .write_all(export.as_bytes())
        .unwrap();
    assert!(remote.wait().unwrap().success());
    true
}

#[test]
fn the_journal_of_units_named_like_edgemicro_is_collected_redacted_and_counted() {
    let t = Test::minimal();
    let dir = t.path("journal");
    let key = "JOURNALKEY7f3a9c1e5b";
    let secret = "JOURNALSECRET4d8b2f6a0c";
    let other = "SSHDLINE9e1c3a5b7d";
    let record = format!("2026-11-30T00:29:40.850Z [error][gw][7][o][e][h/x][::1][{key}][c1][microgateway-core][][GET][502][socket hang up][ECONNRESET][]");
    let started = format!("EDGEMICRO_SECRET={secret} started");
    let entries = [
        ("edgemicro.service", record.as_str()),
        ("edgemicro.service", started.as_str()),
        ("sshd.service", other),
        // Unit names that are not plain names never reach journalctl.
        ("--directory=-edgemicro.service", other),
        ("edgemicro x;id.service", other),
    ];
    if !journal(&dir, &entries) {
        return;
    }
    let t = t
        .collect("j.zip")
        .args(["--json", "--journal-dir"])
        .args([dir.as_os_str()]);
    let run = t.run();
    assert!(run.code == 0 || run.code == 3, "{}", run.stderr);
    let entries = unzip_all(&t.path("out/j.zip"));
    let journals: Vec<&str> = entries
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| n.contains("journal"))
        .collect();
    assert_eq!(journals, ["logs/journal-edgemicro.service.log"]);
    let log = String::from_utf8_lossy(entry(&entries, "logs/journal-edgemicro.service.log"));
    assert!(log.contains("[GET][502][socket hang up]"), "{log}");
    for (name, bytes) in &entries {
        for value in [key, secret, other] {
            assert!(!contains(bytes, value.as_bytes()), "{value} in {name}");
        }
    }
    assert!(!run.stdout_str().contains(key) && !run.stderr.contains(key));
    let json = run.json();
    let file = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "logs/journal-edgemicro.service.log")
        .expect("the journal is listed")
        .clone();
    assert!(
        file["source"]
            .as_str()
            .unwrap()
            .starts_with("journalctl --unit=edgemicro.service"),
        "{file}"
    );
    // The triage read it: the 502 is in the findings.
    let findings = entry(&entries, "findings.json");
    assert!(
        contains(findings, b"socket hang up"),
        "{}",
        String::from_utf8_lossy(findings)
    );

    // The dry run names the journal it would read, reads none of it, and writes nothing.
    let dry = Test::minimal()
        .collect("dry.zip")
        .args(["--dry-run", "--json", "--journal-dir"])
        .args([dir.as_os_str()]);
    let run = dry.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let plan = run.json();
    assert_eq!(plan["journal"][0]["unit"], "edgemicro.service", "{plan:#}");
    assert_eq!(
        plan["journal"][0]["path"],
        "logs/journal-edgemicro.service.log"
    );
    assert_eq!(plan["journal"].as_array().unwrap().len(), 1, "{plan:#}");
    assert!(!dry.path("out/dry.zip").exists());
    let human = Test::minimal()
        .collect("dry.zip")
        .args(["--dry-run", "--journal-dir"])
        .args([dir.as_os_str()])
        .run();
    assert!(
        human
            .stdout_str()
            .contains("from journalctl --unit=edgemicro.service"),
        "{}",
        human.stdout_str()
    );

    // `--journal off` reads none; a named unit reads only that one.
    let t2 = Test::minimal()
        .collect("off.zip")
        .args(["--journal", "off", "--journal-dir"])
        .args([dir.as_os_str()]);
    assert!(t2.run().code <= 3);
    assert!(!unzip_all(&t2.path("out/off.zip"))
        .iter()
        .any(|(n, _)| n.contains("journal")));
    let t3 = Test::minimal()
        .collect("sshd.zip")
        .args(["--journal", "sshd", "--journal-dir"])
        .args([dir.as_os_str()]);
    assert!(t3.run().code <= 3);
    let got = unzip_all(&t3.path("out/sshd.zip"));
    assert!(contains(
        entry(&got, "logs/journal-sshd.service.log"),
        other.as_bytes()
    ));
}

#[test]
fn a_journal_unit_that_is_not_a_plain_name_is_a_usage_error() {
    for bad in ["-f", "--directory=/", "a b", "x;id", "../x", "$(id)"] {
        let t = Test::minimal()
            .collect("x.zip")
            .args([format!("--journal={bad}")]);
        let run = t.run();
        assert_eq!(run.code, 2, "{bad}: {}", run.stderr);
        assert!(
            run.stderr.contains("systemd unit name"),
            "{bad}: {}",
            run.stderr
        );
        assert!(!t.path("out/x.zip").exists());
    }
}
