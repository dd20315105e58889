//! 40 unique secrets planted where EMG really puts them (configs, cache config, logs, console
//! transcripts, argv echoes); none may reach the bundle, stdout or stderr in any encoding, and
//! the diagnostic lines around them must survive.

use base64::Engine as _;

use crate::harness::*;

fn hex64(tag: &str) -> String {
    // 64 lowercase hex chars, unique per tag, shaped like EMG's key/secret (sha256 hex).
    let mut h: String = tag.bytes().map(|b| format!("{b:02x}")).collect();
    while h.len() < 64 {
        h.push_str("a1b2c3d4e5f6");
    }
    h[..64].to_string()
}

struct Planted {
    secrets: Vec<String>,
    test: Test,
}

fn plant() -> Planted {
    let s: Vec<String> = (1..=40)
        .map(|i| match i {
            10 | 11 | 34 | 35 => hex64(&format!("S{i:02}")),
            6 => "Ssl@pp!06xq".into(),
            27 => base64::engine::general_purpose::STANDARD.encode("svc-user:S27basicPw"),
            38 => "AKIAS3ABCDEFGHIJKLMN".into(),
            24 => "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJTMjQifQ.S24sigPLANTED".into(),
            _ => format!("S{i:02}pl{}x", ["q", "Zk", "mW3", "r9T"][i % 4]),
        })
        .collect();
    let s = |i: usize| s[i - 1].clone();
    let t = Test::new();
    let logs = t.log_dir().display().to_string();
    let pct = |v: &str| {
        percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
    };
    let b64 = |v: &str| base64::engine::general_purpose::STANDARD.encode(v);
    let test = t
        .config(
            "default.yaml",
            &format!(
                "edge_config:\n  bootstrap: https://edgemicroservices.apigee.net/edgemicro/bootstrap/organization/acme/environment/prod?apikey={}\n  jwt_public_key: https://acme-prod.apigee.net/edgemicro-auth/publicKey\n  tlsOptions:\n    agentOptions:\n      passphrase: {}\n      key: |\n        -----BEGIN RSA PRIVATE KEY-----\n        {}\n        {}\n        -----END RSA PRIVATE KEY-----\nedgemicro:\n  port: 8000\n  max_connections: 1000\n  keep_alive_timeout: 65000\n  logging: {{level: info, dir: {logs}}}\n",
                s(1), s(2), s(3), s(4)
            ),
        )
        .config(
            "acme-prod-config.yaml",
            &format!(
                "edgemicro:\n  port: 8000\n  keep_alive_timeout: 65000\n  redisPassword: \"{}\"\n  ssl:\n    key: /etc/emg/server.key\n    passphrase: '{}'\n  proxy:\n    enabled: true\n    url: http://svc:{}@proxy.corp.example.com:3128\n  logging:\n    level: info\n    dir: {logs}\n  plugins: {{sequence: [oauth, apikeys, quota, custom-audit]}}\noauth:\n  agentOptions: {{passphrase: {}}}\n  verify_api_key_url: https://acme-prod.apigee.net/edgemicro-auth/verifyApiKey\n  api-key-header: x-api-key\napikeys:\n  agentOptions:\n    passphrase: >-\n      {}\nanalytics:\n  key: {}\n  secret: {}\nmonitor:\n  host: mon.example.com\n  Requestkey: {}\ntargets:\n  - host: orders.backend.example.com\n    ssl:\n      client:\n        passphrase: {}\ncustom-audit:\n  clientSecret: {}\n  endpoint: https://audit.example.com/ingest?access_token={}\n  credentials:\n    user: {}\n    token: {}\n",
                s(5), s(6), s(7), s(8), s(9), s(10), s(11), s(12), s(13), s(14), s(15), s(16), s(17)
            ),
        )
        .config(
            "acme-prod-cache-config.yaml",
            &format!(
                "edgemicro:\n  port: 8000\n  redisPassword: &rp {}\n  logging:\n    level: info\n    dir: {logs}\nanalytics:\n  key: {}\n  secret: {}\nquota:\n  acme-product:\n    allow: 100\n    redisPassword: {}\n    again: *rp\nproxies:\n  - name: edgemicro_orders\n    base_path: /orders\n    url: http://ordersvc:{}@10.1.2.3:8080/orders\noauth:\n  public_key: |\n    -----BEGIN CERTIFICATE-----\n    MIIBcertKEEPME0123\n    -----END CERTIFICATE-----\n",
                s(5), s(10), s(11), s(18), s(19)
            ),
        )
        .log(
            "edgemicro-gw-2c9d-1-api.log",
            [
                format!("2026-11-24T03:23:43.509Z [info][127.0.0.1:18000][1][acme][prod][orders/v1?x=1][10.0.0.9][{}][corr-0001][plugins-middleware][sourceRequest][GET][][][][]\n", s(20)),
                format!("2026-11-24T03:23:43.512Z [info][10.1.2.3:8080][1][acme][prod][orders/v1?apikey={}][10.0.0.9][][corr-0002][plugins-middleware][targetRequest][GET][][][][]\n", s(21)),
                format!("2026-11-24T03:23:43.513Z [info][127.0.0.1:18000][1][acme][prod][edgemicro-auth/token?grant_type=client_credentials&client_id=pub123&client_secret={}][10.0.0.9][][corr-0003][plugins-middleware][sourceRequest][POST][][][][]\n", s(22)),
                format!("2026-11-24T03:23:43.514Z [info][127.0.0.1:18000][1][acme][prod][orders/v1?access_token={}&page=2][10.0.0.9][][corr-0004][plugins-middleware][sourceRequest][GET][][][][]\n", s(23)),
                format!("2026-11-24T03:23:43.515Z [warn][api.example.com][1][acme][prod][orders/v1][10.0.0.9][][corr-0005][microgateway-core][header length=9101 is more than allowed size=8192, header={{\"host\":\"api.example.com\",\"authorization\":\"Bearer {}\",\"cookie\":\"session={}\",\"x-api-key\":\"{}\"}}][GET][][][][]\n", s(24), s(25), s(26)),
                format!("2026-11-24T03:23:43.516Z [warn][api.example.com][1][acme][prod][orders/v1][10.0.0.9][][corr-0006][microgateway-core][header length=9000 is more than allowed size=8192, header={{\"authorization\":\"Basic {}\"}}][GET][][][][]\n", s(27)),
                format!("2026-11-24T03:23:43.517Z info 7928 plugin custom-audit: request body={{\"username\":\"ops\",\"password\":\"{}\"}} corr=corr-0007\n", s(28)),
                format!("2026-11-24T03:23:43.518Z warn 7928 oauth: token rejected (expired) for request corr-0008, Authorization: Bearer {}\n", s(29)),
                format!("2026-11-24T03:23:43.519Z error 7928 proxy tunnel to http://emg:{}@proxy.corp.example.com:3128 failed\n", s(30)),
                "2026-11-24T03:23:43.520Z debug 7928 loading tls material\n".to_string(),
                "-----BEGIN PRIVATE KEY-----\n".to_string(),
                format!("{}\n{}\n", s(31), s(32)),
                "-----END PRIVATE KEY-----\n".to_string(),
                format!("2026-11-24T03:23:43.521Z debug 7928 Replacing: <E>REDIS_PW</E> by env value: {}\n", s(33)),
                format!("  key: {}\n  secret: {}\n", s(34), s(35)),
                format!("2026-11-24T03:23:43.522Z info 7928 restarting: edgemicro start -o acme -e prod -k {} -s {}\n", s(36), s(37)),
                format!("2026-11-24T03:23:43.523Z error 7928 redis connect with {} failed\n", s(5)),
                format!("2026-11-24T03:23:43.524Z info 7928 callback ?state=x&code2={} ok\n", pct(&s(6))),
                format!("2026-11-24T03:23:43.525Z info 7928 agent opts {}\n", b64(&s(2))),
                format!("2026-11-24T03:23:43.526Z info 7928 s3 upload with {} ok\n", s(38)),
                format!("2026-11-24T03:23:43.527Z info 7928 db password={} rejected\n", s(39)),
                format!("2026-11-24T03:23:43.528Z debug 7928 subconfig={{\"tls\":{{\"key\":\"-----BEGIN RSA PRIVATE KEY-----\\n{}\\n-----END RSA PRIVATE KEY-----\\n\"}}}}\n", s(40)),
                "2026-11-24T03:23:43.535Z [error][10.1.2.3:8080][1][acme][prod][orders/v1][10.0.0.9][][corr-0502][plugins-middleware][targetRequest error][GET][][socket hang up][ECONNRESET][2]\n".to_string(),
                "2026-11-24T03:23:43.536Z [error][127.0.0.1:18000][1][acme][prod][orders/v1][10.0.0.9][][corr-0502][microgateway-core][][GET][502][socket hang up][ECONNRESET][]\n".to_string(),
            ]
            .concat(),
        );
    let secrets = (1..=40).map(s).collect();
    Planted { secrets, test }
}

