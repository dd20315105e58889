//! Containers: the config only in `EDGEMICRO_CONFIG` (this process's environment, or a running
//! edgemicro's via `--from-pid`), and logs piped into `--stdin-log`.

use std::io::Write;
use std::process::Stdio;

use base64::Engine as _;

use crate::harness::*;

const KEY: &str = "FLEETKEY0123456789abcdef0123456789abcdef0123456789abcdef01234567";
const SECRET: &str = "FLEETSECRET9876543210fedcba9876543210fedcba9876543210fedcba98765";

fn container_config(logs: &std::path::Path) -> String {
    format!(
        "edgemicro:\n  port: 8000\n  keep_alive_timeout: 65000\n  redisPassword: FLEETREDISPW42\n  logging:\n    level: info\n    dir: {}\nanalytics:\n  key: {KEY}\n  secret: {SECRET}\n",
        logs.display()
    )
}

fn container_log() -> String {
    format!(
        "2026-01-01T00:00:00.000Z info 1 edgemicro start -o acme -e prod -k {KEY} -s {SECRET}\n\
         2026-01-01T00:00:01.000Z [error][0:8000][1][acme][prod][orders][][][c1][microgateway-core][][GET][502][socket hang up][ECONNRESET][]\n\
         2026-01-01T00:00:02.000Z error 1 redis auth failed with FLEETREDISPW42\n"
    )
}

fn no_config_dir(t: &Test) {
    std::fs::remove_dir_all(t.config_dir()).unwrap();
}

/// Every value that must not reach the bundle: raw, and the base64 blob of the whole config.
fn assert_clean(entries: &[(String, Vec<u8>)], encoded: &str) {
    for secret in [KEY, SECRET, "FLEETREDISPW42", encoded] {
        for (name, body) in entries {
            assert!(!contains(body, secret.as_bytes()), "{secret} in {name}");
        }
    }
}

