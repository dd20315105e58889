//! EMG in docker or Kubernetes: no config dir, the whole ORG-ENV config arrives base64-encoded in
//! `EDGEMICRO_CONFIG` (kubernetes/docker/edgemicro/entrypoint.sh), with `EDGEMICRO_ORG/ENV` and
//! the key and secret in `EDGEMICRO_KEY/SECRET`. This reads that environment from this process
//! (`kubectl exec`/`docker exec` inherit it) or from a running edgemicro (`--from-pid`,
//! `/proc/PID/environ`), and returns the config to collect like any other.
//!
//! It never writes the environment anywhere: the decoded config goes through the redactor, and
//! every secret value of that environment (the base64 blob itself included) becomes a known
//! secret for the literal pass and the self-check.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::Result;
use base64::Engine as _;

use crate::exit::Fail;
use crate::model::ConfigFile;
use crate::redact::KnownSecret;
use crate::yaml::Yaml;

/// Variables whose values are secrets wherever they appear (notes/edgemicro.md §1).
pub(crate) const SECRET_VARS: &[&str] = &[
    "EDGEMICRO_KEY",
    "EDGEMICRO_SECRET",
    "EDGEMICRO_REDIS_PASSWORD",
    "EDGEMICRO_SAML_TOKEN",
    "EDGEMICRO_CONFIG",
];

/// EMG's own secret variables, and any `*_KEY`, `*_SECRET`, `*_PASSWORD`, `*_TOKEN` (any case):
/// an incident bot often carries its own API tokens in the environment it runs this tool from.
pub(crate) fn is_secret_var(name: &str, value: &str) -> bool {
    secret_var(name, value) == Some(Ok(()))
}

/// `None`: the name is not a secret's; `Some(Ok)`: its value is a secret; `Some(Err(why))`: the
/// name is a secret's but the value is not one to search for everywhere — too short, an
/// ordinary word (`default`), a number or a path. Searching for those would destroy text
/// across the bundle and stop it at the self-check (`config/default.yaml` holds `default`).
pub(crate) fn secret_var(name: &str, value: &str) -> Option<Result<(), &'static str>> {
    let upper = name.to_ascii_uppercase();
    let named = SECRET_VARS.contains(&upper.as_str())
        || ["_KEY", "_SECRET", "_PASSWORD", "_TOKEN"]
            .iter()
            .any(|suffix| upper.ends_with(suffix));
    if !named || value.is_empty() {
        return None;
    }
    if upper == "EDGEMICRO_CONFIG" {
        return Some(Ok(()));
    }
    Some(crate::redact::literal_verdict(value))
}

/// A value as it may be printed: whole, and, for a base64 blob wrapped at 76 or 64 columns
/// (`base64`, `openssl`; how EDGEMICRO_CONFIG is often pasted), each of its lines, so a console
/// log that echoes it line by line holds no piece of it.
fn blob_forms(value: &str) -> Vec<String> {
    let mut out = vec![value.to_string()];
    let mut pieces = Vec::new();
    let compact: String = value.split_ascii_whitespace().collect();
    let is_base64 = compact.len() >= 64
        && compact
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'));
    if !is_base64 {
        return out;
    }
    out.extend(
        value
            .lines()
            .map(str::trim)
            .filter(|l| l.len() >= 16)
            .map(str::to_string),
    );
    for width in [76, 64] {
        out.extend(
            compact
                .as_bytes()
                .chunks(width)
                .filter(|c| c.len() >= 16)
                .map(|c| String::from_utf8_lossy(c).into_owned()),
        );
    }
    pieces.push(compact);
    pieces.sort();
    pieces.dedup();
    pieces.retain(|p| p != value);
    out.extend(pieces);
    out
}

/// The secret-named variables whose values are not taken as secrets, with why (names only).
pub(crate) fn ignored_secret_vars(env: &HashMap<String, String>) -> Vec<String> {
    let mut out: Vec<String> = env
        .iter()
        .filter_map(|(name, value)| match secret_var(name, value) {
            Some(Err(why)) => Some(format!("{name} ({why})")),
            _ => None,
        })
        .collect();
    out.sort();
    out
}

/// The config found in an environment, and that environment's secrets.
pub(crate) struct EnvConfig {
    pub(crate) config: Option<ConfigFile>,
    pub(crate) secrets: Vec<KnownSecret>,
    /// `EDGEMICRO_CONFIG` was set but could not be read as a config: why (it is left out).
    pub(crate) skipped: Option<crate::model::Skipped>,
    /// Secret-named variables whose values were not taken as secrets (names and why).
    pub(crate) ignored: Vec<String>,
}

