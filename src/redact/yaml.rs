//! The structural YAML pass: finds secret values by key name, key path or value content on the
//! parsed document and replaces their byte spans in the original text.
//!
//! It never re-serializes: comments, order, quoting and line endings of everything else stay
//! byte-identical, and the caller re-parses the result to prove the key structure survived.

use std::ops::Range;

use saphyr_parser::ScalarStyle;

use super::rules::{normalize_key, RuleSet};
use crate::yaml::{Node, Yaml};

/// One secret value found in a document.
#[derive(Debug, Clone)]
pub(crate) struct YamlHit {
    pub(crate) span: Range<usize>,
    /// A mapping key (a secret used as a key under a credential container), not a value.
    pub(crate) key: bool,
    pub(crate) style: ScalarStyle,
    /// Index into `RuleSet::keys`.
    pub(crate) rule: usize,
    pub(crate) line: usize,
    pub(crate) value: String,
}

/// Deeper than any real config; stops alias chains and hostile nesting from costing more.
const MAX_DEPTH: usize = 256;

pub(crate) fn find_secrets(rules: &RuleSet, yaml: &Yaml) -> Vec<YamlHit> {
    let mut walker = Walker {
        rules,
        yaml,
        hits: Vec::new(),
        path: Vec::new(),
    };
    for doc in &yaml.docs {
        walker.walk(doc, None, 0);
    }
    // An anchor reached through several aliases is one span.
    walker.hits.sort_by_key(|h| (h.span.start, h.span.end));
    walker.hits.dedup_by_key(|h| (h.span.start, h.span.end));
    walker.hits
}

struct Walker<'a> {
    rules: &'a RuleSet,
    yaml: &'a Yaml,
    hits: Vec<YamlHit>,
    path: Vec<String>,
}

impl Walker<'_> {
    fn walk(&mut self, node: &Node, secret: Option<usize>, depth: usize) {
        if depth > MAX_DEPTH {
            return;
        }
        match node {
            Node::Scalar(s) => {
                let rule = secret.or_else(|| self.value_rule(&s.value));
                if let Some(rule) = rule.filter(|_| is_secret_value(&s.value) && !s.span.is_empty())
                {
                    self.hits.push(YamlHit {
                        span: s.span.clone(),
                        key: false,
                        style: s.style,
                        rule,
                        line: s.line,
                        value: s.value.clone(),
                    });
                }
            }
            Node::Seq { items, .. } => items
                .iter()
                .for_each(|item| self.walk(item, secret, depth + 1)),
            Node::Map { entries, .. } => {
                for (key, value) in entries {
                    // Complex keys (`? [a, b]`) are walked too: a private key could hide there.
                    if !matches!(key, Node::Scalar(_)) {
                        self.walk(key, secret, depth + 1);
                    }
                    // Under a credential container a key can be the secret itself (an access key
                    // id mapping to its secret, an API key mapping to its tenant).
                    if let (Some(rule), Node::Scalar(k)) = (secret, key) {
                        if key_is_secret(&k.value) && !k.span.is_empty() {
                            self.hits.push(YamlHit {
                                span: k.span.clone(),
                                key: true,
                                style: k.style,
                                rule,
                                line: k.line,
                                value: k.value.clone(),
                            });
                        }
                    }
                    let name = key.as_str().map(normalize_key).unwrap_or_default();
                    self.path.push(name);
                    let rule = secret.or_else(|| self.key_rule());
                    self.walk(value, rule, depth + 1);
                    self.path.pop();
                }
            }
            // Under a secret key an alias means the anchored value is secret: redact it where it
            // is written. Elsewhere the anchor is walked in place, so aliases add nothing.
            Node::Alias { id, .. } => {
                if let (Some(_), Some(anchored)) = (secret, self.yaml.anchored(*id)) {
                    let anchored = anchored.clone();
                    self.walk(&anchored, secret, depth + 1);
                }
            }
        }
    }

    fn key_rule(&self) -> Option<usize> {
        let name = self.path.last()?;
        if self.rules.keep.iter().any(|k| k.is_match(name)) {
            return None;
        }
        let dotted = self.path.join(".");
        self.rules.keys.iter().position(|rule| {
            rule.names.iter().any(|g| g.is_match(name))
                || rule.paths.iter().any(|g| g.is_match(&dotted))
        })
    }

    fn value_rule(&self, value: &str) -> Option<usize> {
        self.rules
            .keys
            .iter()
            .position(|rule| rule.values.iter().any(|v| value.contains(v.as_str())))
    }
}

