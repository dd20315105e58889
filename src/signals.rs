//! SIGINT, SIGTERM and SIGHUP (an ssh session dropped mid-incident) become a flag that long
//! loops check, so every exit path runs the same
//! cleanup (the `.partial` removed by its guard, the log level restored) and ends with 130,
//! 143 or 129.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::exit::Fail;

#[derive(Clone)]
pub(crate) struct Interrupt(Arc<AtomicUsize>);

/// The one flag of this process, once handlers are installed.
static INSTALLED: OnceLock<Interrupt> = OnceLock::new();

impl Interrupt {
    /// Installs the handlers (once per process) and returns the flag.
    pub(crate) fn install() -> std::io::Result<Interrupt> {
        if let Some(installed) = INSTALLED.get() {
            return Ok(installed.clone());
        }
        let flag = Arc::new(AtomicUsize::new(0));
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            signal_hook::flag::register_usize(signal, Arc::clone(&flag), signal as usize)?;
        }
        Ok(INSTALLED.get_or_init(|| Interrupt(flag)).clone())
    }

    /// The installed flag, for code deep in a read that must give up on a signal; `None`
    /// before `install` (a signal then ends the process the default way).
    pub(crate) fn current() -> Option<Interrupt> {
        INSTALLED.get().cloned()
    }

    /// `Err` once a signal arrived; call it between units of work.
    pub(crate) fn check(&self) -> Result<(), Fail> {
        match self.0.load(Ordering::Relaxed) {
            0 => Ok(()),
            signal => Err(Fail::interrupted(signal as i32)),
        }
    }

    /// `check` at the start of a named stage (`discover`, `seal`). Debug builds only, for the
    /// signal and race tests: `EDGEMICRO_DIAG_TEST_STALL=STAGE[:SECONDS]` waits there (for a
    /// signal, at most SECONDS, 30 by default) after printing `stalled at STAGE`, so a real
    /// `kill` or a second run lands in that stage every time.
    pub(crate) fn stage(&self, name: &str) -> Result<(), Fail> {
        #[cfg(debug_assertions)]
        if let Some(seconds) = stall_seconds(name) {
            eprintln!("stalled at {name}");
            let until = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
            while std::time::Instant::now() < until {
                self.check()?;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        #[cfg(not(debug_assertions))]
        let _ = name;
        self.check()
    }
}

/// A stall at a named step where no signal flag is at hand (the log-level switch). Debug builds
/// only, for the crash tests: `EDGEMICRO_DIAG_TEST_STALL=STEP[:SECONDS]` prints
/// `stalled at STEP` and sleeps, so a test can `kill -9` the tool exactly there.
pub(crate) fn test_stall(name: &str) {
    #[cfg(debug_assertions)]
    if let Some(seconds) = stall_seconds(name) {
        eprintln!("stalled at {name}");
        std::thread::sleep(std::time::Duration::from_secs(seconds));
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

/// `EDGEMICRO_DIAG_TEST_STALL=STEP[:SECONDS]` names this step: how long to stall (30 s by
/// default).
#[cfg(debug_assertions)]
fn stall_seconds(name: &str) -> Option<u64> {
    let spec = std::env::var("EDGEMICRO_DIAG_TEST_STALL").ok()?;
    match spec.split_once(':') {
        Some((step, secs)) if step == name => secs.parse().ok(),
        None if spec == name => Some(30),
        _ => None,
    }
}
