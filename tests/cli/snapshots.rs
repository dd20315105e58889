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

/// Every subcommand, found by walking `Commands:` from the top (so a new one is covered), has its
/// own `Examples:` running that very subcommand, and points to nothing a user of the binary alone
/// lacks (the repo's README, `.md` files, example or rule directories).
#[test]
fn every_subcommand_has_its_own_examples_and_needs_no_checkout() {
    let repo_only =
        regex::Regex::new(r"README|\.md\b|examples/|redaction-rules/|scripts/|dist/").unwrap();
    let mut queue: Vec<Vec<String>> = vec![vec![]];
    let mut seen = 0;
    while let Some(path) = queue.pop() {
        let mut args = path.clone();
        args.push("--help".into());
        let run = Test::new().args(&args).run();
        assert_eq!(run.code, 0, "{args:?}: {}", run.stderr);
        let help = run.stdout_str();
        assert!(
            !repo_only.is_match(&help),
            "`{}` points to a file of the checkout: {:?}",
            args.join(" "),
            repo_only.find(&help).map(|m| m.as_str())
        );
        let mut commands = help
            .lines()
            .skip_while(|l| *l != "Commands:")
            .skip(1)
            .take_while(|l| l.starts_with("  "))
            // A command's own line, not the wrapped rest of a description.
            .filter(|l| !l[2..].starts_with(' '))
            .filter_map(|l| l.split_whitespace().next())
            .filter(|c| *c != "help")
            .peekable();
        if !path.is_empty() && commands.peek().is_none() {
            // A leaf: its examples run it.
            let own = format!("edgemicro-diag {}", path.join(" "));
            let examples: Vec<&str> = help
                .lines()
                .skip_while(|l| *l != "Examples:")
                .filter(|l| l.trim_start().starts_with("edgemicro-diag"))
                .collect();
            let runs_itself = examples.iter().any(|l| {
                l.trim_start().starts_with(&own)
                    || (path == ["wizard"] && l.trim() == "edgemicro-diag")
            });
            assert!(
                runs_itself,
                "`{own} --help` has no example of itself:\n{help}"
            );
            seen += 1;
        }
        for c in commands.collect::<Vec<_>>() {
            let mut next = path.clone();
            next.push(c.to_string());
            queue.push(next);
        }
    }
    // collect, wizard, verify, analyze, redact, log-level show/set/restore, rules list.
    assert!(seen >= 9, "only {seen} subcommands found");
}
