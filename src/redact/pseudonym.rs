//! `--pseudonymize`: `REDACTED_<RULE>_<12 hex>` instead of `REDACTED_<RULE>`, so one API key
//! correlates across lines and files without being readable.
//!
//! The 12 hex digits are the first 6 bytes of HMAC-SHA256 of the normalized value under a key
//! drawn fresh for each bundle: the same value gets the same token within a bundle, and tokens
//! cannot be brute-forced (or compared across bundles) without that key, which is never written
//! anywhere. The map token → rule, file, first line (and, only if asked, the value) goes beside
//! the bundle, never inside it.

use anyhow::{Context, Result};
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;

use super::rules::token;
use super::KnownSecret;

/// Distinct tokens recorded in one bundle's map; past it tokens are still computed, the map
/// says it is incomplete (a log with a fresh bearer token per request must not grow memory).
pub(crate) const MAP_MAX: usize = 100_000;

/// Hex digits of the HMAC kept in a token.
const HEX: usize = 12;

/// The rule id under which the key itself is guarded by the self-check.
pub(crate) const KEY_RULE: &str = "pseudonym_key";

pub(crate) struct Pseudonyms {
    mac: Hmac<Sha256>,
    key: [u8; 32],
    /// Whether the map keeps the values (`--keep-map-values`).
    pub(crate) keep_values: bool,
}

/// One map row: the first place a token was written.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Seen {
    pub(crate) token: String,
    pub(crate) rule: String,
    pub(crate) file: String,
    pub(crate) line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value: Option<String>,
}

impl Pseudonyms {
    /// A fresh key from the operating system's generator.
    pub(crate) fn random(keep_values: bool) -> Result<Self> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("cannot draw a random key for --pseudonymize")?;
        Ok(Self::with_key(key, keep_values))
    }

    pub(crate) fn with_key(key: [u8; 32], keep_values: bool) -> Self {
        let mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).expect("any key length works");
        Pseudonyms {
            mac,
            key,
            keep_values,
        }
    }

    /// The token for `value` found by `rule`.
    pub(crate) fn token(&self, rule: &str, value: &[u8]) -> String {
        let mut mac = self.mac.clone();
        mac.update(normalize(value));
        let digest = mac.finalize().into_bytes();
        format!("{}_{}", token(rule), &hex::encode(&digest[..HEX / 2]))
    }

    /// The key in every form it could be written in, for the self-check, plus a fingerprint
    /// written into the map: a map of this bundle inside the bundle is refused too.
    pub(crate) fn guarded(&self) -> Vec<KnownSecret> {
        let b64 = base64::engine::general_purpose::STANDARD_NO_PAD;
        [
            self.key.to_vec(),
            hex::encode(self.key).into_bytes(),
            hex::encode_upper(self.key).into_bytes(),
            b64.encode(self.key).into_bytes(),
            self.map_id().into_bytes(),
        ]
        .into_iter()
        .map(|value| KnownSecret::new(value, KEY_RULE))
        .collect()
    }

    /// Names this bundle's map without revealing the key.
    pub(crate) fn map_id(&self) -> String {
        let mut mac = self.mac.clone();
        mac.update(b"edgemicro-diag pseudonym map");
        format!("map-{}", hex::encode(&mac.finalize().into_bytes()[..16]))
    }
}

/// The map's rows, gathered as each file finishes: every token once, where it first appears
/// in bundle order, at most `MAP_MAX` (kept in memory, never with the per-file reports on disk:
/// with `--keep-map-values` a row holds the value).
#[derive(Debug, Default)]
pub(crate) struct MapRows {
    seen: std::collections::HashSet<String>,
    rows: Vec<Seen>,
    truncated: bool,
}

impl MapRows {
    /// Takes `report`'s first occurrences, as found in `file`.
    pub(crate) fn add(&mut self, file: &str, report: &mut super::FileReport) {
        self.truncated |= report.map_truncated;
        for row in std::mem::take(&mut report.pseudonyms) {
            if self.seen.len() >= MAP_MAX {
                self.truncated = true;
                break;
            }
            if self.seen.insert(row.token.clone()) {
                self.rows.push(Seen {
                    file: file.to_string(),
                    ..row
                });
            }
        }
    }

    /// The map written beside the bundle.
    pub(crate) fn json(&self, bundle: &str, sha256: &str, keep_values: bool) -> Vec<u8> {
        let map = serde_json::json!({
            "tool": "edgemicro-diag",
            "version": env!("CARGO_PKG_VERSION"),
            "bundle": bundle,
            "bundle_sha256": sha256,
            "note": if keep_values {
                "PRIVATE: holds the secret values; never attach it to a support case"
            } else {
                "token -> where it first appears; no values. Keep it with you: support gets the bundle only"
            },
            "values_included": keep_values,
            "truncated": self.truncated,
            "pseudonyms": self.rows,
        });
        serde_json::to_vec_pretty(&map).expect("a JSON value serializes")
    }
}

/// The value a token stands for, without the white space or line break around it (a block
/// scalar's trailing `\n` and the same value in a log line get one token).
pub(crate) fn normalize(value: &[u8]) -> &[u8] {
    value.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_value_same_token_other_key_other_token() {
        let a = Pseudonyms::with_key([1; 32], false);
        let b = Pseudonyms::with_key([2; 32], false);
        let t = a.token("emg_key", b"abc123secret");
        assert_eq!(t, a.token("emg_key", b"  abc123secret\n"));
        assert_ne!(t, a.token("emg_key", b"abc123secreT"));
        assert_ne!(t, b.token("emg_key", b"abc123secret"));
        assert!(t.starts_with("REDACTED_EMG_KEY_"), "{t}");
        let hex = t.rsplit('_').next().unwrap();
        assert_eq!(hex.len(), 12);
        assert!(hex
            .bytes()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
        // HMAC-SHA256, checked against an independent implementation (Python's hmac module):
        // hmac.new(bytes([1]*32), b"abc123secret", "sha256").hexdigest()[:12]
        assert_eq!(hex, "f10cac351303");
    }
}
