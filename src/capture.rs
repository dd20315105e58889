//! A bounded `tcpdump` toward the targets while the problem is reproduced (support's
//! `tcpdump -i any -s 0 host TARGET -w FILE.pcap`, made safe for a shared host).
//!
//! Always bounded by time, bytes and packets, stopping at the first bound; filtered to the
//! targets' addresses and ports (both directions); header-only unless `--capture-payload`.
//! The filter is built from parsed values only (`targets.rs`): IP addresses (names are resolved
//! here) and port numbers, so no text from a log or a flag reaches tcpdump. tcpdump writes to a
//! pipe (`-w -`), never to a path: it cannot be pointed at a file by a planted symlink. The
//! tool copies whole packets from the pipe into an anonymous temp file (no name, nothing to
//! swap) and stops at the byte bound. tcpdump dies with the tool (`PR_SET_PDEATHSIG`, set by
//! `child::exec_tied` before the exec) and bounds itself in time too (an `alarm` that survives
//! the exec). A missing tcpdump or missing permission is a warning with the fix (exit 3).

use std::io::{BufRead, BufReader, Read, Seek, Write};
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::signals::Interrupt;
use crate::targets::{Host, Target};

/// Header-only snaplen: Linux SLL2 (20) + IPv6 (40) + TCP with options (60), rounded up.
pub(crate) const HEADER_SNAPLEN: u32 = 128;

#[derive(Debug, Clone)]
pub(crate) struct CaptureSpec {
    pub(crate) interface: String,
    /// `--capture-host`: replaces the discovered hosts.
    pub(crate) hosts: Vec<Host>,
    /// `--capture-port`: replaces the discovered ports.
    pub(crate) ports: Vec<u16>,
    pub(crate) seconds: u64,
    pub(crate) max_bytes: u64,
    pub(crate) max_packets: u64,
    pub(crate) payload: bool,
}

/// What the manifest and the JSON say about the capture.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct CaptureRecord {
    pub(crate) bytes: u64,
    pub(crate) file: Option<String>,
    pub(crate) filter: String,
    pub(crate) hint: Option<String>,
    pub(crate) interface: String,
    pub(crate) max_bytes: u64,
    pub(crate) max_packets: u64,
    pub(crate) packets_captured: Option<u64>,
    pub(crate) packets_dropped_by_kernel: Option<u64>,
    pub(crate) packets_received_by_filter: Option<u64>,
    pub(crate) reason: Option<String>,
    pub(crate) seconds: u64,
    pub(crate) snaplen: u32,
    pub(crate) status: crate::model::CaptureStatus,
    pub(crate) stopped_by: Option<&'static str>,
    /// The server side of the connections the analysis follows.
    pub(crate) target_ports: Vec<u16>,
    /// What the filter was built from, and where each target came from.
    pub(crate) targets: Vec<Target>,
    /// Whole packets were captured: the payload is NOT redacted.
    pub(crate) unredacted: bool,
}

/// The targets to capture: the flags' hosts and ports when given, else the discovered ones.
fn chosen(spec: &CaptureSpec, discovered: &[Target]) -> Vec<Target> {
    let ports: Vec<Option<u16>> = if spec.ports.is_empty() {
        vec![None]
    } else {
        spec.ports.iter().copied().map(Some).collect()
    };
    if spec.hosts.is_empty() && spec.ports.is_empty() {
        return discovered.to_vec();
    }
    if spec.hosts.is_empty() {
        // Ports alone: any host; recorded with the unspecified address.
        return spec
            .ports
            .iter()
            .map(|p| Target {
                host: Host::Ip(std::net::Ipv4Addr::UNSPECIFIED.into()),
                port: *p,
                source: "--capture-port".into(),
                tls: false,
            })
            .collect();
    }
    spec.hosts
        .iter()
        .flat_map(|h| {
            ports.iter().map(move |p| Target {
                host: h.clone(),
                port: p.unwrap_or(0),
                source: "--capture-host".into(),
                tls: false,
            })
        })
        .collect()
}

