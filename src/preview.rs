//! Redaction preview: what the engine replaces in a file, counted per rule, with the redacted
//! lines that changed. It writes nothing, and it is the engine `collect` runs, not a copy:
//! configs go through `redact::redact_config`, logs through the same line redactor.

use std::io::{BufReader, Read};

use anyhow::Result;
use serde::Serialize;

use crate::lines::{BoundedLines, Piece};
use crate::redact::{self, FileReport, RuleSet, TextEngine};
use crate::yaml::Yaml;

/// One redacted line: where, by which rules, and the line as it would be written.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Hit {
    pub(crate) line: u64,
    pub(crate) rules: Vec<String>,
    pub(crate) text: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct FilePreview {
    pub(crate) file: String,
    pub(crate) total: u64,
    pub(crate) by_rule: std::collections::BTreeMap<String, u64>,
    /// Bytes read; `complete` is false when `limit` stopped the scan early.
    pub(crate) scanned: u64,
    pub(crate) complete: bool,
}

impl FilePreview {
    fn new(file: &str, report: &FileReport, scanned: u64, complete: bool) -> Self {
        FilePreview {
            file: file.to_string(),
            total: report.total,
            by_rule: report
                .by_rule
                .iter()
                .map(|(r, h)| (r.clone(), h.count))
                .collect(),
            scanned,
            complete,
        }
    }
}

/// A line as shown to a person: no line ending, at most 240 characters.
fn shown(line: &[u8]) -> String {
    let text = String::from_utf8_lossy(line);
    let text = text.trim_end_matches(['\r', '\n']);
    match text.char_indices().nth(240) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// Streams up to `limit` bytes of a log through the line redactor; `on_hit` sees every line
/// that changed.
pub(crate) fn log(
    file: &str,
    reader: impl Read,
    engine: &TextEngine,
    limit: u64,
    on_hit: &mut dyn FnMut(Hit),
) -> std::io::Result<FilePreview> {
    let mut lines = BoundedLines::new(BufReader::with_capacity(1 << 16, reader.take(limit)));
    let mut redactor = engine.file();
    let (mut buf, mut out) = (Vec::new(), Vec::new());
    let (mut scanned, mut continues) = (0u64, false);
    while let Some(piece) = lines.next_into(&mut buf)? {
        scanned += buf.len() as u64;
        out.clear();
        redactor.line(&buf, continues, &mut out);
        continues = piece == Piece::Cut;
        let (line, rules) = redactor.last_line();
        if !rules.is_empty() {
            on_hit(Hit {
                line,
                rules: rules.iter().map(|r| r.to_string()).collect(),
                text: shown(&out),
            });
        }
    }
    let complete = scanned < limit;
    Ok(FilePreview::new(file, &redactor.report, scanned, complete))
}

/// A YAML config through both passes; hits are the changed lines of the redacted file (its line
/// numbers match the original's except after a multi-line secret, which becomes one line).
pub(crate) fn config(
    file: &str,
    text: &str,
    yaml: &Yaml,
    rules: &RuleSet,
    engine: &TextEngine,
    on_hit: &mut dyn FnMut(Hit),
) -> Result<FilePreview> {
    let (bytes, report) = redact::redact_config(rules, engine, file, text, yaml)?;
    for (i, line) in bytes.split_inclusive(|b| *b == b'\n').enumerate() {
        if let Some(at) = memchr::memmem::find(line, b"REDACTED_") {
            let rule = line[at + 9..]
                .iter()
                .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || **b == b'_')
                .map(|b| b.to_ascii_lowercase() as char)
                .collect();
            on_hit(Hit {
                line: i as u64 + 1,
                rules: vec![rule],
                text: shown(line),
            });
        }
    }
    Ok(FilePreview::new(file, &report, text.len() as u64, true))
}

/// Directories given to `redact` are walked like `collect` reads a dir: regular files only,
/// links never followed (a link out of the dir is another user's file), FIFOs and devices
/// skipped, at most 8 levels and 100 000 files.
fn expand(paths: &[std::path::PathBuf]) -> Result<Vec<std::path::PathBuf>> {
    let mut out = Vec::new();
    for path in paths {
        if !std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
            out.push(path.clone());
            continue;
        }
        let found = crate::safe_fs::walk(path)
            .map_err(|e| anyhow::anyhow!("cannot list `{}`: {e}", path.display()))?;
        out.extend(
            found
                .into_iter()
                .filter(|e| e.kind == crate::safe_fs::Walked::File)
                .map(|e| e.dir.join(e.file_name)),
        );
    }
    Ok(out)
}

