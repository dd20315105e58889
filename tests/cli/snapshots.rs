//! `--help` and the JSON report are contracts: snapshot them (paths, times, sizes and hashes that
//! vary per machine are normalized first).

use crate::harness::*;

#[test]
fn help_texts() {
    let top = Test::new().args(["--help"]).run();
    assert_eq!(top.code, 0);
    insta::assert_snapshot!("help", top.stdout_str());
    let collect = Test::new().args(["collect", "--help"]).run();
    insta::assert_snapshot!("collect_help", collect.stdout_str());
}

#[test]
fn bare_command_without_a_terminal_prints_usage_and_exits_2() {
    let run = Test::new().run();
    assert_eq!(run.code, 2);
    assert!(
        run.stderr.contains("Usage: edgemicro-diag") && run.stderr.contains("collect --yes"),
        "{}",
        run.stderr
    );
}

#[test]
fn json_report_of_the_example() {
    let t = Test::example().collect("j.zip").args(["--json"]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.is_empty(),
        "--json: nothing but the JSON object: {}",
        run.stderr
    );
    let mut json = run.json();
    json["duration_ms"] = 0.into();
    json["sha256"] = "[sha256]".into();
    json["bytes"] = 0.into();
    // The running and installed Node, EMG and core of this host.
    json["versions"] = "[varies per host]".into();
    for file in json["files"].as_array_mut().unwrap() {
        // README.txt and report.html name the host and time; facts.json describes the machine.
        if ["system/facts.json", "README.txt", "report.html"]
            .contains(&file["path"].as_str().unwrap())
        {
            file["bytes"] = 0.into();
            file["sha256"] = "[varies per host and time]".into();
        }
    }
    let text = serde_json::to_string_pretty(&json)
        .unwrap()
        .replace(&t.dir.path().display().to_string(), "[TMP]");
    insta::assert_snapshot!("json_report_example", text);
}
