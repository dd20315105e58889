//! `system/facts.json`: what support asks about the host besides EMG's own files. OS, kernel,
//! TCP keep-alive sysctls (support compares the OS keep-alive with the target's), open-file
//! limits, node and edgemicro versions, and the running edgemicro processes.
//!
//! It runs nothing but `node --version` (bounded in time) and never records a secret argument:
//! `edgemicro start -k KEY -s SECRET` puts both on the command line, so argv values after secret
//! flags are replaced here and handed to the redactor as known secrets.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::Serialize;

use crate::redact::KnownSecret;

/// What `analyze` reads back from a bundle's system/facts.json (written from `Facts`).
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct FactsView {
    #[serde(default)]
    pub(crate) sysctl: std::collections::BTreeMap<String, Option<String>>,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Facts {
    pub(crate) hostname: String,
    pub(crate) os: Option<String>,
    pub(crate) kernel: Option<String>,
    /// `net.ipv4.tcp_keepalive_*` and friends, as the kernel reports them.
    pub(crate) sysctl: std::collections::BTreeMap<String, Option<String>>,
    /// `ulimit -n` of this process (soft limit).
    pub(crate) max_open_files: Option<String>,
    pub(crate) node_version: Option<String>,
    pub(crate) edgemicro_version: Option<String>,
    pub(crate) edgemicro_processes: Vec<Process>,
    /// `microgateway-core` beside the installed edgemicro (its node_modules).
    pub(crate) core_version: Option<String>,
    /// The versions in one place, each with where it came from: the running process first,
    /// then what the logs say, then what is installed.
    pub(crate) versions: std::collections::BTreeMap<String, Version>,
    /// `/proc/loadavg`: a loaded host answers late.
    pub(crate) load: Option<String>,
    /// Whether the clock is synchronized (log times are compared across hosts).
    pub(crate) clock_synchronized: Option<bool>,
    /// Proxy variables of this process and of each running edgemicro (values redacted like
    /// every other text of this file: credentials in a proxy URL never appear).
    pub(crate) proxy_env: std::collections::BTreeMap<String, String>,
    /// TCP connections by state toward each remote endpoint (the busiest 20), from
    /// /proc/net/tcp{,6}: many TIME_WAIT or CLOSE_WAIT toward a target tell their own story.
    pub(crate) sockets: Vec<SocketCount>,
    /// What the targets' names resolve to on this host, now.
    pub(crate) target_dns: std::collections::BTreeMap<String, String>,
    /// What the gateway logged of itself at start (`edgemicro`, `nodejs`), newest first: the
    /// versions that were running when the logs were written, which may not be this host's now.
    pub(crate) versions_from_logs: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct SocketCount {
    pub(crate) remote: String,
    pub(crate) states: std::collections::BTreeMap<String, u32>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub(crate) struct Version {
    pub(crate) version: String,
    pub(crate) source: String,
}

#[derive(Debug, Default, Serialize)]
pub(crate) struct Process {
    pub(crate) pid: u32,
    /// argv with the values of secret flags replaced.
    pub(crate) argv: Vec<String>,
    /// edgemicro keeps edgemicro.sock and edgemicro.pid in its working dir.
    pub(crate) cwd: Option<String>,
    pub(crate) max_open_files: Option<String>,
    /// The version of the Node that really runs EMG (`/proc/PID/exe`), and how it was read.
    pub(crate) node_version: Option<String>,
    pub(crate) node_version_from: Option<String>,
}

const SYSCTLS: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_fin_timeout",
    "net.core.somaxconn",
    // Resets on new connections: ephemeral ports running out, TIME_WAIT reuse, a full NAT table.
    "net.ipv4.ip_local_port_range",
    "net.ipv4.tcp_tw_reuse",
    "net.netfilter.nf_conntrack_count",
    "net.netfilter.nf_conntrack_max",
];

/// Proxy variables change where EMG's requests go (edgemicro honours HTTP(S)_PROXY).
const PROXY_VARS: &[&str] = &[
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
];

/// Flags whose next argument (or `=value`) is a secret in edgemicro's CLI (cli/cmd.js).
const SECRET_FLAGS: &[&str] = &[
    "-k",
    "--key",
    "-s",
    "--secret",
    "-p",
    "--password",
    "-t",
    "--token",
];

pub(crate) fn hostname() -> String {
    read_trimmed("/proc/sys/kernel/hostname").unwrap_or_else(|| "localhost".into())
}

/// Gathers the facts, and the secrets found on edgemicro command lines.
pub(crate) fn gather() -> (Facts, Vec<KnownSecret>) {
    let mut secrets = Vec::new();
    let processes = edgemicro_processes(&mut secrets);
    let (edgemicro_version, core_version) = installed_versions(&processes);
    let mut facts = Facts {
        hostname: hostname(),
        os: os_release(),
        kernel: read_trimmed("/proc/sys/kernel/osrelease"),
        sysctl: SYSCTLS
            .iter()
            .map(|k| {
                (
                    k.to_string(),
                    read_trimmed(format!("/proc/sys/{}", k.replace('.', "/"))),
                )
            })
            .collect(),
        max_open_files: max_open_files("/proc/self/limits"),
        node_version: run_bounded("node", &["--version"], Duration::from_secs(5)),
        edgemicro_version,
        edgemicro_processes: processes,
        core_version,
        versions: Default::default(),
        load: read_trimmed("/proc/loadavg"),
        clock_synchronized: clock_synchronized(),
        proxy_env: Default::default(),
        sockets: sockets(),
        target_dns: Default::default(),
        versions_from_logs: Default::default(),
    };
    facts.proxy_env = proxy_env(&facts.edgemicro_processes);
    facts.settle_versions();
    (facts, secrets)
}

impl Facts {
    /// `versions`: for each of edgemicro, microgateway-core and nodejs, the running process's
    /// if known, else the newest the logs name, else the installed one.
    pub(crate) fn settle_versions(&mut self) {
        let mut out = std::collections::BTreeMap::new();
        let mut put = |what: &str, version: Option<&String>, source: String| {
            if let Some(v) = version.filter(|v| !v.is_empty()) {
                out.entry(what.to_string()).or_insert(Version {
                    version: v.trim_start_matches('v').to_string(),
                    source,
                });
            }
        };
        if let Some(p) = self
            .edgemicro_processes
            .iter()
            .find(|p| p.node_version.is_some())
        {
            put(
                "nodejs",
                p.node_version.as_ref(),
                p.node_version_from.clone().unwrap_or_default(),
            );
        }
        for what in ["edgemicro", "microgateway-core", "nodejs"] {
            put(
                what,
                self.versions_from_logs.get(what),
                format!("the logs (`current {what} version is`)"),
            );
        }
        put(
            "edgemicro",
            self.edgemicro_version.as_ref(),
            "the installed edgemicro's package.json".into(),
        );
        put(
            "microgateway-core",
            self.core_version.as_ref(),
            "node_modules/microgateway-core/package.json beside edgemicro".into(),
        );
        put(
            "nodejs",
            self.node_version.as_ref(),
            "`node --version` on PATH".into(),
        );
        self.versions = out;
    }
}

/// The running node's version and how it was read: `/proc/PID/exe --version` only for a `node`
/// binary owned by the user running us (another user's program is never run); otherwise read
/// beside the binary without running it.
fn running_node_version(pid: u32) -> Option<(String, String)> {
    use std::os::unix::fs::MetadataExt;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    let name = exe.file_name()?.to_str()?;
    if !name.starts_with("node") {
        return None;
    }
    let meta = std::fs::metadata(&exe).ok()?;
    if !meta.is_file() {
        return None;
    }
    if meta.uid() == nix::unistd::geteuid().as_raw() {
        let version = run_bounded(exe.to_str()?, &["--version"], Duration::from_secs(5))?;
        let plain = version.trim();
        return (plain.starts_with('v') && plain.len() < 32).then(|| {
            let how = format!("/proc/{pid}/exe --version (the running edgemicro)");
            (plain.to_string(), how)
        });
    }
    node_version_beside(&exe).map(|(version, how)| {
        (
            version,
            format!("{how} (the running edgemicro's node, pid {pid}, not run: another user's)"),
        )
    })
}

/// A node binary's version without running it: its install's `include/node/node_version.h`
/// (official builds, nvm and the npm `node` packages ship it), else a `vX.Y.Z` directory on
/// its path (nvm, n, volta, asdf and the official tarballs name them so).
fn node_version_beside(exe: &Path) -> Option<(String, String)> {
    let prefix = exe.parent()?.parent()?;
    let header = prefix.join("include/node/node_version.h");
    if let Ok(text) = crate::safe_fs::read_regular(&header, 64 << 10) {
        let text = String::from_utf8_lossy(&text);
        let part = |name: &str| {
            text.lines()
                .filter_map(|l| l.trim().strip_prefix("#define ")?.strip_prefix(name))
                .find_map(|v| v.trim().parse::<u32>().ok())
        };
        if let (Some(major), Some(minor), Some(patch)) = (
            part("NODE_MAJOR_VERSION"),
            part("NODE_MINOR_VERSION"),
            part("NODE_PATCH_VERSION"),
        ) {
            return Some((
                format!("v{major}.{minor}.{patch}"),
                header.display().to_string(),
            ));
        }
    }
    exe.ancestors().skip(1).find_map(|dir| {
        let name = dir.file_name()?.to_str()?;
        let parent = dir.parent()?.file_name()?.to_str()?;
        // `v18.20.4` (nvm), `node-v18.20.4-linux-x64` (the official tarball), or a bare
        // `18.20.4` under a directory named node or nodejs (n, volta, asdf).
        let digits = match name
            .strip_prefix("node-v")
            .or_else(|| name.strip_prefix('v'))
        {
            Some(rest) => rest.split_once('-').map_or(rest, |(v, _)| v),
            None if parent == "node" || parent == "nodejs" => name,
            None => return None,
        };
        let parts: Vec<&str> = digits.split('.').collect();
        let numeric =
            |p: &&str| !p.is_empty() && p.len() < 6 && p.bytes().all(|b| b.is_ascii_digit());
        (parts.len() == 3 && parts.iter().all(numeric)).then(|| {
            (
                format!("v{digits}"),
                format!("the directory name {}", dir.display()),
            )
        })
    })
}

fn clock_synchronized() -> Option<bool> {
    if Path::new("/run/systemd/timesync/synchronized").exists() {
        return Some(true);
    }
    run_bounded(
        "timedatectl",
        &["show", "-p", "NTPSynchronized", "--value"],
        Duration::from_secs(3),
    )
    .map(|v| v == "yes")
}

fn proxy_env(processes: &[Process]) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for var in PROXY_VARS {
        if let Ok(value) = std::env::var(var) {
            out.insert(format!("{var} (this shell)"), value);
        }
    }
    for p in processes {
        // Readable for the same user (or root); bounded, never a FIFO.
        let Ok(raw) =
            crate::safe_fs::read_regular(Path::new(&format!("/proc/{}/environ", p.pid)), 1 << 20)
        else {
            continue;
        };
        for entry in raw.split(|b| *b == 0) {
            let text = String::from_utf8_lossy(entry);
            if let Some((k, v)) = text.split_once('=') {
                if PROXY_VARS.contains(&k) {
                    out.insert(format!("{k} (edgemicro pid {})", p.pid), v.to_string());
                }
            }
        }
    }
    out
}

/// TCP states per remote endpoint from /proc/net/tcp and tcp6 (hex addresses, little-endian
/// words), the 20 endpoints with most connections.
fn sockets() -> Vec<SocketCount> {
    const STATES: [&str; 12] = [
        "?",
        "ESTABLISHED",
        "SYN_SENT",
        "SYN_RECV",
        "FIN_WAIT1",
        "FIN_WAIT2",
        "TIME_WAIT",
        "CLOSE",
        "CLOSE_WAIT",
        "LAST_ACK",
        "LISTEN",
        "CLOSING",
    ];
    let mut by_remote: std::collections::BTreeMap<String, std::collections::BTreeMap<String, u32>> =
        Default::default();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1).take(200_000) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(remote), Some(state)) = (fields.get(2), fields.get(3)) else {
                continue;
            };
            let Some(state) = u8::from_str_radix(state, 16)
                .ok()
                .and_then(|s| STATES.get(usize::from(s)))
            else {
                continue;
            };
            if *state == "LISTEN" {
                continue;
            }
            if let Some(remote) = endpoint(remote) {
                *by_remote
                    .entry(remote)
                    .or_default()
                    .entry(state.to_string())
                    .or_default() += 1;
            }
        }
    }
    let mut out: Vec<SocketCount> = by_remote
        .into_iter()
        .map(|(remote, states)| SocketCount { remote, states })
        .collect();
    out.sort_by_key(|c| std::cmp::Reverse(c.states.values().sum::<u32>()));
    out.truncate(20);
    out
}