fn forms(secret: &str) -> Vec<String> {
    let b = base64::engine::general_purpose::STANDARD_NO_PAD.encode(secret);
    let p = percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    vec![secret.to_string(), b, p]
}

#[test]
fn forty_planted_secrets_none_survive_and_the_diagnostics_do() {
    let Planted { secrets, test } = plant();
    assert_eq!(secrets.len(), 40);
    let unique: std::collections::HashSet<&String> = secrets.iter().collect();
    assert_eq!(unique.len(), 40, "planted values are unique");
    let test = test.args(["collect", "-y", "--json", "-o", "out/leak.zip"]);
    let run = test.run();
    assert!(
        run.code == 0,
        "stderr: {}\nstdout: {}",
        run.stderr,
        run.stdout_str()
    );
    let zip = test.path("out/leak.zip");
    unzip_test(&zip);
    sha256sum_check(&zip);
    let entries = unzip_all(&zip);
    let mut leaks = Vec::new();
    for secret in &secrets {
        for form in forms(secret) {
            for (name, body) in &entries {
                if contains(body, form.as_bytes()) {
                    leaks.push(format!("{form} (of {secret}) in {name}"));
                }
            }
            if contains(&run.stdout, form.as_bytes()) || run.stderr.contains(&form) {
                leaks.push(format!("{form} on stdout/stderr"));
            }
        }
    }
    assert!(leaks.is_empty(), "leaked:\n{}", leaks.join("\n"));

    let text = |name: &str| {
        String::from_utf8_lossy(&entries.iter().find(|(n, _)| n == name).unwrap().1).to_string()
    };
    let log = text("logs/edgemicro-gw-2c9d-1-api.log");
    for kept in [
        "[corr-0502][plugins-middleware][targetRequest error][GET][][socket hang up][ECONNRESET][2]",
        "[corr-0502][microgateway-core][][GET][502][socket hang up][ECONNRESET][]",
        "redis connect with REDACTED_PASSWORD failed",
        "proxy.corp.example.com:3128 failed",
        // An OAuth client id is the app's consumer key, which EMG accepts as an API key.
        "client_id=REDACTED_QUERY_SECRET&client_secret=REDACTED_QUERY_SECRET",
        "-----BEGIN PRIVATE KEY-----",
        "-----END PRIVATE KEY-----",
        "header length=9101 is more than allowed size=8192",
        "[corr-0001]",
    ] {
        assert!(log.contains(kept), "`{kept}` lost:\n{log}");
    }
    let cache = text("config/acme-prod-cache-config.yaml");
    assert!(
        cache.contains("MIIBcertKEEPME0123") && cache.contains("10.1.2.3:8080/orders"),
        "{cache}"
    );
    let config = text("config/acme-prod-config.yaml");
    for kept in [
        "keep_alive_timeout: 65000",
        "orders.backend.example.com",
        "/etc/emg/server.key",
        "api-key-header: x-api-key",
        "mon.example.com",
    ] {
        assert!(config.contains(kept), "`{kept}` lost:\n{config}");
    }
    for name in [
        "default.yaml",
        "acme-prod-config.yaml",
        "acme-prod-cache-config.yaml",
    ] {
        assert_same_yaml_keys(
            &test.config_dir().join(name),
            text(&format!("config/{name}")).as_bytes(),
        );
    }
    let json = run.json();
    assert!(
        json["redactions"]["total"].as_u64().unwrap() >= 40,
        "{json}"
    );
    let report = text("redaction-report.json");
    for secret in &secrets {
        assert!(!report.contains(secret.as_str()));
    }
}