/// Reads the environment of `pid`, or of this process when `None`.
pub(crate) fn environment(pid: Option<u32>) -> Result<HashMap<String, String>> {
    let Some(pid) = pid else {
        return Ok(std::env::vars().collect());
    };
    let raw = std::fs::read(format!("/proc/{pid}/environ")).map_err(|e| {
        Fail::failure(
            format!(
                "cannot read the environment of pid {pid}: {}",
                crate::safe_fs::io_reason(&e)
            ),
            "check the pid (`pgrep -f edgemicro`) and run as the same user or root",
        )
    })?;
    Ok(raw
        .split(|b| *b == 0)
        .filter_map(|kv| {
            let kv = String::from_utf8_lossy(kv);
            kv.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect())
}

/// The config in `EDGEMICRO_CONFIG` of that environment, if any, named `ORG-ENV-config.yaml`.
/// The secrets are those of that environment and of this process (a bot may export them too).
pub(crate) fn env_config(pid: Option<u32>) -> Result<EnvConfig> {
    let env = environment(pid)?;
    let own = if pid.is_some() {
        environment(None)?
    } else {
        HashMap::new()
    };
    let secrets = env_secrets(&env, &own);
    let mut ignored = ignored_secret_vars(&env);
    ignored.extend(ignored_secret_vars(&own));
    ignored.dedup();
    let from = match pid {
        Some(pid) => format!("EDGEMICRO_CONFIG of pid {pid}"),
        None => "$EDGEMICRO_CONFIG".to_string(),
    };
    let pair = match (env.get("EDGEMICRO_ORG"), env.get("EDGEMICRO_ENV")) {
        (Some(org), Some(env)) if !org.is_empty() && !env.is_empty() => {
            Some(format!("{org}-{env}"))
        }
        _ => None,
    };
    let Some(encoded) = env.get("EDGEMICRO_CONFIG").filter(|v| !v.trim().is_empty()) else {
        return Ok(EnvConfig {
            config: None,
            secrets,
            skipped: None,
            ignored,
        });
    };
    let (config, skipped) = match decode_config(encoded, &from, pair.as_deref()) {
        Ok(config) => (Some(config), None),
        Err(reason) => (
            None,
            Some(crate::model::Skipped {
                source: from,
                reason: format!(
                    "{reason}: not collected (it must hold the ORG-ENV-config.yaml, base64-encoded)"
                ),
            }),
        ),
    };
    Ok(EnvConfig {
        config,
        secrets,
        skipped,
        ignored,
    })
}

/// Every secret-named variable's value, in the forms it travels in. EDGEMICRO_CONFIG is
/// searched as it is, never decoded: it decodes to the config, which the bundle holds redacted
/// (and, with no secret in it, as it is); its secrets are found by the structural pass.
fn env_secrets(env: &HashMap<String, String>, own: &HashMap<String, String>) -> Vec<KnownSecret> {
    [env, own]
        .into_iter()
        .flat_map(|e| {
            e.iter()
                .filter(|(var, value)| is_secret_var(var, value))
                .map(|(var, value)| (var.eq_ignore_ascii_case("EDGEMICRO_CONFIG"), value))
        })
        .flat_map(|(config, v)| {
            let mut forms = blob_forms(v).into_iter();
            let whole = forms.next().map(|w| match config {
                true => KnownSecret::piece(w.into_bytes(), "env_secret"),
                false => KnownSecret::new(w.into_bytes(), "env_secret"),
            });
            // The pieces of a wrapped blob likewise: a piece decodes to a piece of config text.
            whole
                .into_iter()
                .chain(forms.map(|p| KnownSecret::piece(p.into_bytes(), "env_secret")))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// EDGEMICRO_CONFIG decoded: base64 (wrapped or not) of UTF-8 YAML, named after its pair.
/// A blob that is not a config is left out with the reason; the rest is still collected.
fn decode_config(encoded: &str, from: &str, pair: Option<&str>) -> Result<ConfigFile, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim().replace(['\n', '\r', ' '], ""))
        .map_err(|e| format!("{from} is not base64 ({e})"))?;
    let text =
        String::from_utf8(bytes).map_err(|_| format!("{from} does not decode to UTF-8 text"))?;
    let yaml = Yaml::parse(&text).map_err(|e| format!("{from}: malformed YAML at {e}"))?;
    Ok(ConfigFile {
        path: PathBuf::from(from),
        name: format!("{}-config.yaml", pair.unwrap_or("EDGEMICRO_CONFIG")),
        text,
        yaml,
    })
}

/// A `--stdin-log NAME` must be a plain file name: it becomes `logs/NAME` in the bundle.
pub(crate) fn check_log_name(name: &str) -> Result<()> {
    let ok = !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\\', '\0']);
    if ok {
        return Ok(());
    }
    Err(Fail::usage(
        format!("--stdin-log: `{name}` is not a plain file name"),
        "name the stdin log like gw1.log",
    )
    .into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_for_stdin_logs() {
        assert!(check_log_name("gw1.log").is_ok());
        for bad in ["", "..", "a/b.log", "../x"] {
            assert!(check_log_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secret_variables_by_name_and_length() {
        for (name, value) in [
            ("EDGEMICRO_KEY", "3f9c0a1b2c4d5e6f"),
            ("BOT_API_TOKEN", "tok12345"),
            ("pagerduty_secret", "abcdef-7"),
            ("DB_PASSWORD", "hunter22"),
            ("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI"),
        ] {
            assert!(is_secret_var(name, value), "{name}");
        }
        for (name, value) in [
            ("EDGEMICRO_KEY", ""),
            ("EDGEMICRO_KEY", "k"),
            ("FEATURE_TOKEN", "on"),
            ("BOT_API_KEY", "default"),
            ("HASH_KEY", "sha256"),
            ("STAGE_SECRET", "production"),
            ("PORT_KEY", "80808080"),
            ("SSL_KEY", "/etc/ssl/private/gw.key"),
            ("HOME", "/home/operator"),
            ("KEYBOARD", "us-intl"),
            ("TOKEN_PATH", "/run/tok"),
        ] {
            assert!(!is_secret_var(name, value), "{name}");
        }
    }
}
