//! Discovery: what is on this host. The config dir and its YAML files, the ORG-ENV pairs, the log
//! dirs (and where each came from), the log files in them, newest first.
//!
//! It reads; it never writes, never expands `<E>…</E>` env tags, and never opens a file that is
//! not a regular file inside its own directory (`safe_fs`).

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use anyhow::{Context, Result};

use crate::exit::Fail;
use crate::model::{ConfigFile, Located, LogFile, Skipped, Source};
use crate::safe_fs::{hardlink_reason, io_reason, open_in_dir};
use crate::settings::Settings;
use crate::yaml::Yaml;

/// EMG's default log dir (default.yaml ships `logging.dir: /var/tmp`).
pub(crate) const DEFAULT_LOG_DIR: &str = "/var/tmp";
/// Where the official docker image tees edgemicro's console (`edgemicro.log`); also what
/// `docker logs` / `kubectl logs` show.
pub(crate) const DOCKER_LOG_DIR: &str = "/opt/apigee/logs";
/// A config larger than this is not an EMG config; it is skipped, never read into memory.
const MAX_CONFIG_BYTES: u64 = 32 << 20;

#[derive(Debug)]
pub(crate) struct Discovery {
    pub(crate) config_dir: Located<PathBuf>,
    pub(crate) configs: Vec<ConfigFile>,
    /// The `ORG-ENV` stems collected.
    pub(crate) pairs: Vec<String>,
    pub(crate) log_dirs: Vec<Located<PathBuf>>,
    /// Newest first, in bounded memory (however many rotations a dir holds).
    pub(crate) logs: crate::log_list::LogList,
    /// What was not read and why: as many as the files (logs before --since), so on a spill.
    pub(crate) skipped: crate::spill::Spill<Skipped>,
    pub(crate) warnings: Vec<String>,
    /// Secret values of the environment (this process's, or `--from-pid`'s).
    pub(crate) secrets: Vec<crate::redact::KnownSecret>,
}

/// Which files of a log dir are EMG's logs, and why. EMG writes `edgemicro-HOST-UUID-N-api.log`
/// (every core version); the official docker image tees the console into `edgemicro.log`;
/// logrotate leaves `.1`, `-20260101` and `.gz` copies (gzip is decompressed while read).
fn log_kind(name: &[u8]) -> Option<&'static str> {
    let emg = name.starts_with(b"edgemicro-") || name.starts_with(b"edgemicro.");
    if !emg || name.ends_with(b".zip") || name.ends_with(b".bz2") || name.ends_with(b".xz") {
        return None;
    }
    if let Some(inner) = name.strip_suffix(b".gz") {
        return log_kind(inner)
            .map(|_| "compressed rotated EMG log (.gz, decompressed while read)");
    }
    if name == b"edgemicro.log" {
        return Some("console log (the docker image tees edgemicro's output into edgemicro.log)");
    }
    if name.ends_with(b".log") {
        return Some("EMG log file (edgemicro-*.log)");
    }
    // Rotated: `….log.N` or `….log-DATE`.
    let at = memchr::memmem::rfind(name, b".log")?;
    let rest = &name[at + 4..];
    let rotated = (rest.first() == Some(&b'.') || rest.first() == Some(&b'-'))
        && rest.len() > 1
        && rest[1..].iter().all(|b| b.is_ascii_digit() || *b == b'-');
    rotated.then_some("rotated EMG log (.log.N or .log-DATE)")
}

pub(crate) fn discover(settings: &Settings) -> Result<Discovery> {
    let dir = &settings.config_dir;
    // Containers: the config may come from EDGEMICRO_CONFIG instead of a dir.
    let env = crate::container::env_config(settings.from_pid)?;
    let has_dir = dir.value.is_dir();
    if !has_dir && env.config.is_none() && env.skipped.is_none() {
        let tried = format!("`{}` (from {})", dir.value.display(), dir.source);
        return Err(Fail::failure(
            format!("no EMG config dir: tried {tried}, and no EDGEMICRO_CONFIG in the environment"),
            "point to the dir holding default.yaml with --config-dir DIR (or EDGEMICRO_CONFIG_DIR); \
             edgemicro's default is $HOME/.edgemicro of the user that runs it; in a container, \
             run inside it or pass --from-pid PID of edgemicro",
        )
        .into());
    }
    let mut found = Discovery {
        config_dir: dir.clone(),
        configs: Vec::new(),
        pairs: Vec::new(),
        log_dirs: Vec::new(),
        logs: Default::default(),
        skipped: env.skipped.into_iter().collect(),
        warnings: if env.ignored.is_empty() {
            Vec::new()
        } else {
            vec![format!(
                "not treated as secrets (too short, ordinary words, numbers or paths; only the names are shown): {}",
                env.ignored.join(", ")
            )]
        },
        secrets: env.secrets,
    };
    take_configs(settings, has_dir, env.config, &mut found)?;
    take_logs(settings, &mut found);
    Ok(found)
}