#[test]
fn secrets_from_the_environment_are_replaced_in_logs() {
    let t = Test::minimal()
        .log(
            "edgemicro-h-1-api.log",
            "2026-01-01T00:00:00.000Z info 1 started with ENVKEYVALUE77 and ENVSECRETVALUE88\n",
        )
        .env("EDGEMICRO_KEY", "ENVKEYVALUE77")
        .env("EDGEMICRO_SECRET", "ENVSECRETVALUE88")
        .collect("env.zip");
    let run = t.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let log = unzip_all(&t.path("out/env.zip"))
        .into_iter()
        .find(|(n, _)| n.starts_with("logs/"))
        .unwrap()
        .1;
    assert_eq!(String::from_utf8(log).unwrap(), "2026-01-01T00:00:00.000Z info 1 started with REDACTED_ENV_SECRET and REDACTED_ENV_SECRET\n");
}

#[test]
fn self_check_refuses_to_seal_when_a_known_secret_survives_and_removes_the_partial() {
    // A 2 MiB line with no separator is handed to the redactor in 1 MiB pieces; a known secret
    // (the config's redisPassword) straddling that cut, longer than the end of a piece the next
    // one is redacted after (256 bytes), escapes the line pass. The self-check, which scans the
    // bytes across writes, must catch it: exit 4, nothing sealed.
    let secret = format!("STRADDLE{}secret42", "s3CrEt".repeat(100));
    let cut = 1 << 20;
    let mut line = vec![b'A'; 2 << 20];
    let half = secret.len() / 2;
    line[cut - half..cut - half + secret.len()].copy_from_slice(secret.as_bytes());
    line.push(b'\n');
    let t = Test::minimal()
        .config(
            "o-e-config.yaml",
            &format!("edgemicro:\n  port: 8000\n  redisPassword: {secret}\n"),
        )
        .log("edgemicro-long-1-api.log", &line)
        .collect("s.zip")
        .args(["--json"]);
    let run = t.run();
    assert_eq!(run.code, 4, "{}", run.stderr);
    let json = run.json();
    assert_eq!(json["status"], "failed");
    let error = json["error"].as_str().unwrap();
    assert!(
        error.contains("self-check")
            && error.contains("logs/edgemicro-long-1-api.log")
            && error.contains("password"),
        "{error}"
    );
    assert!(!error.contains(&secret) && !run.stderr.contains(&secret));
    assert_nothing_left(&t);
}

