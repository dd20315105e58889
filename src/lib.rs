//! edgemicro-diag as a library: the engine behind the binary, public so benches and the
//! binary share one implementation. The data flow is discover → plan → collect → redact →
//! package → report (`collect.rs`); `app.rs` dispatches the command line.

pub mod analysis;
pub mod analyze;
pub mod app;
pub mod bundle;
pub mod capture;
pub mod child;
pub mod cli;
pub mod collect;
pub mod container;
pub mod discover;
pub mod dry_run;
pub mod envelope;
pub mod exit;
pub mod facts;
pub mod html;
pub mod lines;
pub mod loglevel;
pub mod model;
pub mod preview;
pub mod priority;
pub mod progress;
pub mod record;
pub mod redact;
pub mod report;
pub mod running;
pub mod safe_fs;
pub mod settings;
pub mod signals;
pub mod stdout;
pub mod targets;
pub mod units;
pub mod window;
pub mod wizard;
pub mod yaml;
