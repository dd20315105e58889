//! A bounded `tcpdump` toward the targets while the problem is reproduced (the seed's
//! `tcpdump -i any -s 0 host TARGET -w FILE.pcap`, made safe).
//!
//! Always bounded by time, bytes and packets, stopping at the first bound; filtered to the
//! targets' hosts and ports (both directions); header-only unless `--capture-payload`. tcpdump is
//! stopped with SIGINT so it flushes, waited for with a timeout, then killed. A missing tcpdump
//! or missing permission is a warning with the fix (exit 3), never a crash. The raw capture lives
//! in a 0600 temp file beside the bundle until it is copied in (header-only, it holds addresses
//! and TCP headers, no payload), and the copy stops at a packet boundary within the byte bound.

use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde::Serialize;

use crate::discover::Discovery;
use crate::signals::Interrupt;
use crate::yaml::Yaml;

/// Header-only snaplen: Linux SLL2 (20) + IPv6 (40) + TCP with options (60), rounded up.
pub const HEADER_SNAPLEN: u32 = 128;

#[derive(Debug, Clone)]
pub struct CaptureSpec {
    pub interface: String,
    /// `--capture-host`: replaces the discovered hosts.
    pub hosts: Vec<String>,
    /// `--capture-port`: replaces the discovered ports.
    pub ports: Vec<u16>,
    pub seconds: u64,
    pub max_bytes: u64,
    pub max_packets: u64,
    pub payload: bool,
}

/// What the manifest and the JSON say about the capture.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CaptureRecord {
    pub status: &'static str,
    pub file: Option<String>,
    pub interface: String,
    pub filter: String,
    pub snaplen: u32,
    pub seconds: u64,
    pub max_bytes: u64,
    pub max_packets: u64,
    /// Whole packets were captured: the payload is NOT redacted.
    pub unredacted: bool,
    pub stopped_by: Option<&'static str>,
    pub packets_captured: Option<u64>,
    pub packets_received_by_filter: Option<u64>,
    pub packets_dropped_by_kernel: Option<u64>,
    pub bytes: u64,
    /// The server side of the connections the analysis follows.
    pub target_ports: Vec<u16>,
    pub reason: Option<String>,
    pub hint: Option<String>,
}

/// Targets EMG talks to: `proxies[].url` of the cache configs, the forward proxy when enabled,
/// and the `host:port` of recent `targetRequest` error records in the newest log.
pub fn targets(found: &Discovery) -> Vec<(String, u16)> {
    let mut out: Vec<(String, u16)> = Vec::new();
    let mut add = |t: (String, u16)| {
        if !out.contains(&t) {
            out.push(t);
        }
    };
    for config in &found.configs {
        if config.yaml.get_str("edgemicro.proxy.enabled") == Some("true") {
            if let Some(t) = config
                .yaml
                .get_str("edgemicro.proxy.url")
                .and_then(host_port)
            {
                add(t);
            }
        }
        for url in proxy_urls(&config.yaml) {
            if let Some(t) = host_port(&url) {
                add(t);
            }
        }
    }
    if let Some(newest) = found.logs.first() {
        for t in error_targets(&newest.path) {
            add(t);
        }
    }
    out
}

fn proxy_urls(yaml: &Yaml) -> Vec<String> {
    match yaml.get("proxies") {
        Some(crate::yaml::Node::Seq { items, .. }) => items
            .iter()
            .filter_map(|p| {
                p.entry("url")
                    .and_then(|(_, v)| v.as_str())
                    .map(str::to_string)
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// `host:port` of a URL authority, without a `user:pass@` part.
pub fn without_userinfo(authority: &str) -> &str {
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// `http://user:pw@host:8080/path` → (`host`, 8080); default ports by scheme.
pub fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = without_userinfo(authority);
    let default = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, rest) = v6.split_once(']')?;
            (
                host.to_string(),
                rest.strip_prefix(':')
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(default),
            )
        }
        None => match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), p.parse().ok()?),
            None => (authority.to_string(), default),
        },
    };
    (!host.is_empty() && host != "null").then_some((host, port))
}