/// A mapping key that reads as a generated credential: long enough to search for, not a word,
/// with letters and digits (`AKIA…`, 32 hex); field names like `username` or `client_id` stay.
fn key_is_secret(key: &str) -> bool {
    let k = key.trim();
    super::literal_verdict(k).is_ok()
        && k.bytes().any(|b| b.is_ascii_digit())
        && k.bytes().any(|b| b.is_ascii_alphabetic())
        && !k.contains(char::is_whitespace)
}

/// Empty values and booleans carry nothing; everything else under a secret key goes, env tags
/// (`<E>VAR</E>`) and numbers included: a short or "wordy" password is still a password.
fn is_secret_value(value: &str) -> bool {
    let v = value.trim();
    !(v.is_empty()
        || v == "~"
        || v.eq_ignore_ascii_case("null")
        || v.eq_ignore_ascii_case("true")
        || v.eq_ignore_ascii_case("false")
        || v.starts_with("REDACTED_"))
}

/// Replaces each hit's bytes with its token, keeping the quote style and a block scalar's
/// trailing line break so the document keeps its shape.
pub(crate) fn apply(
    text: &str,
    hits: &[YamlHit],
    mut token: impl FnMut(&YamlHit) -> String,
) -> Vec<u8> {
    let src = text.as_bytes();
    let mut out = Vec::with_capacity(src.len());
    let mut at = 0;
    let mut keys = 0;
    for hit in hits {
        if hit.span.start < at {
            continue; // nested inside a span already replaced
        }
        out.extend_from_slice(&src[at..hit.span.start]);
        let mut tok = token(hit);
        if hit.key {
            // Keys of one map must stay distinct for the document to keep its shape.
            keys += 1;
            tok = format!("{tok}-{keys}");
        }
        let original = &src[hit.span.clone()];
        match hit.style {
            ScalarStyle::SingleQuoted => out.extend_from_slice(format!("'{tok}'").as_bytes()),
            ScalarStyle::DoubleQuoted => out.extend_from_slice(format!("\"{tok}\"").as_bytes()),
            ScalarStyle::Literal | ScalarStyle::Folded => {
                // The parser's span of a block scalar can run into the indentation of the next
                // key; only the body lines (through the last line break) are replaced.
                let body_end = original
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(original.len(), |p| p + 1);
                let body = &original[..body_end];
                if let Some(kept) = pem_body_only(body, &tok) {
                    out.extend_from_slice(&kept);
                    out.extend_from_slice(&original[body_end..]);
                    at = hit.span.end;
                    continue;
                }
                out.extend_from_slice(tok.as_bytes());
                if body.ends_with(b"\r\n") {
                    out.extend_from_slice(b"\r\n");
                } else if body.ends_with(b"\n") {
                    out.push(b'\n');
                }
                out.extend_from_slice(&original[body_end..]);
            }
            ScalarStyle::Plain => out.extend_from_slice(tok.as_bytes()),
        }
        at = hit.span.end;
    }
    out.extend_from_slice(&src[at..]);
    out
}