/// `0100007F:1F90` (IPv4) or 32 hex digits (IPv6, four little-endian words) and a port.
fn endpoint(hex: &str) -> Option<String> {
    let (addr, port) = hex.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let words: Vec<u32> = (0..addr.len() / 8)
        .map(|i| u32::from_str_radix(&addr[i * 8..i * 8 + 8], 16).map(u32::from_be))
        .collect::<Result<_, _>>()
        .ok()?;
    match words.as_slice() {
        [v4] => Some(format!(
            "{}:{port}",
            std::net::Ipv4Addr::from(v4.to_be_bytes())
        )),
        [a, b, c, d] => {
            let mut bytes = [0u8; 16];
            for (i, w) in [a, b, c, d].iter().enumerate() {
                bytes[i * 4..i * 4 + 4].copy_from_slice(&w.to_be_bytes());
            }
            Some(format!("[{}]:{port}", std::net::Ipv6Addr::from(bytes)))
        }
        _ => None,
    }
}

fn read_trimmed(path: impl AsRef<Path>) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn os_release() -> Option<String> {
    let text = std::fs::read_to_string("/etc/os-release").ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim_matches('"').to_string())
}

fn max_open_files(limits: impl AsRef<Path>) -> Option<String> {
    let text = std::fs::read_to_string(limits).ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3).map(str::to_string)
}