/// The configs of the dir and of EDGEMICRO_CONFIG (the latter renamed when both hold the same
/// pair), the pairs they make, and what is missing.
fn take_configs(
    settings: &Settings,
    has_dir: bool,
    from_env: Option<ConfigFile>,
    found: &mut Discovery,
) -> Result<()> {
    let dir = &settings.config_dir;
    if has_dir {
        read_dir_configs(settings, found)?;
    } else {
        found.warnings.push(format!(
            "no config dir at `{}`: the config came from EDGEMICRO_CONFIG",
            dir.value.display()
        ));
    }
    if let Some(mut config) = from_env {
        let pair = config.name.trim_end_matches("-config.yaml").to_string();
        if found.configs.iter().any(|c| c.name == config.name) {
            found.warnings.push(format!("{} and EDGEMICRO_CONFIG both hold {}; the latter is collected as {pair}-config.from-env.yaml", dir.value.display(), config.name));
            config.name = format!("{pair}-config.from-env.yaml");
        }
        if !found.pairs.contains(&pair) {
            found.pairs.push(pair);
        }
        found.configs.push(config);
    }
    if has_dir && found.pairs.is_empty() {
        found.skipped.push(Skipped {
            source: dir.value.join("ORG-ENV-config.yaml").display().to_string(),
            reason: "no ORG-ENV-config.yaml in the config dir (has `edgemicro configure` run for this user?)".into(),
        });
    }
    if has_dir
        && !found.configs.iter().any(|c| c.name == "default.yaml")
        && !found
            .skipped
            .iter()
            .any(|s| s.is_ok_and(|s| s.source.ends_with("default.yaml")))
    {
        found.skipped.push(Skipped {
            source: dir.value.join("default.yaml").display().to_string(),
            reason: "does not exist (`edgemicro init` writes it)".into(),
        });
    }
    Ok(())
}

