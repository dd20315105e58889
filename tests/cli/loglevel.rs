//! `log-level`: only the value's bytes change, restore is byte-identical, edits in between are
//! detected, read-only files are refused, and a real SIGTERM during collect restores the level.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::harness::*;

const COMMENTED: &str = "# EMG config for o/e\nedge_config:\n  bootstrapMessage: >-\n    Please copy the following property\n    to the edge micro agent config\nedgemicro:\n  port: 8000   # public port\n  logging:\n    level: error   # raised during ticket 4711\n    dir: /var/tmp\n";
const TABS: &str =
    "edgemicro:\n  logging:\n    level:\t'warn'\t# tab before the comment\n    dir: /var/tmp\n";
const NO_LOGGING: &str =
    "edgemicro:\n  port: 8000\n  max_connections: 1000\nheaders:\n  via: true\n";
const FLOW: &str = "edgemicro:\n  logging: {level: error, dir: /var/tmp, stats_log_interval: 60}\n";

fn with_config(text: &str) -> Test {
    let t = Test::minimal().config("o-e-config.yaml", text);
    std::fs::set_permissions(
        t.config_dir().join("o-e-config.yaml"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    t
}

fn config_file(t: &Test) -> std::path::PathBuf {
    t.config_dir().join("o-e-config.yaml")
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn log_level(t: &Test, args: &[&str]) -> Run {
    let mut cmd = t.command();
    cmd.args(["log-level"]).args(args);
    cmd.output().unwrap().into()
}

#[test]
fn set_changes_only_the_value_and_restore_is_byte_identical() {
    let crlf = COMMENTED.replace('\n', "\r\n");
    let cases: Vec<(&str, String, String)> = vec![
        (
            "commented",
            COMMENTED.into(),
            COMMENTED.replace("level: error   #", "level: info   #"),
        ),
        (
            "crlf",
            crlf.clone(),
            crlf.replace("level: error   #", "level: info   #"),
        ),
        ("tabs", TABS.into(), TABS.replace("'warn'", "'info'")),
        (
            "no logging",
            NO_LOGGING.into(),
            NO_LOGGING.replace("edgemicro:\n", "edgemicro:\n  logging:\n    level: info\n"),
        ),
        (
            "flow",
            FLOW.into(),
            FLOW.replace("level: error", "level: info"),
        ),
    ];
    for (name, original, expected) in cases {
        let t = with_config(&original);
        let file = config_file(&t);
        let set = log_level(&t, &["set", "info"]);
        assert_eq!(set.code, 0, "{name}: {}", set.stderr);
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            expected,
            "{name}: only the value changes"
        );
        assert_eq!(mode(&file), 0o640, "{name}: mode kept");
        assert!(
            set.stderr.contains(
                "edgemicro reload -o o -e e -k \"$EDGEMICRO_KEY\" -s \"$EDGEMICRO_SECRET\""
            ),
            "{name}: {}",
            set.stderr
        );

        let shown = log_level(&t, &["show", "--json"]).json();
        assert_eq!(shown["level"], "info", "{name}");
        assert_eq!(shown["pending"]["level"], "info", "{name}");

        let restore = log_level(&t, &["restore"]);
        assert_eq!(restore.code, 0, "{name}: {}", restore.stderr);
        assert_eq!(
            std::fs::read(&file).unwrap(),
            original.as_bytes(),
            "{name}: byte-identical after restore"
        );
        assert_eq!(mode(&file), 0o640, "{name}: mode kept");
        let left: Vec<String> = std::fs::read_dir(t.config_dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into())
            .collect();
        assert!(
            left.iter().all(|n| !n.contains("edgemicro-diag")),
            "{name}: backup and state removed: {left:?}"
        );
    }
}

#[test]
fn an_edit_between_set_and_restore_is_detected_and_kept() {
    let t = with_config(COMMENTED);
    assert_eq!(log_level(&t, &["set", "debug"]).code, 0);
    let file = config_file(&t);
    let edited = std::fs::read_to_string(&file)
        .unwrap()
        .replace("port: 8000", "port: 8080");
    std::fs::write(&file, &edited).unwrap();
    let restore = log_level(&t, &["restore"]);
    assert_eq!(restore.code, 1, "{}", restore.stderr);
    assert!(
        restore.stderr.contains("changed after `log-level set`")
            && restore.stderr.contains(".edgemicro-diag.bak"),
        "{}",
        restore.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        edited,
        "the operator's edit is not clobbered"
    );
}

#[test]
fn read_only_file_or_dir_is_a_clear_error_and_nothing_changes() {
    let t = with_config(COMMENTED);
    let file = config_file(&t);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o444)).unwrap();
    let run = log_level(&t, &["set", "info"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("read-only (mode 444)"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), COMMENTED);
    assert_eq!(
        std::fs::read_dir(t.config_dir()).unwrap().count(),
        2,
        "no backup, no temp file"
    );

    // A writable file in a dir this user cannot write to (as `nobody` when the tests run as root).
    let t = with_config(COMMENTED);
    std::fs::set_permissions(config_file(&t), std::fs::Permissions::from_mode(0o666)).unwrap();
    std::fs::set_permissions(t.config_dir(), std::fs::Permissions::from_mode(0o555)).unwrap();
    let t = t.args(["log-level", "set", "info"]);
    let run = t.run_unprivileged();
    std::fs::set_permissions(t.config_dir(), std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("permission denied"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(config_file(&t)).unwrap(), COMMENTED);
}

#[test]
fn reload_preconditions_are_checked_before_anything_changes() {
    let t = with_config(COMMENTED);
    let run = log_level(&t, &["set", "info", "--reload"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains("EDGEMICRO_KEY and EDGEMICRO_SECRET")
            && run.stderr.contains("nothing was changed"),
        "{}",
        run.stderr
    );
    let t = t
        .env("EDGEMICRO_KEY", "k")
        .env("EDGEMICRO_SECRET", "s")
        .env("PATH", "/usr/bin:/bin");
    let run = log_level(&t, &["set", "info", "--reload"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("`edgemicro` on PATH"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(config_file(&t)).unwrap(), COMMENTED);
}

#[test]
fn several_pairs_need_org_and_env() {
    let t = with_config(COMMENTED).config("o-prod-config.yaml", COMMENTED);
    let run = log_level(&t, &["set", "info"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--org ORG --env ENV"), "{}", run.stderr);
    assert_eq!(
        log_level(&t, &["set", "info", "--org", "o", "--env", "prod"]).code,
        0
    );
    assert_eq!(
        std::fs::read_to_string(config_file(&t)).unwrap(),
        COMMENTED,
        "the other pair is untouched"
    );
}

#[test]
fn collect_with_log_level_records_before_during_and_restores() {
    let t = with_config(COMMENTED)
        .log(
            "edgemicro-h-1-api.log",
            "2026-01-01T00:00:00.000Z info 1 x\n",
        )
        .collect("l.zip")
        .args(["--log-level", "info", "--reproduce-seconds", "1", "--json"]);
    let started = Instant::now();
    let run = t.run();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "waited for the reproduction"
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["log_level"]["before"], "error");
    assert_eq!(json["log_level"]["during"], "info");
    assert_eq!(json["log_level"]["restored"], true);
    assert_eq!(std::fs::read_to_string(config_file(&t)).unwrap(), COMMENTED);
    let entries = unzip_all(&t.path("out/l.zip"));
    let manifest = manifest_of(&entries);
    assert_eq!(manifest["log_level"], json["log_level"]);
    let collected = String::from_utf8(
        entries
            .iter()
            .find(|(n, _)| n == "config/o-e-config.yaml")
            .unwrap()
            .1
            .clone(),
    )
    .unwrap();
    assert!(
        collected.contains("level: info"),
        "the bundle shows the config as it was during the reproduction"
    );
}

fn signal_while_reproducing_restores_the_level(signal: &str, expected: i32) {
    let t = with_config(COMMENTED)
        .log("edgemicro-h-1-api.log", "x\n")
        .collect("t.zip")
        .args(["--log-level", "info", "--reproduce-seconds", "5"]);
    let file = config_file(&t);
    let child = t
        .command()
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !std::fs::read_to_string(&file)
        .unwrap()
        .contains("level: info")
    {
        assert!(Instant::now() < deadline, "the level was never switched");
        std::thread::sleep(Duration::from_millis(20));
    }
    let (code, stderr) = signal_and_wait(child, signal);
    assert_eq!(code, Some(expected), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        COMMENTED,
        "restored byte for byte"
    );
    assert!(!t
        .config_dir()
        .join("o-e-config.yaml.edgemicro-diag.bak")
        .exists());
    assert_nothing_left(&t);
}

#[test]
fn sigterm_while_reproducing_restores_the_level() {
    signal_while_reproducing_restores_the_level("-TERM", 143);
}

#[test]
fn sigint_while_reproducing_restores_the_level() {
    signal_while_reproducing_restores_the_level("-INT", 130);
}

#[test]
fn sighup_while_reproducing_restores_the_level() {
    signal_while_reproducing_restores_the_level("-HUP", 129);
}

/// The answer of `show`, `set` and `restore` is on stdout (for scripts); hints on stderr.
#[test]
fn answers_go_to_stdout_and_hints_to_stderr() {
    let t = with_config(COMMENTED);
    let show = log_level(&t, &["show"]);
    assert_eq!(show.code, 0, "{}", show.stderr);
    assert!(
        show.stdout_str()
            .starts_with("edgemicro.logging.level: error (from "),
        "{}",
        show.stdout_str()
    );
    let set = log_level(&t, &["set", "info"]);
    assert!(
        set.stdout_str().contains("error -> info"),
        "{}",
        set.stdout_str()
    );
    assert!(
        set.stderr.contains("edgemicro reload"),
        "the pickup hint: {}",
        set.stderr
    );
    let restore = log_level(&t, &["restore"]);
    assert!(
        restore.stdout_str().contains("back to error"),
        "{}",
        restore.stdout_str()
    );
}

/// `collect --log-level info`: the summary says the file was restored and prints the reload
/// command with the absolute config dir; with `--reload`, edgemicro reload runs after the switch
/// and after the restore (the edgemicro CLI is not installable here, so a recording stand-in
/// plays it), and its preconditions stop the run before anything changes.
#[test]
fn collect_reports_the_restore_and_reloads_when_asked() {
    let t = with_config(COMMENTED);
    let run = Run::from(
        t.command()
            .args(["collect", "-y", "--log-level", "info", "-o"])
            .arg(t.path("a.zip"))
            .output()
            .unwrap(),
    );
    assert!(run.code == 0 || run.code == 3, "{}", run.stderr);
    let config_dir = t.config_dir().canonicalize().unwrap().display().to_string();
    assert!(
        run.stderr.contains("restored to error in"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("edgemicro reload -o o -e e -k \"$EDGEMICRO_KEY\" -s \"$EDGEMICRO_SECRET\" -c {config_dir}")),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read_to_string(config_file(&t)).unwrap(), COMMENTED);

    // --reload without the key and secret: refused before the switch.
    let run = Run::from(
        t.command()
            .args(["collect", "-y", "--log-level", "info", "--reload", "-o"])
            .arg(t.path("b.zip"))
            .output()
            .unwrap(),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(!t.path("b.zip").exists());
    assert_eq!(std::fs::read_to_string(config_file(&t)).unwrap(), COMMENTED);

    let bin = t.path("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let calls = t.path("calls.txt");
    std::fs::write(
        bin.join("edgemicro"),
        format!("#!/bin/sh\nprintf '%s|' \"$@\" >> {}\ngrep -o 'level: [a-z]*' {} >> {}\necho 'Reload Completed Successfully'\n", calls.display(), config_file(&t).display(), calls.display()),
    )
    .unwrap();
    std::fs::set_permissions(
        bin.join("edgemicro"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let run = Run::from(
        t.command()
            .env("PATH", &path)
            .env("EDGEMICRO_KEY", "k")
            .env("EDGEMICRO_SECRET", "s")
            .args([
                "collect",
                "-y",
                "--json",
                "--log-level",
                "info",
                "--reload",
                "-o",
            ])
            .arg(t.path("c.zip"))
            .output()
            .unwrap(),
    );
    assert!(run.code == 0 || run.code == 3, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["log_level"]["restored"], true);
    assert!(
        json["log_level"]["reloaded"]
            .as_str()
            .unwrap()
            .contains("Reload Completed"),
        "{json}"
    );
    let seen = std::fs::read_to_string(&calls).unwrap();
    // Two reloads: the first saw the switched level, the second the restored one.
    assert_eq!(seen.matches("reload|").count(), 2, "{seen}");
    let first = seen.find("level: info").unwrap();
    let second = seen.rfind("level: error").unwrap();
    assert!(first < second, "{seen}");
    assert_eq!(std::fs::read_to_string(config_file(&t)).unwrap(), COMMENTED);
}