/// The BPF filter, from addresses and port numbers only: each target as `host IP and port P`,
/// both directions; overrides replace the hosts, the port, or both. Names are resolved here
/// (tcpdump would resolve them too); a name that does not resolve is dropped with a warning.
pub(crate) fn filter(
    spec: &CaptureSpec,
    discovered: &[Target],
    warnings: &mut Vec<String>,
) -> Option<(String, Vec<Target>)> {
    let mut used = Vec::new();
    let ports = |ports: &[u16]| {
        ports
            .iter()
            .map(|p| format!("port {p}"))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let hosts = |host: &Host, warnings: &mut Vec<String>| -> Option<String> {
        match crate::targets::addresses(host) {
            Ok(ips) => Some(
                ips.iter()
                    .map(|ip| format!("host {ip}"))
                    .collect::<Vec<_>>()
                    .join(" or "),
            ),
            Err(why) => {
                warnings.push(format!("capture: target {host} dropped: {why}"));
                None
            }
        }
    };
    let terms: Vec<String> = match (spec.hosts.is_empty(), spec.ports.is_empty()) {
        (false, true) => spec
            .hosts
            .iter()
            .filter_map(|h| hosts(h, warnings))
            .map(|h| format!("({h})"))
            .collect(),
        (false, false) => spec
            .hosts
            .iter()
            .filter_map(|h| hosts(h, warnings))
            .map(|h| format!("(({h}) and ({}))", ports(&spec.ports)))
            .collect(),
        (true, false) => vec![format!("({})", ports(&spec.ports))],
        (true, true) => discovered
            .iter()
            .filter_map(|t| {
                let h = hosts(&t.host, warnings)?;
                used.push(t.clone());
                Some(format!("(({h}) and port {})", t.port))
            })
            .collect(),
    };
    if !(spec.hosts.is_empty() && spec.ports.is_empty()) {
        used = chosen(spec, discovered);
    }
    (!terms.is_empty()).then(|| (format!("tcp and ({})", terms.join(" or ")), used))
}

/// The ports the analysis treats as the server side; empty: hosts were given without ports.
pub(crate) fn target_ports(spec: &CaptureSpec, discovered: &[Target]) -> Vec<u16> {
    let mut ports = match (spec.hosts.is_empty(), spec.ports.is_empty()) {
        (_, false) => spec.ports.clone(),
        (true, true) => discovered.iter().map(|t| t.port).collect(),
        (false, true) => Vec::new(),
    };
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// A running tcpdump, and the thread that copies its pcap stream into an anonymous file.
pub(crate) struct Running {
    child: Child,
    started: Instant,
    stderr: mpsc::Receiver<String>,
    /// Set by the copier when the next packet would pass the byte bound.
    full: Arc<AtomicBool>,
    copier: Option<std::thread::JoinHandle<std::io::Result<(std::fs::File, u64)>>>,
    pub(crate) record: CaptureRecord,
}

/// Starts tcpdump and waits until it says it is listening, so the reproduction is captured.
/// `Err(record)` when it could not start (missing binary, no permission): a warning, not a failure.
pub(crate) fn start(
    spec: &CaptureSpec,
    filter: String,
) -> std::result::Result<Running, Box<CaptureRecord>> {
    let snaplen = if spec.payload { 0 } else { HEADER_SNAPLEN };
    let mut record = CaptureRecord {
        status: crate::model::CaptureStatus::Skipped,
        interface: spec.interface.clone(),
        filter: filter.clone(),
        snaplen,
        seconds: spec.seconds,
        max_bytes: spec.max_bytes,
        max_packets: spec.max_packets,
        unredacted: spec.payload,
        ..Default::default()
    };
    // No name, so nothing another user can plant a link at; O_EXCL by construction.
    let file = match tempfile::tempfile() {
        Ok(f) => f,
        Err(e) => {
            record.reason = Some(format!(
                "cannot create the capture's temp file: {}",
                crate::safe_fs::io_reason(&e)
            ));
            return Err(Box::new(record));
        }
    };
    if which("tcpdump").is_none() {
        record.reason = Some("tcpdump is not installed (or not on PATH)".into());
        record.hint = Some("install it (apt-get install tcpdump, or yum install tcpdump) and run again; the rest of the bundle was written".into());
        return Err(Box::new(record));
    }
    // tcpdump bounds itself too: SIGALRM a little after our own time bound.
    let alarm = spec.seconds.saturating_add(30);
    let args = tcpdump_args(spec, snaplen, filter);
    let spawned = crate::child::tied("tcpdump", &args, alarm)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            record.reason = Some(format!(
                "cannot run tcpdump: {}",
                crate::safe_fs::io_reason(&e)
            ));
            return Err(Box::new(record));
        }
    };
    let stderr = stderr_lines(&mut child);
    let full = Arc::new(AtomicBool::new(false));
    let copier = spawn_copier(&mut child, file, spec.max_bytes, Arc::clone(&full));
    if let Err((reason, hint)) = until_listening(&mut child, &stderr) {
        record.reason = Some(reason);
        record.hint = Some(hint);
        return Err(Box::new(record));
    }
    Ok(Running {
        child,
        started: Instant::now(),
        stderr,
        full,
        copier: Some(copier),
        record,
    })
}

