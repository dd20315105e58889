//! Keep-alive order: what each hop does with idle connections. EMG's own settings
//! (`edgemicro.keep_alive_timeout` in ms for clients/LBs in front, Node's default 5000;
//! `headers_timeout`; `request_timeout` in seconds toward targets), the OS TCP keep-alive, and —
//! with `--probe` — how long a target really keeps an idle keep-alive connection open.
//!
//! The probe opens one connection, sends one request, reads the response, then waits (bounded)
//! for the target to close the idle connection, and says whether it announced
//! `Keep-Alive: timeout=`. It is plain HTTP only (no TLS client here).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::yaml::Yaml;

/// Node's `server.keepAliveTimeout` when EMG sets none (checked on Node 20: 5000 ms).
pub(crate) const NODE_DEFAULT_KEEP_ALIVE_MS: u64 = 5000;

#[derive(Debug, Clone, Serialize)]
pub(crate) struct KeepAlive {
    /// The config file the EMG values were read from (cache config first: workers run it).
    pub(crate) source: Option<String>,
    pub(crate) keep_alive_timeout_ms: u64,
    pub(crate) keep_alive_timeout_set: bool,
    pub(crate) headers_timeout_ms: Option<u64>,
    pub(crate) request_timeout_s: Option<u64>,
    /// `net.ipv4.tcp_keepalive_*` of the EMG host.
    pub(crate) os: BTreeMap<String, Option<String>>,
    /// `targets[].ssl.client` keys set in the configs (names only, never values): what a TLS
    /// failure toward a target depends on.
    pub(crate) tls_client_keys: Vec<String>,
    /// `edgemicro.maxHttpHeaderSize` (bytes), when set.
    pub(crate) max_http_header_size: Option<u64>,
    /// `edgemicro.on_target_response_abort`, when set.
    pub(crate) on_target_response_abort: Option<String>,
    /// `proxies[].timeout` (ms, from the Edge TargetEndpoint) by base path: it aborts a slow
    /// target before `request_timeout` when shorter.
    pub(crate) proxy_timeouts_ms: BTreeMap<String, u64>,
}