/// `host:port` of `[targetRequest error]` records in the last 4 MiB of a log.
fn error_targets(log: &Path) -> Vec<(String, u16)> {
    let Ok(mut file) = std::fs::File::open(log) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = std::io::Seek::seek(
        &mut file,
        std::io::SeekFrom::Start(len.saturating_sub(4 << 20)),
    );
    let mut out = Vec::new();
    for line in BufReader::new(file).split(b'\n').map_while(Result::ok) {
        if memchr::memmem::find(&line, b"[targetRequest error]").is_none() {
            continue;
        }
        // `<ts> [level][host:port][…` : the second bracket is the target.
        let text = String::from_utf8_lossy(&line);
        let Some(host) = text.split('[').nth(2).and_then(|f| f.split(']').next()) else {
            continue;
        };
        if let Some((h, p)) = host.rsplit_once(':') {
            if let Ok(port) = p.parse::<u16>() {
                let t = (h.trim_matches(['[', ']']).to_string(), port);
                if !out.contains(&t) && out.len() < 16 {
                    out.push(t);
                }
            }
        }
    }
    out
}

/// The BPF filter: each target as `host H and port P`, both directions; overrides replace the
/// hosts, the port, or both.
pub fn filter(spec: &CaptureSpec, discovered: &[(String, u16)]) -> Option<String> {
    let ports = |ports: &[u16]| {
        ports
            .iter()
            .map(|p| format!("port {p}"))
            .collect::<Vec<_>>()
            .join(" or ")
    };
    let terms: Vec<String> = match (spec.hosts.is_empty(), spec.ports.is_empty()) {
        (false, true) => spec.hosts.iter().map(|h| format!("(host {h})")).collect(),
        (false, false) => spec
            .hosts
            .iter()
            .map(|h| format!("(host {h} and ({}))", ports(&spec.ports)))
            .collect(),
        (true, false) => vec![format!("({})", ports(&spec.ports))],
        (true, true) => discovered
            .iter()
            .map(|(h, p)| format!("(host {h} and port {p})"))
            .collect(),
    };
    (!terms.is_empty()).then(|| format!("tcp and ({})", terms.join(" or ")))
}

/// The ports the analysis treats as the server side; empty: hosts were given without ports.
pub fn target_ports(spec: &CaptureSpec, discovered: &[(String, u16)]) -> Vec<u16> {
    match (spec.hosts.is_empty(), spec.ports.is_empty()) {
        (_, false) => spec.ports.clone(),
        (true, true) => discovered.iter().map(|(_, p)| *p).collect(),
        (false, true) => Vec::new(),
    }
}

/// A running tcpdump.
pub struct Running {
    child: Child,
    /// `Some` until `finish` hands it over.
    file: Option<tempfile::NamedTempFile>,
    started: Instant,
    stderr: mpsc::Receiver<String>,
    pub record: CaptureRecord,
}

/// Starts tcpdump and waits until it says it is listening, so the reproduction is captured.
/// `Err(record)` when it could not start (missing binary, no permission): a warning, not a failure.
pub fn start(
    spec: &CaptureSpec,
    filter: String,
    dir: &Path,
) -> std::result::Result<Running, Box<CaptureRecord>> {
    let snaplen = if spec.payload { 0 } else { HEADER_SNAPLEN };
    let mut record = CaptureRecord {
        status: "skipped",
        interface: spec.interface.clone(),
        filter: filter.clone(),
        snaplen,
        seconds: spec.seconds,
        max_bytes: spec.max_bytes,
        max_packets: spec.max_packets,
        unredacted: spec.payload,
        ..Default::default()
    };
    let file = match tempfile::Builder::new()
        .prefix(".edgemicro-diag-capture-")
        .suffix(".pcap")
        .tempfile_in(dir)
    {
        Ok(f) => f,
        Err(e) => {
            record.reason = Some(format!(
                "cannot create the capture file in `{}`: {}",
                dir.display(),
                crate::safe_fs::io_reason(&e)
            ));
            return Err(Box::new(record));
        }
    };
    let spawned = Command::new("tcpdump")
        .args([
            "-n",
            "-U",
            "-i",
            &spec.interface,
            "-s",
            &snaplen.to_string(),
            "-c",
            &spec.max_packets.to_string(),
            "-w",
        ])
        .arg(file.path())
        // tcpdump drops root privileges to `tcpdump` before writing unless told otherwise, and then
        // could not write our 0600 file.
        .args(["-Z", "root"])
        .arg(&filter)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            record.reason = Some("tcpdump is not installed (or not on PATH)".into());
            record.hint = Some("install it (apt-get install tcpdump, or yum install tcpdump) and run again; the rest of the bundle was written".into());
            return Err(Box::new(record));
        }
        Err(e) => {
            record.reason = Some(format!(
                "cannot run tcpdump: {}",
                crate::safe_fs::io_reason(&e)
            ));
            return Err(Box::new(record));
        }
    };
    let (tx, stderr) = mpsc::channel();
    let pipe = child.stderr.take().expect("stderr is piped");
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut said = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match stderr.recv_timeout(Duration::from_millis(50)) {
            Ok(line) if line.contains("listening on") => break,
            Ok(line) => said.push(line),
            Err(mpsc::RecvTimeoutError::Timeout)
                if Instant::now() < deadline && matches!(child.try_wait(), Ok(None)) => {}
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                let text = said.join(" ");
                let denied = text.contains("ermission") || text.contains("not permitted");
                record.reason = Some(if denied {
                    format!("no permission to capture: {text}")
                } else {
                    format!("tcpdump did not start: {text}")
                });
                record.hint = Some(if denied {
                    "run as root (sudo), or allow tcpdump: setcap cap_net_raw,cap_net_admin=eip \"$(command -v tcpdump)\"".into()
                } else {
                    "check --capture-interface and --capture-host; the rest of the bundle was written".into()
                });
                return Err(Box::new(record));
            }
        }
    }
    Ok(Running {
        child,
        file: Some(file),
        started: Instant::now(),
        stderr,
        record,
    })
}

