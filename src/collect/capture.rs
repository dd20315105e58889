//! The capture around the reproduction: tcpdump started before it, packaged after it.

use super::*;

/// Finds the targets, builds the filter, shows it, starts tcpdump. `Ok(Err(record))`: the
/// capture could not run (no target, no tcpdump, no permission); the bundle goes on without it.
pub(super) fn start_capture(
    settings: &Settings,
    spec: &crate::capture::CaptureSpec,
    front: &dyn FrontEnd,
    warnings: &mut Vec<String>,
) -> Result<std::result::Result<crate::capture::Running, Box<crate::capture::CaptureRecord>>> {
    let discovered = discover(settings)?;
    let found = crate::targets::discover(&discovered.configs, discovered.logs.newest());
    warnings.extend(found.warnings);
    let filter = crate::capture::filter(spec, &found.targets, warnings);
    for warning in warnings.iter() {
        front.say(&format!("warning: {warning}"));
    }
    if filter.is_none() && !spec.hosts.is_empty() {
        return Err(crate::exit::Fail::usage(
            format!("--capture-host: no address for {}", warnings.join("; ")),
            "name the target by its IP address, or a name this host resolves",
        )
        .into());
    }
    let Some((filter, used)) = filter else {
        return Ok(Err(Box::new(crate::capture::CaptureRecord {
            status: crate::model::CaptureStatus::Skipped,
            reason: Some("no target known: the configs have no proxies[].url, the logs no targetRequest errors with a valid host:port, or no name resolved".into()),
            hint: Some("name it with --capture-host HOST [--capture-port PORT]".into()),
            ..Default::default()
        })));
    };
    let payload = if spec.payload {
        "whole packets, payload NOT redacted"
    } else {
        "headers only"
    };
    let ports = crate::capture::target_ports(spec, &found.targets);
    front.say(&format!(
        "capturing on {} for at most {} s / {} bytes ({payload}): tcpdump '{filter}'",
        spec.interface, spec.seconds, spec.max_bytes
    ));
    Ok(crate::capture::start(spec, filter)
        .map(|mut running| {
            running.record.target_ports = ports;
            running.record.targets = used.clone();
            running
        })
        .map_err(|mut record| {
            record.targets = used;
            record
        }))
}

/// After the logs: a capture that ran is packaged with what its connections show; one that
/// could not run is a skipped source with its reason and hint.
pub(super) fn capture_stage(
    capture: Option<Captured>,
    found: &mut Discovery,
    writer: &mut BundleWriter,
    limits: &Limits,
) -> Result<(
    Option<crate::capture::CaptureRecord>,
    Vec<crate::analyze::Finding>,
)> {
    match capture {
        Some((Some(file), mut record)) => {
            let findings = package_capture(file, &mut record, writer, limits)?;
            Ok((Some(record), findings))
        }
        Some((None, record)) => {
            let reason = record.reason.clone().unwrap_or_default();
            found.skipped.push(Skipped {
                source: "capture".into(),
                reason: reason.clone(),
            });
            found.warnings.push(format!(
                "capture: {reason}; {}",
                record.hint.as_deref().unwrap_or("see the manifest")
            ));
            Ok((Some(record), Vec::new()))
        }
        None => Ok((None, Vec::new())),
    }
}

/// The pcap into `capture/targets.pcap` (whole packets, within the byte bound), and what the
/// connections in it show.
pub(super) fn package_capture(
    mut file: std::fs::File,
    record: &mut crate::capture::CaptureRecord,
    writer: &mut BundleWriter,
    limits: &Limits,
) -> Result<Vec<crate::analyze::Finding>> {
    const PATH: &str = "capture/targets.pcap";
    // pcaps hardly compress: what is left under --max-bundle-bytes bounds the copy too.
    let max = record.max_bytes.min(limits.room(writer.bytes_written()));
    let mut entry = writer.entry(PATH)?;
    let written = crate::capture::copy_bounded(&mut file, &mut entry, max)?;
    entry.finish("tcpdump", 0, false)?;
    record.file = Some(PATH.into());
    record.bytes = written;
    file.rewind()?;
    let segments = crate::analyze::pcap::segments(file.take(written))?;
    let conns = crate::analyze::pcap::connections(&segments, &record.target_ports);
    Ok(crate::analyze::pcap::findings(&conns, PATH))
}