/// From (file name, parsed YAML) pairs: the cache config, else the ORG-ENV config, else
/// default.yaml, as EMG's workers would see them.
pub(crate) fn from_configs<'a>(
    configs: impl IntoIterator<Item = (&'a str, &'a Yaml)>,
    os: BTreeMap<String, Option<String>>,
) -> KeepAlive {
    let configs: Vec<(&str, &Yaml)> = configs.into_iter().collect();
    let rank = |name: &str| {
        if name.ends_with("-cache-config.yaml") {
            0
        } else if name.ends_with("-config.yaml") {
            1
        } else {
            2
        }
    };
    let chosen = configs.iter().min_by_key(|(name, _)| rank(name));
    let num = |path: &str| {
        chosen
            .and_then(|(_, y)| y.get_str(path))
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    let keep_alive = num("edgemicro.keep_alive_timeout");
    KeepAlive {
        source: chosen.map(|(name, _)| name.to_string()),
        keep_alive_timeout_ms: keep_alive.unwrap_or(NODE_DEFAULT_KEEP_ALIVE_MS),
        keep_alive_timeout_set: keep_alive.is_some(),
        // EMG uses keep_alive_timeout + 5000 when headers_timeout is unset (core/lib/gateway.js).
        headers_timeout_ms: num("edgemicro.headers_timeout").or(keep_alive.map(|k| k + 5000)),
        request_timeout_s: num("edgemicro.request_timeout"),
        os,
        tls_client_keys: {
            let mut keys: Vec<String> = configs
                .iter()
                .flat_map(|(_, y)| y.key_paths())
                .filter_map(|p| {
                    // Paths start with the document (`#0.`).
                    p.split_once('.')?
                        .1
                        .strip_prefix("targets[].ssl.client.")
                        .map(|k| format!("targets[].ssl.client.{}", k.trim_end_matches(['*', '&'])))
                })
                .collect();
            keys.sort();
            keys.dedup();
            keys
        },
        max_http_header_size: num("edgemicro.maxHttpHeaderSize"),
        on_target_response_abort: chosen
            .and_then(|(_, y)| y.get_str("edgemicro.on_target_response_abort"))
            .map(str::to_string),
        proxy_timeouts_ms: configs
            .iter()
            .filter_map(|(_, y)| match y.get("proxies") {
                Some(crate::yaml::Node::Seq { items, .. }) => Some(items),
                _ => None,
            })
            .flatten()
            .filter_map(|p| {
                let base = p.entry("base_path")?.1.as_str()?.to_string();
                let ms = p.entry("timeout")?.1.as_str()?.trim().parse::<u64>().ok()?;
                Some((base, ms))
            })
            .collect(),
    }
}

pub(crate) fn os_keepalive() -> BTreeMap<String, Option<String>> {
    [
        "tcp_keepalive_time",
        "tcp_keepalive_intvl",
        "tcp_keepalive_probes",
    ]
    .iter()
    .map(|k| {
        let v = std::fs::read_to_string(format!("/proc/sys/net/ipv4/{k}"))
            .ok()
            .map(|s| s.trim().to_string());
        (format!("net.ipv4.{k}"), v)
    })
    .collect()
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Probe {
    pub(crate) url: String,
    /// `host:port` as EMG's logs name the target.
    pub(crate) target: String,
    pub(crate) status: Option<u16>,
    /// The `Keep-Alive` response header, if the target announced one.
    pub(crate) keep_alive_header: Option<String>,
    /// Seconds from the end of the response until the target closed the idle connection.
    pub(crate) idle_close_s: Option<f64>,
    /// The target does no keep-alive at all (HTTP/1.0 without `Connection: keep-alive`, or
    /// `Connection: close`): EMG opens a new connection per request, so there is no idle
    /// socket to race on, and its close right after the response is not an "idle close".
    pub(crate) no_keep_alive: bool,
    /// How long the probe waited when the target did not close.
    pub(crate) waited_s: f64,
    pub(crate) error: Option<String>,
}

/// Measures a target's idle close on one keep-alive connection, waiting at most `max`.
pub(crate) fn probe(url: &str, max: Duration, insecure: bool) -> Probe {
    let mut result = Probe {
        url: shown_url(url),
        target: String::new(),
        status: None,
        keep_alive_header: None,
        idle_close_s: None,
        no_keep_alive: false,
        waited_s: 0.0,
        error: None,
    };
    if let Err(e) = probe_into(url, max, insecure, &mut result) {
        result.error = Some(e);
    }
    result
}

/// The URL as the bundle and the report show it: credentials in the user part or the query
/// (`http://user:pass@host/x?apikey=...`) are the operator's, never support's.
fn shown_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = crate::targets::without_userinfo(authority);
    let authority = if host.len() < authority.len() {
        format!("{}@{host}", crate::redact::token("userinfo"))
    } else {
        host.to_string()
    };
    let tail = match tail.split_once('?') {
        Some((path, _)) => format!("{path}?{}", crate::redact::token("query")),
        None => tail.to_string(),
    };
    let sep = if scheme.is_empty() { "" } else { "://" };
    format!("{scheme}{sep}{authority}{tail}")
}

/// A probe's connection: plain TCP or TLS over it; the timeouts are the socket's.
trait Conn: Read + Write {
    fn socket(&self) -> &TcpStream;
}

impl Conn for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }
}

impl Conn for rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    fn socket(&self) -> &TcpStream {
        &self.sock
    }
}