/// The log dirs and, in each, the logs; the consoles of running edgemicros; newest first.
fn take_logs(settings: &Settings, found: &mut Discovery) {
    found.log_dirs = log_dirs(settings, found);
    resolve_log_dir_warnings(found);
    for (index, log_dir) in found.log_dirs.clone().iter().enumerate() {
        let prefix = if found.log_dirs.len() > 1 {
            format!("{}/", index + 1)
        } else {
            String::new()
        };
        // Any `*.log` only in a dir someone named (flag, env or EMG config): /var/tmp by
        // default holds other programs' logs.
        let named = !matches!(log_dir.source, Source::Default);
        list_logs(
            &log_dir.value,
            &prefix,
            named,
            settings.follow_hardlinks,
            found,
        );
    }
    if settings.log_dir.is_none() {
        running_consoles(settings.follow_hardlinks, found);
    }
    // Newest first: support reads the incident's file first, and byte limits keep the newest.
    found.logs.sort();
    if found.logs.is_empty() {
        let dirs: Vec<String> = found
            .log_dirs
            .iter()
            .map(|d| format!("`{}`", d.value.display()))
            .collect();
        found.warnings.push(format!(
            "no edgemicro-*.log files (nor edgemicro.log or any *.log) in {}; pass --log-dir DIR if edgemicro logs elsewhere",
            dirs.join(", ")
        ));
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

/// The `ORG-ENV` pairs configured in a config dir, sorted.
pub(crate) fn pairs(dir: &Path) -> Result<Vec<String>> {
    Ok(pairs_in(&config_names(dir)?))
}

fn pairs_in(names: &[String]) -> Vec<String> {
    names.iter().filter_map(|n| pair_of(n)).collect()
}

/// default.yaml and the ORG-ENV configs (with their cache configs) of the selected pairs.
fn read_dir_configs(settings: &Settings, found: &mut Discovery) -> Result<()> {
    let dir = &settings.config_dir;
    let names = config_names(&dir.value)?;
    let all_pairs = pairs_in(&names);
    found.pairs = match &settings.pair {
        Some(pair) if all_pairs.contains(pair) => vec![pair.clone()],
        Some(pair) => {
            return Err(Fail::failure(
                format!("no `{pair}-config.yaml` in `{}`", dir.value.display()),
                format!(
                    "pairs found: {}; pick one with --org ORG --env ENV",
                    list_or_none(&all_pairs)
                ),
            )
            .into())
        }
        None => all_pairs,
    };
    let wanted = |name: &str| {
        name == "default.yaml"
            || found.pairs.iter().any(|p| {
                name == format!("{p}-config.yaml") || name == format!("{p}-cache-config.yaml")
            })
    };
    let names: Vec<&String> = names.iter().filter(|n| wanted(n)).collect();
    for name in names {
        if let Some(config) = read_config(&dir.value, name, &mut found.skipped)? {
            found.configs.push(config);
        }
    }
    Ok(())
}

/// `ORG-ENV` from `ORG-ENV-config.yaml` (not from the cache config, which follows its source).
fn pair_of(name: &str) -> Option<String> {
    let stem = name.strip_suffix("-config.yaml")?;
    (!stem.ends_with("-cache") && !stem.is_empty()).then(|| stem.to_string())
}

fn config_names(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list the config dir `{}`", dir.display()))?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n == "default.yaml" || n.ends_with("-config.yaml"))
        .collect();
    names.sort_unstable();
    Ok(names)
}

fn read_config(
    dir: &Path,
    name: &str,
    skipped: &mut crate::spill::Spill<Skipped>,
) -> Result<Option<ConfigFile>> {
    let source = dir.join(name).display().to_string();
    let opened = match open_in_dir(dir, name.as_ref()) {
        Ok(o) => o,
        Err(reason) => {
            skipped.push(Skipped { source, reason });
            return Ok(None);
        }
    };
    if opened.meta.len() > MAX_CONFIG_BYTES {
        skipped.push(Skipped {
            source,
            reason: format!(
                "{} bytes: too large for an EMG config (not read)",
                opened.meta.len()
            ),
        });
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(opened.meta.len() as usize);
    if let Err(e) = opened.file.take(MAX_CONFIG_BYTES).read_to_end(&mut bytes) {
        skipped.push(Skipped {
            source,
            reason: io_reason(&e),
        });
        return Ok(None);
    }
    // A config that does not parse cannot be redacted structurally: it is left out (with the
    // reason), and everything else is still collected.
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            skipped.push(Skipped {
                source,
                reason: format!(
                    "not UTF-8 text (byte {}): not collected; fix the file (edgemicro cannot load it either)",
                    e.utf8_error().valid_up_to()
                ),
            });
            return Ok(None);
        }
    };
    let yaml = match Yaml::parse(&text) {
        Ok(yaml) => yaml,
        Err(e) => {
            skipped.push(Skipped {
                source,
                reason: format!("malformed YAML at {e}: not collected; fix the file (edgemicro cannot load it either)"),
            });
            return Ok(None);
        }
    };
    Ok(Some(ConfigFile {
        path: opened.path,
        name: name.to_string(),
        text,
        yaml,
    }))
}

/// Log dirs: `--log-dir` alone when given; else each pair's effective `edgemicro.logging.dir`
/// (ORG-ENV-config.yaml over default.yaml), plus the cache config's when it differs, since the
/// running workers log where the cache says; else `/var/tmp`.
fn log_dirs(settings: &Settings, found: &Discovery) -> Vec<Located<PathBuf>> {
    if let Some(dir) = &settings.log_dir {
        return vec![dir.clone()];
    }
    let config = |name: &str| found.configs.iter().find(|c| c.name == name);
    let from = |file: Option<&ConfigFile>| {
        let file = file?;
        let dir = file.yaml.get_str("edgemicro.logging.dir")?;
        Some(Located {
            value: PathBuf::from(dir),
            source: Source::Config {
                file: file.path.clone(),
                key: "edgemicro.logging.dir",
            },
        })
    };
    let mut candidates: Vec<Located<PathBuf>> = Vec::new();
    for pair in &found.pairs {
        candidates.extend(
            from(config(&format!("{pair}-config.yaml"))).or_else(|| from(config("default.yaml"))),
        );
        candidates.extend(from(config(&format!("{pair}-cache-config.yaml"))));
    }
    if candidates.is_empty() {
        candidates.extend(from(config("default.yaml")));
    }
    if candidates.is_empty() {
        candidates.push(Located {
            value: PathBuf::from(DEFAULT_LOG_DIR),
            source: Source::Default,
        });
    }
    // In the docker image the configured dir holds no console output (or nothing at all).
    if Path::new(DOCKER_LOG_DIR).is_dir() {
        candidates.push(Located {
            value: PathBuf::from(DOCKER_LOG_DIR),
            source: Source::Image,
        });
    }
    let mut dirs: Vec<Located<PathBuf>> = Vec::new();
    for dir in candidates {
        if !dirs.iter().any(|d| d.value == dir.value) {
            dirs.push(dir);
        }
    }
    dirs
}

/// Says what the operator must know about the log dirs: disagreeing configs, env tags, relative
/// paths, console-only logging.
fn resolve_log_dir_warnings(found: &mut Discovery) {
    let configured: Vec<&Located<PathBuf>> = found
        .log_dirs
        .iter()
        .filter(|d| matches!(d.source, Source::Config { .. }))
        .collect();
    if configured.len() > 1 {
        let list: Vec<String> = configured
            .iter()
            .map(|d| format!("`{}` ({})", d.value.display(), d.source))
            .collect();
        found.warnings.push(format!(
            "the configs name different log dirs; running workers use the cache config's; collecting all: {}",
            list.join(", ")
        ));
    }
    for dir in &mut found.log_dirs {
        let text = dir.value.to_string_lossy().to_string();
        if text.contains("<E>") {
            found.warnings.push(format!(
                "{} is an env tag (`{text}`); this tool never expands env tags: pass --log-dir DIR; using {DEFAULT_LOG_DIR}",
                dir.source
            ));
            dir.value = PathBuf::from(DEFAULT_LOG_DIR);
        } else if dir.value.is_relative() && matches!(dir.source, Source::Config { .. }) {
            found.warnings.push(format!(
                "{} is relative (`{text}`): edgemicro resolves it against its own working dir; read here against the current dir",
                dir.source
            ));
        }
    }
    for config in &found.configs {
        if config.yaml.get_str("edgemicro.logging.to_console") == Some("true") {
            found.warnings.push(format!(
                "{} sets edgemicro.logging.to_console: true, so edgemicro writes no log files; capture its console output",
                config.name
            ));
        }
    }
}

/// The console output of each running edgemicro that goes to a file (`nohup.out`, a redirect,
/// systemd's `append:`), under `logs/console/`, once per file however many workers share it.
fn running_consoles(follow_hardlinks: bool, found: &mut Discovery) {
    let mut seen = std::collections::HashSet::new();
    for process in crate::running::edgemicro() {
        for (fd, path) in process.console_files() {
            let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
                continue;
            };
            let Some(opened) = admit(dir, name, Some(&mut seen), follow_hardlinks, found) else {
                continue;
            };
            // A console that is also a listed log (tee'd into the log dir) is read once.
            let id = (opened.meta.dev(), opened.meta.ino());
            if found.logs.any(|l| l.id == id) {
                continue;
            }
            let plain = crate::safe_fs::entry_name(name);
            let mut entry = format!("console/{plain}");
            if found.logs.any(|l| l.name == entry) {
                entry = format!("console/{}-{fd}-{plain}", process.pid);
            }
            let stream = if fd == 1 { "stdout" } else { "stderr" };
            found.logs.push(LogFile {
                path: opened.path,
                name: entry,
                size: opened.meta.len(),
                modified: opened.meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                gz: false,
                id,
                found_as: format!(
                    "console output of the running edgemicro (pid {}, its {stream})",
                    process.pid
                )
                .into(),
            });
        }
    }
}

