//! The JSON Schema of every `--json` object, generated rather than written by hand: the
//! commands from the CLI, the statuses and exit codes from `Exit`, the shared shapes (a finding,
//! a file entry, the log-level record, the capture status) from their serde types through
//! schemars, and only the per-command requirements spelled out here.
//! `schema/edgemicro-diag.schema.json` is this module's output; a test holds the two equal
//! (`EDGEMICRO_DIAG_BLESS=1 cargo test --lib schema` rewrites the file).

use clap::CommandFactory;
use serde_json::{json, Value};

use crate::exit::Exit;

/// Where the published schema lives in the source tree.
pub(crate) const PUBLISHED: &str = "schema/edgemicro-diag.schema.json";

/// Every `command` value: each subcommand the user can name, and each of their own ones as
/// "parent child"; empty when a usage error came before one was named.
fn commands() -> Vec<String> {
    let cli = crate::cli::Cli::command();
    let mut names = vec![String::new()];
    for sub in cli.get_subcommands().filter(|c| !c.is_hide_set()) {
        names.push(sub.get_name().to_string());
        for child in sub.get_subcommands().filter(|c| !c.is_hide_set()) {
            names.push(format!("{} {}", sub.get_name(), child.get_name()));
        }
    }
    names
}

/// The shared shapes, named as `$defs` entries.
fn shared_shapes() -> serde_json::Map<String, Value> {
    let mut generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    generator.subschema_for::<crate::analyze::Finding>();
    generator.subschema_for::<crate::bundle::FileEntry>();
    generator.subschema_for::<crate::model::LevelRecord>();
    generator.subschema_for::<crate::model::CaptureStatus>();
    let mut defs = generator.take_definitions(true);
    defs.insert(
        "Time".into(),
        json!({"description": "UTC RFC 3339 with milliseconds", "type": "string",
               "pattern": "^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z$"}),
    );
    defs
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/$defs/{name}") })
}

fn array_of(name: &str) -> Value {
    json!({"type": "array", "items": reference(name)})
}

fn or_null(name: &str) -> Value {
    json!({"anyOf": [{"type": "null"}, reference(name)]})
}

/// The schema document.
pub(crate) fn schema() -> Value {
    let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
    let mut statuses: Vec<&str> = Vec::new();
    for status in Exit::ALL.map(Exit::status) {
        if !statuses.contains(&status) {
            statuses.push(status);
        }
    }
    let complete: Vec<u8> = [Exit::Ok, Exit::Partial].iter().map(|e| e.code()).collect();
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://github.com/edgemicro-diag/edgemicro-diag/schema/edgemicro-diag.schema.json",
        "$comment": "Generated from the code (src/schema.rs and the serde types); do not edit by hand.",
        "title": "edgemicro-diag --json output",
        "description": "The one JSON object every subcommand prints with --json, on success and on failure: the envelope, then the command's own fields. schema_version changes when a field changes meaning or goes away.",
        "type": "object",
        "required": crate::envelope::FIELDS,
        "properties": {
            "schema_version": {"const": crate::envelope::SCHEMA_VERSION},
            "command": {
                "description": "The subcommand; empty when a usage error came before one was named",
                "enum": commands()
            },
            "status": {"enum": statuses},
            "exit_code": {"enum": codes},
            "error": {"type": ["string", "null"]},
            "hint": {"type": ["string", "null"]}
        },
        "allOf": [
            {
                "description": "ok and partial carry no error; failed always does",
                "if": {"properties": {"status": {"const": Exit::Failure.status()}}},
                "then": {"properties": {"error": {"type": "string"}, "exit_code": {"not": {"enum": complete}}}},
                "else": {"properties": {"error": {"type": "null"}, "exit_code": {"enum": complete}}}
            },
            collect(),
            dry_run(),
            analyze(),
            verify(),
            {
                "if": {"properties": {"command": {"const": "verify"}, "status": {"const": "ok"}}},
                "then": {"required": ["bundles"]}
            },
            {
                "if": {"properties": {"command": {"const": "redact"}, "status": {"const": "ok"}}},
                "then": {"required": ["total", "files"], "properties": {"total": {"type": "integer"}, "files": {"type": "array", "items": {"type": "object", "required": ["file", "total", "by_rule", "redactions"]}}}}
            },
            {
                "if": {"properties": {"command": {"const": "rules list"}, "status": {"const": "ok"}}},
                "then": {"required": ["rules"], "properties": {"rules": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["kind", "id", "why", "file"]}}}}
            },
            {
                "if": {"properties": {"command": {"enum": ["log-level set", "log-level restore"]}, "status": {"const": "ok"}}},
                "then": {"required": ["pair", "file", "level"]}
            }
        ],
        "$defs": shared_shapes()
    })
}

