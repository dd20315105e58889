//! The targets EMG talks to, as typed values: an IP address or an RFC 1123 host name, and a port
//! number, each with where it was found.
//!
//! Hosts and ports come from configs, from log lines anyone who can write the log dir controls,
//! and from flags. They reach root's tcpdump filter and the probe's connections, so nothing here
//! keeps text: a value that does not parse as an address, a name or a port is dropped (with a
//! warning for the operator), never passed on. Configs are trusted over logs: log records are
//! read only when no config names a target.

use std::io::{BufRead, BufReader, Read, Seek};
use std::net::IpAddr;
use std::path::Path;

use serde::Serialize;

use crate::model::{ConfigFile, LogFile};
use crate::yaml::Yaml;

/// A host that is safe to put on a command line: an IP address, or a DNS name of RFC 1123
/// labels (letters, digits, inner hyphens; 253 bytes at most).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Host {
    Ip(IpAddr),
    Name(String),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

impl Serialize for Host {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl std::str::FromStr for Host {
    type Err = String;

    fn from_str(text: &str) -> Result<Host, String> {
        parse_host(text).ok_or_else(|| {
            format!(
                "`{}` is not an IP address or a host name (RFC 1123: letters, digits, hyphens, dots)",
                text.escape_debug()
            )
        })
    }
}

/// `10.0.0.5`, `::1`, `[::1]`, `orders.example.com`; anything else is `None`.
pub(crate) fn parse_host(text: &str) -> Option<Host> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Some(Host::Ip(ip));
    }
    // Only the bracketed form may be an address; `[name]` is not a name.
    if bare.len() != text.len() || text.is_empty() || text.len() > 253 {
        return None;
    }
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    // An all-digit last label would be a malformed IPv4 address (`1.2.3.999`), not a name.
    let last_is_numeric = text
        .rsplit('.')
        .next()
        .is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit()));
    (text.split('.').all(label_ok) && !last_is_numeric).then(|| Host::Name(text.to_string()))
}

/// A port number, digits only, 1 to 65535.
pub(crate) fn parse_port(text: &str) -> Option<u16> {
    (!text.is_empty() && text.len() <= 5 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse::<u16>().ok())
        .flatten()
        .filter(|p| *p > 0)
}

/// A target and where it came from (`proxies[].url in o-e-cache-config.yaml`, a log, a flag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Target {
    pub(crate) host: Host,
    pub(crate) port: u16,
    pub(crate) source: String,
    /// Spoken to over TLS: an `https://` URL, or port 443 when only a log names it.
    pub(crate) tls: bool,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host {
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
            host => write!(f, "{host}:{}", self.port),
        }
    }
}

/// The targets found, and what was dropped on the way (for the operator and the manifest).
#[derive(Debug, Default)]
pub(crate) struct Found {
    pub(crate) targets: Vec<Target>,
    pub(crate) warnings: Vec<String>,
}

impl Found {
    fn add(&mut self, target: Target) {
        if !self
            .targets
            .iter()
            .any(|t| t.host == target.host && t.port == target.port)
        {
            self.targets.push(target);
        }
    }
}

/// At most this many targets are taken from log records: an attacker's log cannot make a long
/// filter or many probes.
const MAX_LOG_TARGETS: usize = 16;

/// Targets from `proxies[].url` of the configs and the forward proxy when enabled; only when
/// those name none, the `host:port` of `targetRequest error` records in the newest log.
pub(crate) fn discover(configs: &[ConfigFile], newest: Option<&LogFile>) -> Found {
    let mut out = Found::default();
    for config in configs {
        let mut from_url = |url: &str, key: &str| match host_port(url) {
            Some((host, port)) => out.add(Target {
                host,
                port,
                source: format!("{key} in {}", config.name),
                tls: url
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("https://"),
            }),
            None => out.warnings.push(format!(
                "{key} in {}: no host and port in `{}` (not captured or probed)",
                config.name,
                url.escape_debug()
            )),
        };
        if config.yaml.get_str("edgemicro.proxy.enabled") == Some("true") {
            if let Some(url) = config.yaml.get_str("edgemicro.proxy.url") {
                from_url(url, "edgemicro.proxy.url");
            }
        }
        for url in proxy_urls(&config.yaml) {
            from_url(&url, "proxies[].url");
        }
    }
    if out.targets.is_empty() {
        if let Some(newest) = newest {
            error_targets(&newest.path, &mut out);
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
pub(crate) fn without_userinfo(authority: &str) -> &str {
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host)
}

/// `http://user:pw@host:8080/path` → (`host`, 8080); default ports by scheme; `None` unless the
/// host parses as an address or a name and the port as a number.
pub(crate) fn host_port(url: &str) -> Option<(Host, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let default = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    authority_host_port(without_userinfo(authority), Some(default))
}

/// `host:port`, `[v6]:port`, or (with a default) a bare host.
pub(crate) fn authority_host_port(authority: &str, default: Option<u16>) -> Option<(Host, u16)> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(v6) => {
            let (host, rest) = v6.split_once(']')?;
            let port = match rest.strip_prefix(':') {
                Some(p) => parse_port(p)?,
                None if rest.is_empty() => default?,
                None => return None,
            };
            (host, port)
        }
        None => match authority.rsplit_once(':') {
            // More than one colon without brackets: an IPv6 address without a port.
            Some((h, _)) if h.contains(':') => (authority, default?),
            Some((h, p)) => (h, parse_port(p)?),
            None => (authority, default?),
        },
    };
    Some((parse_host(host)?, port))
}

