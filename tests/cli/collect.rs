use crate::harness::*;

#[test]
fn example_install_gives_a_verified_bundle_with_the_502_evidence() {
    let t = Test::example().collect("example.zip");
    let run = t.run();
    assert_eq!(run.code, 0, "stderr: {}", run.stderr);
    let zip = t.path("out/example.zip");
    assert_eq!(
        run.stdout_str().trim(),
        zip.display().to_string(),
        "stdout is the bundle path"
    );
    unzip_test(&zip);
    sha256sum_check(&zip);

    let entries = unzip_all(&zip);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "README.txt",
        "config/default.yaml",
        "config/myorg-test-config.yaml",
        "config/myorg-test-cache-config.yaml",
        "system/facts.json",
        "redaction-report.json",
        "manifest.json",
    ] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("logs/edgemicro-gw1-"))
            .count(),
        2
    );
    assert_eq!(
        names.last(),
        Some(&"manifest.json"),
        "the manifest is written last"
    );

    let all: Vec<u8> = entries.iter().flat_map(|(_, b)| b.clone()).collect();
    assert!(
        !contains(&all, b"FAKE"),
        "a fake secret of the example survived"
    );
    let logs: String = entries
        .iter()
        .filter(|(n, _)| n.starts_with("logs/"))
        .map(|(_, b)| String::from_utf8_lossy(b).to_string())
        .collect();
    assert_eq!(
        logs.matches("[502][socket hang up][ECONNRESET]").count(),
        23,
        "every 502 line survives"
    );
    assert!(logs.contains("[targetRequest error][GET][][socket hang up][ECONNRESET][395]"));

    let manifest = manifest_of(&entries);
    assert_eq!(manifest["pairs"], serde_json::json!(["myorg-test"]));
    assert_eq!(manifest["log_dirs"][0]["source"], "--log-dir");
    assert!(
        manifest["redaction"]["by_rule"]["client_id"]
            .as_u64()
            .unwrap()
            > 0
    );
    assert_eq!(
        manifest["files"].as_array().unwrap().len(),
        entries.len() - 1,
        "every entry but the manifest is listed"
    );
    for (name, _) in entries.iter().filter(|(n, _)| n.starts_with("config/")) {
        let original = t.config_dir().join(name.trim_start_matches("config/"));
        assert_same_yaml_keys(
            &original,
            &entries.iter().find(|(n, _)| n == name).unwrap().1,
        );
    }

    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&zip).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "bundle is private");
    assert!(partial_of(&t, "example.zip").is_none());
    let verify = Test::new()
        .args(["verify".into(), zip.into_os_string()])
        .run();
    assert_eq!(verify.code, 0, "{}", verify.stderr);
}

#[test]
fn log_dir_comes_from_the_org_env_config_over_default_yaml() {
    let t = Test::new();
    let logs = t.path("emglogs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("edgemicro-h-1-api.log"),
        "2026-01-01T00:00:00.000Z info 1 hello\n",
    )
    .unwrap();
    let t = t
        .config(
            "default.yaml",
            "edgemicro:\n  logging: {level: error, dir: /nonexistent-default}\n",
        )
        .config(
            "o-e-config.yaml",
            &format!(
                "edgemicro:\n  logging:\n    level: info\n    dir: {}\n",
                logs.display()
            ),
        )
        .args(["collect", "--json", "-o", "out/b.zip"]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["log_dirs"][0]["path"], logs.display().to_string());
    assert!(
        json["log_dirs"][0]["source"]
            .as_str()
            .unwrap()
            .starts_with("edgemicro.logging.dir in "),
        "{json}"
    );
    assert!(
        json["log_dirs"][0]["source"]
            .as_str()
            .unwrap()
            .ends_with("o-e-config.yaml"),
        "{json}"
    );
    assert_eq!(
        json["config_dir"]["source"], "default",
        "HOME/.edgemicro is the default"
    );
    assert_eq!(
        json["files"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["path"] == "logs/edgemicro-h-1-api.log")
            .count(),
        1
    );
}

