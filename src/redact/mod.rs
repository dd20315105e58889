//! Redaction: rules as data (`rules`), the structural YAML pass (`yaml`) and the byte-level
//! line pass (`text`). Nothing reaches the bundle without going through here.
//!
//! Order for a config: structural spans → text rules and known literals → re-parse and compare
//! the key structure. Logs get the text pass only. Every secret value the structural pass finds
//! becomes a known literal, replaced in every file, with its percent- and base64-encoded forms.

mod carry;
mod keywords;
pub(crate) mod literals;
pub(crate) mod pseudonym;
pub(crate) mod rules;
pub(crate) mod text;
pub(crate) mod yaml;

use anyhow::{bail, Result};
use base64::Engine as _;

pub(crate) use rules::token;
pub use rules::RuleSet;
pub use text::FileReport;
pub use text::{FileRedactor, KnownSecret, TextEngine, MIN_LITERAL};

use crate::yaml::Yaml;

/// The secret values of one config, for the literal pass and the self-check: those the
/// structural pass finds, and those only the line rules find (a query key in a URL value, a
/// password in a JSON string, `user:pw@` in a proxy URL).
pub fn config_secrets(rules: &RuleSet, yaml: &Yaml, text: &str) -> Vec<KnownSecret> {
    let mut secrets: Vec<KnownSecret> = yaml::find_secrets(rules, yaml)
        .into_iter()
        .map(|hit| KnownSecret::new(hit.value, &rules.keys[hit.rule].id))
        .collect();
    secrets.extend(text_secrets(&TextEngine::new(rules, &[]), text));
    secrets
}

/// Every value the line rules replace in `text`.
fn text_secrets(engine: &TextEngine, text: &str) -> Vec<KnownSecret> {
    let mut file = engine.file().collecting();
    let mut sink = Vec::new();
    for line in text.split_inclusive('\n') {
        file.line(line.as_bytes(), false, &mut sink);
        sink.clear();
    }
    file.found.take().unwrap_or_default()
}

/// A secret and the forms it travels in, each searched and replaced like the value itself:
/// percent-encoding (URLs), JSON string escapes (bodies, subconfig dumps), base64 and base64url
/// (headers, env dumps, JWT-style state) as a whole and at each of the three byte alignments it
/// can have inside a longer blob (only the characters the secret alone determines). A value that
/// is itself base64 text (`!!binary`, base64-stored secrets) is decoded and treated the same way.
/// The value is trimmed first: a block scalar's indentation and line break are not the secret.
/// Whether a secret value is worth searching for everywhere as a literal: `Err(why)` for values
/// that are too short, ordinary words (`default`), numbers or paths. Those would replace
/// ordinary text across the bundle (evidence lost) and stop it at the self-check
/// (`config/default.yaml` holds `default`). Where they stand as secrets (a config key, an
/// argument) the structural and pattern rules still replace them.
pub(crate) fn literal_verdict(value: &str) -> Result<(), &'static str> {
    let v = value.trim();
    let word = |v: &str| {
        let b = v.as_bytes();
        b.iter().all(u8::is_ascii_alphabetic)
            && (b[1..].iter().all(u8::is_ascii_lowercase) || b.iter().all(u8::is_ascii_uppercase))
    };
    if v.len() < MIN_SEARCHED {
        Err("too short to be a credential")
    } else if v.len() <= 16 && word(v) {
        // Mixed case inside (`wJalrXUtnFEMI`) reads as generated and stays a secret.
        Err("an ordinary word")
    } else if v.bytes().all(|b| b.is_ascii_digit()) {
        Err("a number")
    } else if v.starts_with('/') && !v.contains(char::is_whitespace) {
        Err("a file path")
    } else {
        Ok(())
    }
}

/// Shortest secret value searched for as a literal (`sha256`, `on`, `1` are not credentials).
const MIN_SEARCHED: usize = 8;