#[test]
fn config_only_in_edgemicro_config_is_collected_redacted_and_self_checked() {
    let t = Test::new();
    no_config_dir(&t);
    let text = container_config(&t.log_dir());
    let encoded = base64::engine::general_purpose::STANDARD.encode(&text);
    std::fs::write(t.log_dir().join("edgemicro-pod-1-api.log"), container_log()).unwrap();
    let t = t
        .env("EDGEMICRO_CONFIG", &encoded)
        .env("EDGEMICRO_ORG", "acme")
        .env("EDGEMICRO_ENV", "prod")
        .env("EDGEMICRO_KEY", KEY)
        .env("EDGEMICRO_SECRET", SECRET)
        .args(["collect", "-y", "--json", "-o", "out/pod.zip"]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["pairs"], serde_json::json!(["acme-prod"]));
    assert_eq!(
        json["log_dirs"][0]["path"],
        t.log_dir().display().to_string(),
        "logging.dir of the decoded config"
    );
    let zip = t.path("out/pod.zip");
    sha256sum_check(&zip);
    let entries = unzip_all(&zip);
    let config = entry(&entries, "config/acme-prod-config.yaml");
    let original = t.path("decoded.yaml");
    std::fs::write(&original, &text).unwrap();
    assert_same_yaml_keys(&original, config);
    assert_eq!(
        manifest_of(&entries)["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == "config/acme-prod-config.yaml")
            .unwrap()["source"],
        "$EDGEMICRO_CONFIG"
    );
    assert_clean(&entries, &encoded);
    assert!(!run.stdout_str().contains(KEY) && !run.stderr.contains(KEY));
    let log = String::from_utf8(entry(&entries, "logs/edgemicro-pod-1-api.log").to_vec()).unwrap();
    assert!(log.contains("[502][socket hang up][ECONNRESET]"), "{log}");
}

#[test]
fn from_pid_reads_a_running_processes_environment() {
    let t = Test::new();
    no_config_dir(&t);
    let text = container_config(&t.log_dir());
    let encoded = base64::engine::general_purpose::STANDARD.encode(&text);
    std::fs::write(t.log_dir().join("edgemicro-pod-1-api.log"), container_log()).unwrap();
    // A stand-in for the container's edgemicro: a real process with EMG's environment.
    let mut gateway = std::process::Command::new("sleep")
        .arg("30")
        .env("EDGEMICRO_CONFIG", &encoded)
        .env("EDGEMICRO_ORG", "acme")
        .env("EDGEMICRO_ENV", "prod")
        .env("EDGEMICRO_KEY", KEY)
        .env("EDGEMICRO_SECRET", SECRET)
        .spawn()
        .unwrap();
    let t = t.args([
        "collect".to_string(),
        "-y".into(),
        "--json".into(),
        "-o".into(),
        "out/pid.zip".into(),
        "--from-pid".into(),
        gateway.id().to_string(),
    ]);
    let run = t.run();
    gateway.kill().unwrap();
    gateway.wait().unwrap();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let entries = unzip_all(&t.path("out/pid.zip"));
    assert!(entries
        .iter()
        .any(|(n, _)| n == "config/acme-prod-config.yaml"));
    assert_eq!(
        manifest_of(&entries)["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == "config/acme-prod-config.yaml")
            .unwrap()["source"],
        format!("EDGEMICRO_CONFIG of pid {}", gateway.id())
    );
    assert_clean(&entries, &encoded);

    let gone = Test::new()
        .args([
            "collect",
            "-y",
            "-o",
            "out/x.zip",
            "--from-pid",
            "999999999",
        ])
        .run();
    assert_eq!(gone.code, 1);
    assert!(
        gone.stderr
            .contains("cannot read the environment of pid 999999999"),
        "{}",
        gone.stderr
    );
}

#[test]
fn a_malformed_edgemicro_config_is_skipped_with_a_clear_reason() {
    let t = Test::new();
    no_config_dir(&t);
    let run = t
        .env("EDGEMICRO_CONFIG", "not base64 !!!")
        .args(["collect", "-y", "--json", "-o", "out/b.zip"])
        .run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert!(
        skip_reason(&json, "EDGEMICRO_CONFIG").contains("$EDGEMICRO_CONFIG is not base64"),
        "{json}"
    );
}

#[test]
fn stdin_log_is_redacted_and_bounded() {
    let t = Test::minimal()
        .collect("s.zip")
        .args(["--json", "--stdin-log", "gw1.log"]);
    let mut child = t
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut log = String::new();
    for i in 0..2000 {
        log.push_str(&format!("2026-01-01T00:00:00.000Z [info][h][1][o][e][orders?apikey=STDINKEY{i:04}][][][c{i}][plugins-middleware][targetRequest][GET][][][][]\n"));
    }
    stdin.write_all(log.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        json["exit_code"], 0,
        "no log files in the log dir, but the stdin log is a log: {json}"
    );
    let entries = unzip_all(&t.path("out/s.zip"));
    let body = String::from_utf8(entry(&entries, "logs/gw1.log").to_vec()).unwrap();
    assert_eq!(body.lines().count(), 2000);
    assert!(!body.contains("STDINKEY"), "redacted");
    assert!(body.contains("orders?apikey=REDACTED_QUERY_SECRET][][][c1999]"));
    assert_eq!(
        json["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == "logs/gw1.log")
            .unwrap()["source"],
        "stdin"
    );

    // Bounded: at most --max-log-bytes are read, and the entry says it was truncated.
    let t = Test::minimal()
        .log("edgemicro-h-1-api.log", "x\n")
        .collect("b.zip")
        .args([
            "--json",
            "--stdin-log",
            "gw1.log",
            "--max-log-bytes",
            "1000",
        ]);
    let mut child = t
        .command()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(log.as_bytes()); // the tool stops reading at 1000 bytes
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["exit_code"], 3, "{json}");
    let gw1 = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "logs/gw1.log")
        .unwrap()
        .clone();
    assert_eq!(gw1["truncated"], true);
    assert!(gw1["bytes"].as_u64().unwrap() <= 1100, "{gw1}");
}

/// The usual container after `edgemicro configure`: EDGEMICRO_CONFIG holds a config with no
/// secret in it. The blob is still a value that must not appear, but its decoded config is
/// collected as it is and the self-check does not refuse the bundle (exit 0).
#[test]
fn a_secret_free_edgemicro_config_gives_a_complete_bundle() {
    let t = Test::new();
    no_config_dir(&t);
    let text = format!(
        "edgemicro:\n  port: 8000\n  keep_alive_timeout: 65000\n  logging:\n    level: info\n    dir: {}\n",
        t.log_dir().display()
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(&text);
    std::fs::write(
        t.log_dir().join("edgemicro-pod-1-api.log"),
        format!("2026-01-01T00:00:00.000Z info 1 env EDGEMICRO_CONFIG={encoded}\n"),
    )
    .unwrap();
    let t = t
        .env("EDGEMICRO_CONFIG", &encoded)
        .env("EDGEMICRO_ORG", "acme")
        .env("EDGEMICRO_ENV", "prod")
        .args(["collect", "-y", "--json", "-o", "out/free.zip"]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}{}", run.stderr, run.stdout_str());
    let entries = unzip_all(&t.path("out/free.zip"));
    assert_eq!(
        String::from_utf8_lossy(entry(&entries, "config/acme-prod-config.yaml")),
        text
    );
    assert!(!entries.iter().any(|(_, b)| contains(b, encoded.as_bytes())));
}
