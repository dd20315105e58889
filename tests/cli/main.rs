//! Integration tests: the real binary on real files, zips opened by the real `unzip`.

mod harness;

mod analyze;
mod ansible;
mod bad_input;
mod capture;
mod collect;
mod contract;
mod corpus;
mod fleet;
mod hostile;
mod house;
mod install;
mod journal;
mod leaks;
mod loglevel;
mod perf;
mod pseudonyms;
mod report_page;
mod shapes;
mod signals;
mod snapshots;
mod verify;
mod wizard;