fn probe_into(url: &str, max: Duration, insecure: bool, out: &mut Probe) -> Result<(), String> {
    let (tls, rest) = if let Some(rest) = url.strip_prefix("http://") {
        (false, rest)
    } else if let Some(rest) = url.strip_prefix("https://") {
        (true, rest)
    } else {
        return Err("only http:// and https:// targets can be probed".into());
    };
    let (authority, path) = rest
        .split_once('/')
        .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")));
    let scheme = if tls { "https" } else { "http" };
    let (host, port) = crate::targets::host_port(&format!("{scheme}://{authority}"))
        .ok_or("cannot read host and port from the URL")?;
    let host = host.to_string();
    out.target = format!("{host}:{port}");
    let host_header = crate::targets::without_userinfo(authority).to_string();
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or("no address")?;
    let socket = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .map_err(|e| format!("cannot connect: {e}"))?;
    if !tls {
        return exchange(socket, &path, &host_header, max, out);
    }
    let config = super::tls::client_config(insecure)?;
    let name = rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
        .map_err(|e| format!("not a TLS server name: {e}"))?;
    let connection =
        rustls::ClientConnection::new(config, name).map_err(|e| format!("TLS setup: {e}"))?;
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut stream = rustls::StreamOwned::new(connection, socket);
    // The handshake runs on the first write; its errors (an untrusted or expired certificate,
    // a name mismatch) are what EMG would hit too.
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|e| format!("TLS handshake failed: {e}"))?;
    }
    exchange(stream, &path, &host_header, max, out)
}

/// Reads one response whole: the head (status, Keep-Alive and Connection headers into `out`),
/// then the body by Content-Length or to the last chunk. False when the response ends by the
/// target closing (no length): it keeps no connection to wait on.
fn read_response(stream: &mut impl Conn, out: &mut Probe) -> Result<bool, String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = memchr::memmem::find(&buf, b"\r\n\r\n") {
            break p + 4;
        }
        let n = stream
            .read(&mut chunk)
            .map_err(|e| format!("no response: {e}"))?;
        if n == 0 || buf.len() > 64 << 10 {
            return Err("the target closed before answering".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    out.status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok());
    let header = |name: &str| {
        head.lines().find_map(|l| {
            l.split_once(':')
                .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_string())
        })
    };
    out.keep_alive_header = header("keep-alive");
    let connection = header("connection").map(|v| v.to_ascii_lowercase());
    let http10 = head.starts_with("HTTP/1.0");
    out.no_keep_alive = connection.as_deref().is_some_and(|c| c.contains("close"))
        || (http10
            && !connection
                .as_deref()
                .is_some_and(|c| c.contains("keep-alive")));
    let length = header("content-length").and_then(|v| v.parse::<usize>().ok());
    let chunked = header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
    let mut body = buf[head_end..].to_vec();
    loop {
        let complete = match (length, chunked) {
            (Some(n), _) => body.len() >= n,
            (None, true) => body.ends_with(b"0\r\n\r\n"),
            // No length: the body ends when the target closes, so it keeps no connection.
            (None, false) if out.no_keep_alive || http10 => {
                out.no_keep_alive = true;
                return Ok(false);
            }
            (None, false) => {
                return Err(
                    "the response has no length; the target closes after each response".into(),
                )
            }
        };
        if complete {
            return Ok(true);
        }
        let n = stream
            .read(&mut chunk)
            .map_err(|e| format!("response cut: {e}"))?;
        if n == 0 {
            return Err("the target closed during the response".into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
}

/// One request on `stream`, its response read whole, then the wait for the target to close the
/// idle connection.
fn exchange(
    mut stream: impl Conn,
    path: &str,
    host_header: &str,
    max: Duration,
    out: &mut Probe,
) -> Result<(), String> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host_header}\r\nConnection: keep-alive\r\nUser-Agent: edgemicro-diag-probe\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("cannot send: {e}"))?;
    stream
        .socket()
        .set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    // Read the head, then the body by Content-Length (or chunked to its last chunk).
    if !read_response(&mut stream, out)? {
        return Ok(());
    }
    if out.no_keep_alive {
        return Ok(());
    }
    wait_for_close(&mut stream, max, out)
}

