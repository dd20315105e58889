//! The one JSON object a subcommand prints with `--json`, on success and on failure: the same
//! envelope everywhere (`schema_version`, `command`, `status`, `exit_code`, `error`, `hint`),
//! then the command's own fields. `schema/edgemicro-diag.schema.json` describes it; the tests
//! validate every command's output against that file.

use crate::exit::Exit;

/// Changes when a field changes meaning or goes away (manifest, findings, every --json object).
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// The envelope's fields, in the order they are printed.
pub(crate) const FIELDS: [&str; 6] = [
    "schema_version",
    "command",
    "status",
    "exit_code",
    "error",
    "hint",
];

/// `fields` (an object; anything else is put under `result`) inside the envelope, as one line.
pub(crate) fn render(
    command: &str,
    exit: Exit,
    error: Option<&str>,
    hint: Option<&str>,
    fields: serde_json::Value,
) -> String {
    let mut fields = match fields {
        serde_json::Value::Object(map) => map,
        serde_json::Value::Null => serde_json::Map::new(),
        other => serde_json::Map::from_iter([("result".to_string(), other)]),
    };
    for key in FIELDS {
        fields.remove(key);
    }
    let head = serde_json::json!([
        crate::envelope::SCHEMA_VERSION,
        command,
        exit.status(),
        exit.code(),
        error,
        hint
    ]);
    // The envelope first, in this order, whatever order the command's map keeps.
    let mut out = String::from("{");
    for (key, value) in FIELDS.iter().zip(head.as_array().into_iter().flatten()) {
        out.push_str(&format!("{}:{},", serde_json::json!(key), value));
    }
    let rest = serde_json::Value::Object(fields).to_string();
    match rest.as_str() {
        "{}" => {
            out.pop();
            out.push('}');
        }
        _ => out.push_str(&rest[1..]),
    }
    out
}

/// For a failed command: the error, its hint, and the exit code they map to.
pub(crate) fn failure(command: &str, err: &anyhow::Error) -> (Exit, String) {
    let exit = Exit::of_error(err);
    let text = render(
        command,
        exit,
        Some(&format!("{err:#}")),
        crate::exit::hint_of(err),
        serde_json::Value::Null,
    );
    (exit, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_comes_first_and_fields_follow() {
        let text = render(
            "verify",
            Exit::Ok,
            None,
            None,
            serde_json::json!({"entries": 3, "status": "ignored"}),
        );
        assert_eq!(
            text,
            r#"{"schema_version":1,"command":"verify","status":"ok","exit_code":0,"error":null,"hint":null,"entries":3}"#
        );
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["entries"], 3);
        let empty = render(
            "rules list",
            Exit::Usage,
            Some("bad"),
            Some("see --help"),
            serde_json::Value::Null,
        );
        assert!(
            serde_json::from_str::<serde_json::Value>(&empty).is_ok(),
            "{empty}"
        );
    }
}
