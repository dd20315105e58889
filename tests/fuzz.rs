//! Property fuzzing of the three parsers that see hostile bytes: the YAML pass, the log line
//! pass and `verify`. Each runs for `EDGEMICRO_DIAG_FUZZ_SECONDS` (default 3, so CI stays fast;
//! the long runs in the README use 600) with fresh random seeds per batch. A crasher found by a
//! long run becomes a named regression test below.

use std::io::Write;
use std::time::{Duration, Instant};

use edgemicro_diag::engine::Yaml;
use edgemicro_diag::engine::{self as redact, KnownSecret, RuleSet, TextEngine};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

/// Runs `test` on values of `strategy` in batches until the time budget is spent.
fn fuzz_for<S: Strategy>(
    name: &str,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let seconds = std::env::var("EDGEMICRO_DIAG_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut cases = 0u64;
    while Instant::now() < deadline {
        let mut runner = TestRunner::new(Config {
            cases: 64,
            failure_persistence: None,
            ..Config::default()
        });
        if let Err(e) = runner.run(&strategy, &test) {
            panic!("{name}: {e}");
        }
        cases += 64;
    }
    eprintln!("{name}: {cases} cases in {seconds} s");
}

fn rules() -> RuleSet {
    RuleSet::load(&[] as &[&str]).unwrap()
}

/// YAML-shaped text: nested keys (secret ones among them), scalars with YAML's special
/// characters, flow maps, anchors and aliases, comments, block scalars.
fn yaml_text() -> impl Strategy<Value = String> {
    let key = prop::sample::select(vec![
        "edgemicro",
        "port",
        "redisPassword",
        "secret",
        "key",
        "passphrase",
        "logging",
        "level",
        "proxies",
        "url",
        "credentials",
        "token",
        "client_secret",
        "apikey",
        "name",
        "a b",
        "k:",
    ]);
    let scalar = prop_oneof![
        "[a-zA-Z0-9]{6,20}",
        "[ -~]{0,30}",
        Just("'quoted: value'".to_string()),
        Just("\"dq \\\" x\"".to_string()),
        Just("&anc Secret123val".to_string()),
        Just("*anc".to_string()),
        Just("{a: 1, password: flowpw999}".to_string()),
        Just("[x, y, 3]".to_string()),
        Just("|\n      block line one\n      block two".to_string()),
        Just("# comment only".to_string()),
    ];
    let line = (0usize..4, key, scalar, any::<bool>()).prop_map(|(depth, k, v, list)| {
        let dash = if list { "- " } else { "" };
        format!("{}{dash}{k}: {v}", "  ".repeat(depth))
    });
    prop::collection::vec(line, 1..25).prop_map(|lines| lines.join("\n") + "\n")
}

/// What the structural pass promises for any config edgemicro could load: the result parses to
/// the same key paths, and no secret value the YAML pass found survives anywhere in it.
fn check_yaml(rules: &RuleSet, text: &str) -> Result<(), TestCaseError> {
    let Ok(yaml) = Yaml::parse(text) else {
        return Ok(()); // malformed: the collector stops with file:line:column before this pass
    };
    let known = redact::with_encodings(redact::config_secrets(rules, &yaml, text));
    let engine = TextEngine::new(rules, &known);
    let (out, _) = redact::redact_config(rules, &engine, "fuzz.yaml", text, &yaml)
        .map_err(|e| TestCaseError::fail(format!("{e:#}\n---\n{text}")))?;
    for secret in known
        .iter()
        .filter(|k| k.value.len() >= redact::MIN_LITERAL)
    {
        prop_assert!(
            memchr::memmem::find(&out, &secret.value).is_none(),
            "{:?} survived in\n{}",
            String::from_utf8_lossy(&secret.value),
            String::from_utf8_lossy(&out)
        );
    }
    Ok(())
}

#[test]
fn fuzz_yaml_pass() {
    let rules = rules();
    fuzz_for(
        "yaml pass",
        prop_oneof![yaml_text(), "\\PC{0,200}"],
        |text| check_yaml(&rules, &text),
    );
}

/// An arbitrary document: maps, lists and plain leaves, nested up to four deep.
#[derive(Debug, Clone)]
enum Tree {
    Leaf(String),
    Map(Vec<(String, Tree)>),
    List(Vec<Tree>),
    /// The planted `key: secret` entry, already rendered at its indentation.
    Planted(String),
}

fn tree() -> impl Strategy<Value = Tree> {
    let leaf = "[a-z][a-z0-9 ._/-]{0,15}".prop_map(|s| Tree::Leaf(s.trim_end().to_string()));
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            // Keys from their own alphabet (`k_…`): never a duplicate of the secret's key.
            prop::collection::btree_map("k_[a-z]{1,6}", inner.clone(), 1..5)
                .prop_map(|m| Tree::Map(m.into_iter().collect())),
            prop::collection::vec(inner, 1..4).prop_map(Tree::List),
        ]
    })
}