/// What `redact` found: the count, and with `--json` the fields of its JSON object.
pub(crate) struct Previewed {
    pub(crate) total: u64,
    pub(crate) json: Option<serde_json::Value>,
}

/// `edgemicro-diag redact PATH...`: every YAML path's secrets become known literals for all
/// paths, exactly as in `collect`; then each file is previewed in full. Text hits go to `out`.
pub(crate) fn command(
    paths: &[std::path::PathBuf],
    rule_files: &[std::path::PathBuf],
    json: bool,
    out: &mut dyn std::io::Write,
) -> Result<Previewed> {
    let rules = RuleSet::load(rule_files)?;
    let mut files = Vec::new();
    for path in &expand(paths)? {
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        let opened = crate::safe_fs::open_in_dir(dir, path.file_name().unwrap_or_default())
            .map_err(|reason| anyhow::anyhow!("cannot preview `{}`: {reason}", path.display()))?;
        let is_yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
        let yaml = if is_yaml {
            let mut text = String::new();
            std::io::Read::read_to_string(&mut opened.file.take(64 << 20), &mut text)
                .map_err(|e| anyhow::anyhow!("`{}` is not UTF-8 YAML: {e}", path.display()))?;
            let parsed = Yaml::parse(&text)
                .map_err(|e| anyhow::anyhow!("`{}`:{e}: malformed YAML", path.display()))?;
            Some((text, parsed))
        } else {
            None
        };
        files.push((path.display().to_string(), yaml));
    }
    let known: Vec<_> = files
        .iter()
        .filter_map(|(_, y)| y.as_ref())
        .flat_map(|(text, y)| redact::config_secrets(&rules, y, text))
        .collect();
    let known = redact::with_encodings(known);
    let engine = TextEngine::new(&rules, &known);
    let mut report = Vec::new();
    let mut total = 0;
    for (name, yaml) in &files {
        let mut hits = Vec::new();
        let mut on_hit = |hit: Hit| {
            if json {
                hits.push(hit);
            } else {
                let _ = writeln!(
                    out,
                    "{name}:{} {}: {}",
                    hit.line,
                    hit.rules.join(","),
                    hit.text
                );
            }
        };
        let preview = match yaml {
            Some((text, parsed)) => config(name, text, parsed, &rules, &engine, &mut on_hit)?,
            None => {
                let dir = std::path::Path::new(name)
                    .parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                let opened = crate::safe_fs::open_in_dir(
                    dir,
                    std::path::Path::new(name).file_name().unwrap_or_default(),
                )
                .map_err(|reason| anyhow::anyhow!("cannot preview `{name}`: {reason}"))?;
                log(name, opened.file, &engine, u64::MAX, &mut on_hit)?
            }
        };
        total += preview.total;
        if json {
            report.push(serde_json::json!({"file": preview.file, "total": preview.total, "by_rule": preview.by_rule, "redactions": hits}));
        }
    }
    Ok(Previewed {
        total,
        json: json.then(|| serde_json::json!({"total": total, "files": report})),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_count_and_show_redacted_lines_only() {
        let rules = RuleSet::load(&[] as &[&str]).unwrap();
        let engine = TextEngine::new(&rules, &[]);
        let input = b"plain line\nGET /x?apikey=PREVIEWKEY1 ok\nanother\n";
        let mut hits = Vec::new();
        let p = log("a.log", &input[..], &engine, u64::MAX, &mut |h| {
            hits.push(h)
        })
        .unwrap();
        assert_eq!((p.total, p.complete), (1, true));
        assert_eq!(hits.len(), 1);
        assert_eq!(hits[0].line, 2);
        assert_eq!(hits[0].rules, vec!["query_secret"]);
        assert_eq!(hits[0].text, "GET /x?apikey=REDACTED_QUERY_SECRET ok");

        let p = log("a.log", &input[..], &engine, 12, &mut |_| {}).unwrap();
        assert!(!p.complete, "a limit that cuts the file is reported");

        let text = "edgemicro:\n  redisPassword: PREVIEWPW22\n";
        let mut hits = Vec::new();
        let p = config(
            "c.yaml",
            text,
            &Yaml::parse(text).unwrap(),
            &rules,
            &engine,
            &mut |h| hits.push(h),
        )
        .unwrap();
        assert_eq!(p.by_rule["password"], 1);
        assert_eq!(hits[0].text, "  redisPassword: REDACTED_PASSWORD");
        assert_eq!(hits[0].rules, vec!["password"]);
    }
}
