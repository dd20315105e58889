//! edgemicro-diag as a library: the engine behind the binary, public so benches and the
//! binary share one implementation. The data flow is discover → plan → collect → redact →
//! package → report (`collect.rs`); `app.rs` dispatches the command line.

#![deny(unreachable_pub)]

mod analysis;
mod analyze;
mod answer;
mod app;
mod bundle;
mod capture;
mod child;
mod cli;
mod collect;
mod container;
mod discover;
mod dry_run;
mod envelope;
mod exit;
mod facts;
mod html;
mod lines;
mod log_list;
mod loglevel;
mod model;
mod preview;
mod priority;
mod progress;
mod record;
mod redact;
mod report;
mod resolve;
mod running;
mod safe_fs;
/// Built at test time and published as schema/edgemicro-diag.schema.json; the binary never needs it.
#[cfg(test)]
mod schema;
mod settings;
mod signals;
mod spill;
mod stdout;
mod targets;
mod units;
mod window;
mod wizard;
mod yaml;

// The binary runs `main`; the install test renders `Cli` into completions and man pages; the
// benches and the fuzz tests drive the engines in `engine`. Everything else is crate-private.
pub use app::main;
pub use cli::Cli;

/// The engines the benches and the fuzz tests drive directly.
pub mod engine {
    pub use crate::analyze::logs::Triage;
    pub use crate::bundle::verify;
    pub use crate::redact::{
        config_secrets, redact_config, with_encodings, FileRedactor, FileReport, KnownSecret,
        RuleSet, TextEngine, MIN_LITERAL,
    };
    pub use crate::yaml::{ParseError, Yaml};
}