fn render(tree: &Tree, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match tree {
        Tree::Leaf(s) | Tree::Planted(s) => out.push_str(&format!("{pad}{s}\n")),
        Tree::Map(entries) => {
            for (k, v) in entries {
                match v {
                    Tree::Planted(s) => out.push_str(s),
                    Tree::Leaf(s) => out.push_str(&format!("{pad}{k}: {s}\n")),
                    nested => {
                        out.push_str(&format!("{pad}{k}:\n"));
                        render(nested, indent + 2, out);
                    }
                }
            }
        }
        Tree::List(items) => {
            for item in items {
                match item {
                    Tree::Leaf(s) | Tree::Planted(s) => out.push_str(&format!("{pad}- {s}\n")),
                    nested => {
                        out.push_str(&format!("{pad}-\n"));
                        render(nested, indent + 2, out);
                    }
                }
            }
        }
    }
}

/// Puts `key: value` (already rendered at `indent`) into the map `depth` levels down the
/// first nested maps, or the deepest one there is; returns the indentation it needs.
fn plant(tree: &mut Tree, depth: usize, indent: usize, make: &dyn Fn(usize) -> (String, String)) {
    let Tree::Map(entries) = tree else { return };
    if depth > 0 {
        let mut child = None;
        for (_, v) in entries.iter_mut() {
            match v {
                Tree::Map(_) => {
                    child = Some((v, indent + 2));
                    break;
                }
                Tree::List(items) => {
                    if let Some(m) = items.iter_mut().find(|i| matches!(i, Tree::Map(_))) {
                        child = Some((m, indent + 4));
                        break;
                    }
                }
                Tree::Leaf(_) | Tree::Planted(_) => {}
            }
        }
        if let Some((child, at)) = child {
            return plant(child, depth - 1, at, make);
        }
    }
    let (key, rendered) = make(indent);
    entries.push((key, Tree::Planted(rendered)));
}

/// Arbitrary documents with a secret under a secret key, in any scalar style: the secret never
/// survives (in the config, or echoed in a log line) and the result parses to the same keys.
#[test]
fn fuzz_planted_secret_in_arbitrary_yaml() {
    let rules = rules();
    let keys = vec![
        "redisPassword",
        "passphrase",
        "client_secret",
        "apikey",
        "x-api-key",
        "Authorization",
        "refresh_token",
        "privateKey",
        "credentials",
    ];
    let strategy = (
        prop::collection::btree_map("k_[a-z]{1,6}", tree(), 1..5),
        0usize..5,
        prop::sample::select(keys),
        0usize..8,
        "[A-Za-z][A-Za-z0-9_+=-]{11,23}",
    );
    fuzz_for(
        "planted secret",
        strategy,
        |(root, depth, key, style, secret)| {
            let mut doc = Tree::Map(root.into_iter().collect());
            let make = |indent: usize| {
                let pad = " ".repeat(indent);
                let body = match style {
                    0 => format!(" {secret}"),
                    1 => format!(" '{secret}'"),
                    2 => format!(" \"{secret}\""),
                    3 => format!(" |\n{pad}  {secret}"),
                    4 => format!(" >-\n{pad}  {secret}"),
                    5 => format!(" [{secret}, other]"),
                    6 => format!("\n{pad}  {secret}"),
                    _ => format!(" &s1 {secret}\n{pad}k_copy: *s1"),
                };
                (key.to_string(), format!("{pad}{key}:{body}\n"))
            };
            plant(&mut doc, depth, 0, &make);
            let mut text = String::new();
            render(&doc, 0, &mut text);
            let yaml = Yaml::parse(&text).map_err(|e| {
                TestCaseError::fail(format!("generator wrote bad YAML ({e}):\n{text}"))
            })?;
            let known = redact::with_encodings(redact::config_secrets(&rules, &yaml, &text));
            let engine = TextEngine::new(&rules, &known);
            let (out, _) = redact::redact_config(&rules, &engine, "fuzz.yaml", &text, &yaml)
                .map_err(|e| TestCaseError::fail(format!("{e:#}\n---\n{text}")))?;
            let out = String::from_utf8(out).unwrap();
            prop_assert!(
                !out.contains(&secret),
                "{secret} survived in\n{out}\nfrom\n{text}"
            );
            prop_assert!(Yaml::parse(&out).is_ok(), "unparsable:\n{out}");
            let mut log = Vec::new();
            engine.file().line(
                format!("error 1 auth with {secret} failed\n").as_bytes(),
                false,
                &mut log,
            );
            prop_assert!(
                !String::from_utf8_lossy(&log).contains(&secret),
                "{secret} survived in a log line"
            );
            Ok(())
        },
    );
}