/// A version command's first line, or `None` if it is missing, fails or takes too long.
fn run_bounded(program: &str, args: &[&str], limit: Duration) -> Option<String> {
    let done = crate::child::run_bounded(Command::new(program).args(args), limit).ok()??;
    let text = done
        .output
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    (done.status.success() && !text.is_empty()).then_some(text)
}

pub(crate) fn edgemicro_processes(secrets: &mut Vec<KnownSecret>) -> Vec<Process> {
    crate::running::edgemicro()
        .into_iter()
        .map(|p| {
            let (node_version, node_version_from) = running_node_version(p.pid).unzip();
            Process {
                pid: p.pid,
                argv: redact_argv(&p.argv, secrets),
                cwd: std::fs::read_link(format!("/proc/{}/cwd", p.pid))
                    .ok()
                    .map(|c| c.display().to_string()),
                max_open_files: max_open_files(format!("/proc/{}/limits", p.pid)),
                node_version,
                node_version_from,
            }
        })
        .collect()
}

/// Replaces the values of `-k KEY`, `--secret=S` and the like, and of `NAME_TOKEN=V` style
/// assignments (`env EDGEMICRO_KEY=… edgemicro start`); records them as known secrets.
pub(crate) fn redact_argv(argv: &[String], secrets: &mut Vec<KnownSecret>) -> Vec<String> {
    let mut out = Vec::with_capacity(argv.len());
    let mut next_is_secret = false;
    for arg in argv {
        // A whole command line in one argument (`sh -c "edgemicro start … -k KEY -s SECRET"`):
        // its words are read the same way, so the values become known secrets; the text rules
        // replace them in facts.json and wherever else they appear.
        if arg.contains(char::is_whitespace) {
            let words: Vec<String> = arg
                .split_whitespace()
                .map(|w| w.trim_matches(['"', '\'']).to_string())
                .collect();
            redact_argv(&words, secrets);
        }
        if next_is_secret {
            secrets.push(KnownSecret::new(arg.as_bytes().to_vec(), "cli_secret_flag"));
            out.push(crate::redact::token("cli_secret_flag"));
            next_is_secret = false;
            continue;
        }
        if let Some((flag, value)) = arg
            .split_once('=')
            .filter(|(f, v)| SECRET_FLAGS.contains(f) || crate::container::is_secret_var(f, v))
        {
            secrets.push(KnownSecret::new(
                value.as_bytes().to_vec(),
                "cli_secret_flag",
            ));
            out.push(format!(
                "{flag}={}",
                crate::redact::token("cli_secret_flag")
            ));
            continue;
        }
        next_is_secret = SECRET_FLAGS.contains(&arg.as_str());
        out.push(arg.clone());
    }
    out
}