impl Running {
    /// Waits for the first bound (time, bytes, packets) or stops now; tcpdump is stopped with
    /// SIGINT, waited for, then killed. Returns the capture file and its record.
    pub fn finish(
        mut self,
        stop_now: bool,
        interrupt: &Interrupt,
    ) -> Result<(tempfile::NamedTempFile, CaptureRecord)> {
        let limit = Duration::from_secs(self.record.seconds);
        let stopped_by = loop {
            if stop_now {
                break "reproduction";
            }
            if let Err(e) = interrupt.check() {
                self.stop();
                return Err(e.into());
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                break "packets";
            }
            let size = self
                .file
                .as_ref()
                .and_then(|f| f.as_file().metadata().ok())
                .map_or(0, |m| m.len());
            if size >= self.record.max_bytes {
                break "bytes";
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
        self.record.status = "captured";
        let file = self.file.take().expect("finish runs once");
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
pub fn copy_bounded(mut from: impl Read, out: &mut impl Write, max: u64) -> std::io::Result<u64> {
    let mut header = [0u8; 24];
    let n = read_full(&mut from, &mut header)?;
    let magic = u32::from_le_bytes(header[..4].try_into().expect("4 bytes"));
    let little = match magic {
        0xa1b2_c3d4 | 0xa1b2_3c4d => true,
        0xd4c3_b2a1 | 0x4d3c_b2a1 => false,
        _ => {
            out.write_all(&header[..n])?;
            let copied = std::io::copy(&mut from.take(max.saturating_sub(n as u64)), out)?;
            return Ok(n as u64 + copied);
        }
    };
    if n < 24 || max < 24 {
        return Ok(0);
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
        data.resize(incl, 0);
        if read_full(&mut from, &mut data)? < incl || written + 16 + incl as u64 > max {
            break;
        }
        out.write_all(&record)?;
        out.write_all(&data)?;
        written += 16 + incl as u64;
    }
    Ok(written)
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
    fn urls_give_hosts_and_ports() {
        assert_eq!(
            host_port("http://10.1.2.3:8080/orders"),
            Some(("10.1.2.3".into(), 8080))
        );
        assert_eq!(
            host_port("https://svc:pw@orders.example.com/x?y=1"),
            Some(("orders.example.com".into(), 443))
        );
        assert_eq!(host_port("http://[::1]:9000"), Some(("::1".into(), 9000)));
        assert_eq!(host_port("null"), None);
    }

    #[test]
    fn filters_cover_both_directions_and_overrides() {
        let spec = CaptureSpec {
            interface: "any".into(),
            hosts: vec![],
            ports: vec![],
            seconds: 1,
            max_bytes: 1,
            max_packets: 1,
            payload: false,
        };
        let found = vec![
            ("10.1.2.3".to_string(), 8080),
            ("10.1.2.4".to_string(), 9000),
        ];
        assert_eq!(
            filter(&spec, &found).unwrap(),
            "tcp and ((host 10.1.2.3 and port 8080) or (host 10.1.2.4 and port 9000))"
        );
        let spec = CaptureSpec {
            hosts: vec!["t.example.com".into()],
            ports: vec![443, 8443],
            ..spec
        };
        assert_eq!(
            filter(&spec, &found).unwrap(),
            "tcp and ((host t.example.com and (port 443 or port 8443)))"
        );
        assert_eq!(target_ports(&spec, &found), vec![443, 8443]);
        let spec = CaptureSpec {
            hosts: vec![],
            ports: vec![],
            ..spec
        };
        assert!(filter(&spec, &[]).is_none());
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