/// Any bytes around a known secret: the line pass never panics and the secret never survives.
#[test]
fn fuzz_log_pass() {
    let rules = rules();
    let strategy = (
        prop::collection::vec(any::<u8>(), 0..300),
        prop::collection::vec(any::<u8>(), 0..300),
        "[A-Za-z0-9+/=!@#%_-]{6,24}",
    );
    fuzz_for("log pass", strategy, |(before, after, secret)| {
        let known = redact::with_encodings(vec![KnownSecret::new(
            secret.clone().into_bytes(),
            "password",
        )]);
        let engine = TextEngine::new(&rules, &known);
        let mut file = engine.file();
        let mut input = before.clone();
        input.extend_from_slice(secret.as_bytes());
        input.extend_from_slice(&after);
        let mut out = Vec::new();
        for line in input.split_inclusive(|b| *b == b'\n') {
            file.line(line, false, &mut out);
        }
        prop_assert!(
            memchr::memmem::find(&out, secret.as_bytes()).is_none(),
            "{secret} survived: {}",
            String::from_utf8_lossy(&out)
        );
        Ok(())
    });
}

/// A small valid bundle-like zip, then arbitrary byte flips, truncation or garbage: `verify`
/// answers (ok or an error), never panics, never hangs.
#[test]
fn fuzz_verify() {
    let dir = tempfile::tempdir().unwrap();
    let mut valid = Vec::new();
    {
        let mut zip = zip::ZipWriter::new(std::io::Cursor::new(&mut valid));
        let opts = zip::write::SimpleFileOptions::default();
        zip.start_file("logs/a.log", opts).unwrap();
        zip.write_all(b"2026-01-01 info socket hang up\n").unwrap();
        zip.start_file("manifest.json", opts).unwrap();
        zip.write_all(br#"{"files":[{"path":"logs/a.log","sha256":"00"}]}"#)
            .unwrap();
        zip.finish().unwrap();
    }
    let strategy = prop_oneof![
        prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8).prop_map({
            let valid = valid.clone();
            move |flips| {
                let mut z = valid.clone();
                for (i, b) in flips {
                    let at = i.index(z.len());
                    z[at] = b;
                }
                z
            }
        }),
        any::<prop::sample::Index>().prop_map({
            let valid = valid.clone();
            move |i| valid[..i.index(valid.len())].to_vec()
        }),
        prop::collection::vec(any::<u8>(), 0..2000).prop_map(|mut v| {
            v.splice(0..0, *b"PK\x03\x04");
            v
        }),
    ];
    let path = dir.path().join("f.zip");
    fuzz_for("verify", strategy, |bytes| {
        std::fs::write(&path, &bytes).unwrap();
        let _ = edgemicro_diag::engine::verify(&path);
        Ok(())
    });
}

/// Found by fuzz_yaml_pass: a secret container with no value, then a root key with a space in
/// it; the line pass took `a` for the container's value on the next line.
#[test]
fn regression_empty_container_then_a_key_with_a_space() {
    check_yaml(&rules(), "credentials: \na b: 00AAa0\n").unwrap();
    check_yaml(&rules(), "password:\nsome key: v\n").unwrap();
}
