//! Before anything is read: the log-level switch (and reload), the capture started, the wait
//! for the operator's reproduction, the capture finished. The switch is restored when dropped,
//! on any error or signal.

use super::*;

/// A capture's pcap (a temporary file; `None` when it did not run) and its record.
pub(super) type Captured = (Option<std::fs::File>, crate::capture::CaptureRecord);

pub(super) struct Reproduced {
    pub(super) switch: Option<loglevel::Switch>,
    pub(super) capture: Option<Captured>,
    pub(super) capture_warnings: Vec<String>,
}

pub(super) fn reproduce(
    settings: &Settings,
    front: &dyn FrontEnd,
    interrupt: &Interrupt,
) -> Result<Reproduced> {
    let switch = match &settings.log_level {
        Some(level) => {
            let target = loglevel::Target::find(&settings.config_dir, settings.pair.clone())?;
            // --reload needs the key, the secret and edgemicro: checked before anything changes.
            if settings.reload {
                loglevel::check_reload()?;
            }
            Some(loglevel::Switch::set(target, *level)?)
        }
        None => None,
    };
    let mut capture_warnings = Vec::new();
    let capture = match &settings.capture {
        Some(spec) => Some(start_capture(settings, spec, front, &mut capture_warnings)?),
        None => None,
    };
    if let Some(switch) = &switch {
        let before = switch.before.as_deref().unwrap_or("unset");
        front.say(&format!(
            "edgemicro.logging.level: {before} -> {} in {}",
            switch.during,
            switch.target().file.display()
        ));
        if settings.reload {
            let said = loglevel::reload(switch.target())?;
            front.say(&format!("edgemicro reload: {said}"));
        } else {
            front.say(&switch.target().pickup_hint());
        }
        if let Some(warning) = loglevel::header_warning(switch.during) {
            front.say(&format!("warning: {warning}"));
        }
    }
    if switch.is_some() || capture.is_some() {
        front.reproduce(switch.as_ref(), interrupt)?;
    }
    let capture = match capture {
        Some(Ok(running)) => Some(
            running
                .finish(front.reproduction_ends_capture(), interrupt)
                .map(|(file, record)| (Some(file), record))?,
        ),
        Some(Err(record)) => Some((None, *record)),
        None => None,
    };
    Ok(Reproduced {
        switch,
        capture,
        capture_warnings,
    })
}

/// Puts the level back (and reloads with --reload): the manifest's `log_level` record.
pub(super) fn restore(
    switch: loglevel::Switch,
    settings: &Settings,
    warnings: &mut Vec<String>,
) -> crate::model::LevelRecord {
    let target = switch.target().clone();
    let mut record = crate::model::LevelRecord {
        file: target.file.clone(),
        before: switch.before.clone(),
        during: switch.during,
        restored: false,
        reloaded: None,
        reload_command: target.reload_command(),
    };
    match switch.restore() {
        Ok(()) => {
            record.restored = true;
            if settings.reload {
                match loglevel::reload(&target) {
                    Ok(said) => record.reloaded = Some(said),
                    Err(e) => warnings.push(format!("the level was restored in the file, but `edgemicro reload` failed ({e:#}); run: {}", target.reload_command())),
                }
            }
        }
        Err(e) => warnings.push(format!(
            "the log level was NOT restored ({e:#}); run `edgemicro-diag log-level restore`"
        )),
    }
    record
}