/// `host:port` of `[targetRequest error]` records in the last 4 MiB of a log, opened the safe
/// way (a FIFO swapped in after the listing opens without blocking and is refused).
fn error_targets(log: &Path, out: &mut Found) {
    let dir = log.parent().unwrap_or(Path::new("/"));
    let Ok(opened) = crate::safe_fs::open_in_dir(dir, log.file_name().unwrap_or_default()) else {
        return;
    };
    let mut file = opened.file;
    let len = opened.meta.len();
    let _ = file.seek(std::io::SeekFrom::Start(len.saturating_sub(4 << 20)));
    let name = log.file_name().unwrap_or_default().to_string_lossy();
    let mut taken = 0;
    let mut dropped = 0;
    for line in BufReader::new(file.take(4 << 20))
        .split(b'\n')
        .map_while(Result::ok)
    {
        let Some(at) = memchr::memmem::find(&line, b"[targetRequest error]") else {
            continue;
        };
        // `<ts> [level][host:port][…`: the second bracketed field is the target. A record may
        // follow a prefix (docker, journald), so read from the `[level]` before the marker.
        let head = &line[..at];
        let Some(open) = memchr::memmem::find(head, b" [") else {
            continue;
        };
        let fields = String::from_utf8_lossy(&head[open + 2..]);
        let Some(field) = fields.split("][").nth(1) else {
            continue;
        };
        match authority_host_port(field, None) {
            Some((host, port)) if taken < MAX_LOG_TARGETS => {
                let before = out.targets.len();
                out.add(Target {
                    host,
                    port,
                    source: format!("targetRequest error in log {name}"),
                    tls: port == 443,
                });
                taken += usize::from(out.targets.len() > before);
            }
            Some(_) => {}
            None => dropped += 1,
        }
    }
    if dropped > 0 {
        out.warnings.push(format!(
            "{dropped} targetRequest error record(s) in {name} name no valid host:port; not used as targets"
        ));
    }
}

/// The addresses of a host: itself for an IP, a bounded lookup (3 s) for a name.
pub(crate) fn addresses(host: &Host) -> Result<Vec<IpAddr>, String> {
    let name = match host {
        Host::Ip(ip) => return Ok(vec![*ip]),
        Host::Name(name) => name.clone(),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::net::ToSocketAddrs;
        let found = (name.as_str(), 0)
            .to_socket_addrs()
            .map(|addrs| addrs.map(|a| a.ip()).collect::<Vec<_>>());
        let _ = tx.send(found);
    });
    match rx.recv_timeout(std::time::Duration::from_secs(3)) {
        Ok(Ok(mut ips)) if !ips.is_empty() => {
            ips.sort();
            ips.dedup();
            Ok(ips)
        }
        Ok(Ok(_)) => Err("no address".into()),
        Ok(Err(e)) => Err(format!("cannot resolve: {e}")),
        Err(_) => Err("name lookup took longer than 3 s".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_addresses_or_rfc1123_names_and_nothing_else() {
        for ok in [
            "10.1.2.3",
            "::1",
            "[::1]",
            "fe80::1",
            "orders.example.com",
            "localhost",
            "a-b.c1",
            "xn--bcher-kva.example",
        ] {
            assert!(parse_host(ok).is_some(), "{ok}");
        }
        // Every shape that could change a BPF filter or a command line. (A name that is a pcap
        // keyword, `host` or `tcp`, is harmless: names are resolved before the filter is built.)
        for bad in [
            "",
            "127.0.0.1)) or ((tcp",
            "127.0.0.1 or tcp",
            "a b",
            "a\tb",
            "a\nb",
            "-n",
            "-w/etc/passwd",
            "a..b",
            ".a",
            "a.",
            "a_b",
            "1.2.3.999",
            "[name]",
            "[::1",
            "x;id",
            "$(id)",
            "`id`",
            "a'b",
            "a\"b",
            "!tcp",
            "é.example",
        ] {
            assert!(parse_host(bad).is_none(), "{bad:?}");
        }
        assert!(parse_host(&"a".repeat(64)).is_none());
        assert!(
            parse_host(&["a"; 128].join(".")).is_none(),
            "over 253 bytes"
        );
    }

    #[test]
    fn ports_are_numbers() {
        assert_eq!(parse_port("8080"), Some(8080));
        for bad in [
            "", "0", "65536", "+80", "80 ", "8080)", "0x50", "1e3", "99999999",
        ] {
            assert_eq!(parse_port(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn urls_and_authorities() {
        let ip = |s: &str| Host::Ip(s.parse().unwrap());
        assert_eq!(
            host_port("http://10.1.2.3:8080/orders"),
            Some((ip("10.1.2.3"), 8080))
        );
        assert_eq!(
            host_port("https://svc:pw@orders.example.com/x?y=1"),
            Some((Host::Name("orders.example.com".into()), 443))
        );
        assert_eq!(host_port("http://[::1]:9000"), Some((ip("::1"), 9000)));
        assert_eq!(host_port("null"), None);
        assert_eq!(host_port("http://a)) or ((tcp:80/"), None);
        assert_eq!(authority_host_port("[[::1]:8000]", None), None);
        assert_eq!(authority_host_port("::1", Some(80)), Some((ip("::1"), 80)));
        assert_eq!(authority_host_port("h:80:81", None), None);
    }

    /// A FIFO swapped in for the newest log (after the listing) opens without blocking and
    /// is refused: the target lookup returns at once instead of hanging on it.
    #[test]
    fn a_fifo_in_place_of_the_log_does_not_hang_the_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("edgemicro-gw-1-api.log");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut out = Found::default();
            error_targets(&fifo, &mut out);
            let _ = tx.send(out.targets.len());
        });
        assert_eq!(
            rx.recv_timeout(std::time::Duration::from_secs(5)),
            Ok(0),
            "the lookup blocked on a FIFO"
        );
    }
}
