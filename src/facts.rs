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

#[derive(Debug, Serialize)]
pub struct Facts {
    pub hostname: String,
    pub os: Option<String>,
    pub kernel: Option<String>,
    /// `net.ipv4.tcp_keepalive_*` and friends, as the kernel reports them.
    pub sysctl: std::collections::BTreeMap<String, Option<String>>,
    /// `ulimit -n` of this process (soft limit).
    pub max_open_files: Option<String>,
    pub node_version: Option<String>,
    pub edgemicro_version: Option<String>,
    pub edgemicro_processes: Vec<Process>,
    /// What the gateway logged of itself at start (`edgemicro`, `nodejs`), newest first: the
    /// versions that were running when the logs were written, which may not be this host's now.
    pub versions_from_logs: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Serialize)]
pub struct Process {
    pub pid: u32,
    /// argv with the values of secret flags replaced.
    pub argv: Vec<String>,
    /// edgemicro keeps edgemicro.sock and edgemicro.pid in its working dir.
    pub cwd: Option<String>,
    pub max_open_files: Option<String>,
}

const SYSCTLS: &[&str] = &[
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
    "net.ipv4.tcp_fin_timeout",
    "net.core.somaxconn",
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

pub fn hostname() -> String {
    read_trimmed("/proc/sys/kernel/hostname").unwrap_or_else(|| "localhost".into())
}

/// Gathers the facts, and the secrets found on edgemicro command lines.
pub fn gather() -> (Facts, Vec<KnownSecret>) {
    let mut secrets = Vec::new();
    let processes = edgemicro_processes(&mut secrets);
    let facts = Facts {
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
        edgemicro_version: edgemicro_version(&processes),
        edgemicro_processes: processes,
        versions_from_logs: Default::default(),
    };
    (facts, secrets)
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

pub fn edgemicro_processes(secrets: &mut Vec<KnownSecret>) -> Vec<Process> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found: Vec<Process> = entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter_map(|pid| {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let argv: Vec<String> = raw
                .split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            let is_emg = argv
                .iter()
                .take(3)
                .any(|a| a.contains("edgemicro") && !a.contains("edgemicro-diag"));
            is_emg.then(|| Process {
                pid,
                argv: redact_argv(&argv, secrets),
                cwd: std::fs::read_link(format!("/proc/{pid}/cwd"))
                    .ok()
                    .map(|p| p.display().to_string()),
                max_open_files: max_open_files(format!("/proc/{pid}/limits")),
            })
        })
        .collect();
    found.sort_by_key(|p| p.pid);
    found
}

/// Replaces the values of `-k KEY`, `--secret=S` and the like, and of `NAME_TOKEN=V` style
/// assignments (`env EDGEMICRO_KEY=… edgemicro start`); records them as known secrets.
pub fn redact_argv(argv: &[String], secrets: &mut Vec<KnownSecret>) -> Vec<String> {
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
/// leads to `…/edgemicro/package.json`. Reading it runs nothing.
fn edgemicro_version(processes: &[Process]) -> Option<String> {
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
                return pkg["version"].as_str().map(str::to_string);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

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
}