/// tcpdump's command line: numbers only, packet-buffered, bounded by packets, to our pipe.
fn tcpdump_args(spec: &CaptureSpec, snaplen: u32, filter: String) -> Vec<String> {
    vec![
        "-n".into(),
        "-U".into(),
        "-i".into(),
        spec.interface.clone(),
        "-s".into(),
        snaplen.to_string(),
        "-c".into(),
        spec.max_packets.to_string(),
        "-w".into(),
        "-".into(),
        // tcpdump would drop root for the `tcpdump` user after opening the device, and the
        // kernel clears PR_SET_PDEATHSIG on any change of credentials: it would then outlive a
        // killed tool. It writes raw packets to our pipe and decodes none, so staying root
        // costs little; it never writes a file.
        "-Z".into(),
        "root".into(),
        filter,
    ]
}

/// tcpdump's stderr, line by line, on a channel (a thread reads the pipe).
fn stderr_lines(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let (tx, stderr) = mpsc::channel();
    let pipe = child.stderr.take().expect("stderr is piped");
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    stderr
}

/// A thread copying tcpdump's pcap stream into `file`, whole records up to `max` bytes;
/// `full` says whether the bound stopped it.
fn spawn_copier(
    child: &mut std::process::Child,
    file: std::fs::File,
    max: u64,
    full: Arc<AtomicBool>,
) -> std::thread::JoinHandle<std::io::Result<(std::fs::File, u64)>> {
    let pipe = child.stdout.take().expect("stdout is piped");
    std::thread::spawn(move || {
        let mut out = std::io::BufWriter::new(file);
        let (written, at_bound) = copy_records(pipe, &mut out, max)?;
        full.store(at_bound, Ordering::Relaxed);
        let mut file = out.into_inner().map_err(|e| e.into_error())?;
        file.rewind()?;
        Ok((file, written))
    })
}

/// Waits (at most 10 s) for tcpdump's "listening on"; when it stops or stays silent instead,
/// it is killed and the reason and hint say why (no permission is the usual one).
fn until_listening(
    child: &mut std::process::Child,
    stderr: &mpsc::Receiver<String>,
) -> std::result::Result<(), (String, String)> {
    let mut said = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match stderr.recv_timeout(Duration::from_millis(50)) {
            Ok(line) if line.contains("listening on") => return Ok(()),
            Ok(line) => said.push(line),
            Err(mpsc::RecvTimeoutError::Timeout)
                if Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) => {}
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let text = said.join(" ");
                let denied = text.contains("ermission") || text.contains("not permitted");
                return Err(if denied {
                    (
                        format!("no permission to capture: {text}"),
                        "run as root (sudo), or allow tcpdump: setcap cap_net_raw,cap_net_admin=eip \"$(command -v tcpdump)\"".into(),
                    )
                } else {
                    (
                        format!("tcpdump did not start: {text}"),
                        "check --capture-interface and --capture-host; the rest of the bundle was written".into(),
                    )
                });
            }
        }
    }
}

/// The first `name` on PATH that is an executable file.
fn which(name: &str) -> Option<std::path::PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