/// What a `*.log` without an EMG name is taken as (only in a named dir with no EMG-named log).
const ANY_LOG: &str = "a *.log in the log dir (no file there has an EMG log name)";

fn list_logs(dir: &Path, prefix: &str, named: bool, follow_hardlinks: bool, found: &mut Discovery) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            found.skipped.push(Skipped {
                source: dir.display().to_string(),
                reason: format!("log dir: {}", io_reason(&e)),
            });
            return;
        }
    };
    // Taken as the dir is read, never held as a list of names (a dir of 100 000 rotations):
    // EMG-named logs go straight into the list. `*.log`s without an EMG name wait as names
    // until the dir shows an EMG-named log (then they are dropped) or ends (then they are
    // taken). So does a name that may be a second name of a file (a symbolic link, a file with
    // more than one name): those are taken at the end in name order, each file once, and
    // never one already taken under its own name.
    let mut any_log: Vec<std::ffi::OsString> = Vec::new();
    let mut links: Vec<(std::ffi::OsString, &'static str)> = Vec::new();
    let mut taken: Vec<(u64, u64)> = Vec::new();
    let mut emg_names = 0usize;
    for name in entries.filter_map(|e| e.ok().map(|e| e.file_name())) {
        let bytes = name.as_encoded_bytes();
        if bytes.starts_with(b"edgemicro") && (bytes.ends_with(b".bz2") || bytes.ends_with(b".xz"))
        {
            found.skipped.push(Skipped {
                source: dir.join(&name).display().to_string(),
                reason: "a bzip2/xz-compressed rotated log: not read (decompress it and pass it with --stdin-log); gzip ones are read".into(),
            });
        }
        let found_as = match log_kind(bytes) {
            Some(kind) => {
                emg_names += 1;
                any_log = Vec::new();
                kind
            }
            None if named && emg_names == 0 && bytes.ends_with(b".log") => {
                any_log.push(name);
                continue;
            }
            None => continue,
        };
        let is_link = std::fs::symlink_metadata(dir.join(&name))
            .is_ok_and(|m| m.file_type().is_symlink() || m.nlink() > 1);
        if is_link {
            links.push((name, found_as));
            continue;
        }
        if let Some(opened) = admit(dir, &name, None, follow_hardlinks, found) {
            taken.push((opened.meta.dev(), opened.meta.ino()));
            found.logs.push(listed(opened, prefix, &name, found_as));
        }
    }
    // No EMG-named log: the dir's `*.log`s, each read once as links are.
    links.extend(any_log.into_iter().map(|name| (name, ANY_LOG)));
    links.sort_unstable();
    taken.sort_unstable();
    let mut seen = std::collections::HashSet::new();
    for (name, found_as) in links {
        // A link inside the dir to a file that is listed too: read it once.
        let Some(opened) = admit(dir, &name, Some(&mut seen), follow_hardlinks, found) else {
            continue;
        };
        if taken
            .binary_search(&(opened.meta.dev(), opened.meta.ino()))
            .is_err()
        {
            found.logs.push(listed(opened, prefix, &name, found_as));
        }
    }
}