pub fn with_encodings(secrets: Vec<KnownSecret>) -> Vec<KnownSecret> {
    let mut out: Vec<KnownSecret> = Vec::with_capacity(secrets.len() * 8);
    let mut seen = std::collections::HashSet::new();
    for secret in secrets {
        let plain = String::from_utf8_lossy(&secret.value).trim().to_string();
        let decoded = base64_text(&plain).filter(|_| !secret.piece);
        for value in std::iter::once(plain.as_str()).chain(decoded.as_deref()) {
            for form in encodings(value) {
                if form.len() >= MIN_LITERAL && seen.insert(form.clone()) {
                    out.push(KnownSecret {
                        encodes: (form != plain.as_bytes()).then(|| plain.as_bytes().to_vec()),
                        value: form,
                        rule: secret.rule.clone(),
                        piece: secret.piece,
                    });
                }
            }
        }
    }
    out
}

fn encodings(value: &str) -> Vec<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let bytes = value.as_bytes();
    let mut forms = vec![
        bytes.to_vec(),
        percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            .to_string()
            .into_bytes(),
    ];
    // Node's encodeURIComponent leaves `-_.!~*'()` as they are; lower-case hex is seen too.
    const URI_COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'!')
        .remove(b'~')
        .remove(b'*')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')');
    let component = percent_encoding::utf8_percent_encode(value, URI_COMPONENT).to_string();
    forms.push(component.clone().into_bytes());
    forms.push(lower_hex_escapes(&component).into_bytes());
    // Twice encoded (a URL inside a query parameter of another URL).
    forms.push(
        percent_encoding::utf8_percent_encode(&component, URI_COMPONENT)
            .to_string()
            .into_bytes(),
    );
    let json = serde_json::to_string(value).expect("a string serializes");
    let json = &json[1..json.len() - 1];
    forms.push(json.as_bytes().to_vec());
    forms.push(json.replace('/', "\\/").into_bytes());
    for engine in [STANDARD_NO_PAD, URL_SAFE_NO_PAD] {
        forms.push(engine.encode(bytes).into_bytes());
        // At offset k in a blob the secret's first (3 - k) % 3 bytes share a group with the
        // bytes before it; from there on, whole groups are the secret's alone.
        for skip in 0..3 {
            let rest = &bytes[skip.min(bytes.len())..];
            let whole = &rest[..rest.len() / 3 * 3];
            forms.push(engine.encode(whole).into_bytes());
        }
    }
    forms
}

/// `%2F` → `%2f`: some encoders write lower-case hex.
fn lower_hex_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let esc = rest.get(at..at + 3).unwrap_or(&rest[at..]);
        out.push_str(&esc.to_ascii_lowercase());
        rest = &rest[at + esc.len()..];
    }
    out.push_str(rest);
    out
}

/// The text a base64 value stands for, when it is base64 of printable UTF-8.
fn base64_text(value: &str) -> Option<String> {
    let compact: String = value.split_ascii_whitespace().collect();
    if compact.len() < 8 || !compact.len().is_multiple_of(4) {
        return None;
    }
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&compact)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    (text.len() >= MIN_LITERAL && !text.chars().any(|c| c.is_control() && !c.is_whitespace()))
        .then_some(text)
}