#[test]
fn cache_config_with_another_log_dir_collects_both_and_says_so() {
    let t = Test::new();
    for d in ["a", "b"] {
        std::fs::create_dir_all(t.path(d)).unwrap();
        std::fs::write(t.path(d).join(format!("edgemicro-h-{d}-1-api.log")), "x\n").unwrap();
    }
    let (a, b) = (t.path("a"), t.path("b"));
    let t = t
        .config(
            "o-e-config.yaml",
            &format!(
                "edgemicro:\n  logging: {{level: info, dir: {}}}\n",
                a.display()
            ),
        )
        .config(
            "o-e-cache-config.yaml",
            &format!(
                "edgemicro:\n  logging: {{level: info, dir: {}}}\n",
                b.display()
            ),
        )
        .args(["collect", "--json", "-o", "out/b.zip"]);
    let run = t.run();
    let json = run.json();
    assert_eq!(json["log_dirs"].as_array().unwrap().len(), 2, "{json}");
    let paths: Vec<&str> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert!(
        paths.contains(&"logs/1/edgemicro-h-a-1-api.log")
            && paths.contains(&"logs/2/edgemicro-h-b-1-api.log"),
        "{paths:?}"
    );
    assert!(
        json["warnings"]
            .to_string()
            .contains("running workers use the cache config"),
        "{json}"
    );
}

#[test]
fn org_env_flags_pick_one_pair_of_two() {
    let t = Test::example()
        .config(
            "other-prod-config.yaml",
            "edgemicro:\n  port: 8000\n  redisPassword: OTHERPAIRSECRET1\n",
        )
        .collect("one.zip")
        .args(["--org", "myorg", "--env", "test", "--json"]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["pairs"], serde_json::json!(["myorg-test"]));
    let names: Vec<String> = unzip_all(&t.path("out/one.zip"))
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(!names.iter().any(|n| n.contains("other-prod")), "{names:?}");

    let all = Test::example()
        .config("other-prod-config.yaml", "edgemicro:\n  port: 8000\n")
        .collect("all.zip")
        .args(["--json"])
        .run();
    assert_eq!(
        all.json()["pairs"],
        serde_json::json!(["myorg-test", "other-prod"]),
        "all pairs by default"
    );
}

#[test]
fn stdout_mode_streams_a_zip_that_verifies_and_reports_its_sha256_on_stderr() {
    let t = Test::example();
    let log_dir = t.log_dir().display().to_string();
    let run = t
        .args(["collect", "-y", "--json", "-o", "-"])
        .env("EDGEMICRO_DIAG_LOG_DIR", &log_dir)
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report: serde_json::Value =
        serde_json::from_str(run.stderr.trim()).expect("stderr is exactly the JSON object");
    check_schema(&report);
    let saved = tempfile::tempdir().unwrap();
    let zip = saved.path().join("gw1.zip");
    std::fs::write(&zip, &run.stdout).unwrap();
    std::fs::write(
        saved.path().join("gw1.zip.sha256"),
        format!("{}  gw1.zip\n", report["sha256"].as_str().unwrap()),
    )
    .unwrap();
    sha256sum_check(&zip);
    unzip_test(&zip);
    let verify = Test::new()
        .args(["verify".into(), zip.into_os_string()])
        .run();
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    assert_eq!(report["bundle"], "-");
}

