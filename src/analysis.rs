//! The analyze flow, `edgemicro-diag analyze [BUNDLE.zip]`: the triage on this host (configs, logs, probes) or on a
//! bundle (its configs, logs, facts and capture), concluded into findings. On a host the logs
//! go through the same redaction engine as `collect`, so sample lines never show a secret; a
//! bundle's logs are redacted already.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use serde::Serialize;

use crate::analyze::keepalive::{self, KeepAlive, Probe};
use crate::analyze::logs::{Scan, Triage};
use crate::analyze::{conclude, Evidence, Finding};
use crate::yaml::Yaml;

pub(crate) struct Request {
    /// Bundles to analyze as one (their logs together); none: this host.
    pub(crate) bundles: Vec<PathBuf>,
    /// For a host: where EMG is (as `collect` resolves it).
    pub(crate) settings: crate::settings::Settings,
    pub(crate) probes: Vec<String>,
    pub(crate) probe_targets: bool,
    pub(crate) probe_max: Duration,
    /// `--probe-insecure`: accept any certificate (as `rejectUnauthorized: false` does).
    pub(crate) probe_insecure: bool,
    pub(crate) lb_idle_timeout_s: Option<u64>,
}

#[derive(Serialize)]
pub(crate) struct Analysis {
    pub(crate) schema_version: u32,
    pub(crate) source: String,
    pub(crate) findings: Vec<Finding>,
    /// Client or LB → EMG → target, each side's idle timeout and whether the order holds.
    pub(crate) hops: Vec<crate::analyze::hops::Hop>,
    pub(crate) logs: Triage,
    pub(crate) keepalive: KeepAlive,
    pub(crate) probes: Vec<Probe>,
    /// What a bundle's manifest lists (for report.html); empty on a host.
    #[serde(skip)]
    pub(crate) manifest: Listed,
}

/// A bundle's entries, skipped items and redaction counts, from its manifest.
#[derive(Default)]
pub(crate) struct Listed {
    pub(crate) files: Vec<crate::bundle::FileEntry>,
    pub(crate) skipped: Vec<crate::model::Skipped>,
    pub(crate) by_rule: Vec<(String, u64)>,
}

impl Analysis {
    /// report.html for this analysis: the same page `collect` puts into a bundle.
    pub(crate) fn html(&self) -> String {
        let by_file: Vec<(String, u64)> = self
            .manifest
            .files
            .iter()
            .map(|f| (f.path.clone(), f.redactions))
            .collect();
        crate::html::render(&crate::html::Page {
            title: "edgemicro-diag report".into(),
            subject: format!(
                "Analysis of {} at {}",
                self.source,
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
            ),
            findings: &self.findings,
            triage: &self.logs,
            hops: &self.hops,
            marks: Vec::new(),
            files: crate::html::Rows::of(&self.manifest.files),
            skipped: crate::html::Rows::of(&self.manifest.skipped),
            by_rule: self.manifest.by_rule.clone(),
            by_file: crate::html::Rows::of(&by_file),
        })
    }
}

