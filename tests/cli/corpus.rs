//! The generated leak corpus (issue #4): secrets in every YAML shape EMG configs and their
//! plugins use, echoed into logs in every encoding they travel in, plus secrets only logs carry,
//! next to values support needs. One real `collect`, then:
//! - not one 12-byte fragment of any secret survives, raw or inside an encoded form;
//! - every protected value (hosts, ports, timeouts, ids, public keys, error texts) survives;
//! - every config still parses to the same keys (PyYAML, an independent parser).
//!
//! Run with `--nocapture` to see the shapes × encodings count and the false-positive rate.

use base64::Engine as _;

use crate::harness::*;

fn pct(v: &str) -> String {
    percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string()
}
fn b64(v: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(v)
}
fn b64url(v: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v)
}
fn json_escaped(v: &str) -> String {
    let s = serde_json::to_string(v).unwrap();
    s[1..s.len() - 1].to_string()
}

/// A config shape: its YAML (one top-level key) and the value a parser reads from it.
struct Shape {
    name: &'static str,
    yaml: String,
    value: String,
}

#[derive(Default)]
struct Corpus {
    /// Secret cores: no 12-byte window of one may survive anywhere.
    cores: Vec<(String, &'static str)>,
    /// Encoded forms planted in the logs: no 12-byte window of their inside may survive.
    encoded: Vec<(String, String)>,
    /// (class, value) that must survive byte for byte.
    protected: Vec<(&'static str, String)>,
    /// shape × encoding cells planted.
    cells: usize,
    log: String,
}

impl Corpus {
    fn keep(&mut self, class: &'static str, value: impl Into<String>) -> String {
        let value = value.into();
        self.protected.push((class, value.clone()));
        value
    }
    fn line(&mut self, body: &str) {
        let n = self.log.lines().count();
        self.log.push_str(&format!(
            "2026-11-24T03:{:02}:{:02}.{:03}Z {body}\n",
            n / 3600 % 60,
            n / 60 % 60,
            n % 1000
        ));
    }
}

fn config_shapes(g: &mut Gen, c: &mut Corpus) -> (Vec<Shape>, String, String) {
    let k = |c: &mut Corpus, g: &mut Gen, shape: &'static str| {
        let i = c.cores.len() + 1;
        let core = g.core(i);
        c.cores.push((core.clone(), shape));
        core
    };
    let mut shapes = Vec::new();
    let mut add =
        |name: &'static str, yaml: String, value: String| shapes.push(Shape { name, yaml, value });
    macro_rules! s {
        ($name:literal, |$a:ident| $yaml:expr, $value:expr) => {{
            let $a = k(c, g, $name);
            add($name, $yaml, $value);
        }};
        ($name:literal, |$a:ident, $b:ident| $yaml:expr, $value:expr) => {{
            let $a = k(c, g, $name);
            let $b = k(c, g, $name);
            add($name, $yaml, $value);
        }};
    }
    s!(
        "plain",
        |a| format!("s:\n  redisPassword: {a}\n"),
        a.clone()
    );
    s!(
        "single-quoted with ''",
        |a| format!("s:\n  sslPassphrase: '{a}''q x'\n"),
        format!("{a}'q x")
    );
    s!(
        "double-quoted with escapes",
        |a| format!("s:\n  proxyPassword: \"{a}\\\"q\\\\ \\t/x\"\n"),
        format!("{a}\"q\\ \t/x")
    );
    s!(
        "value on the next line after a comment",
        |a| format!("s:\n  passphrase:   # the TLS one\n    {a}\n"),
        a.clone()
    );
    s!(
        "multi-line plain scalar",
        |a, b| format!("s:\n  dbPassword: {a}\n    {b}\n"),
        format!("{a} {b}")
    );
    s!(
        "literal block |",
        |a, b| format!("s:\n  keyPassphrase: |\n    {a}\n    {b}\n"),
        format!("{a}\n{b}")
    );
    s!(
        "folded block >",
        |a, b| format!("s:\n  storePassword: >\n    {a}\n    {b}\n"),
        format!("{a} {b}")
    );
    s!(
        "block |-",
        |a| format!("s:\n  trustPassword: |-\n    {a}\n"),
        a.clone()
    );
    s!(
        "block |2+",
        |a| format!("s:\n  vaultPassword: |2+\n      {a}\n\n"),
        a.clone()
    );
    s!(
        "escaped key name",
        |a| format!("s:\n  \"pass\\u0077ord\": {a}\n"),
        a.clone()
    );
    s!(
        "anchor under a plain key, alias under a secret key",
        |a| format!("s:\n  shared: &sh {a}\n  redisPassword: *sh\n"),
        a.clone()
    );
    s!(
        "anchor under a secret key, alias elsewhere",
        |a| format!("s:\n  apiPassword: &ap {a}\n  copy: *ap\n"),
        a.clone()
    );
    s!(
        "<< merge of a map with a secret",
        |a| {
            format!("s:\n  base: &base\n    password: {a}\n    host: h1\n  derived:\n    <<: *base\n    port: 1\n")
        },
        a.clone()
    );
    s!(
        "<< merge into a credentials map",
        |a| format!("s:\n  defaults: &df\n    user: {a}\n  credentials:\n    <<: *df\n"),
        a.clone()
    );
    s!(
        "complex key ? password",
        |a| format!("s:\n  ? password\n  : {a}\n"),
        a.clone()
    );
    s!(
        "complex quoted key",
        |a| format!("s:\n  ? \"clientSecret\"\n  : \"{a}\"\n"),
        a.clone()
    );
    s!(
        "flow map",
        |a| format!("s: {{host: m.example.com, Requestkey: {a}}}\n"),
        a.clone()
    );
    s!(
        "flow sequence under a secret key",
        |a, b| format!("s:\n  tokens: [{a}, {b}]\n"),
        a.clone()
    );
    s!(
        "block sequence under a secret key",
        |a, b| format!("s:\n  passwords:\n    - {a}\n    - {b}\n"),
        a.clone()
    );
    s!(
        "map under a secret key",
        |a, b| format!("s:\n  credentials:\n    user: {a}\n    pass: {b}\n"),
        a.clone()
    );
    s!(
        "list of maps under a secret key",
        |a| format!("s:\n  secrets:\n    - name: db\n      value: {a}\n"),
        a.clone()
    );
    s!(
        "!!binary",
        |a| format!("s:\n  clientSecret: !!binary {}\n", b64(a.as_bytes())),
        a.clone()
    );
    s!(
        "!!str tag",
        |a| format!("s:\n  secret: !!str {a}\n"),
        a.clone()
    );
    s!(
        "custom tag",
        |a| format!("s:\n  password: !vault {a}\n"),
        a.clone()
    );
    s!(
        "URL userinfo",
        |a| format!("s:\n  proxy:\n    url: http://svc:{a}@proxy.corp.example.com:3128\n"),
        a.clone()
    );
    s!(
        "query parameter in a URL value",
        |a| format!("s:\n  bootstrap: https://edgemicroservices.apigee.net/bootstrap?apikey={a}\n"),
        a.clone()
    );
    s!(
        "query secret in a kept *_url key",
        |a| format!("s:\n  token_url: https://acme.apigee.net/token?client_secret={a}\n"),
        a.clone()
    );
    s!(
        "EMG key under analytics",
        |a| format!("s:\n  analytics:\n    key: {a}\n"),
        a.clone()
    );
    s!(
        "header map Authorization",
        |a| format!("s:\n  headers:\n    Authorization: Bearer {a}\n"),
        format!("Bearer {a}")
    );
    s!(
        "x-api-key header key",
        |a| format!("s:\n  x-api-key: {a}\n"),
        a.clone()
    );
    s!(
        "JSON string with a password",
        |a| format!("s:\n  subconfig: '{{\"password\":\"{a}\"}}'\n"),
        a.clone()
    );
    s!(
        "value with # and colon",
        |a| format!("s:\n  password: \"{a} #not: comment\"\n"),
        format!("{a} #not: comment")
    );
    s!(
        "value starting with &",
        |a| format!("s:\n  password: \"&{a}\"\n"),
        format!("&{a}")
    );
    s!(
        "odd case key",
        |a| format!("s:\n  RedisPASSWORD: {a}\n"),
        a.clone()
    );
    s!(
        "deep nesting",
        |a| format!(
            "s:\n  a:\n    b:\n      c:\n        d:\n          e:\n            passphrase: {a}\n"
        ),
        a.clone()
    );
    s!(
        "flow maps in a sequence",
        |a| format!("s:\n  targets: [{{host: h, ssl: {{client: {{passphrase: {a}}}}}}}]\n"),
        a.clone()
    );
    // A key echoed into a log is the whole key (the value a parser reads), not one line of it.
    s!(
        "private key under key: |",
        |a, b| {
            format!("s:\n  tls:\n    key: |\n      -----BEGIN RSA PRIVATE KEY-----\n      {a}{b}\n      -----END RSA PRIVATE KEY-----\n")
        },
        format!("-----BEGIN RSA PRIVATE KEY-----\n{a}{b}\n-----END RSA PRIVATE KEY-----\n")
    );
    s!(
        "private key under a harmless key",
        |a| {
            format!("s:\n  bundle: |\n    -----BEGIN PRIVATE KEY-----\n    {a}\n    -----END PRIVATE KEY-----\n")
        },
        format!("-----BEGIN PRIVATE KEY-----\n{a}\n-----END PRIVATE KEY-----\n")
    );
    s!(
        "secret in a second document",
        |a| format!("---\ns:\n  redisPassword: {a}\n"),
        a.clone()
    );
    // Files of their own: BOM + CRLF, and tabs as separators.
    let (a, b, t) = (
        k(c, g, "BOM + CRLF"),
        k(c, g, "CRLF block |"),
        k(c, g, "tabs"),
    );
    let bom = format!("\u{feff}edgemicro:\r\n  port: 8000\r\n  redisPassword: {a}\r\n  keyPassphrase: |\r\n    {b}\r\n");
    let tabs = format!("edgemicro:\n  port: 8000\n  redisPassword:\t{t}\t# tab before a comment\n");
    for (name, v) in [("BOM + CRLF", a), ("CRLF block |", b), ("tabs", t)] {
        shapes.push(Shape {
            name,
            yaml: String::new(),
            value: v,
        });
    }
    (shapes, bom, tabs)
}

/// Echoes of a config secret in the logs, in every encoding it travels in.
fn echo(c: &mut Corpus, shape: &Shape) {
    let v = shape.value.as_str();
    // Raw, quoted, percent and JSON forms keep the secret's characters: the fragment check of
    // the secret covers them. Base64 forms do not: their own inside is checked.
    let put = |c: &mut Corpus, encoding: &str, form: String, line: String| {
        c.line(&line);
        if encoding.starts_with("base64") {
            c.encoded
                .push((format!("{} / {encoding}", shape.name), form));
        }
        c.cells += 1;
    };
    let host = c.keep("host", "orders.backend.example.com");
    put(
        c,
        "raw",
        v.into(),
        format!("error 7 redis auth with {v} failed on {host}"),
    );
    put(
        c,
        "double-quoted",
        v.into(),
        format!("warn 7 value \"{v}\" rejected"),
    );
    put(
        c,
        "single-quoted",
        v.into(),
        format!("warn 7 value '{v}' rejected"),
    );
    let p = pct(v);
    put(
        c,
        "percent",
        p.clone(),
        format!("info 7 callback /cb?state={p}&x=1 ok"),
    );
    for align in 0..3 {
        let blob = b64(&[&b"ab"[..align], v.as_bytes(), b"!?"].concat());
        put(
            c,
            &format!("base64 at offset {align}"),
            blob.clone(),
            format!("debug 7 blob {blob} end"),
        );
    }
    let u = b64url(v.as_bytes());
    put(c, "base64url", u.clone(), format!("debug 7 state {u} end"));
    let j = json_escaped(v);
    put(
        c,
        "JSON-escaped",
        j.clone(),
        format!("info 7 cfg={{\"s\":\"{j}\",\"n\":1}}"),
    );
}

/// Secrets only logs carry, each in its natural place (and some inside escaped JSON).
fn log_only(g: &mut Gen, c: &mut Corpus) {
    let k = |c: &mut Corpus, g: &mut Gen, shape: &'static str| {
        let i = c.cores.len() + 1;
        let core = g.core(i);
        c.cores.push((core.clone(), shape));
        c.cells += 1;
        core
    };
    let corr = g.hex(8);
    let corr = c.keep("correlation id", corr);
    let a = k(c, g, "clientId field");
    c.line(&format!("[info][127.0.0.1:18000][1][acme][prod][orders/v1][10.0.0.9][{a}][{corr}][plugins-middleware][sourceRequest][GET][][][][]"));
    let a = k(c, g, "apikey= in the request URL");
    c.line(&format!("[info][10.1.2.3:8080][1][acme][prod][orders/v1?apikey={a}][10.0.0.9][][c2][plugins-middleware][targetRequest][GET][][][][]"));
    let a = k(c, g, "client_secret= in a token request");
    c.line(&format!("[info][127.0.0.1:18000][1][acme][prod][edgemicro-auth/token?client_id=pub&client_secret={a}][10.0.0.9][][c3][plugins-middleware][sourceRequest][POST][][][][]"));
    let a = k(c, g, "access_token= in a URL");
    c.line(&format!(
        "error 7 GET https://api.example.com/v1?access_token={a}&page=2 failed"
    ));
    let jwt = format!(
        "eyJ{}.{}.{}",
        g.pick(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789_-", 20),
        g.pick(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789_-", 30),
        g.pick(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789_-", 25)
    );
    c.cores
        .push((jwt.clone(), "JWT in an Authorization header dump"));
    c.cells += 1;
    c.line(&format!("[warn][api.example.com][1][acme][prod][orders/v1][10.0.0.9][][c4][microgateway-core][header length=9101 is more than allowed size=8192, header={{\"authorization\":\"Bearer {jwt}\"}}][GET][][][][]"));
    let a = k(c, g, "Basic auth");
    let basic = b64(format!("svc-user:{a}").as_bytes());
    c.encoded
        .push(("Basic auth / base64".into(), basic.clone()));
    c.line(&format!("warn 7 header dump Authorization: Basic {basic}"));
    let a = k(c, g, "cookie");
    c.line(&format!("warn 7 header dump cookie: session={a}"));
    let a = k(c, g, "x-api-key in a header JSON");
    c.line(&format!(
        "warn 7 headers {{\"host\":\"api.example.com\",\"x-api-key\":\"{a}\"}}"
    ));
    let a = k(c, g, "JSON body password");
    c.line(&format!(
        "info 7 request body={{\"username\":\"ops\",\"password\":\"{a}\"}}"
    ));
    let a = k(c, g, "escaped JSON inside a JSON string");
    c.line(&format!(
        "info 7 {{\"msg\":\"body={{\\\"password\\\":\\\"{a}\\\"}}\",\"level\":30}}"
    ));
    let a = k(c, g, "password= in text");
    c.line(&format!("error 7 db password={a} rejected"));
    let a = k(c, g, "Bearer in text");
    c.line(&format!("warn 7 token rejected, Authorization: Bearer {a}"));
    let a = k(c, g, "proxy URL userinfo");
    c.line(&format!(
        "error 7 tunnel to http://emg:{a}@proxy.corp.example.com:3128 failed"
    ));
    let (a, b) = (
        k(c, g, "PEM private key block"),
        k(c, g, "PEM private key block"),
    );
    c.log.push_str(&format!(
        "-----BEGIN PRIVATE KEY-----\n{a}{b}\n{b}{a}\n-----END PRIVATE KEY-----\n"
    ));
    let (a, b) = (k(c, g, "edgemicro -k/-s"), k(c, g, "edgemicro -k/-s"));
    c.line(&format!(
        "info 7 restarting: edgemicro start -o acme -e prod -k {a} -s {b}"
    ));
    let a = k(c, g, "env-tags replacer");
    c.line(&format!(
        "debug 7 Replacing: <E>REDIS_PW</E> by env value: {a}"
    ));
    let (hk, hs) = (g.hex(64), g.hex(64));
    for (v, s) in [
        (&hk, "console key: 64 hex"),
        (&hs, "console secret: 64 hex"),
    ] {
        c.cores.push((v.clone(), s));
        c.cells += 1;
    }
    c.log.push_str(&format!("  key: {hk}\n  secret: {hs}\n"));
    let aws = format!("AKIA{}", g.pick(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16));
    c.cores.push((aws.clone(), "AWS access key id"));
    c.cells += 1;
    c.line(&format!("info 7 s3 upload with {aws} ok"));
    let a = k(c, g, "secret: in console output");
    c.line(&format!("info 7 config dump secret: {a}"));
}

/// Values support needs, in the places they really occur (configs and logs).
fn protected(g: &mut Gen, c: &mut Corpus) -> String {
    let mut config = String::from("edgemicro:\n  port: 8000\n  max_connections: 1000\n");
    let errors = [
        "socket hang up",
        "read ECONNRESET",
        "connect ETIMEDOUT 10.1.2.3:8080",
        "connect ECONNREFUSED 127.0.0.1:18081",
        "Client network socket disconnected before secure TLS connection was established",
        "self signed certificate in certificate chain",
        "getaddrinfo ENOTFOUND orders.backend.example.com",
        "Parse Error: Expected HTTP/",
    ];
    for (i, e) in errors.iter().enumerate() {
        let e = c.keep("error text", *e);
        let corr = c.keep(
            "correlation id",
            format!(
                "{:08x}-{}-4{}-a{}-{}",
                g.next() as u32,
                g.hex(4),
                g.hex(3),
                g.hex(3),
                g.hex(12)
            ),
        );
        let status = c.keep("status code", ["502", "503", "504", "500"][i % 4]);
        let target = c.keep(
            "host:port",
            format!(
                "10.{}.{}.{}:{}",
                i,
                g.next() % 250,
                g.next() % 250,
                8000 + i
            ),
        );
        c.line(&format!("[error][{target}][1][acme][prod][orders/v1][10.0.0.9][][{corr}][plugins-middleware][targetRequest error][GET][{status}][{e}][ECONNRESET][{}]", 100 + i));
    }
    for i in 0..40 {
        let host = c.keep(
            "hostname",
            format!(
                "svc-{}.internal.example.com",
                g.pick(b"abcdefghijklmnopqrstuvwxyz", 8)
            ),
        );
        let timeout = c.keep("timeout", format!("{}", 1000 * (i + 1)));
        config.push_str(&format!(
            "  target_{i}: {{host: {host}, keep_alive_timeout: {timeout}}}\n"
        ));
        let id = c.keep("correlation id", g.hex(8));
        c.line(&format!(
            "info 7 target {host} keepAliveTimeout={timeout} corr={id}"
        ));
    }
    let kept_keys = [
        (
            "jwt_public_key",
            "https://acme-prod.apigee.net/edgemicro-auth/publicKey",
        ),
        (
            "token_url",
            "https://acme-prod.apigee.net/edgemicro-auth/token",
        ),
        (
            "verify_api_key_url",
            "https://acme-prod.apigee.net/edgemicro-auth/verifyApiKey",
        ),
        ("secret_name", "emg-credentials"),
        ("key_name", "emg-signing"),
        (
            "keySecretMessage",
            "The following credentials are required to start edge micro",
        ),
        ("api-key-header", "x-api-key"),
        ("key_file", "/etc/emg/tls.key"),
        ("tokenCacheSize", "100"),
        ("keep_alive_timeout", "65000"),
    ];
    config.push_str("oauth:\n");
    for (key, value) in kept_keys {
        let value = c.keep("kept key", value);
        config.push_str(&format!("  {key}: {value}\n"));
    }
    let cert: Vec<String> = (0..6)
        .map(|_| {
            g.pick(
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
                64,
            )
        })
        .collect();
    config.push_str("  public_key: |\n    -----BEGIN CERTIFICATE-----\n");
    for line in &cert {
        config.push_str(&format!("    {}\n", c.keep("certificate", line.as_str())));
    }
    config.push_str("    -----END CERTIFICATE-----\n");
    let pubkey = c.keep(
        "public key",
        g.pick(
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
            64,
        ),
    );
    c.log.push_str(&format!(
        "-----BEGIN PUBLIC KEY-----\n{pubkey}\n-----END PUBLIC KEY-----\n"
    ));
    c.line("info 7 oauth: publicKey fetched from https://acme-prod.apigee.net/edgemicro-auth/publicKey");
    c.keep(
        "kept key",
        "https://acme-prod.apigee.net/edgemicro-auth/publicKey",
    );
    let product = c.keep("product", "orders-product-v2");
    c.line(&format!(
        "info 7 quota for {product}: allow 100 per minute, secret_name=emg-credentials"
    ));
    c.keep("kept key", "secret_name=emg-credentials");
    config
}

#[test]
fn generated_shapes_and_encodings_leave_no_fragment_and_keep_what_support_needs() {
    let mut g = Gen(0x9e37_79b9_7f4a_7c15);
    let mut c = Corpus::default();
    let (shapes, bom, tabs) = config_shapes(&mut g, &mut c);
    let config_shape_count = shapes.len();
    let mut config = String::new();
    for (i, shape) in shapes.iter().filter(|s| !s.yaml.is_empty()).enumerate() {
        // Each shape under its own top-level key (`s01:` …), the second document last.
        let yaml = shape.yaml.replacen("s:", &format!("s{i:02}:"), 1);
        if !yaml.starts_with("---") {
            config.push_str(&yaml);
        }
    }
    let protected_config = protected(&mut g, &mut c);
    config.push_str(&protected_config);
    for shape in shapes.iter().filter(|s| s.yaml.starts_with("---")) {
        config.push_str(&shape.yaml);
    }
    for shape in &shapes {
        echo(&mut c, shape);
    }
    log_only(&mut g, &mut c);

    let t = Test::new()
        .config(
            "default.yaml",
            "edgemicro:\n  port: 8000\n  keep_alive_timeout: 65000\n",
        )
        .config("o-a-config.yaml", &config)
        .config("o-b-config.yaml", &bom)
        .config("o-c-config.yaml", &tabs)
        .log("edgemicro-gw-1-api.log", &c.log)
        .collect("corpus.zip")
        .args(["--json"]);
    let run = t.run();
    assert_eq!(run.code, 0, "{}{}", run.stderr, run.stdout_str());
    let zip = t.path("out/corpus.zip");
    unzip_test(&zip);
    sha256sum_check(&zip);
    let entries = unzip_all(&zip);
    // Every secret and form is ASCII: searching lossy text finds every byte match, fast.
    let everywhere: Vec<(&str, String)> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), String::from_utf8_lossy(b).into_owned()))
        .chain([("stdout", run.stdout_str()), ("stderr", run.stderr.clone())])
        .collect();