/// The time window over many blocks: records decided one by one, a 600 KB record (handed over
/// in pieces) kept whole with its secret redacted, stack lines following their record.
#[test]
fn the_time_window_holds_across_blocks_and_over_long_lines() {
    let mut log = String::new();
    let mut inside = 0;
    for m in 0..600 {
        let (h, min) = (m / 60, m % 60);
        log.push_str(&format!("2026-01-01T{h:02}:{min:02}:00.000Z [error][h][1][o][e][p?apikey=WINKEY{m:04}x][][][id{m:04}][microgateway-core][][GET][502][socket hang up][ECONNRESET][]\n"));
        log.push_str(
            &"    at Socket.socketOnEnd (node:_http_client:1) padding padding padding\n".repeat(40),
        );
        if (180..300).contains(&m) {
            inside += 1;
        }
        if m == 200 {
            log.push_str(&format!(
                "2026-01-01T03:20:30.000Z info 1 dump {} password=LONGLINEPW99 end\n",
                "x ".repeat(300_000)
            ));
        }
    }
    assert!(log.len() > 2 << 20, "many 256 KiB blocks");
    let t = Test::minimal()
        .log("edgemicro-h-1-api.log", &log)
        .collect("w.zip")
        .args([
            "--since",
            "2026-01-01T03:00:00Z",
            "--until",
            "2026-01-01T04:59:59Z",
        ]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let body = String::from_utf8(
        entry(
            &unzip_all(&t.path("out/w.zip")),
            "logs/edgemicro-h-1-api.log",
        )
        .to_vec(),
    )
    .unwrap();
    let ids: Vec<usize> = body
        .match_indices("][id")
        .map(|(at, _)| body[at + 4..at + 8].parse().unwrap())
        .collect();
    assert_eq!(ids, (180..300).collect::<Vec<_>>());
    assert_eq!(ids.len(), inside);
    assert_eq!(
        body.matches("socketOnEnd").count(),
        40 * inside,
        "stack lines follow their record"
    );
    assert!(
        body.contains(" end\n") && body.contains("password=REDACTED_"),
        "the long record is whole"
    );
    assert!(!body.contains("WINKEY") && !body.contains("LONGLINEPW99"));
}

#[test]
fn since_until_and_max_log_bytes_bound_the_logs() {
    let mut log = String::new();
    for h in 0..10 {
        log.push_str(&format!("2026-01-01T0{h}:00:00.000Z [error][h][1][o][e][p][][][c{h}][microgateway-core][][GET][502][socket hang up][ECONNRESET][]\n"));
        log.push_str("    at Socket.socketOnEnd (node:_http_client:1)\n");
    }
    let t = Test::minimal()
        .log("edgemicro-h-1-api.log", &log)
        .collect("w.zip")
        .args([
            "--since",
            "2026-01-01T03:00:00Z",
            "--until",
            "2026-01-01T05:00:00Z",
        ]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let body = String::from_utf8(
        unzip_all(&t.path("out/w.zip"))
            .into_iter()
            .find(|(n, _)| n.starts_with("logs/"))
            .unwrap()
            .1,
    )
    .unwrap();
    let ids: Vec<&str> = ["c2", "c3", "c4", "c5", "c6"]
        .into_iter()
        .filter(|id| body.contains(&format!("[{id}]")))
        .collect();
    assert_eq!(ids, vec!["c3", "c4", "c5"], "{body}");
    assert_eq!(
        body.matches("socketOnEnd").count(),
        3,
        "stack lines follow their record"
    );

    let t = Test::minimal()
        .log("edgemicro-h-1-api.log", &log)
        .collect("m.zip")
        .args(["--max-log-bytes", "300", "--json"]);
    let run = t.run();
    assert_eq!(run.code, 3, "truncated → partial: {}", run.stderr);
    let json = run.json();
    assert_eq!(json["status"], "partial");
    assert_eq!(
        json["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == "logs/edgemicro-h-1-api.log")
            .unwrap()["truncated"],
        true
    );
    let body = String::from_utf8(
        unzip_all(&t.path("out/m.zip"))
            .into_iter()
            .find(|(n, _)| n.starts_with("logs/"))
            .unwrap()
            .1,
    )
    .unwrap();
    assert!(
        body.contains("[c9]") && !body.contains("[c0]"),
        "the newest lines are kept: {body}"
    );
    assert!(
        body.starts_with("2026-") || body.starts_with("    at"),
        "starts at a whole line: {body}"
    );
}

#[test]
fn max_bundle_bytes_is_never_exceeded_and_takes_the_newest_logs_first() {
    let mut t = Test::minimal();
    for (i, name) in [
        "edgemicro-h-1-api.log",
        "edgemicro-h-2-api.log",
        "edgemicro-h-3-api.log",
        "edgemicro-h-4-api.log",
    ]
    .iter()
    .enumerate()
    {
        t = t.log(name, noisy_log(i as u64 + 7, 1_500_000));
        let at = std::time::SystemTime::UNIX_EPOCH
            + std::time::Duration::from_secs(1_700_000_000 + 3600 * i as u64);
        std::fs::File::options()
            .write(true)
            .open(t.log_dir().join(name))
            .unwrap()
            .set_modified(at)
            .unwrap();
    }
    let limit: u64 = 1_500_000;
    let t = t.collect("m.zip").args([
        "--json".to_string(),
        "--max-bundle-bytes".into(),
        limit.to_string(),
    ]);
    let run = t.run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    let zip = t.path("out/m.zip");
    let size = std::fs::metadata(&zip).unwrap().len();
    assert!(size <= limit, "bundle {size} > {limit}");
    assert_eq!(json["bytes"], size);
    sha256sum_check(&zip);
    let names: Vec<String> = unzip_all(&zip)
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| n.starts_with("logs/"))
        .collect();
    assert_eq!(
        names.first().map(String::as_str),
        Some("logs/edgemicro-h-4-api.log"),
        "newest first: {names:?}"
    );
    let said = skip_reason(&json, "edgemicro-h-1-api.log");
    assert!(said.contains("--max-bundle-bytes"), "{said}");
}

#[test]
fn max_seconds_stops_a_stalled_stdin_log() {
    let t = Test::minimal()
        .log(
            "edgemicro-h-1-api.log",
            "2026-01-01T00:00:00.000Z info 1 x\n",
        )
        .collect("t.zip")
        .args(["--json", "--stdin-log", "follow.log", "--max-seconds", "2"]);
    let mut child = t
        .command()
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(
        &mut stdin,
        b"2026-01-01T00:00:01.000Z info 1 first line of a followed log\n",
    )
    .unwrap();
    let started = std::time::Instant::now();
    // The pipe stays open, like `docker logs -f`: only --max-seconds can end the read.
    let out = loop {
        if let Some(_status) = child.try_wait().unwrap() {
            break child.wait_with_output().unwrap();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "did not stop at --max-seconds"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    drop(stdin);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["exit_code"], 3, "{json}");
    let follow = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "logs/follow.log")
        .unwrap()
        .clone();
    assert_eq!(follow["truncated"], true);
    let body =
        String::from_utf8(entry(&unzip_all(&t.path("out/t.zip")), "logs/follow.log").to_vec())
            .unwrap();
    assert_eq!(
        body, "2026-01-01T00:00:01.000Z info 1 first line of a followed log\n",
        "what arrived is kept"
    );
}

#[test]
fn same_inputs_give_the_same_entries_in_the_same_order() {
    let manifests: Vec<serde_json::Value> = (0..2)
        .map(|i| {
            let t = Test::example().collect(&format!("d{i}.zip"));
            assert_eq!(t.run().code, 0);
            manifest_of(&unzip_all(&t.path(&format!("out/d{i}.zip"))))
        })
        .collect();
    let stable = |m: &serde_json::Value| -> Vec<(String, String)> {
        m["files"]
            .as_array()
            .unwrap()
            .iter()
            // These name the time and the host's state (report.html lists facts.json's sha256).
            .filter(|f| {
                !["README.txt", "system/facts.json", "report.html"]
                    .contains(&f["path"].as_str().unwrap())
            })
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_string(),
                    f["sha256"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    assert_eq!(stable(&manifests[0]), stable(&manifests[1]));
    assert_eq!(manifests[0]["redaction"], manifests[1]["redaction"]);
}

/// The official docker image's console log (`edgemicro.log`, with the entrypoint's echoed
/// `edgemicro start … -k KEY -s SECRET`), rotated copies (`.log.1`, `.log-DATE`) and compressed
/// ones: each taken or skipped with how it was found, and no key or secret reaches the bundle.
#[test]
fn docker_console_log_and_rotated_logs_are_collected_with_how_they_were_found() {
    let key = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
    let secret = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
    let t = Test::minimal()
        .log(
            "edgemicro.log",
            format!("edgemicro start -o acme -e prod -k {key} -s {secret} -r 8000\n2026-01-01T00:00:00.000Z [1] [microgateway edgemicro] current edgemicro version is 3.3.7\n"),
        )
        .log("edgemicro-gw-1-api.log.1", "2026-01-01T00:00:00.000Z info 1 rotated one\n")
        .log("edgemicro-gw-1-api.log-20260101", "2026-01-01T00:00:00.000Z info 1 rotated dated\n")
        .log("edgemicro-gw-1-api.log.3.bz2", "BZh9")
        .collect("d.zip")
        .args(["--json"]);
    // A real gzip rotation (gzip(1)), with the key in it.
    let rotated = t.log_dir().join("edgemicro-gw-1-api.log.2");
    std::fs::write(
        &rotated,
        format!("2026-01-01T00:00:00.000Z info 1 edgemicro start -o acme -e prod -k {key} -s {secret}\n2026-01-01T00:00:01.000Z info 1 gzipped diagnostic line\n"),
    )
    .unwrap();
    assert!(std::process::Command::new("gzip")
        .arg(&rotated)
        .status()
        .unwrap()
        .success());
    let run = t.run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    assert!(skip_reason(&json, "edgemicro-gw-1-api.log.3.bz2").contains("bzip2"));
    let entries = unzip_all(&t.path("out/d.zip"));
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    for log in [
        "logs/edgemicro.log",
        "logs/edgemicro-gw-1-api.log.1",
        "logs/edgemicro-gw-1-api.log-20260101",
    ] {
        assert!(names.contains(&log), "{log} not in {names:?}");
    }
    for (name, bytes) in &entries {
        assert!(
            !contains(bytes, key.as_bytes()) && !contains(bytes, secret.as_bytes()),
            "{name}"
        );
    }
    assert!(contains(
        entry(&entries, "logs/edgemicro-gw-1-api.log.2"),
        b"gzipped diagnostic line"
    ));
    let console = String::from_utf8_lossy(entry(&entries, "logs/edgemicro.log")).into_owned();
    assert!(
        console.contains("current edgemicro version is 3.3.7"),
        "{console}"
    );
    let manifest = manifest_of(&entries);
    let found: Vec<&str> = manifest["logs_newest_first"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["found_as"].as_str().unwrap())
        .collect();
    assert!(found.iter().any(|f| f.contains("console log")), "{found:?}");
    assert!(found.iter().any(|f| f.contains("rotated")), "{found:?}");
    assert!(found.iter().any(|f| f.contains(".gz")), "{found:?}");
}

/// A gzip rotation that inflates far beyond --max-log-bytes is cut there while streaming (a
/// gzip bomb is never held), and the bundle says so.
#[test]
fn a_gzip_rotation_is_bounded_while_it_is_decompressed() {
    let t = Test::minimal();
    let plain = t.log_dir().join("edgemicro-gw-1-api.log.1");
    std::fs::write(&plain, noisy_log(3, 4 << 20)).unwrap();
    assert!(std::process::Command::new("gzip")
        .arg(&plain)
        .status()
        .unwrap()
        .success());
    let t = t.collect("g.zip").args(["--json", "--max-log-bytes", "1M"]);
    let run = t.run();
    assert_eq!(run.code, 3, "{}", run.stderr);
    let json = run.json();
    let file = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "logs/edgemicro-gw-1-api.log.1")
        .expect("the decompressed rotation is in the bundle");
    assert!(file["bytes"].as_u64().unwrap() <= 1 << 20, "{file}");
    assert_eq!(file["truncated"], true);
}

/// A log dir someone named whose files do not have EMG's names (a wrapper's own): its `*.log`
/// are taken, and the manifest says why.
#[test]
fn a_named_log_dir_without_emg_names_gives_its_star_log_files() {
    let t = Test::minimal()
        .log("gateway.log", "2026-01-01T00:00:00.000Z info 1 hello\n")
        .log("notes.txt", "not a log\n")
        .collect("n.zip")
        .args(["--json"]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let entries = unzip_all(&t.path("out/n.zip"));
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"logs/gateway.log"), "{names:?}");
    assert!(!names.iter().any(|n| n.contains("notes")), "{names:?}");
    let manifest = manifest_of(&entries);
    assert!(manifest["logs_newest_first"][0]["found_as"]
        .as_str()
        .unwrap()
        .contains("no file there has an EMG log name"));
}

/// Boolean env twins read as bots set them: 1/0, true/false, yes/no, on/off (any case).
#[test]
fn boolean_env_twins_accept_the_usual_spellings() {
    for (value, on) in [
        ("1", true),
        ("0", false),
        ("true", true),
        ("false", false),
        ("yes", true),
        ("no", false),
        ("on", true),
        ("off", false),
        ("YES", true),
    ] {
        let t = Test::minimal()
            .env("EDGEMICRO_DIAG_JSON", value)
            .collect("b.zip");
        let run = t.run();
        assert!(run.code == 0 || run.code == 3, "{value}: {}", run.stderr);
        assert_eq!(
            run.stdout.first() == Some(&b'{'),
            on,
            "EDGEMICRO_DIAG_JSON={value}: {}",
            run.stdout_str()
        );
    }
    let t = Test::minimal()
        .env("EDGEMICRO_DIAG_JSON", "maybe")
        .collect("b.zip");
    assert_eq!(t.run().code, 2);
}

/// A bad value in an environment twin names the variable the user set, not the flag they never
/// typed; human and JSON alike, exit 2. A bad value typed as a flag keeps the flag's name.
#[test]
fn a_bad_env_twin_is_named_in_the_error() {
    for (var, value) in [
        ("EDGEMICRO_DIAG_YES", "maybe"),
        ("EDGEMICRO_DIAG_LOW_PRIORITY", "2"),
        ("EDGEMICRO_DIAG_FOLLOW_HARDLINKS", "sometimes"),
        ("EDGEMICRO_DIAG_PSEUDONYMIZE", "perhaps"),
        ("EDGEMICRO_DIAG_MAX_BUNDLE_BYTES", "lots"),
        ("EDGEMICRO_DIAG_MAX_LOG_BYTES", "-5"),
        ("EDGEMICRO_DIAG_SINCE", "yesterday-ish"),
        ("EDGEMICRO_DIAG_JOURNAL", "a b"),
        ("EDGEMICRO_DIAG_MAX_SECONDS", "0"),
    ] {
        // Not `collect()`: it types -y, which would hide EDGEMICRO_DIAG_YES.
        let run = Test::minimal()
            .env(var, value)
            .args(["collect", "--dry-run"])
            .run();
        assert_eq!(run.code, 2, "{var}={value}: {}", run.stderr);
        assert!(
            run.stderr.contains(var) && run.stderr.contains(value),
            "{var}={value}: {}",
            run.stderr
        );
        let run = Test::minimal()
            .env(var, value)
            .args(["collect", "--dry-run", "--json"])
            .run();
        assert_eq!(run.code, 2, "{var}={value} --json: {}", run.stderr);
        let json = run.json();
        assert!(
            json["error"].as_str().unwrap().contains(var),
            "{var}={value}: {json}"
        );
    }
    let run = Test::minimal()
        .collect("b.zip")
        .args(["--max-bundle-bytes", "lots"])
        .run();
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("--max-bundle-bytes") && !run.stderr.contains("EDGEMICRO_DIAG_"),
        "{}",
        run.stderr
    );
}

/// `rules list`: every shipped rule with its id and why (and a user's, with its file), on
/// stdout, as text or one JSON object.
#[test]
fn rules_list_shows_every_rule_with_why() {
    let t = Test::new();
    std::fs::write(
        t.path("site.yaml"),
        "patterns:\n  - id: site_pin\n    why: our vault plugin prints a PIN\n    keywords: [pin=]\n    regex: 'pin=(\\d+)'\n",
    )
    .unwrap();
    let site = t.path("site.yaml");
    let t = t.args([
        "rules".into(),
        "list".into(),
        "--json".into(),
        "--rules".into(),
        site.into_os_string(),
    ]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    let rules = json["rules"].as_array().unwrap();
    assert!(rules.len() >= 25, "{}", rules.len());
    for r in rules {
        assert!(r["why"].as_str().unwrap().len() >= 15, "{r}");
    }
    let ids: Vec<&str> = rules.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for id in [
        "client_id",
        "high_entropy",
        "password",
        "private_key",
        "site_pin",
    ] {
        assert!(ids.contains(&id), "{id} not in {ids:?}");
    }
    let site = rules.iter().find(|r| r["id"] == "site_pin").unwrap();
    assert!(
        site["file"].as_str().unwrap().contains("site.yaml"),
        "{site}"
    );
    assert!(rules
        .iter()
        .filter(|r| r["id"] != "site_pin")
        .all(|r| r["file"].as_str().unwrap().starts_with("shipped ")));
    let text = Test::new().args(["rules", "list"]).run();
    assert_eq!(text.code, 0);
    assert!(text.stdout_str().lines().count() >= 25);
}

/// The default bundle name carries the case id (kept to characters shells and mail take).
#[test]
fn the_default_bundle_name_carries_the_case_id() {
    let t = Test::example();
    let logs = t.log_dir().display().to_string();
    let run = Run::from(
        t.command()
            .args([
                "collect",
                "-y",
                "-q",
                "--log-dir",
                &logs,
                "--case",
                "SR 01234/a",
            ])
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let printed = std::path::PathBuf::from(run.stdout_str().trim());
    assert!(printed.is_absolute(), "{printed:?}");
    let name = printed.file_name().unwrap().to_string_lossy().to_string();
    let re = regex::Regex::new(r"^edgemicro-diag-[A-Za-z0-9._-]+-SR_01234_a-\d{8}T\d{6}Z\.zip$")
        .unwrap();
    assert!(re.is_match(&name), "{name}");
    assert!(t.dir.path().join(&name).is_file());
}

/// system/facts.json has what support asks next on resets (port range, TIME_WAIT reuse,
/// conntrack, load, clock, sockets per endpoint, proxy variables, the targets' DNS answers),
/// and a proxy URL's password never reaches it.
#[test]
fn facts_hold_what_support_asks_next_and_no_proxy_password() {
    let t = Test::example()
        .env(
            "HTTPS_PROXY",
            "http://proxyuser:ProxyPassw0rd77@proxy.internal:3128",
        )
        .collect("f.zip");
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let entries = unzip_all(&t.path("out/f.zip"));
    assert!(
        !entries.iter().any(|(_, b)| contains(b, b"ProxyPassw0rd77")),
        "the proxy password leaked"
    );
    let facts: serde_json::Value =
        serde_json::from_slice(entry(&entries, "system/facts.json")).unwrap();
    for key in ["net.ipv4.ip_local_port_range", "net.ipv4.tcp_tw_reuse"] {
        assert!(
            facts["sysctl"][key].is_string(),
            "{key}: {}",
            facts["sysctl"]
        );
    }
    assert!(facts["load"].is_string());
    assert!(facts["sockets"].is_array());
    let proxy = facts["proxy_env"]["HTTPS_PROXY (this shell)"]
        .as_str()
        .unwrap();
    assert!(
        proxy.contains("proxy.internal:3128") && proxy.contains("REDACTED"),
        "{proxy}"
    );
    assert!(facts["target_dns"].is_object(), "{}", facts["target_dns"]);
}

/// README.txt says what the bundle is: the summary block (log span from the records, 502s,
/// versions with their source, keep-alive settings, findings, what was skipped) and every kind
/// of entry.
#[test]
fn the_bundle_readme_has_the_summary_and_every_entry_kind() {
    let t = Test::example().collect("r.zip");
    assert_eq!(t.run().code, 0);
    let entries = unzip_all(&t.path("out/r.zip"));
    let readme = String::from_utf8(entry(&entries, "README.txt").to_vec()).unwrap();
    for needed in [
        "Log span          2021-06-22T10:00:00.331Z … 2021-06-23T03:17:23.167Z",
        "502 / 504         23 / 0",
        "keep_alive_timeout 65000 ms; request_timeout 60 s",
        "Findings          target-hangup (high)",
        "Skipped           nothing",
        "nodejs",
        "report.html",
        "findings.json",
        "capture/targets.pcap",
        "system/facts.json",
    ] {
        assert!(readme.contains(needed), "{needed:?} in\n{readme}");
    }
}