/// The connection is idle from here: wait for the target to close it (FIN: read gives 0; RST:
/// a reset error); a read timeout means it is still open.
fn wait_for_close(stream: &mut impl Conn, max: Duration, out: &mut Probe) -> Result<(), String> {
    let mut chunk = [0u8; 4096];
    let idle_from = Instant::now();
    loop {
        let left = max.saturating_sub(idle_from.elapsed());
        if left.is_zero() {
            out.waited_s = max.as_secs_f64();
            return Ok(());
        }
        stream
            .socket()
            .set_read_timeout(Some(left.min(Duration::from_secs(1))))
            .map_err(|e| e.to_string())?;
        let closed = match stream.read(&mut chunk) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::Interrupted
            ),
        };
        if closed {
            out.idle_close_s = Some(idle_from.elapsed().as_secs_f64());
            out.waited_s = idle_from.elapsed().as_secs_f64();
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn probe_urls_are_shown_without_credentials() {
        assert_eq!(
            shown_url("http://ops:S3cretPw@10.0.0.5:8080/health?apikey=K123#x"),
            "http://REDACTED_USERINFO@10.0.0.5:8080/health?REDACTED_QUERY"
        );
        assert_eq!(shown_url("http://t:80/h"), "http://t:80/h");
        assert_eq!(shown_url("http://u:p@t"), "http://REDACTED_USERINFO@t");
    }

    #[test]
    fn probe_measures_the_idle_close_and_the_announced_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
            s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=1\r\n\r\nok")
                .unwrap();
            std::thread::sleep(Duration::from_millis(800));
        });
        let p = probe(
            &format!("http://127.0.0.1:{port}/health"),
            Duration::from_secs(10),
            false,
        );
        server.join().unwrap();
        assert_eq!(p.error, None);
        assert_eq!(p.status, Some(200));
        assert_eq!(p.keep_alive_header.as_deref(), Some("timeout=1"));
        let idle = p.idle_close_s.expect("closed");
        assert!((0.7..1.0).contains(&idle), "{idle}");
        assert_eq!(p.target, format!("127.0.0.1:{port}"));
    }

    /// HTTP/1.0 and `Connection: close` targets keep no connection: reported as no
    /// keep-alive, never as an idle close "after 0.0 s".
    #[test]
    fn targets_without_keep_alive_are_not_idle_closes() {
        for response in [
            &b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"[..],
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
            b"HTTP/1.0 200 OK\r\n\r\nbody until close",
        ] {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let response = response.to_vec();
            let server = std::thread::spawn(move || {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf);
                s.write_all(&response).unwrap();
            });
            let p = probe(
                &format!("http://127.0.0.1:{port}/"),
                Duration::from_secs(5),
                false,
            );
            server.join().unwrap();
            assert_eq!(p.error, None, "{p:?}");
            assert!(p.no_keep_alive, "{p:?}");
            assert_eq!(p.idle_close_s, None, "{p:?}");
        }
    }

    #[test]
    fn config_values_and_defaults() {
        let cache = Yaml::parse("edgemicro:\n  keep_alive_timeout: 65000\n  request_timeout: 60\n")
            .unwrap();
        let dflt = Yaml::parse("edgemicro:\n  port: 8000\n").unwrap();
        let k = from_configs(
            [("default.yaml", &dflt), ("o-e-cache-config.yaml", &cache)],
            BTreeMap::new(),
        );
        assert_eq!(
            (
                k.keep_alive_timeout_ms,
                k.keep_alive_timeout_set,
                k.headers_timeout_ms,
                k.request_timeout_s
            ),
            (65000, true, Some(70000), Some(60))
        );
        let k = from_configs([("default.yaml", &dflt)], BTreeMap::new());
        assert_eq!(
            (k.keep_alive_timeout_ms, k.keep_alive_timeout_set),
            (NODE_DEFAULT_KEEP_ALIVE_MS, false)
        );
    }
}
