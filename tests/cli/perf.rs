//! What the speed work must never change (issue #22): the same input gives the same bundle
//! bytes whatever the number of cores compressing it, the zip stays one that every reader
//! opens, and `--low-priority` really lowers every thread. Speed itself is measured in the
//! benchmark (`bench/run.sh`), never here.

use crate::harness::*;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Each log entry's compressed bytes, as stored in the zip.
fn raw_log_entries(zip: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(zip).unwrap()).unwrap();
    let mut out = Vec::new();
    for i in 0..archive.len() {
        let mut f = archive.by_index_raw(i).unwrap();
        let name = f.name().unwrap().to_string();
        if name.starts_with("logs/") {
            let mut raw = Vec::new();
            f.read_to_end(&mut raw).unwrap();
            out.push((name, raw));
        }
    }
    out
}

fn taskset_available() -> bool {
    Command::new("taskset")
        .args(["-c", "0", "true"])
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn compressed_logs_do_not_depend_on_the_number_of_cores() {
    if !taskset_available() {
        panic!("taskset (util-linux) is needed to run on one core");
    }
    // Sizes around the compressor's piece size (256 KiB): under, at, over, many pieces.
    let make = || {
        let mut t = Test::minimal();
        for (i, n) in [(1, 100_000), (2, 262_144), (3, 262_145), (4, 3_000_000)] {
            t = t.log(&format!("edgemicro-h-{i}-api.log"), noisy_log(i, n));
        }
        t
    };
    let mut bundles = Vec::new();
    let mut last = None;
    for (name, one_core) in [("all.zip", false), ("one.zip", true), ("again.zip", false)] {
        let t = make().collect(name).args(["-q"]);
        let mut cmd = t.command();
        if one_core {
            let inner = cmd;
            cmd = Command::new("taskset");
            cmd.args(["-c", "0"])
                .arg(inner.get_program())
                .args(inner.get_args());
            cmd.env_clear()
                .envs(inner.get_envs().filter_map(|(k, v)| Some((k, v?))));
            cmd.current_dir(inner.get_current_dir().unwrap());
        }
        let out = cmd.stdin(Stdio::null()).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let zip = t.path("out").join(name);
        unzip_test(&zip);
        sha256sum_check(&zip);
        bundles.push(raw_log_entries(&zip));
        last = Some((t, zip));
    }
    assert_eq!(bundles[0].len(), 4);
    for other in &bundles[1..] {
        assert_eq!(other.len(), bundles[0].len());
        for (name, a) in &bundles[0] {
            // Order follows the files' times, which differ between the test's copies.
            let (_, b) = other.iter().find(|(n, _)| n == name).unwrap();
            if a != b {
                let at = a.iter().zip(b).position(|(x, y)| x != y);
                panic!(
                    "{name}: compressed bytes differ between runs: {} vs {} bytes, first at {at:?}",
                    a.len(),
                    b.len()
                );
            }
        }
    }
    // And what comes out is what went in.
    let (_t, zip) = last.unwrap();
    let entries = unzip_all(&zip);
    assert_eq!(
        entry(&entries, "logs/edgemicro-h-4-api.log"),
        noisy_log(4, 3_000_000).as_bytes()
    );
}

/// Nice value of every thread of `pid` (field 19 of /proc/PID/task/TID/stat).
fn nice_values(pid: u32) -> Vec<i64> {
    let mut out = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{pid}/task")).unwrap() {
        let stat = std::fs::read_to_string(task.unwrap().path().join("stat")).unwrap_or_default();
        // The command name may hold spaces: fields count from after its closing parenthesis.
        if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
            if let Some(nice) = rest.split_whitespace().nth(16) {
                out.push(nice.parse().unwrap());
            }
        }
    }
    out
}

fn io_class(pid: u32) -> String {
    let out = Command::new("ionice")
        .args(["-p", &pid.to_string()])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Starts a collect that waits on an open stdin (`--stdin-log`), so its threads can be looked
/// at while it runs; returns what they showed, then lets it finish.
fn priorities_while_running(t: &Test) -> (Vec<i64>, String, serde_json::Value) {
    let mut child = t
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, b"2026-01-01T00:00:01.000Z info 1 waiting\n").unwrap();
    let pid = child.id();
    // Priorities are lowered before the output is opened, and the bundle's compressor threads
    // start right after it: wait for both (threads seen earlier may be ionice's own readers).
    let started = Instant::now();
    let mut nice = nice_values(pid);
    while (nice.len() < 3 || partial_of(t, "t.zip").is_none())
        && started.elapsed() < Duration::from_secs(10)
    {
        std::thread::sleep(Duration::from_millis(50));
        nice = nice_values(pid);
    }
    std::thread::sleep(Duration::from_millis(100));
    nice = nice_values(pid);
    let class = io_class(pid);
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    (nice, class, json)
}

#[test]
fn low_priority_lowers_every_thread_and_the_disk() {
    for (how, flag, env) in [
        ("flag", Some("--low-priority"), None),
        ("env", None, Some("yes")),
        ("neither", None, None),
    ] {
        let mut t = Test::minimal()
            .log(
                "edgemicro-h-1-api.log",
                "2026-01-01T00:00:00.000Z info 1 x\n",
            )
            .collect("t.zip")
            .args(["--json", "--stdin-log", "follow.log"]);
        if let Some(flag) = flag {
            t = t.args([flag]);
        }
        if let Some(v) = env {
            t = t.env("EDGEMICRO_DIAG_LOW_PRIORITY", v);
        }
        let (nice, class, json) = priorities_while_running(&t);
        assert_eq!(json["exit_code"], 0, "{how}: {json}");
        assert!(nice.len() >= 3, "{how}: threads seen: {nice:?}");
        if how == "neither" {
            assert!(nice.iter().all(|&n| n == 0), "{how}: {nice:?}");
            assert!(!class.starts_with("idle"), "{how}: {class}");
        } else {
            assert!(nice.iter().all(|&n| n == 19), "{how}: {nice:?}");
            assert!(class.starts_with("idle"), "{how}: {class}");
        }
    }
}

