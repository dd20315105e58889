//! The one place a subcommand's outcome becomes output and an exit code. With `--json`: the
//! one enveloped object (`envelope.rs`) on stdout, or on stderr when stdout carries the zip.
//! For people: the answer on stdout; notes, errors and hints on stderr, each through
//! `safe_fs::shown` so text from a file cannot drive the terminal.

use crate::envelope;
use crate::exit::{hint_of, Exit};
use crate::stdout::out;

/// What a subcommand that ran has to say.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) exit: Exit,
    /// The command's own JSON fields (an object, or null).
    pub(crate) fields: serde_json::Value,
    /// For people, on stdout: the answer itself (a level, a bundle's path, a rule per line).
    pub(crate) stdout: Vec<String>,
    /// For people, on stderr: summaries, warnings and hints.
    pub(crate) stderr: Vec<String>,
    /// Parts that failed while the command ran on (verify's bundles, a collect that failed
    /// after its report was made): each printed as an error with its hint; the first is the
    /// envelope's `error` and `hint`.
    pub(crate) failures: Vec<(String, Option<String>)>,
    /// `collect -o -`: stdout carries the zip, so the JSON object goes to stderr.
    pub(crate) json_on_stderr: bool,
    /// collect's report with `--json`: streamed as the fields (its list of files may be too
    /// long to hold as a JSON tree: 100 000 files made one of 100 MB).
    pub(crate) report: Option<Box<crate::report::Report>>,
}

impl Answer {
    pub(crate) fn ok(fields: serde_json::Value) -> Answer {
        Answer {
            exit: Exit::Ok,
            fields,
            stdout: Vec::new(),
            stderr: Vec::new(),
            failures: Vec::new(),
            json_on_stderr: false,
            report: None,
        }
    }

    /// A line of the answer on stdout.
    pub(crate) fn say(mut self, line: impl Into<String>) -> Answer {
        self.stdout.push(line.into());
        self
    }

    /// A line for people on stderr.
    pub(crate) fn note(mut self, line: impl Into<String>) -> Answer {
        self.stderr.push(line.into());
        self
    }

    /// One part failed; the command carries on and `exit` is the worst code seen. Gives the
    /// part's own exit code.
    pub(crate) fn failed_part(&mut self, err: &anyhow::Error) -> Exit {
        let exit = Exit::of_error(err);
        if self.exit == Exit::Ok || exit.code() > self.exit.code() {
            self.exit = exit;
        }
        self.failures
            .push((format!("{err:#}"), hint_of(err).map(str::to_string)));
        exit
    }
}

/// With `--json`, `value` as the command's fields; for people, the text `print` writes, on
/// stdout. Only the one asked for is made.
pub(crate) fn of_value<T: serde::Serialize>(
    json: bool,
    value: &T,
    print: impl FnOnce(&T, &mut Vec<u8>) -> std::io::Result<()>,
) -> anyhow::Result<Answer> {
    if json {
        return Ok(Answer::ok(serde_json::to_value(value)?));
    }
    Ok(Answer::ok(serde_json::Value::Null).say(printed(|out| print(value, out))?))
}

/// What `print` writes, as one block of text without its last newline.
fn printed(print: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> std::io::Result<String> {
    let mut text = Vec::new();
    print(&mut text)?;
    Ok(String::from_utf8_lossy(&text).trim_end().to_string())
}

/// How collect and the wizard answer: the summary for people on stderr and the bundle's path
/// on stdout (not with `-o -`, where stdout is the zip, nor with `quiet`); the JSON object, on
/// stderr when stdout carries the zip. With `json` the report itself is the fields, streamed
/// when printed.
pub(crate) fn of_report(
    report: crate::report::Report,
    json: bool,
    quiet: bool,
    zip_on_stdout: bool,
) -> Answer {
    let mut answer = Answer::ok(serde_json::Value::Null);
    answer.exit = report.exit;
    answer.json_on_stderr = zip_on_stdout;
    match &report.error {
        Some(error) => answer.failures.push((error.clone(), report.hint.clone())),
        None => {
            if !quiet && !json {
                let text = printed(|out| report.print_human(out)).unwrap_or_default();
                answer.stderr.push(text);
            }
            if let (false, Some(bundle)) = (zip_on_stdout, &report.bundle) {
                answer.stdout.push(bundle.clone());
            }
        }
    }
    answer.report = json.then(|| Box::new(report));
    answer
}

/// Prints `outcome` for `command` and gives its exit code: the only place that does.
pub(crate) fn emit(command: &str, json: bool, outcome: anyhow::Result<Answer>) -> Exit {
    match outcome {
        Ok(answer) if json => {
            let (error, hint) = match answer.failures.first() {
                Some((error, hint)) => (Some(error.as_str()), hint.as_deref()),
                None => (None, None),
            };
            if let Some(report) = &answer.report {
                let write = |out: &mut dyn std::io::Write| {
                    envelope::write(out, command, answer.exit, error, hint, report)
                };
                match answer.json_on_stderr {
                    true => drop(write(&mut std::io::stderr().lock())),
                    false => crate::stdout::stream(write),
                }
                return answer.exit;
            }
            let text = envelope::render(command, answer.exit, error, hint, answer.fields);
            match answer.json_on_stderr {
                true => eprintln!("{text}"),
                false => out!("{text}"),
            }
            answer.exit
        }
        Ok(answer) => {
            use crate::safe_fs::shown;
            answer.stdout.iter().for_each(|l| out!("{}", shown(l)));
            answer.stderr.iter().for_each(|l| eprintln!("{}", shown(l)));
            for (error, hint) in &answer.failures {
                print_error(error, hint.as_deref());
            }
            answer.exit
        }
        Err(err) if json => {
            let (exit, text) = envelope::failure(command, &err);
            out!("{text}");
            exit
        }
        Err(err) => {
            print_error(&format!("{err:#}"), hint_of(&err));
            Exit::of_error(&err)
        }
    }
}

fn print_error(error: &str, hint: Option<&str>) {
    use crate::safe_fs::shown;
    eprintln!("edgemicro-diag: error: {}", shown(error));
    if let Some(hint) = hint {
        eprintln!("hint: {}", shown(hint));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_failed_part_gives_the_exit_code() {
        let mut answer = Answer::ok(serde_json::Value::Null);
        answer.failed_part(&anyhow::anyhow!("not a zip"));
        assert_eq!(answer.exit, Exit::Failure);
        answer.failed_part(&crate::exit::Fail::integrity("sha256 differs").into());
        assert_eq!(answer.exit.code(), 4);
        answer.failed_part(&anyhow::anyhow!("another"));
        assert_eq!(
            answer.exit.code(),
            4,
            "a later, milder failure keeps the worst"
        );
        assert_eq!(answer.failures.len(), 3);
        assert_eq!(answer.failures[1].0, "sha256 differs");
    }
}