/// A config after both passes, proven to keep its key structure.
pub fn redact_config(
    rules: &RuleSet,
    engine: &TextEngine,
    name: &str,
    text: &str,
    yaml: &Yaml,
) -> Result<(Vec<u8>, FileReport)> {
    let hits = yaml::find_secrets(rules, yaml);
    let mut file = engine.file();
    let structural = yaml::apply(text, &hits, |hit| {
        file.emit(
            &rules.keys[hit.rule].id,
            hit.value.as_bytes(),
            hit.line as u64,
        )
    });
    let mut out = Vec::with_capacity(structural.len());
    for line in structural.split_inclusive(|b| *b == b'\n') {
        file.line(line, false, &mut out);
    }
    let before = yaml.key_paths();
    let after = match std::str::from_utf8(&out).ok().map(Yaml::parse) {
        Some(Ok(after)) => after.key_paths(),
        Some(Err(e)) => bail!(
            "redaction would make `{name}` unparsable ({e}); a bug in a rule, please report it"
        ),
        None => {
            bail!("redaction would make `{name}` invalid UTF-8; a bug in a rule, please report it")
        }
    };
    // A secret used as a key was replaced by its token: the same path otherwise.
    let redacted_keys: Vec<&str> = hits
        .iter()
        .filter(|h| h.key)
        .map(|h| h.value.trim())
        .collect();
    let same = |b: &String, a: &String| {
        b == a
            || (!redacted_keys.is_empty()
                && b.split('.').count() == a.split('.').count()
                && b.split('.').zip(a.split('.')).all(|(cb, ca)| {
                    cb == ca
                        || (ca.starts_with("REDACTED_")
                            && redacted_keys
                                .iter()
                                .any(|k| cb.trim_end_matches(['&', '*']) == *k))
                }))
    };
    if let Some((b, a)) = before.iter().zip(after.iter()).find(|(b, a)| !same(b, a)) {
        bail!("redaction would change the YAML structure of `{name}` at `{b}` (now `{a}`); a bug in a rule, please report it");
    }
    if before.len() != after.len() {
        bail!("redaction would change the number of keys in `{name}`; a bug in a rule, please report it");
    }
    Ok((out, file.report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_of_known_secrets_are_replaced_too() {
        let rules = RuleSet::load(&[] as &[&str]).unwrap();
        let yaml_text = "edgemicro:\n  redisPassword: 'p@ss w0rd!'\n";
        let yaml = Yaml::parse(yaml_text).unwrap();
        let known = with_encodings(config_secrets(&rules, &yaml, yaml_text));
        let engine = TextEngine::new(&rules, &known);
        let mut file = engine.file();
        let mut out = Vec::new();
        file.line(
            b"raw p@ss w0rd! pct p%40ss%20w0rd%21 b64 cEBzcyB3MHJkIQ here\n",
            false,
            &mut out,
        );
        let out = String::from_utf8(out).unwrap();
        assert_eq!(
            out,
            "raw REDACTED_PASSWORD pct REDACTED_PASSWORD b64 REDACTED_PASSWORD here\n"
        );
        let (config, report) = redact_config(&rules, &engine, "x.yaml", yaml_text, &yaml).unwrap();
        assert_eq!(
            String::from_utf8(config).unwrap(),
            "edgemicro:\n  redisPassword: 'REDACTED_PASSWORD'\n"
        );
        assert_eq!(report.by_rule["password"].count, 1);
    }

    #[test]
    fn base64_blobs_json_escapes_and_decoded_binary_values_are_caught() {
        let rules = RuleSet::load(&[] as &[&str]).unwrap();
        let secret = "aligned/Secret\"42";
        let known = with_encodings(vec![
            KnownSecret::new(format!("  {secret}\n"), "password"),
            // `!!binary` text: its decoded bytes are the secret too.
            KnownSecret::new(
                base64::engine::general_purpose::STANDARD.encode("binaryPW-77"),
                "secret",
            ),
        ]);
        let engine = TextEngine::new(&rules, &known);
        for prefix in ["", "u", "us", "use"] {
            let blob =
                base64::engine::general_purpose::STANDARD.encode(format!("{prefix}{secret}:more"));
            let json = serde_json::to_string(secret).unwrap();
            let mut file = engine.file();
            let mut out = Vec::new();
            file.line(
                format!("b={blob} j={json} d=binaryPW-77\n").as_bytes(),
                false,
                &mut out,
            );
            let out = String::from_utf8(out).unwrap();
            // Only the neighbours' characters and the edges they share with the secret stay
            // (the whole blob is 36 characters or more).
            let b = out.split(' ').next().unwrap();
            assert!(b.contains("REDACTED_PASSWORD"), "{prefix:?}: {out}");
            assert!(
                b.len() - "b=REDACTED_PASSWORD".len() <= 16,
                "{prefix:?}: {out}"
            );
            assert!(
                !out.contains("aligned") && !out.contains("binaryPW"),
                "{out}"
            );
            assert!(out.contains("j=\"REDACTED_PASSWORD\""), "{out}");
        }
    }
}
