//! `--pseudonymize`: one secret, one token across files, lines and encodings; a different token
//! in the next bundle; the map beside the bundle (0600), never inside it.

use std::os::unix::fs::PermissionsExt;

use base64::Engine as _;

use crate::harness::*;

const REDIS: &str = "PsRedis!pw-4417";
const OTHER: &str = "PsOtherSecret-9921";

fn install() -> Test {
    let pct = percent_encoding::utf8_percent_encode(REDIS, percent_encoding::NON_ALPHANUMERIC);
    let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(REDIS);
    Test::new()
        .config("default.yaml", "edgemicro:\n  port: 8000\n")
        .config(
            "o-e-config.yaml",
            &format!("edgemicro:\n  port: 8000\n  redisPassword: \"{REDIS}\"\nanalytics:\n  secret: {OTHER}\n"),
        )
        .log(
            "edgemicro-h-1-api.log",
            format!(
                "2026-11-24T03:23:43.509Z error 1 redis auth with {REDIS} failed\n\
                 2026-11-24T03:23:43.510Z info 1 callback ?code={pct} ok\n\
                 2026-11-24T03:23:43.511Z info 1 opts {b64}\n\
                 2026-11-24T03:23:43.512Z info 1 analytics secret {OTHER} rejected\n"
            ),
        )
}

/// The 12 hex digits of every pseudonym in `text`, in order.
fn hexes(text: &str) -> Vec<(String, String)> {
    let re = regex::Regex::new(r"REDACTED_([A-Z_]+?)_([0-9a-f]{12})\b").unwrap();
    re.captures_iter(text)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect()
}

fn run(
    test: Test,
    name: &str,
    extra: &[&str],
) -> (Test, Vec<(String, Vec<u8>)>, serde_json::Value) {
    let test = test
        .collect(name)
        .args(["--json", "--pseudonymize"])
        .args(extra);
    let run = test.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let zip = test.path(&format!("out/{name}"));
    unzip_test(&zip);
    sha256sum_check(&zip);
    let entries = unzip_all(&zip);
    (test, entries, run.json())
}

#[test]
fn one_secret_one_token_everywhere_and_the_map_stays_outside() {
    let (test, entries, json) = run(install(), "p.zip", &[]);
    let config = String::from_utf8_lossy(entry(&entries, "config/o-e-config.yaml")).to_string();
    let log = String::from_utf8_lossy(entry(&entries, "logs/edgemicro-h-1-api.log")).to_string();
    for (name, bytes) in &entries {
        for secret in [REDIS, OTHER] {
            assert!(!contains(bytes, secret.as_bytes()), "{secret} in {name}");
        }
    }
    let in_config = hexes(&config);
    let in_log = hexes(&log);
    assert_eq!(in_config.len(), 2, "{config}");
    assert_eq!(in_log.len(), 4, "{log}");
    let redis = &in_config[0].1;
    let other = &in_config[1].1;
    assert_ne!(redis, other);
    // Raw, percent-encoded and base64: the same token, whichever rule found it.
    for (i, (_, hex)) in in_log.iter().take(3).enumerate() {
        assert_eq!(hex, redis, "log line {}: {log}", i + 1);
    }
    assert_eq!(&in_log[3].1, other, "{log}");
    assert!(log.contains("redis auth with REDACTED_PASSWORD_"), "{log}");
    assert!(
        log.contains(" failed\n"),
        "diagnostics around it survive: {log}"
    );

    // The map: beside the bundle, 0600, named in the JSON, no values, pointing at the bundle.
    let map_path = test.path("out/p.zip.map.json");
    assert_eq!(json["map"], map_path.display().to_string());
    let mode = std::fs::metadata(&map_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let map_text = std::fs::read_to_string(&map_path).unwrap();
    assert!(!map_text.contains(REDIS) && !map_text.contains(OTHER));
    let map: serde_json::Value = serde_json::from_str(&map_text).unwrap();
    assert_eq!(map["bundle_sha256"], json["sha256"]);
    let row = |token: &str| {
        map["pseudonyms"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["token"] == token)
            .unwrap_or_else(|| panic!("{token} not in the map: {map_text}"))
            .clone()
    };
    let first = row(&format!("REDACTED_PASSWORD_{redis}"));
    assert_eq!(first["file"], "config/o-e-config.yaml");
    assert_eq!(first["line"], 3);
    assert!(first.get("value").is_none());
    row(&format!("REDACTED_SECRET_{other}"));
    assert!(
        entries
            .iter()
            .all(|(n, b)| !n.contains("map") && !contains(b, b"\"pseudonyms\"")),
        "the map is never inside the bundle"
    );
    let manifest = manifest_of(&entries);
    assert_eq!(manifest["redaction"]["pseudonymized"], true);

    // A second bundle draws a new key: the same secret, another token.
    let (_, again, _) = run(install(), "q.zip", &[]);
    let again = hexes(&String::from_utf8_lossy(entry(
        &again,
        "config/o-e-config.yaml",
    )));
    assert_ne!(&again[0].1, redis);
}

#[test]
fn keep_map_values_puts_values_in_the_map_only() {
    let (test, entries, _) = run(install(), "v.zip", &["--keep-map-values"]);
    for (name, bytes) in &entries {
        assert!(!contains(bytes, REDIS.as_bytes()), "{name}");
    }
    let map = std::fs::read_to_string(test.path("out/v.zip.map.json")).unwrap();
    assert!(map.contains(REDIS) && map.contains(OTHER), "{map}");
    assert!(map.contains("\"values_included\": true"));
}

#[test]
fn pseudonymize_needs_a_file_and_never_overwrites_a_map() {
    let stdout = install()
        .args(["collect", "-y", "--pseudonymize", "-o", "-"])
        .run();
    assert_eq!(stdout.code, 2, "{}", stdout.stderr);
    assert!(stdout.stderr.contains("-o PATH"), "{}", stdout.stderr);
    assert!(stdout.stdout.is_empty());

    let t = install();
    std::fs::write(t.path("out/m.zip.map.json"), "an older map").unwrap();
    let t = t.collect("m.zip").args(["--pseudonymize"]);
    let run = t.run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert_eq!(
        std::fs::read_to_string(t.path("out/m.zip.map.json")).unwrap(),
        "an older map"
    );
    assert!(!t.path("out/m.zip").exists());
}