impl Running {
    /// Waits for the first bound (time, bytes, packets) or stops now; tcpdump is stopped with
    /// SIGINT, waited for, then killed. Returns the pcap (whole packets, within the byte bound,
    /// read from the start) and its record.
    pub(crate) fn finish(
        mut self,
        stop_now: bool,
        interrupt: &Interrupt,
    ) -> Result<(std::fs::File, CaptureRecord)> {
        let limit = Duration::from_secs(self.record.seconds);
        let stopped_by = loop {
            if stop_now {
                break "reproduction";
            }
            if let Err(e) = interrupt.check() {
                self.stop();
                return Err(e.into());
            }
            if self.full.load(Ordering::Relaxed) {
                break "bytes";
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                break "packets";
            }
            if self.started.elapsed() >= limit {
                break "time";
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        self.stop();
        self.record.stopped_by = Some(stopped_by);
        // tcpdump's own summary: "N packets captured", "N packets received by filter", "N … dropped by kernel".
        for line in self.stderr.try_iter() {
            let n = line
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok());
            if line.contains("captured") {
                self.record.packets_captured = n;
            } else if line.contains("received by filter") {
                self.record.packets_received_by_filter = n;
            } else if line.contains("dropped by kernel") {
                self.record.packets_dropped_by_kernel = n;
            }
        }
        // tcpdump is gone, so its pipe is at its end and the copier finishes.
        let (file, bytes) = self
            .copier
            .take()
            .expect("finish runs once")
            .join()
            .map_err(|_| anyhow::anyhow!("the capture copier failed"))??;
        self.record.status = crate::model::CaptureStatus::Captured;
        self.record.bytes = bytes;
        Ok((file, std::mem::take(&mut self.record)))
    }

    fn stop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
            let deadline = Instant::now() + Duration::from_secs(5);
            while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The summary lines arrive after exit; give the reader thread a moment.
        std::thread::sleep(Duration::from_millis(50));
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies a classic pcap into `out`, whole records only, at most `max` bytes (the global header
/// included); other formats are copied up to `max`. Returns the bytes written.
pub(crate) fn copy_bounded(
    from: impl Read,
    out: &mut impl Write,
    max: u64,
) -> std::io::Result<u64> {
    copy_records(from, out, max).map(|(written, _)| written)
}

/// The largest record a pcap may hold (tcpdump's maximum snaplen): a bigger length is a
/// damaged or hostile file, and the copy ends there instead of allocating it.
const MAX_RECORD: usize = 262_144;

/// `copy_bounded`, and whether it stopped at the bound (rather than at the end of the input).
fn copy_records(
    mut from: impl Read,
    out: &mut impl Write,
    max: u64,
) -> std::io::Result<(u64, bool)> {
    let mut header = [0u8; 24];
    let n = read_full(&mut from, &mut header)?;
    let magic = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
    let little = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        _ => {
            let n = (n as u64).min(max);
            out.write_all(&header[..n as usize])?;
            let copied = std::io::copy(&mut (&mut from).take(max - n), out)?;
            let more = read_full(&mut from, &mut [0u8; 1])? > 0;
            return Ok((n + copied, more));
        }
    };
    if n < 24 || max < 24 {
        return Ok((0, n == 24));
    }
    out.write_all(&header)?;
    let mut written = 24u64;
    let mut record = [0u8; 16];
    let mut data = Vec::new();
    while read_full(&mut from, &mut record)? == 16 {
        let len_bytes: [u8; 4] = record[8..12].try_into().expect("4 bytes");
        let incl = if little {
            u32::from_le_bytes(len_bytes)
        } else {
            u32::from_be_bytes(len_bytes)
        } as usize;
        if incl > MAX_RECORD {
            break;
        }
        if written + 16 + incl as u64 > max {
            return Ok((written, true));
        }
        data.resize(incl, 0);
        if read_full(&mut from, &mut data)? < incl {
            break;
        }
        out.write_all(&record)?;
        out.write_all(&data)?;
        written += 16 + incl as u64;
    }
    Ok((written, false))
}

fn read_full(from: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match from.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_hold_addresses_and_port_numbers_only() {
        let spec = CaptureSpec {
            interface: "any".into(),
            hosts: vec![],
            ports: vec![],
            seconds: 1,
            max_bytes: 1,
            max_packets: 1,
            payload: false,
        };
        let target = |h: &str, port| Target {
            host: crate::targets::parse_host(h).unwrap(),
            port,
            source: "test".into(),
            tls: false,
        };
        let found = vec![target("10.1.2.3", 8080), target("::1", 9000)];
        let mut warnings = Vec::new();
        assert_eq!(
            filter(&spec, &found, &mut warnings).unwrap(),
            (
                "tcp and (((host 10.1.2.3) and port 8080) or ((host ::1) and port 9000))".into(),
                found.clone()
            )
        );
        let spec = CaptureSpec {
            hosts: vec![crate::targets::parse_host("127.0.0.2").unwrap()],
            ports: vec![443, 8443],
            ..spec
        };
        assert_eq!(
            filter(&spec, &found, &mut warnings).unwrap().0,
            "tcp and (((host 127.0.0.2) and (port 443 or port 8443)))"
        );
        assert_eq!(target_ports(&spec, &found), vec![443, 8443]);
        // A name that does not resolve is dropped, with a warning, never written into the filter.
        let spec = CaptureSpec {
            hosts: vec![crate::targets::parse_host("no-such-host.invalid").unwrap()],
            ports: vec![],
            ..spec
        };
        assert!(filter(&spec, &[], &mut warnings).is_none());
        assert!(
            warnings.iter().any(|w| w.contains("no-such-host.invalid")),
            "{warnings:?}"
        );
        let spec = CaptureSpec {
            hosts: vec![],
            ..spec
        };
        assert!(filter(&spec, &[], &mut warnings).is_none());
    }

    #[test]
    fn bounded_copy_stops_at_a_record_boundary() {
        let mut pcap = vec![0xd4, 0xc3, 0xb2, 0xa1];
        pcap.extend_from_slice(&[0u8; 20]);
        for _ in 0..10 {
            let mut rec = vec![0u8; 8];
            rec.extend_from_slice(&100u32.to_le_bytes());
            rec.extend_from_slice(&100u32.to_le_bytes());
            rec.extend_from_slice(&[7u8; 100]);
            pcap.extend_from_slice(&rec);
        }
        let mut out = Vec::new();
        assert_eq!(
            copy_bounded(&pcap[..], &mut out, 24 + 116 * 3 + 50).unwrap(),
            24 + 116 * 3
        );
        assert_eq!(out, pcap[..24 + 116 * 3]);
    }
}