    let mut leaks = Vec::new();
    let mut fragment = |what: &str, text: &str, inner: std::ops::Range<usize>| {
        let text = &text[inner];
        let n = 12.min(text.len());
        for at in 0..=text.len() - n {
            let w = &text[at..at + n];
            if let Some((name, _)) = everywhere.iter().find(|(_, b)| b.contains(w)) {
                leaks.push(format!("{what}: `{w}` in {name}"));
                return;
            }
        }
    };
    for (core, shape) in &c.cores {
        assert!(core.len() >= 16);
        fragment(&format!("secret of shape `{shape}`"), core, 0..core.len());
    }
    for (cell, form) in &c.encoded {
        // Base64 edges mix in the neighbours' bits; the inside is the secret's alone.
        let edge = if form.len() > 20 { 4 } else { 0 };
        fragment(
            &format!("encoded form `{cell}`"),
            form,
            edge..form.len() - edge,
        );
    }
    assert!(
        leaks.is_empty(),
        "{} leak(s):\n{}",
        leaks.len(),
        leaks.join("\n")
    );

    let lost: Vec<&(&str, String)> = c
        .protected
        .iter()
        .filter(|(_, v)| !entries.iter().any(|(_, b)| contains(b, v.as_bytes())))
        .collect();
    let rate = lost.len() as f64 / c.protected.len() as f64;
    eprintln!(
        "corpus: {config_shape_count} config shapes (each also echoed in 9 log encodings) + {} log-only shapes = {} shape × encoding cells, {} secrets; protected values {} lost of {} ({:.2} %)",
        c.cores
            .iter()
            .map(|(_, s)| *s)
            .filter(|s| !shapes.iter().any(|x| x.name == *s))
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        c.cells,
        c.cores.len(),
        lost.len(),
        c.protected.len(),
        rate * 100.0
    );
    assert!(lost.is_empty(), "protected values lost: {lost:?}");
    assert!(
        config_shape_count >= 40 && c.cells >= 400,
        "{config_shape_count} shapes, {} cells",
        c.cells
    );

    for name in ["o-a-config.yaml", "o-b-config.yaml", "o-c-config.yaml"] {
        assert_same_yaml_keys(
            &t.config_dir().join(name),
            entry(&entries, &format!("config/{name}")),
        );
    }
}
