//! Redaction: rules as data (`rules`), the structural YAML pass (`yaml`) and the byte-level
//! line pass (`text`). Nothing reaches the bundle without going through here.
//!
//! Order for a config: structural spans → text rules and known literals → re-parse and compare
//! the key structure. Logs get the text pass only. Every secret value the structural pass finds
//! becomes a known literal, replaced in every file, with its percent- and base64-encoded forms.

pub mod pseudonym;
pub mod rules;
pub mod text;
pub mod yaml;

use anyhow::{bail, Result};
use base64::Engine as _;

pub use rules::{token, RuleSet};
pub use text::{FileReport, KnownSecret, TextEngine, MIN_LITERAL};

use crate::yaml::Yaml;

/// The secret values of one parsed config, for the literal pass and the self-check.
pub fn config_secrets(rules: &RuleSet, yaml: &Yaml) -> Vec<KnownSecret> {
    yaml::find_secrets(rules, yaml)
        .into_iter()
        .map(|hit| KnownSecret {
            value: hit.value.into_bytes(),
            rule: rules.keys[hit.rule].id.clone(),
            encodes: None,
        })
        .collect()
}

/// A secret and the encodings it travels in: URL query strings (percent-encoding) and headers or
/// env dumps (base64). Each form is searched and replaced like the value itself.
pub fn with_encodings(secrets: Vec<KnownSecret>) -> Vec<KnownSecret> {
    let mut out: Vec<KnownSecret> = Vec::with_capacity(secrets.len() * 3);
    for secret in secrets {
        let value = String::from_utf8_lossy(&secret.value)
            .trim_end_matches(['\r', '\n'])
            .to_string();
        let mut forms = vec![value.as_bytes().to_vec()];
        let percent =
            percent_encoding::utf8_percent_encode(&value, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        forms.push(percent.into_bytes());
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD.encode(value.as_bytes());
        forms.push(b64.into_bytes());
        for (i, form) in forms.into_iter().enumerate() {
            if form.len() >= MIN_LITERAL && !out.iter().any(|k| k.value == form) {
                out.push(KnownSecret {
                    value: form,
                    rule: secret.rule.clone(),
                    encodes: (i > 0).then(|| value.as_bytes().to_vec()),
                });
            }
        }
    }
    out
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
    if let Some((b, a)) = before.iter().zip(after.iter()).find(|(b, a)| b != a) {
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
        let known = with_encodings(config_secrets(&rules, &yaml));
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
}
