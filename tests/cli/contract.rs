//! The `--json` contract: every subcommand, on success and on failure (usage errors included),
//! prints exactly one JSON object on stdout in the common envelope, valid against
//! schema/edgemicro-diag.schema.json, with the exit code it reports.

use crate::harness::*;

/// Runs `args` and checks the one object: schema, command, and the exit code it states.
fn one_object(t: &Test, args: &[&str], command: &str) -> (i32, serde_json::Value) {
    one_object_env(t, args, command, &[])
}

fn one_object_env(
    t: &Test,
    args: &[&str],
    command: &str,
    env: &[(&str, &str)],
) -> (i32, serde_json::Value) {
    let mut cmd = t.command();
    cmd.args(args).envs(env.iter().copied());
    let run = Run::from(cmd.output().expect("binary runs"));
    let json = run.json();
    assert_eq!(json["command"], command, "{args:?}: {json}");
    assert_eq!(
        json["exit_code"], run.code,
        "{args:?}: the exit code it states"
    );
    assert_eq!(
        run.stdout_str().trim().lines().count(),
        1,
        "{args:?}: exactly one line"
    );
    (run.code, json)
}

#[test]
fn every_command_prints_one_enveloped_object_on_success_and_failure() {
    let t = Test::example();
    let config_dir = t.config_dir().display().to_string();
    let log = t.log_dir().join(
        std::fs::read_dir(t.log_dir())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .file_name(),
    );
    let log = log.display().to_string();
    let bundle = t.path("b.zip").display().to_string();
    let second = t.path("c.zip").display().to_string();
    let logs = t.log_dir().display().to_string();
    let ok: Vec<(Vec<&str>, &str, i32)> = vec![
        (
            vec!["collect", "-y", "--json", "--log-dir", &logs, "-o", &bundle],
            "collect",
            0,
        ),
        (
            vec!["collect", "-y", "--json", "--log-dir", &logs, "-o", &second],
            "collect",
            0,
        ),
        (vec!["verify", "--json", &bundle, &second], "verify", 0),
        (vec!["analyze", "--json", &bundle], "analyze", 0),
        (
            vec!["analyze", "--json", "-c", &config_dir, "--log-dir", &logs],
            "analyze",
            0,
        ),
        (vec!["redact", "--json", &log], "redact", 0),
        (vec!["rules", "list", "--json"], "rules list", 0),
        (
            vec!["log-level", "show", "--json", "-c", &config_dir],
            "log-level show",
            0,
        ),
    ];
    for (args, command, code) in &ok {
        let (got, json) = one_object(&t, args, command);
        assert_eq!(got, *code, "{args:?}: {json}");
        assert_eq!(json["error"], serde_json::Value::Null);
    }
    let not_zip = t.path("not.zip");
    std::fs::write(&not_zip, "plain text").unwrap();
    let not_zip = not_zip.display().to_string();
    let failing: Vec<(Vec<&str>, &str, i32)> = vec![
        (vec!["verify", "--json", &bundle, &not_zip], "verify", 1),
        (vec!["verify", "--json", "/nonexistent.zip"], "verify", 1),
        (
            vec!["collect", "-y", "--json", "--max-log-bytes", "lots"],
            "collect",
            2,
        ),
        (
            vec!["collect", "-y", "--json", "--no-such-flag"],
            "collect",
            2,
        ),
        (
            vec!["analyze", "--json", "--lb-idle-timeout", "soon"],
            "analyze",
            2,
        ),
        (vec!["analyze", "--json", "/nonexistent.zip"], "analyze", 1),
        (vec!["redact", "--json", "/nonexistent.log"], "redact", 1),
        (
            vec!["rules", "list", "--json", "--rules", "/nonexistent.yaml"],
            "rules list",
            1,
        ),
        (
            vec!["log-level", "show", "--json", "-c", "/nonexistent"],
            "log-level show",
            1,
        ),
        (
            vec!["log-level", "set", "loud", "--json"],
            "log-level set",
            2,
        ),
        (vec!["--json", "no-such-command"], "", 2),
    ];
    for (args, command, code) in &failing {
        let (got, json) = one_object(&t, args, command);
        assert_eq!(got, *code, "{args:?}: {json}");
        assert_eq!(json["status"], "failed", "{args:?}");
        assert!(
            json["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{args:?}: {json}"
        );
    }
    // EDGEMICRO_DIAG_JSON asks for the object just like --json, usage errors included.
    let (code, json) = one_object_env(
        &t,
        &["collect", "-y", "--max-seconds", "0"],
        "collect",
        &[("EDGEMICRO_DIAG_JSON", "yes")],
    );
    assert_eq!(code, 2, "{json}");
}

/// `verify A B`: each bundle gets its own result; one bad bundle fails the run (worst code).
#[test]
fn verify_takes_several_bundles_and_reports_each() {
    let t = Test::example();
    let logs = t.log_dir().display().to_string();
    let good = t.path("good.zip").display().to_string();
    let made = t
        .command()
        .args(["collect", "-y", "-q", "--log-dir", &logs, "-o", &good])
        .output()
        .unwrap();
    assert!(made.status.success());
    let bad = t.path("bad.zip");
    let mut bytes = std::fs::read(&good).unwrap();
    let at = bytes.len() / 3;
    bytes[at] ^= 0x55;
    std::fs::write(&bad, bytes).unwrap();
    let bad = bad.display().to_string();
    let run = Run::from(
        t.command()
            .args(["verify", &good, &bad, &good])
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert_eq!(
        run.stdout_str().matches("ok: ").count(),
        2,
        "{}",
        run.stdout_str()
    );
    let (code, json) = one_object(&t, &["verify", "--json", &good, &bad], "verify");
    assert_eq!(code, 4);
    let each: Vec<&str> = json["bundles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["status"].as_str().unwrap())
        .collect();
    assert_eq!(each, vec!["ok", "failed"], "{json}");
}

/// `collect --dry-run` writes nothing and predicts, file by file, the redactions the real run
/// then makes.
#[test]
fn a_dry_run_writes_nothing_and_predicts_the_redactions() {
    let t = Test::example();
    let logs = t.log_dir().display().to_string();
    let before: Vec<_> = std::fs::read_dir(t.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let (code, planned) = one_object(
        &t,
        &["collect", "-y", "--json", "--dry-run", "--log-dir", &logs],
        "collect",
    );
    assert_eq!(code, 0, "{planned}");
    assert_eq!(planned["dry_run"], true);
    let after: Vec<_> = std::fs::read_dir(t.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "nothing written");
    let text = Run::from(
        t.command()
            .args(["collect", "-y", "--dry-run", "--log-dir", &logs])
            .output()
            .unwrap(),
    );
    assert!(
        text.stdout_str().contains("dry run: nothing is written"),
        "{}",
        text.stdout_str()
    );
    let bundle = t.path("real.zip").display().to_string();
    let (code, real) = one_object(
        &t,
        &["collect", "-y", "--json", "--log-dir", &logs, "-o", &bundle],
        "collect",
    );
    assert_eq!(code, 0);
    let predicted: std::collections::BTreeMap<String, u64> = planned["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["redactions"].as_u64().unwrap(),
            )
        })
        .collect();
    let made: std::collections::BTreeMap<String, u64> = real["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| {
            f["path"].as_str().unwrap().starts_with("config/")
                || f["path"].as_str().unwrap().starts_with("logs/")
        })
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_string(),
                f["redactions"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(predicted, made);
    assert!(planned["redactions"]["total"].as_u64().unwrap() > 0);
}

/// `verify DIR` checks an unzipped bundle against its manifest; a changed, extra or missing
/// file or a planted link fails it. `redact DIR` walks a directory without following links out.
#[test]
fn extracted_bundles_and_directories_are_accepted() {
    let t = Test::example();
    let logs = t.log_dir().display().to_string();
    let zip = t.path("x.zip").display().to_string();
    assert!(t
        .command()
        .args(["collect", "-y", "-q", "--log-dir", &logs, "-o", &zip])
        .output()
        .unwrap()
        .status
        .success());
    let dir = t.path("x");
    let unzip = std::process::Command::new("unzip")
        .args(["-q", &zip, "-d"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(unzip.status.success());
    let dir_s = dir.display().to_string();
    let (code, json) = one_object(&t, &["verify", "--json", &dir_s, &zip], "verify");
    assert_eq!(code, 0, "{json}");
    // Tampered: one byte of a log changed.
    let log = std::fs::read_dir(dir.join("logs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let original = std::fs::read(&log).unwrap();
    let mut changed = original.clone();
    changed[10] ^= 1;
    std::fs::write(&log, &changed).unwrap();
    let (code, json) = one_object(&t, &["verify", "--json", &dir_s], "verify");
    assert_eq!(code, 4, "{json}");
    std::fs::write(&log, &original).unwrap();
    // A planted link, an extra file, a missing file: each fails.
    std::os::unix::fs::symlink("/etc/hostname", dir.join("logs/planted.log")).unwrap();
    assert_eq!(one_object(&t, &["verify", "--json", &dir_s], "verify").0, 4);
    std::fs::remove_file(dir.join("logs/planted.log")).unwrap();
    std::fs::write(dir.join("extra.txt"), "x").unwrap();
    assert_eq!(one_object(&t, &["verify", "--json", &dir_s], "verify").0, 4);
    std::fs::remove_file(dir.join("extra.txt")).unwrap();
    std::fs::remove_file(&log).unwrap();
    assert_eq!(one_object(&t, &["verify", "--json", &dir_s], "verify").0, 4);

    // redact DIR: the example's logs and configs, walked; a link out is not followed.
    let walk = t.path("walk");
    copy_dir(&t.log_dir(), &walk);
    let outside = t.path("outside.log");
    std::fs::write(&outside, "GET /x?apikey=OUTSIDESECRET123 200\n").unwrap();
    std::os::unix::fs::symlink(&outside, walk.join("link.log")).unwrap();
    let walk_s = walk.display().to_string();
    let (code, json) = one_object(&t, &["redact", "--json", &walk_s], "redact");
    assert_eq!(code, 0, "{json}");
    let files: Vec<&str> = json["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["file"].as_str().unwrap())
        .collect();
    assert!(
        files.len() >= 2 && !files.iter().any(|f| f.ends_with("link.log")),
        "{files:?}"
    );
    assert!(json["total"].as_u64().unwrap() > 0);
}

/// `analyze DIR` reads a bundle unzipped into a directory exactly as the zip.
#[test]
fn analyze_reads_an_unzipped_bundle_like_the_zip() {
    let t = Test::example();
    let logs = t.log_dir().display().to_string();
    let zip = t.path("a.zip").display().to_string();
    assert!(t
        .command()
        .args(["collect", "-y", "-q", "--log-dir", &logs, "-o", &zip])
        .output()
        .unwrap()
        .status
        .success());
    let dir = t.path("a");
    assert!(std::process::Command::new("unzip")
        .args(["-q", &zip, "-d"])
        .arg(&dir)
        .output()
        .unwrap()
        .status
        .success());
    let (code, from_zip) = one_object(&t, &["analyze", "--json", &zip], "analyze");
    assert_eq!(code, 0);
    let (code, from_dir) = one_object(
        &t,
        &["analyze", "--json", &dir.display().to_string()],
        "analyze",
    );
    assert_eq!(code, 0, "{from_dir}");
    assert_eq!(from_zip["findings"], from_dir["findings"]);
    assert_eq!(from_zip["logs"]["totals"], from_dir["logs"]["totals"]);
    assert_eq!(from_dir["logs"]["totals"]["status_502"], 23);
}

/// Relative `-c`, `--log-dir` and `-o` (and their environment twins) still give absolute paths in
/// the manifest, the JSON and the printed summary: they are pasted into tickets and scripts run
/// from elsewhere.
#[test]
fn relative_paths_come_out_absolute() {
    for via_env in [false, true] {
        let t = Test::example();
        let mut t = if via_env {
            t.env("EDGEMICRO_CONFIG_DIR", "home/.edgemicro")
                .env("EDGEMICRO_DIAG_LOG_DIR", "./logs")
                .args(["collect", "-y", "--json", "-o", "out/r.zip"])
        } else {
            t.args([
                "collect",
                "-y",
                "--json",
                "-c",
                "home/.edgemicro",
                "--log-dir",
                "./logs",
                "-o",
                "out/r.zip",
            ])
        };
        t = t.args(["--log-level", "info"]);
        let run = t.run();
        assert_eq!(run.code, 0, "{}", run.stderr);
        let json = run.json();
        let mut paths = vec![
            json["bundle"].as_str().unwrap().to_string(),
            json["config_dir"]["path"].as_str().unwrap().to_string(),
        ];
        paths.extend(
            json["log_dirs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["path"].as_str().unwrap().to_string()),
        );
        let manifest = manifest_of(&unzip_all(&t.path("out/r.zip")));
        for f in manifest["files"].as_array().unwrap() {
            let source = f["source"].as_str().unwrap();
            // Sources that are not files: "edgemicro-diag", "this host", the environment …
            if source.contains('/') {
                paths.push(source.to_string());
            }
        }
        assert!(paths.len() > 5, "{paths:?}");
        for p in &paths {
            assert!(
                p.starts_with('/') && !p.contains("/./"),
                "via_env={via_env}: {p} is not absolute\n{json:#}"
            );
        }
        let reload = json["log_level"].to_string();
        assert!(!reload.contains("\"home/.edgemicro"), "{reload}");
    }
}