/// A log as listed: its bundle name is `prefix` and its file name made safe for a zip.
fn listed(
    opened: crate::safe_fs::Opened,
    prefix: &str,
    name: &std::ffi::OsStr,
    found_as: &'static str,
) -> LogFile {
    LogFile {
        name: format!("{prefix}{}", crate::safe_fs::entry_name(name)),
        size: opened.meta.len(),
        modified: opened.meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
        gz: name.as_encoded_bytes().ends_with(b".gz"),
        id: (opened.meta.dev(), opened.meta.ino()),
        found_as: found_as.into(),
        path: opened.path,
    }
}

/// Opens `dir/name` as a log to list: `None` when it was seen already (another name of a file
/// in `seen`), or cannot be read or is a hard link someone else may have planted (each skip
/// recorded with its reason).
fn admit(
    dir: &Path,
    name: &std::ffi::OsStr,
    seen: Option<&mut std::collections::HashSet<(u64, u64)>>,
    follow_hardlinks: bool,
    found: &mut Discovery,
) -> Option<crate::safe_fs::Opened> {
    let source = dir.join(name).display().to_string();
    let opened = match open_in_dir(dir, name) {
        Ok(opened) => opened,
        Err(reason) => {
            found.skipped.push(Skipped { source, reason });
            return None;
        }
    };
    if seen.is_some_and(|seen| !seen.insert((opened.meta.dev(), opened.meta.ino()))) {
        return None;
    }
    match hardlink_reason(dir, &opened.meta).filter(|_| !follow_hardlinks) {
        Some(reason) => {
            found.skipped.push(Skipped { source, reason });
            None
        }
        None => Some(opened),
    }
}