/// A PEM block in a block scalar: the armour lines (`-----BEGIN ENCRYPTED PRIVATE KEY-----`,
/// `Proc-Type:`, `DEK-Info:`) stay, since which kind of key is configured matters to a TLS
/// diagnosis; each body line becomes the token, in its own indentation. `None` when the body is
/// not a PEM block.
fn pem_body_only(body: &[u8], tok: &str) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(body).ok()?;
    if !(text.contains("-----BEGIN ") && text.contains("-----END ")) {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\r', '\n']);
        let trimmed = content.trim_start();
        let armour = trimmed.starts_with("-----")
            || trimmed.starts_with("Proc-Type:")
            || trimmed.starts_with("DEK-Info:")
            || trimmed.is_empty();
        if armour {
            out.push_str(line);
        } else {
            out.push_str(&content[..content.len() - trimmed.len()]);
            out.push_str(tok);
            out.push_str(&line[content.len()..]);
        }
    }
    Some(out.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both passes, as `collect` runs them (with its structure check): the document before,
    /// the text after, and the document after.
    fn both_passes(text: &str) -> (Yaml, String, Yaml) {
        let rules = RuleSet::load(&[] as &[&str]).unwrap();
        let yaml = Yaml::parse(text).unwrap();
        let known =
            crate::redact::with_encodings(crate::redact::config_secrets(&rules, &yaml, text));
        let engine = crate::redact::TextEngine::new(&rules, &known);
        let (out, _) = crate::redact::redact_config(&rules, &engine, "t.yaml", text, &yaml)
            .unwrap_or_else(|e| panic!("{e:#}\n{text}"));
        let out = String::from_utf8(out).unwrap();
        let after = Yaml::parse(&out).unwrap_or_else(|e| panic!("{e}\n{out}"));
        (yaml, out, after)
    }

    /// Both passes; no key path changes.
    fn redact(text: &str) -> String {
        let (yaml, out, after) = both_passes(text);
        assert_eq!(
            after.key_paths(),
            yaml.key_paths(),
            "key structure changed:\n{out}"
        );
        out
    }

    #[test]
    fn emg_secret_fields_go_public_keys_and_hosts_stay() {
        let out = redact(concat!(
            "edge_config:\n  jwt_public_key: https://o-e.apigee.net/edgemicro-auth/publicKey\n",
            "  keySecretMessage: The following credentials are required\n",
            "edgemicro:\n  redisHost: redis.example.com\n  redisPassword: hunter2pw\n",
            "  keep_alive_timeout: 65000\n  ssl:\n    passphrase: 'ssl''pp1'\n    key: /etc/k.pem\n",
            "analytics:\n  key: k1k1k1k1\n  secret: \"s1s1s1s1\"\n",
            "oauth:\n  api-key-header: x-api-key\n  public_key: |\n    -----BEGIN CERTIFICATE-----\n    MIIBcert\n    -----END CERTIFICATE-----\n",
            "monitor: {host: m, Requestkey: rk123456}\n",
        ));
        for secret in ["hunter2pw", "ssl''pp1", "k1k1k1k1", "s1s1s1s1", "rk123456"] {
            assert!(!out.contains(secret), "{secret} leaked:\n{out}");
        }
        for kept in [
            "publicKey",
            "redis.example.com",
            "65000",
            "/etc/k.pem",
            "x-api-key",
            "MIIBcert",
            "are required",
        ] {
            assert!(out.contains(kept), "{kept} lost:\n{out}");
        }
        assert!(out.contains("redisPassword: REDACTED_PASSWORD\n"), "{out}");
        assert!(out.contains("passphrase: 'REDACTED_PASSWORD'"), "{out}");
    }

    #[test]
    fn multi_line_anchored_block_and_next_line_values() {
        let out = redact(concat!(
            "password: abc\n  defTAIL\n",
            "base: &pw sharedANCHOR\nredis:\n  redisPassword: *pw\n  redisPassword2: &pw2 anchoredSECRET\n  again: *pw2\n",
            "targets:\n  - ssl:\n      client:\n        passphrase:   # comment\n          nextLINEpp\n",
            "private: |\n  -----BEGIN RSA PRIVATE KEY-----\n  MIIEpBODY\n  -----END RSA PRIVATE KEY-----\n",
            "tls:\n  agent:\n    key: |\n      -----BEGIN RSA PRIVATE KEY-----\n      NESTEDpemBODY\n      -----END RSA PRIVATE KEY-----\n    cert: /etc/c.crt\n",
            "? password\n: complexKEYval\n",
            "\"pass\\u0077ord\": escapedKEYval\n",
            "creds:\n  credentials: {user: u1, token: [t1tok, t2tok]}\n",
        ));
        for secret in [
            "defTAIL",
            "sharedANCHOR",
            "anchoredSECRET",
            "nextLINEpp",
            "MIIEpBODY",
            "complexKEYval",
            "escapedKEYval",
            "u1",
            "t1tok",
            "t2tok",
        ] {
            assert!(!out.contains(secret), "{secret} leaked:\n{out}");
        }
        assert!(out.contains("# comment"), "comments stay:\n{out}");
    }

    /// Crashers of the planted-secret fuzz target (tests/fuzz.rs): the header rules ate the
    /// anchor, or the `|` indicator, after a structural replacement, and the config became
    /// unparsable (the run failed closed, but failed).
    #[test]
    fn header_keys_with_anchors_and_block_scalars_keep_their_syntax() {
        let out = redact("k_a: a\nAuthorization: &s1 A--A+=a=-A0A\nk_copy: *s1\n");
        assert_eq!(
            out,
            "k_a: a\nAuthorization: &s1 REDACTED_HEADER\nk_copy: *s1\n"
        );
        let out = redact("k_a: a\nAuthorization: |\n  a=_aaa0=0AA_\ncookie: !!str c00kieVALUE\n");
        assert!(
            !out.contains("a=_aaa0=0AA_") && !out.contains("c00kieVALUE"),
            "{out}"
        );
        assert!(
            out.contains("Authorization: |\n") && out.contains("cookie: !!str "),
            "{out}"
        );
    }

    /// A secret used as a mapping key under a credential container (an access key id mapping
    /// to its secret, an API key mapping to its tenant) goes like a value; each redacted key
    /// stays unique, so the document keeps its shape; ordinary keys there stay.
    #[test]
    fn secrets_as_mapping_keys_under_credential_parents_go() {
        let keys = [
            "AKIAFAKEKEY0123456789",
            "3f9c0a1b2c4d5e6f7a8b9c0d1e2f3a4b",
            "sk_live_51FAKEabcXYZ123456",
            "'quoted-Key-99aa88bb77'",
        ];
        for parent in [
            "credentials",
            "aws_credentials",
            "secrets",
            "apiKeys",
            "api_keys",
            "tokens",
        ] {
            let mut text = format!("edgemicro:\n  port: 8000\n{parent}:\n");
            for (i, key) in keys.iter().enumerate() {
                text.push_str(&format!("  {key}: value-{i}-tenant\n"));
            }
            text.push_str("  username: ops\n  region: eu-west-1\n");
            let out = redact_keys(&text);
            for key in keys {
                let bare = key.trim_matches('\'');
                assert!(!out.contains(bare), "{bare} under {parent} leaked:\n{out}");
            }
            assert!(
                out.contains("  username: ") && out.contains("  region: "),
                "{out}"
            );
        }
        // Outside a credential container a key is a key.
        let out = redact_keys("proxies:\n  AKIAFAKEKEY0123456789: x\n");
        assert!(out.contains("AKIAFAKEKEY0123456789"), "{out}");
    }

    /// Both passes where keys may be redacted: as many key paths as before.
    fn redact_keys(text: &str) -> String {
        let (yaml, out, after) = both_passes(text);
        assert_eq!(after.key_paths().len(), yaml.key_paths().len(), "{out}");
        out
    }
}