/// A collect of many files keeps its per-file records (manifest rows, redaction reports, the
/// logs' listing, the zip's directory) on disk past a few thousand files. Read back at the
/// seal they must be what a collect of few files writes: every entry listed once with the
/// sha256 of its bytes, the redactions of a file far down the list reported under its name,
/// its pseudonym in the map, the page's tables cut at 500 rows, and a zip every reader opens.
#[test]
fn many_files_are_listed_as_few_are() {
    const LOGS: usize = 3_000;
    let t = Test::minimal();
    let mut rng = Gen(0x005e_ed22);
    let late = 2_345;
    let secret = format!("sk_{}", rng.hex(24));
    for i in 0..LOGS {
        let extra = if i == late {
            format!("2026-01-01T00:00:02.000Z info 1 password={secret}\n")
        } else {
            String::new()
        };
        std::fs::write(
            t.log_dir()
                .join(format!("edgemicro-h{i:05}-{}-api.log", rng.hex(6))),
            format!("2026-01-01T00:00:01.000Z info 1 line {i}\n{extra}"),
        )
        .unwrap();
    }
    let t = t.collect("many.zip").args(["--json", "--pseudonymize"]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let zip = t.path("out/many.zip");
    unzip_test(&zip);
    sha256sum_check(&zip);
    let entries = unzip_all(&zip);
    let manifest = manifest_of(&entries);
    let listed = manifest["files"].as_array().unwrap();
    // Every entry but the manifest itself, once, with the sha256 of the bytes in the zip.
    assert_eq!(listed.len(), entries.len() - 1);
    let by_name: std::collections::BTreeMap<&str, &[u8]> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    for f in listed {
        let bytes = by_name[f["path"].as_str().unwrap()];
        assert_eq!(f["sha256"], sha256_hex(bytes), "{}", f["path"]);
        assert_eq!(f["bytes"], bytes.len() as u64);
    }
    assert_eq!(run.json()["files"], manifest["files"]);
    assert_eq!(
        manifest["logs_newest_first"].as_array().unwrap().len(),
        LOGS
    );
    // The late file's redaction: in the report under its name, in the totals, in the map.
    let late_name = listed
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .find(|p| p.starts_with(&format!("logs/edgemicro-h{late:05}-")))
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(entry(&entries, "redaction-report.json")).unwrap();
    let rows: Vec<&serde_json::Value> = report["redactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["file"] == late_name)
        .collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["lines"], serde_json::json!([2]));
    let late_entry = listed.iter().find(|f| f["path"] == late_name).unwrap();
    assert_eq!(late_entry["redactions"], 1);
    let logs_redacted: u64 = listed
        .iter()
        .filter(|f| f["path"].as_str().unwrap().starts_with("logs/"))
        .map(|f| f["redactions"].as_u64().unwrap())
        .sum();
    assert_eq!(logs_redacted, 1, "no other log had anything to redact");
    let map = std::fs::read_to_string(t.path("out/many.zip.map.json")).unwrap();
    let map: serde_json::Value = serde_json::from_str(&map).unwrap();
    assert_eq!(map["pseudonyms"][0]["file"], late_name);
    for (name, bytes) in &entries {
        assert!(
            !contains(bytes, secret.as_bytes()),
            "{name} holds the secret"
        );
    }
    let page = String::from_utf8_lossy(entry(&entries, "report.html")).to_string();
    // 3 000 logs, the config and the four entries before the page: 500 rows shown.
    assert!(
        page.contains(&format!("and {} more entries", listed.len() - 2 - 500)),
        "the page counts the rows it leaves out"
    );
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Logs left out by `--since` are as many as the files: each one is in the manifest and the
/// JSON with its reason (kept on disk past 256 KiB of them), the README names the first 20
/// and counts the rest, the page shows 500 and counts the rest.
#[test]
fn thousands_of_skipped_logs_are_each_listed_and_summed_up() {
    const OLD: usize = 2_500;
    let t = Test::minimal();
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_600_000_000);
    for i in 0..OLD {
        let path = t.log_dir().join(format!("edgemicro-old{i:05}-1-api.log"));
        std::fs::write(&path, "2020-09-13T12:26:40.000Z info 1 old\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
    }
    let t = t
        .log(
            "edgemicro-new-1-api.log",
            "2026-01-01T00:00:00.000Z info 1 new\n",
        )
        .collect("skips.zip")
        .args(["--json", "--since", "2025-01-01T00:00:00Z"]);
    let run = t.run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    let skipped = json["skipped"].as_array().unwrap();
    assert_eq!(skipped.len(), OLD);
    assert!(skipped
        .iter()
        .all(|s| s["reason"] == "last written before --since"));
    let entries = unzip_all(&t.path("out/skips.zip"));
    assert_eq!(manifest_of(&entries)["skipped"], json["skipped"]);
    let readme = String::from_utf8_lossy(entry(&entries, "README.txt")).to_string();
    assert_eq!(readme.matches("last written before --since").count(), 20);
    assert!(
        readme.contains(&format!("… and {} more, each in manifest.json", OLD - 20)),
        "{readme}"
    );
    let page = String::from_utf8_lossy(entry(&entries, "report.html")).to_string();
    assert!(page.contains(&format!(
        "… and {} more, each in manifest.json with the reason",
        OLD - 500
    )));
}