fn collect() -> Value {
    json!({
        "if": {"properties": {"command": {"const": "collect"}, "status": {"enum": ["ok", "partial"]}}, "not": {"required": ["dry_run"]}},
        "then": {
            "required": ["bundle", "sha256", "bytes", "files", "skipped", "redactions", "findings", "warnings", "capture", "log_level", "duration_ms"],
            "properties": {
                "bundle": {"type": ["string", "null"]},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "bytes": {"type": "integer", "minimum": 0},
                "files": array_of("FileEntry"),
                "skipped": {"type": "array", "items": {"type": "object", "required": ["source", "reason"]}},
                "redactions": {"type": "object", "required": ["total", "by_rule"]},
                "findings": array_of("Finding"),
                "warnings": {"type": "array", "items": {"type": "string"}},
                "log_level": or_null("LevelRecord"),
                "capture": {"anyOf": [{"type": "null"}, {"type": "object", "required": ["status"], "properties": {"status": reference("CaptureStatus")}}]}
            }
        }
    })
}

fn dry_run() -> Value {
    json!({
        "description": "collect --dry-run: the plan, nothing written",
        "if": {"properties": {"command": {"const": "collect"}}, "required": ["dry_run"]},
        "then": {
            "required": ["files", "skipped", "bytes_to_read", "estimated_bundle_bytes", "redactions"],
            "properties": {
                "dry_run": {"const": true},
                "files": {"type": "array", "items": {"type": "object", "required": ["path", "source", "bytes", "redactions", "by_rule"]}}
            }
        }
    })
}

fn analyze() -> Value {
    json!({
        "if": {"properties": {"command": {"const": "analyze"}, "status": {"const": "ok"}}},
        "then": {
            "required": ["source", "findings", "hops", "logs", "keepalive", "probes"],
            "properties": {
                "findings": {"type": "array", "minItems": 1, "items": reference("Finding")},
                "logs": {"type": "object", "required": ["lines", "files", "totals", "kinds", "by_target", "by_proxy", "by_hour", "first", "last"],
                    "properties": {"first": or_null("Time"), "last": or_null("Time")}
                },
                "keepalive": {"type": "object", "required": ["keep_alive_timeout_ms", "keep_alive_timeout_set", "request_timeout_s"]},
                "probes": {"type": "array"},
                "hops": {"type": "array", "minItems": 2, "items": {
                    "type": "object", "required": ["downstream", "upstream", "in_order", "fix"],
                    "properties": {"in_order": {"type": ["boolean", "null"]}}
                }}
            }
        }
    })
}

fn verify() -> Value {
    json!({
        "if": {"properties": {"command": {"const": "verify"}}, "required": ["bundles"]},
        "then": {
            "properties": {
                "bundles": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["bundle", "status", "error"],
                    "properties": {"status": {"enum": ["ok", "failed"]}, "entries": {"type": "integer"}, "sidecar_checked": {"type": "boolean"}}
                }}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published file is exactly what the code generates; `EDGEMICRO_DIAG_BLESS=1`
    /// rewrites it after a deliberate change to the contract.
    #[test]
    fn the_published_schema_is_generated_from_the_code() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(PUBLISHED);
        let generated = serde_json::to_string_pretty(&schema()).unwrap() + "\n";
        if std::env::var_os("EDGEMICRO_DIAG_BLESS").is_some() {
            std::fs::write(&path, &generated).unwrap();
        }
        let published = std::fs::read_to_string(&path).unwrap();
        assert!(
            published == generated,
            "{PUBLISHED} differs from the code's schema: run EDGEMICRO_DIAG_BLESS=1 cargo test --lib schema"
        );
    }

    /// What the generator lists comes from the types: every finding id serde can write, every
    /// exit code, every command a user can type.
    #[test]
    fn the_schema_lists_what_the_code_has() {
        let s = schema();
        let ids = &s["$defs"]["FindingId"]["enum"];
        let text = ids.to_string();
        for id in [
            crate::model::FindingId::KeepaliveRace,
            crate::model::FindingId::Nothing,
        ] {
            assert!(text.contains(&format!("\"{id}\"")), "{id} in {text}");
        }
        assert_eq!(
            s["properties"]["exit_code"]["enum"],
            json!([0, 1, 2, 3, 4, 129, 130, 143])
        );
        assert_eq!(
            s["properties"]["status"]["enum"],
            json!(["ok", "failed", "partial"]),
            "each status once"
        );
        let commands = s["properties"]["command"]["enum"].to_string();
        for c in [
            "\"collect\"",
            "\"log-level set\"",
            "\"rules list\"",
            "\"verify\"",
        ] {
            assert!(commands.contains(c), "{c} in {commands}");
        }
        assert!(
            !commands.contains("exec-tied"),
            "hidden commands are not part of the contract"
        );
    }
}