#[test]
fn redact_preview_lists_each_redaction_with_the_value_replaced_and_writes_nothing() {
    let Planted { secrets, test } = plant();
    let config = test.config_dir().join("acme-prod-config.yaml");
    let log = test.log_dir().join("edgemicro-gw-2c9d-1-api.log");
    let before: Vec<_> = std::fs::read_dir(test.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let test = test.args([
        "redact".into(),
        config.clone().into_os_string(),
        log.clone().into_os_string(),
    ]);
    let run = test.run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out = run.stdout_str();
    for secret in &secrets {
        assert!(
            !out.contains(secret.as_str()) && !run.stderr.contains(secret.as_str()),
            "{secret} shown"
        );
    }
    assert!(
        out.contains(&format!(
            "{}:4 password:   redisPassword: \"REDACTED_PASSWORD\"",
            config.display()
        )),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{}:1 client_id: ", log.display()))),
        "{out}"
    );
    let after: Vec<_> = std::fs::read_dir(test.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(before, after, "nothing written");

    let json = Test::new()
        .args(["redact".into(), "--json".into(), log.into_os_string()])
        .run()
        .json();
    assert!(json["total"].as_u64().unwrap() >= 20, "{json}");
    assert!(json["files"][0]["redactions"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["line"].as_u64().unwrap() > 0));
}

#[test]
fn the_tools_own_environment_never_reaches_the_bundle_the_json_or_stderr() {
    // An incident bot runs this with its own credentials exported; any `*_TOKEN`-style value
    // that turns up in a log is replaced like EMG's own key and secret.
    let own = [
        ("BOT_API_TOKEN", "OWNtoken9f3a71"),
        ("PAGERDUTY_SECRET", "OWNsecret5c2e"),
        ("DB_PASSWORD", "OWNpassword8d1"),
        ("VAULT_KEY", "OWNvaultkey44b"),
    ];
    let mut t = Test::minimal().log(
        "edgemicro-h-1-api.log",
        format!(
            "2026-01-01T00:00:00.000Z error 1 upstream said {} {} {} {} socket hang up\n",
            own[0].1, own[1].1, own[2].1, own[3].1
        ),
    );
    for (k, v) in own {
        t = t.env(k, v);
    }
    let t = t.collect("own.zip");
    for json in [true, false] {
        for f in ["out/own.zip", "out/own.zip.sha256"] {
            let _ = std::fs::remove_file(t.path(f));
        }
        let mut cmd = t.command();
        if json {
            cmd.arg("--json");
        }
        let run = cmd.output().unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&run.stdout),
            String::from_utf8_lossy(&run.stderr),
        );
        assert_eq!(run.status.code(), Some(0), "{stderr}");
        assert!(
            !json || stdout.contains("\"status\""),
            "the JSON report was written: {stdout}"
        );
        let entries = unzip_all(&t.path("out/own.zip"));
        for (_, value) in own {
            assert!(
                !stdout.contains(value) && !stderr.contains(value),
                "{value}: {stdout}{stderr}"
            );
            for (name, bytes) in &entries {
                assert!(!contains(bytes, value.as_bytes()), "{value} in {name}");
            }
        }
        let log =
            String::from_utf8(entry(&entries, "logs/edgemicro-h-1-api.log").to_vec()).unwrap();
        assert!(
            log.contains("upstream said REDACTED_ENV_SECRET") && log.ends_with("socket hang up\n"),
            "{log}"
        );
    }
}