pub(crate) fn run(req: Request) -> Result<Analysis> {
    let (source, triage, keepalive, capture, targets, manifest) = match req.bundles.as_slice() {
        [_, ..] => from_bundles(&req.bundles)?,
        [] => from_host(&req.settings)?,
    };
    let mut urls = req.probes.clone();
    if req.probe_targets {
        urls.extend(targets.iter().map(|t| {
            let scheme = if t.tls { "https" } else { "http" };
            format!("{scheme}://{t}/")
        }));
    }
    urls.dedup();
    // Probes wait for idle closes: run them side by side, each bounded by --probe-max-seconds.
    let probes: Vec<Probe> = std::thread::scope(|s| {
        let handles: Vec<_> = urls
            .iter()
            .map(|u| s.spawn(|| keepalive::probe(u, req.probe_max, req.probe_insecure)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("probe thread"))
            .collect()
    });
    let node = triage.versions.get("nodejs").map(String::as_str);
    let findings = conclude(Evidence {
        node,
        triage: &triage,
        keepalive: &keepalive,
        probes: &probes,
        lb_idle_timeout_s: req.lb_idle_timeout_s,
        capture,
    });
    let hops = crate::analyze::hops::chain(
        &keepalive,
        req.lb_idle_timeout_s,
        &probes,
        &triage.idle.estimates(),
        &findings,
        node,
    );
    Ok(Analysis {
        schema_version: crate::envelope::SCHEMA_VERSION,
        source,
        findings,
        hops,
        logs: triage,
        keepalive,
        probes,
        manifest,
    })
}

/// The most of a bundle's pcap that `analyze` reads.
const MAX_PCAP: u64 = 256 << 20;

type Gathered = (
    String,
    Triage,
    KeepAlive,
    Vec<Finding>,
    Vec<crate::targets::Target>,
    Listed,
);

fn from_host(settings: &crate::settings::Settings) -> Result<Gathered> {
    let plan =
        crate::collect::Plan::build(settings, crate::redact::RuleSet::load(&settings.rules)?)?;
    let mut triage = Triage::default();
    for log in plan.found.logs.newest_first() {
        let log = log?;
        let dir = log.path.parent().unwrap_or(Path::new("/"));
        let Ok(opened) = crate::safe_fs::open_in_dir(dir, log.path.file_name().unwrap_or_default())
        else {
            continue;
        };
        triage.start_file();
        let file = opened.file.take(log.size);
        if log.gz {
            let inflated = flate2::read::MultiGzDecoder::new(file).take(MAX_GZ_INFLATED);
            triage_stream(&mut triage, inflated)?;
        } else {
            triage_stream(&mut triage, file)?;
        }
    }
    // The triage reads the logs as they are (fast, and error codes intact); what it shows
    // (sample lines, proxy paths, target names) goes through the same redaction as `collect`.
    let engine = plan.engine();
    triage.redact_shown(|text| {
        let mut out = Vec::new();
        engine.file().line(text.as_bytes(), false, &mut out);
        String::from_utf8_lossy(&out).into_owned()
    });
    let keepalive = keepalive::from_configs(
        plan.found
            .configs
            .iter()
            .map(|c| (c.name.as_str(), &c.yaml)),
        keepalive::os_keepalive(),
    );
    let targets = crate::targets::discover(&plan.found.configs, plan.found.logs.newest()).targets;
    Ok((
        format!("this host ({})", settings.config_dir.value.display()),
        triage,
        keepalive,
        Vec::new(),
        targets,
        Listed::default(),
    ))
}

/// The most a gzip-rotated log is inflated to (as `collect` bounds it).
const MAX_GZ_INFLATED: u64 = 8 << 30;
/// Logs are triaged a block of whole lines at a time.
const BLOCK: usize = 1 << 20;

/// Feeds `reader` to the triage in blocks of whole lines; a line longer than a block is cut.
/// One thread reads and scans each block for the lines worth parsing (the stateless, costly
/// half), while this one parses them in order: on two cores, about half the wall time.
fn triage_stream(triage: &mut Triage, mut reader: impl Read + Send) -> Result<()> {
    use std::sync::mpsc::sync_channel;
    // One block scanned ahead, one parsed, one read: memory stays at a few blocks.
    let (scanned, blocks) = sync_channel::<(Vec<u8>, usize, Scan)>(1);
    let (spare, spares) = sync_channel::<Vec<u8>>(4);
    std::thread::scope(|s| {
        let scanner = s.spawn(move || -> Result<()> {
            let mut block = vec![0; BLOCK];
            let mut filled = 0;
            loop {
                let n = match reader.read(&mut block[filled..]) {
                    Ok(n) => n,
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e.into()),
                };
                filled += n;
                if n == 0 || filled == block.len() {
                    let whole = if n == 0 {
                        filled
                    } else {
                        memchr::memrchr(b'\n', &block[..filled]).map_or(filled, |at| at + 1)
                    };
                    let scan = Scan::of(&block[..whole]);
                    let mut next = spares.try_recv().unwrap_or_else(|_| vec![0; BLOCK]);
                    next[..filled - whole].copy_from_slice(&block[whole..filled]);
                    if scanned.send((block, whole, scan)).is_err() {
                        return Ok(());
                    }
                    block = next;
                    filled -= whole;
                    if n == 0 {
                        return Ok(());
                    }
                }
            }
        });
        for (block, whole, scan) in blocks {
            triage.scanned(&block[..whole], &scan);
            let _ = spare.try_send(block);
        }
        scanner
            .join()
            .map_err(|_| anyhow::anyhow!("the log scanner stopped unexpectedly"))?
    })
}