/// From the installed package: the running process's script path, or `edgemicro` on PATH,
/// leads to `…/edgemicro/package.json`, and the core beside it. Reading them runs nothing.
fn installed_versions(processes: &[Process]) -> (Option<String>, Option<String>) {
    let from_argv = processes
        .iter()
        .flat_map(|p| p.argv.iter())
        .filter(|a| a.contains("edgemicro"))
        .map(PathBuf::from);
    let from_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("edgemicro"));
    for candidate in from_argv.chain(from_path) {
        let Ok(real) = candidate.canonicalize() else {
            continue;
        };
        for dir in real.ancestors().skip(1).take(4) {
            // Another user's install: never block on a FIFO there, read a bounded amount.
            let Ok(text) = crate::safe_fs::read_regular(&dir.join("package.json"), 1 << 20)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
            else {
                continue;
            };
            let Ok(pkg) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            if pkg["name"] == "edgemicro" {
                let core = crate::safe_fs::read_regular(
                    &dir.join("node_modules/microgateway-core/package.json"),
                    1 << 20,
                )
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|p| p["version"].as_str().map(str::to_string));
                return (pkg["version"].as_str().map(str::to_string), core);
            }
        }
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// analyze reads back what collect wrote: the sysctls, unknown ones as null.
    #[test]
    fn facts_json_reads_back_its_sysctls() {
        let mut facts = Facts::default();
        facts
            .sysctl
            .insert("net.ipv4.tcp_keepalive_time".into(), Some("7200".into()));
        facts
            .sysctl
            .insert("net.ipv4.tcp_keepalive_intvl".into(), None);
        let text = serde_json::to_vec_pretty(&facts).unwrap();
        let view: FactsView = serde_json::from_slice(&text).unwrap();
        assert_eq!(view.sysctl, facts.sysctl);
        let bare: FactsView = serde_json::from_str("{}").unwrap();
        assert!(
            bare.sysctl.is_empty(),
            "an older bundle without sysctls still reads"
        );
    }

    #[test]
    fn a_node_version_is_read_beside_the_binary_without_running_it() {
        let dir = tempfile::tempdir().unwrap();
        let make = |rel: &str| {
            let exe = dir.path().join(rel);
            std::fs::create_dir_all(exe.parent().unwrap()).unwrap();
            // Not a program: were it run, nothing would come back.
            std::fs::write(&exe, "not a program").unwrap();
            exe
        };
        let official = make("opt/node-x/bin/node");
        std::fs::create_dir_all(dir.path().join("opt/node-x/include/node")).unwrap();
        std::fs::write(
            dir.path().join("opt/node-x/include/node/node_version.h"),
            "#ifndef SRC_NODE_VERSION_H_\n#define NODE_MAJOR_VERSION 18\n#define NODE_MINOR_VERSION 20\n#define NODE_PATCH_VERSION 4\n#define NODE_MODULE_VERSION 108\n",
        )
        .unwrap();
        let (version, how) = node_version_beside(&official).unwrap();
        assert_eq!(version, "v18.20.4");
        assert!(how.ends_with("include/node/node_version.h"), "{how}");
        for (path, want) in [
            (".nvm/versions/node/v20.11.1/bin/node", Some("v20.11.1")),
            ("opt/node-v16.20.2-linux-x64/bin/node", Some("v16.20.2")),
            (
                "usr/local/n/versions/node/14.21.3/bin/node",
                Some("v14.21.3"),
            ),
            (".asdf/installs/nodejs/22.1.0/bin/node", Some("v22.1.0")),
            ("srv/app/1.2.3/bin/node", None),
            ("srv/v1.2/bin/node", None),
            ("srv/vX.1.2/bin/node", None),
            ("usr/bin/node", None),
        ] {
            let got = node_version_beside(&make(path)).map(|(v, _)| v);
            assert_eq!(got.as_deref(), want, "{path}");
        }
    }

    #[test]
    fn argv_secrets_are_replaced_and_remembered() {
        let argv: Vec<String> = [
            "node",
            "/usr/lib/node_modules/edgemicro/cli/edgemicro",
            "start",
            "-o",
            "org",
            "-e",
            "test",
            "-k",
            "KEYVAL123",
            "--secret=SECVAL456",
            "REDIS_PASSWORD=REDISPW789",
            "--port=8000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut secrets = Vec::new();
        let out = redact_argv(&argv, &mut secrets);
        assert_eq!(out[8], "REDACTED_CLI_SECRET_FLAG");
        assert_eq!(out[9], "--secret=REDACTED_CLI_SECRET_FLAG");
        assert_eq!(out[10], "REDIS_PASSWORD=REDACTED_CLI_SECRET_FLAG");
        assert_eq!(out[11], "--port=8000", "other flags stay");
        assert_eq!(out[4], "org", "org/env stay");
        let values: Vec<&[u8]> = secrets.iter().map(|s| s.value.as_slice()).collect();
        assert_eq!(
            values,
            vec![
                b"KEYVAL123".as_slice(),
                b"SECVAL456".as_slice(),
                b"REDISPW789".as_slice()
            ]
        );
    }

    #[test]
    fn a_real_child_process_is_found_with_its_secret_redacted() {
        // A process whose argv looks like `edgemicro start -k KEY`, as a real master's does.
        let mut child = Command::new("bash")
            .args([
                "-c",
                "exec -a edgemicro bash -c 'sleep 30; true' start -k CHILDKEY987",
            ])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut secrets = Vec::new();
        let found = loop {
            secrets.clear();
            let found = edgemicro_processes(&mut secrets);
            if found
                .iter()
                .any(|p| p.pid == child.id() && p.argv[0] == "edgemicro")
                || Instant::now() > deadline
            {
                break found;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        child.kill().unwrap();
        child.wait().unwrap();
        let me = found
            .iter()
            .find(|p| p.pid == child.id())
            .expect("child listed");
        assert!(
            !me.argv.iter().any(|a| a.contains("CHILDKEY987")),
            "{:?}",
            me.argv
        );
        assert!(
            me.argv.contains(&"REDACTED_CLI_SECRET_FLAG".to_string()),
            "{:?}",
            me.argv
        );
        assert!(secrets.iter().any(|s| s.value == b"CHILDKEY987"));
    }

    /// A running edgemicro on node, owned by this user: its Node version is asked of its own
    /// binary (/proc/PID/exe), and it becomes the `nodejs` version with that source.
    #[test]
    fn the_running_nodes_version_is_read_from_its_own_binary() {
        use std::os::unix::process::CommandExt;
        let Ok(node) = which_node() else {
            eprintln!("SKIPPED: no node on PATH");
            return;
        };
        let mut child = Command::new(&node)
            .arg0("edgemicro")
            .args(["-e", "setTimeout(() => {}, 30000)", "start"])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let found = loop {
            let found = edgemicro_processes(&mut Vec::new());
            if found
                .iter()
                .any(|p| p.pid == child.id() && p.node_version.is_some())
                || Instant::now() > deadline
            {
                break found;
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        child.kill().unwrap();
        child.wait().unwrap();
        let me = found
            .into_iter()
            .find(|p| p.pid == child.id())
            .expect("listed");
        let expected = String::from_utf8(
            Command::new(&node)
                .arg("--version")
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        assert_eq!(me.node_version.as_deref(), Some(expected.trim()));
        let mut facts = Facts {
            hostname: String::new(),
            os: None,
            kernel: None,
            sysctl: Default::default(),
            max_open_files: None,
            node_version: Some("v1.0.0".into()),
            edgemicro_version: Some("3.3.7".into()),
            edgemicro_processes: vec![me],
            core_version: None,
            versions_from_logs: [("microgateway-core".to_string(), "3.3.5".to_string())].into(),
            ..Default::default()
        };
        facts.settle_versions();
        assert_eq!(
            facts.versions["nodejs"].version,
            expected.trim().trim_start_matches('v')
        );
        assert!(facts.versions["nodejs"].source.contains("/exe"));
        assert_eq!(facts.versions["microgateway-core"].version, "3.3.5");
        assert_eq!(facts.versions["edgemicro"].version, "3.3.7");
    }

    fn which_node() -> Result<PathBuf, ()> {
        std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|d| d.join("node"))
            .find(|p| p.is_file())
            .and_then(|p| p.canonicalize().ok())
            .ok_or(())
    }

    #[test]
    fn proc_net_tcp_endpoints_are_read_in_host_order() {
        assert_eq!(endpoint("0100007F:1F90").as_deref(), Some("127.0.0.1:8080"));
        assert_eq!(
            endpoint("00000000000000000000000001000000:0050").as_deref(),
            Some("[::1]:80")
        );
        assert_eq!(endpoint("zz:1"), None);
        // A live connection shows up with its state.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let _client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let _server = listener.accept().unwrap();
        let found = sockets();
        let me = format!("127.0.0.1:{port}");
        assert!(
            found
                .iter()
                .any(|c| c.remote == me && c.states.get("ESTABLISHED") == Some(&1))
                || found.len() == 20,
            "{found:?}"
        );
    }
}
