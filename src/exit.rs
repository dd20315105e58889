//! The closed set of exit codes (README "Exit codes") and the one place errors become codes.
//!
//! Bots branch on these numbers, so no other module returns a raw integer: domain code returns
//! `Ok(Exit)` for success or a partial bundle, or an error; `Exit::of_error` maps errors here.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Exit {
    /// Bundle complete.
    Ok = 0,
    /// Failed; nothing left behind.
    Failure = 1,
    /// Usage error: bad flag, missing TTY for the wizard, output already exists.
    Usage = 2,
    /// Bundle written, but something was skipped or truncated (listed in manifest and JSON).
    Partial = 3,
    /// `verify` found a mismatch, or the leak self-check refused to seal a bundle.
    Integrity = 4,
    /// The terminal went away: SIGHUP (128 + 1).
    HungUp = 129,
    /// Interrupted by SIGINT (128 + 2).
    Interrupted = 130,
    /// Terminated by SIGTERM (128 + 15).
    Terminated = 143,
}

impl Exit {
    /// Every code the tool exits with (the JSON Schema lists them from here).
    #[cfg(test)]
    pub(crate) const ALL: [Exit; 8] = [
        Exit::Ok,
        Exit::Failure,
        Exit::Usage,
        Exit::Partial,
        Exit::Integrity,
        Exit::HungUp,
        Exit::Interrupted,
        Exit::Terminated,
    ];

    pub(crate) fn code(self) -> u8 {
        self as u8
    }

    /// "ok" | "partial" | "failed", the `status` field of the JSON report.
    pub(crate) fn status(self) -> &'static str {
        match self {
            Exit::Ok => "ok",
            Exit::Partial => "partial",
            _ => "failed",
        }
    }

    /// Maps an error to its exit code: typed errors carry their own, anything else is a failure.
    pub(crate) fn of_error(err: &anyhow::Error) -> Exit {
        err.chain()
            .find_map(|cause| {
                cause.downcast_ref::<Fail>().or_else(|| {
                    // A `Fail` carried inside an I/O error (a signal seen while writing).
                    cause
                        .downcast_ref::<std::io::Error>()
                        .and_then(|e| e.get_ref())
                        .and_then(|e| e.downcast_ref::<Fail>())
                })
            })
            .map(|f| f.exit)
            .unwrap_or(Exit::Failure)
    }
}

/// An error whose exit code is not 1, with an optional hint printed on its own line.
#[derive(Debug)]
pub(crate) struct Fail {
    pub(crate) exit: Exit,
    pub(crate) message: String,
    pub(crate) hint: Option<String>,
}

impl Fail {
    pub(crate) fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Fail {
            exit: Exit::Usage,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub(crate) fn integrity(message: impl Into<String>) -> Self {
        Fail {
            exit: Exit::Integrity,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn failure(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Fail {
            exit: Exit::Failure,
            message: message.into(),
            hint: Some(hint.into()),
        }
    }

    pub(crate) fn interrupted(signal: i32) -> Self {
        let exit = match signal {
            libc::SIGTERM => Exit::Terminated,
            libc::SIGHUP => Exit::HungUp,
            _ => Exit::Interrupted,
        };
        Fail {
            exit,
            message: "interrupted; nothing was left behind".into(),
            hint: None,
        }
    }
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Fail {}

/// The hint of the first `Fail` in an error chain, if any.
pub(crate) fn hint_of(err: &anyhow::Error) -> Option<&str> {
    err.chain()
        .find_map(|c| c.downcast_ref::<Fail>().and_then(|f| f.hint.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_errors_keep_their_code_through_context() {
        let err = anyhow::Error::new(Fail::integrity("bad")).context("verifying x.zip");
        assert_eq!(Exit::of_error(&err), Exit::Integrity);
        assert_eq!(Exit::of_error(&anyhow::anyhow!("plain")), Exit::Failure);
        assert_eq!(
            Exit::of_error(&Fail::interrupted(libc::SIGTERM).into()),
            Exit::Terminated
        );
    }
}