/// Calls `f` with each entry of a bundle: a zip, or a directory it was unzipped into (regular
/// files only, links never followed, names with `/` as in the zip).
fn each_entry(
    path: &Path,
    mut f: impl FnMut(&str, &mut (dyn Read + Send)) -> Result<()>,
) -> Result<()> {
    if path.is_dir() {
        let found = crate::safe_fs::walk(path)
            .with_context(|| format!("cannot read `{}`", path.display()))?;
        for entry in found
            .iter()
            .filter(|e| e.kind == crate::safe_fs::Walked::File)
        {
            let opened = crate::safe_fs::open_in_dir(&entry.dir, &entry.file_name)
                .map_err(|why| anyhow::anyhow!("`{}`: {why}", entry.name))?;
            f(&entry.name, &mut opened.file.take(u64::MAX))?;
        }
        return Ok(());
    }
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open `{}`", path.display()))?;
    let mut zip = zip::ZipArchive::new(file)
        .with_context(|| format!("`{}` is not a readable zip", path.display()))?;
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i)?;
        let name = String::from_utf8_lossy(entry.name_raw()).to_string();
        f(&name, &mut entry)?;
    }
    Ok(())
}

/// One analysis of every log in `paths` (gateways behind one load balancer share targets):
/// configs and manifests of all, each bundle's capture read with its own target ports.
fn from_bundles(paths: &[PathBuf]) -> Result<Gathered> {
    let mut configs: Vec<(String, Yaml)> = Vec::new();
    let mut sysctl: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut triage = Triage::default();
    let mut capture = Vec::new();
    let mut listed = Listed::default();
    for path in paths {
        let mut pcap = None;
        let mut ports: Vec<u16> = Vec::new();
        each_entry(path, |name, entry| {
            if name.starts_with("logs/") {
                triage.start_file();
                triage_stream(&mut triage, entry)?;
            } else if name.starts_with("config/") && name.ends_with(".yaml") {
                let mut text = String::new();
                entry.take(32 << 20).read_to_string(&mut text)?;
                configs.push((
                    name.trim_start_matches("config/").to_string(),
                    Yaml::parse(&text).with_context(|| format!("{name} in the bundle"))?,
                ));
            } else if name == "system/facts.json" {
                let facts: crate::facts::FactsView = serde_json::from_reader(entry.take(16 << 20))
                    .context("system/facts.json in the bundle")?;
                sysctl = facts
                    .sysctl
                    .into_iter()
                    .filter(|(k, _)| k.contains("keepalive"))
                    .collect();
            } else if name == "manifest.json" {
                let manifest: crate::bundle::ManifestView =
                    serde_json::from_reader(entry.take(64 << 20))
                        .context("manifest.json in the bundle")?;
                listed.files.extend(manifest.files);
                listed.skipped.extend(manifest.skipped);
                for (rule, n) in manifest.redaction.by_rule {
                    match listed.by_rule.iter_mut().find(|(r, _)| *r == rule) {
                        Some((_, sum)) => *sum += n,
                        None => listed.by_rule.push((rule, n)),
                    }
                }
                ports = manifest.capture.map(|c| c.target_ports).unwrap_or_default();
            } else if name == "capture/targets.pcap" {
                // Streamed, and bounded: a bundle is untrusted input (our captures stop at 50 MiB
                // unless told otherwise).
                pcap = Some(crate::analyze::pcap::segments(entry.take(MAX_PCAP))?);
            }
            Ok(())
        })?;
        if let Some(segments) = pcap {
            capture.extend(crate::analyze::pcap::findings(
                &crate::analyze::pcap::connections(&segments, &ports),
                "capture/targets.pcap",
            ));
        }
    }
    let keepalive = keepalive::from_configs(configs.iter().map(|(n, y)| (n.as_str(), y)), sysctl);
    Ok((
        match paths {
            [one] => format!("bundle {}", one.display()),
            many => format!(
                "bundles {}",
                many.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        },
        triage,
        keepalive,
        capture,
        Vec::new(),
        listed,
    ))
}

/// The human view: findings first, then the counts behind them.
pub(crate) fn print(a: &Analysis, out: &mut impl std::io::Write) -> std::io::Result<()> {
    writeln!(
        out,
        "analyzed {}: {} log line(s) in {} file(s)",
        a.source, a.logs.lines, a.logs.files
    )?;
    let t = &a.logs.totals;
    writeln!(
        out,
        "logs: 502 {}, 504 {}, socket hang up {}, ECONNRESET {}, ETIMEDOUT {}, ECONNREFUSED {}{}",
        t.status_502,
        t.status_504,
        t.socket_hang_up,
        t.econnreset,
        t.etimedout,
        t.econnrefused,
        match (&a.logs.first, &a.logs.last) {
            (Some(f), Some(l)) => format!(" (first {f}, last {l})"),
            _ => String::new(),
        }
    )?;
    let k = &a.keepalive;
    writeln!(
        out,
        "keep-alive: EMG keep_alive_timeout {} ms{}, request_timeout {}, OS tcp_keepalive_time {} s",
        k.keep_alive_timeout_ms,
        if k.keep_alive_timeout_set { "" } else { " (Node default)" },
        k.request_timeout_s.map_or("unset".into(), |s| format!("{s} s")),
        k.os.get("net.ipv4.tcp_keepalive_time").cloned().flatten().unwrap_or_else(|| "?".into())
    )?;
    for p in &a.probes {
        match (&p.error, p.idle_close_s) {
            (Some(e), _) => writeln!(out, "probe {}: {e}", p.url)?,
            (None, Some(s)) => writeln!(
                out,
                "probe {}: closes idle connections after {s:.2} s (Keep-Alive header: {})",
                p.url,
                p.keep_alive_header.as_deref().unwrap_or("none")
            )?,
            (None, None) => writeln!(
                out,
                "probe {}: still open after {:.0} s idle",
                p.url, p.waited_s
            )?,
        }
    }
    for f in &a.findings {
        writeln!(
            out,
            "\n{} ({}): {}\n  next: {}",
            f.id, f.severity, f.summary, f.next_step
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out a few bytes at a time, so lines straddle every block boundary.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.1.min(buf.len()).min(self.0.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    #[test]
    fn the_two_thread_stream_agrees_with_line_by_line_triage() {
        let mut log = String::new();
        for i in 0..60_000u32 {
            let (s, m, ms) = (i % 60, (i / 60) % 60, i % 1000);
            log += &format!("2021-06-23T03:{m:02}:{s:02}.{ms:03}Z [info][10.1.2.3:8080][3][o][e][p/q][][][c{i}][plugins-middleware][targetResponse][GET][200][][][5]\n");
            if i % 7 == 0 {
                log += &format!("2021-06-23T03:{m:02}:{s:02}.{ms:03}Z [error][0:8000][3][o][e][p/q][][][d{i}][microgateway-core][][GET][502][socket hang up][ECONNRESET][]\n");
            }
        }
        assert!(log.len() > 3 * BLOCK, "several blocks");
        let mut by_line = Triage::default();
        log.lines().for_each(|l| by_line.line(l.as_bytes()));
        for step in [7, 4096, BLOCK + 13] {
            let mut streamed = Triage::default();
            triage_stream(&mut streamed, Trickle(log.as_bytes(), step)).unwrap();
            assert_eq!(streamed.lines, by_line.lines, "reads of {step} bytes");
            assert_eq!(streamed.totals, by_line.totals, "reads of {step} bytes");
            assert_eq!(streamed.target_responses, by_line.target_responses);
            assert_eq!(streamed.totals.status_502, 60_000 / 7 + 1);
        }
    }
}
