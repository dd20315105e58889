//! The one change this tool may make on a host: `edgemicro.logging.level` in ORG-ENV-config.yaml,
//! switched (support asks for `info` while the 502s happen) and restored byte for byte.
//!
//! Only the bytes of that one value change (or one `level:` line is added, in the file's own
//! indentation and line endings). The edit is re-parsed before it is written: if any other value
//! or key would differ, nothing is written. Writes go to a temp file in the same dir, fsynced,
//! with the original's mode and owner, then renamed over it. The original bytes are kept as
//! `<file>.edgemicro-diag.bak` with a small state record, so `restore` puts back exactly what was
//! there, and refuses when someone edited the file in between.
//!
//! On a shared host: the whole read-modify-rename holds an advisory lock on the config dir
//! (`flock`, so two runs never interleave) and re-reads the file just before the rename (an
//! append by another process in between aborts the switch). A config that is a symbolic link
//! is edited where it points, keeping the link, when that is inside the config dir; otherwise it
//! is refused. The backup and the state are never read through a link. Every intermediate state
//! a `kill -9` can leave (backup only; backup and state with the file still original; a restore
//! cut short) is recognised by `restore` and by the next switch.

use std::fs::{File, Permissions};
use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use saphyr_parser::ScalarStyle;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::exit::Fail;
use crate::model::Located;
use crate::yaml::{Node, Yaml};

pub(crate) use crate::model::LogLevel;
const LEVEL_PATH: &str = "#0.edgemicro.logging.level";

/// The files of one ORG-ENV pair.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) pair: String,
    /// ORG-ENV-config.yaml: the file `set` edits.
    pub(crate) file: PathBuf,
    pub(crate) default: PathBuf,
    pub(crate) cache: PathBuf,
}

/// What `set` left behind so `restore` knows what to put back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct State {
    pub(crate) file: PathBuf,
    pub(crate) original_sha256: String,
    pub(crate) modified_sha256: String,
    pub(crate) before: Option<String>,
    pub(crate) level: String,
    pub(crate) at: String,
}

#[derive(Debug, Serialize)]
pub(crate) struct Shown {
    pub(crate) pair: String,
    /// The level in effect and the file it comes from (`None`: no file sets one).
    pub(crate) level: Option<String>,
    pub(crate) file: Option<PathBuf>,
    /// The cache config's level when it differs: running workers use it until a reload.
    pub(crate) cache_level: Option<String>,
    /// A `set` that has not been restored yet.
    pub(crate) pending: Option<State>,
}

impl Target {
    /// The pair named by `--org/--env`, or the only pair in the dir.
    pub(crate) fn find(config_dir: &Located<PathBuf>, pair: Option<String>) -> Result<Target> {
        let dir = &config_dir.value;
        let pairs = crate::discover::pairs(dir).map_err(|e| {
            Fail::failure(
                format!(
                    "no EMG config dir: tried `{}` (from {}): {e:#}",
                    dir.display(),
                    config_dir.source
                ),
                "point to it with --config-dir DIR (or EDGEMICRO_CONFIG_DIR)",
            )
        })?;
        let pair =
            match (pair, pairs.as_slice()) {
                (Some(p), _) if pairs.contains(&p) => p,
                (Some(p), _) => {
                    return Err(Fail::failure(
                        format!("no `{p}-config.yaml` in `{}`", dir.display()),
                        format!("pairs found: {}", list(&pairs)),
                    )
                    .into())
                }
                (None, [only]) => only.clone(),
                (None, []) => return Err(Fail::failure(
                    format!("no ORG-ENV-config.yaml in `{}`", dir.display()),
                    "`edgemicro configure` writes it; or point to another dir with --config-dir",
                )
                .into()),
                (None, _) => {
                    return Err(Fail::usage(
                        format!(
                            "several ORG-ENV pairs in `{}`: {}",
                            dir.display(),
                            list(&pairs)
                        ),
                        "pick one with --org ORG --env ENV",
                    )
                    .into())
                }
            };
        Ok(Target {
            file: dir.join(format!("{pair}-config.yaml")),
            default: dir.join("default.yaml"),
            cache: dir.join(format!("{pair}-cache-config.yaml")),
            pair,
        })
    }

    fn backup(&self) -> PathBuf {
        suffixed(&self.file, ".edgemicro-diag.bak")
    }

    fn state_path(&self) -> PathBuf {
        suffixed(&self.file, ".edgemicro-diag.state")
    }

    pub(crate) fn pending(&self) -> Result<Option<State>> {
        match read_own(&self.state_path())? {
            Some(bytes) => Ok(Some(
                serde_json::from_slice(&bytes).context("the log-level state record is damaged")?,
            )),
            None => Ok(None),
        }
    }

    /// A `set` whose level is still in the file (a record left by a run cut short before the
    /// file changed, or after it was put back, is not).
    pub(crate) fn pending_in_force(&self) -> Result<Option<State>> {
        let Some(state) = self.pending()? else {
            return Ok(None);
        };
        let current = read_config(&self.edited()?).unwrap_or_default();
        Ok((sha256(&current) != state.original_sha256).then_some(state))
    }

    /// The file `set` and `restore` rewrite: the config itself, or where its symbolic link
    /// points when that is a regular file inside the config dir (the link is kept).
    fn edited(&self) -> Result<PathBuf> {
        let link = std::fs::symlink_metadata(&self.file)
            .with_context(|| format!("cannot read `{}`", self.file.display()))?;
        if !link.file_type().is_symlink() {
            return Ok(self.file.clone());
        }
        let dir = self
            .file
            .parent()
            .unwrap_or(Path::new("."))
            .canonicalize()
            .with_context(|| format!("cannot read the config dir of `{}`", self.file.display()))?;
        let resolved = self.file.canonicalize().ok();
        match resolved {
            Some(to) if to.starts_with(&dir) && std::fs::metadata(&to).is_ok_and(|m| m.is_file()) => {
                Ok(to)
            }
            to => Err(Fail::failure(
                format!(
                    "`{}` is a symbolic link to `{}`, outside the config dir (or not a regular file); nothing was changed",
                    self.file.display(),
                    to.map_or_else(|| "nowhere".into(), |t| t.display().to_string())
                ),
                "edit edgemicro.logging.level in that file by hand, or point --config-dir at its dir",
            )
            .into()),
        }
    }

    /// Holds the config dir's advisory lock for one switch or restore: waits up to 10 s for
    /// another run, then says who to wait for.
    fn lock(&self) -> Result<File> {
        let dir = self.file.parent().unwrap_or(Path::new("."));
        let handle = File::open(dir).with_context(|| format!("cannot open `{}`", dir.display()))?;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match handle.try_lock() {
                Ok(()) => return Ok(handle),
                Err(std::fs::TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                    if let Some(Err(fail)) = crate::signals::Interrupt::current().map(|i| i.check())
                    {
                        return Err(fail.into());
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(std::fs::TryLockError::WouldBlock) => {
                    return Err(Fail::failure(
                        format!(
                            "another edgemicro-diag is switching the log level in `{}`",
                            dir.display()
                        ),
                        "wait for it to finish, then run again",
                    )
                    .into())
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(e).with_context(|| format!("cannot lock `{}`", dir.display()))
                }
            }
        }
    }

    /// Org and env: the cache config records them (`edgemicro.global`); otherwise the pair is
    /// split at its first `-` (an org with a dash and no cache config makes this a guess).
    pub(crate) fn org_env(&self) -> (String, String) {
        let global = read_config(&self.cache)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|t| Yaml::parse(&t).ok())
            .and_then(|y| {
                Some((
                    y.get_str("edgemicro.global.org")?.to_string(),
                    y.get_str("edgemicro.global.env")?.to_string(),
                ))
            });
        global.unwrap_or_else(|| {
            let (org, env) = self.pair.split_once('-').unwrap_or((&self.pair, "ENV"));
            (org.to_string(), env.to_string())
        })
    }

    /// Absolute: the command is run from edgemicro's own dir, not ours.
    fn config_dir(&self) -> String {
        self.file
            .parent()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()))
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    }

    /// `edgemicro reload` with placeholders: key and secret never appear in our output.
    pub(crate) fn reload_command(&self) -> String {
        let (org, env) = self.org_env();
        format!("edgemicro reload -o {org} -e {env} -k \"$EDGEMICRO_KEY\" -s \"$EDGEMICRO_SECRET\" -c {}", self.config_dir())
    }

    /// How EMG picks up the change, for the operator.
    pub(crate) fn pickup_hint(&self) -> String {
        format!(
            "edgemicro picks this up on reload, run where edgemicro was started (its edgemicro.sock is there):\n  {}\nor on a restart",
            self.reload_command()
        )
    }
}

/// What `--reload` needs, checked before anything changes: the key and secret in the
/// environment and `edgemicro` on PATH.
pub(crate) fn check_reload() -> Result<()> {
    let missing: Vec<&str> = ["EDGEMICRO_KEY", "EDGEMICRO_SECRET"]
        .into_iter()
        .filter(|v| std::env::var_os(v).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(Fail::failure(
            format!("--reload needs {} in the environment; nothing was changed", missing.join(" and ")),
            "export them (never pass them as arguments), or drop --reload and run the printed reload command",
        )
        .into());
    }
    let on_path = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("edgemicro").is_file()));
    if !on_path {
        return Err(Fail::failure(
            "--reload needs `edgemicro` on PATH; nothing was changed",
            "run as the user whose PATH has edgemicro, or drop --reload and restart edgemicro",
        )
        .into());
    }
    Ok(())
}

/// Runs `edgemicro reload` with the key and secret from the environment (EMG reads
/// EDGEMICRO_KEY/EDGEMICRO_SECRET itself, so they never go on a command line), in the working dir
/// of the running edgemicro, bounded to 90 s. Returns edgemicro's last line.
pub(crate) fn reload(target: &Target) -> Result<String> {
    check_reload()?;
    let mut known = Vec::new();
    let cwd = crate::facts::edgemicro_processes(&mut known)
        .into_iter()
        .filter_map(|p| p.cwd.map(PathBuf::from))
        .find(|cwd| cwd.join("edgemicro.sock").exists());
    let (org, env) = target.org_env();
    let mut cmd = std::process::Command::new("edgemicro");
    cmd.args(["reload", "-o", &org, "-e", &env, "-c", &target.config_dir()]);
    if let Some(cwd) = &cwd {
        cmd.current_dir(cwd);
    }
    let done =
        crate::child::run_bounded(&mut cmd, std::time::Duration::from_secs(90)).map_err(|e| {
            Fail::failure(
                format!(
                    "cannot run `edgemicro reload`: {}",
                    crate::safe_fs::io_reason(&e)
                ),
                "put edgemicro on PATH, or restart edgemicro",
            )
        })?;
    let Some(done) = done else {
        bail!("`edgemicro reload` did not finish within 90 s; check `edgemicro status`")
    };
    let mut last = done
        .output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .to_string();
    for var in ["EDGEMICRO_KEY", "EDGEMICRO_SECRET"] {
        if let Some(value) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
            last = last.replace(&value, &crate::redact::token("env_secret"));
        }
    }
    if !done.status.success() {
        bail!("`edgemicro reload` failed ({}): {last}", done.status);
    }
    Ok(last)
}

/// The level switched for one `collect`: restored explicitly, or on drop (errors, signals).
pub(crate) struct Switch {
    target: Target,
    pub(crate) before: Option<String>,
    pub(crate) during: LogLevel,
    done: bool,
}

impl Switch {
    pub(crate) fn set(target: Target, level: LogLevel) -> Result<Switch> {
        if target.pending_in_force()?.is_some() {
            return Err(Fail::failure(
                format!(
                    "a `log-level set` on `{}` is still pending",
                    target.file.display()
                ),
                "run `edgemicro-diag log-level restore` first, or collect without --log-level",
            )
            .into());
        }
        let before = set(&target, level)?;
        Ok(Switch {
            target,
            before,
            during: level,
            done: false,
        })
    }

    pub(crate) fn target(&self) -> &Target {
        &self.target
    }

    pub(crate) fn restore(mut self) -> Result<()> {
        self.done = true;
        restore(&self.target).map(|_| ())
    }
}

impl Drop for Switch {
    fn drop(&mut self) {
        if !self.done {
            if let Err(e) = restore(&self.target) {
                eprintln!("edgemicro-diag: error: could not restore the log level: {e:#}");
                eprintln!("hint: run `edgemicro-diag log-level restore`");
            }
        }
    }
}

fn list(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The level a config sets: `Ok(None)` when the file does not exist or sets none; an error when
/// it exists but cannot be read or parsed (a level shown from another file may not be in force).
fn level_in(path: &Path) -> Result<Option<String>> {
    let text = match read_config(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Fail::failure(
                format!(
                    "cannot read `{}`: {}; the level in force cannot be told",
                    path.display(),
                    crate::safe_fs::io_reason(&e)
                ),
                "run as the user that runs edgemicro (or root)",
            )
            .into())
        }
    };
    let yaml = Yaml::parse(&text).map_err(|e| {
        Fail::failure(
            format!(
                "`{}`:{e}: malformed YAML; the level in force cannot be told",
                path.display()
            ),
            "fix the file (edgemicro cannot load it either)",
        )
    })?;
    Ok(yaml.get_str("edgemicro.logging.level").map(str::to_string))
}

pub(crate) fn show(target: &Target) -> Result<Shown> {
    let (level, file) = match level_in(&target.file)? {
        Some(l) => (Some(l), Some(target.file.clone())),
        None => match level_in(&target.default)? {
            Some(l) => (Some(l), Some(target.default.clone())),
            None => (None, None),
        },
    };
    // The cache config is informational: unreadable, it is simply not shown.
    let cache_level = level_in(&target.cache)
        .ok()
        .flatten()
        .filter(|c| Some(c) != level.as_ref());
    Ok(Shown {
        pair: target.pair.clone(),
        level,
        file,
        cache_level,
        pending: target.pending()?,
    })
}

/// At debug and trace EMG dumps request headers (authorization, cookie) into its log files.
pub(crate) fn header_warning(level: LogLevel) -> Option<String> {
    level.writes_headers().then(|| {
        format!(
            "at {level} edgemicro writes request headers (authorization, cookie) into its logs; \
             bundles redact them, but the raw logs on disk now hold them"
        )
    })
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Sets the level; returns the level before. A second `set` keeps the first one's backup, so
/// `restore` always returns to the file as it was before this tool touched it.
pub(crate) fn set(target: &Target, level: LogLevel) -> Result<Option<String>> {
    let _lock = target.lock()?;
    let path = &target.edited()?;
    let meta =
        std::fs::metadata(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    if meta.mode() & 0o200 == 0 {
        return Err(Fail::failure(
            format!("`{}` is read-only (mode {:o}); nothing was changed", path.display(), meta.mode() & 0o7777),
            "someone made it read-only on purpose: make it writable first, or set edgemicro.logging.level by hand",
        )
        .into());
    }
    let original =
        read_config(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let text = std::str::from_utf8(&original)
        .with_context(|| format!("`{}` is not UTF-8 text", path.display()))?;
    let pending = still_pending(target, path, &original)?;
    let (edited, before) = edit_level(text, level.as_str())
        .with_context(|| format!("cannot switch the level in `{}`", path.display()))?;
    let state = State {
        file: path.clone(),
        original_sha256: pending
            .as_ref()
            .map_or_else(|| sha256(&original), |p| p.original_sha256.clone()),
        modified_sha256: sha256(edited.as_bytes()),
        before: pending
            .as_ref()
            .map_or_else(|| before.clone(), |p| p.before.clone()),
        level: level.to_string(),
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    if pending.is_none() {
        write_atomic(&target.backup(), &original, &meta, None)?;
        crate::signals::test_stall("loglevel-backup");
    }
    write_atomic(
        &target.state_path(),
        &serde_json::to_vec_pretty(&state)?,
        &meta,
        None,
    )?;
    crate::signals::test_stall("loglevel-state");
    if let Err(e) = write_atomic(path, edited.as_bytes(), &meta, Some(&sha256(&original))) {
        // Not switched: the record of this attempt must not outlive it.
        match &pending {
            None => {
                let _ = discard(target);
            }
            Some(previous) => {
                let _ = serde_json::to_vec_pretty(previous)
                    .map_err(anyhow::Error::from)
                    .and_then(|b| write_atomic(&target.state_path(), &b, &meta, None));
            }
        }
        return Err(e);
    }
    Ok(before)
}

/// The record of an earlier switch that is still in force, if any. A switch cut short before
/// the file was written (or a restore cut short after it was put back) left the original in
/// place: its record is stale and removed. A file changed since that switch is refused.
fn still_pending(target: &Target, path: &Path, original: &[u8]) -> Result<Option<State>> {
    let Some(state) = target.pending()? else {
        return Ok(None);
    };
    if sha256(original) == state.original_sha256 {
        discard(target)?;
        return Ok(None);
    }
    if sha256(original) != state.modified_sha256 {
        bail!(Fail::failure(
            format!(
                "`{}` changed after an earlier `log-level set`, which was never restored",
                path.display()
            ),
            format!(
                "compare it with `{}` (the original) and restore by hand, then remove `{}`",
                target.backup().display(),
                target.state_path().display()
            ),
        ));
    }
    Ok(Some(state))
}

/// Removes the backup and the state record of a switch that is no longer in force.
fn discard(target: &Target) -> Result<()> {
    for path in [target.backup(), target.state_path()] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove `{}`", path.display())),
        }
    }
    Ok(())
}

/// Puts the original bytes back; refuses if the file is not what `set` wrote. A switch that
/// never reached the file, or a restore that was cut short, is finished here.
pub(crate) fn restore(target: &Target) -> Result<Option<String>> {
    let _lock = target.lock()?;
    let path = &target.edited()?;
    let Some(state) = target.pending()? else {
        // A `set` killed after its backup but before its state: the file was never changed.
        if let Some(backup) = read_own(&target.backup())? {
            let current =
                read_config(path).with_context(|| format!("cannot read `{}`", path.display()))?;
            if backup == current {
                discard(target)?;
                let level = std::str::from_utf8(&backup)
                    .ok()
                    .and_then(|t| Yaml::parse(t).ok())
                    .and_then(|y| y.get_str("edgemicro.logging.level").map(str::to_string));
                return Ok(level);
            }
        }
        return Err(Fail::failure(
            format!("nothing to restore for `{}`", target.file.display()),
            "`log-level restore` undoes a `log-level set` made by this tool; none is pending",
        )
        .into());
    };
    let current = read_config(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    if sha256(&current) == state.original_sha256 {
        discard(target)?;
        return Ok(state.before);
    }
    if sha256(&current) != state.modified_sha256 {
        return Err(Fail::failure(
            format!(
                "`{}` changed after `log-level set`; not overwriting those changes",
                target.file.display()
            ),
            format!(
                "the original is in `{}`: compare, restore by hand (cp), then remove `{}`",
                target.backup().display(),
                target.state_path().display()
            ),
        )
        .into());
    }
    let original = read_own(&target.backup())?.with_context(|| {
        format!(
            "the backup `{}` is gone; restore edgemicro.logging.level by hand",
            target.backup().display()
        )
    })?;
    if sha256(&original) != state.original_sha256 {
        bail!(
            "the backup `{}` does not match what `set` recorded; not restoring from it",
            target.backup().display()
        );
    }
    let meta = std::fs::metadata(path)?;
    write_atomic(path, &original, &meta, Some(&state.modified_sha256))?;
    if sha256(&read_config(path)?) != state.original_sha256 {
        bail!(
            "`{}` does not read back as the original after restore",
            target.file.display()
        );
    }
    crate::signals::test_stall("loglevel-restore");
    discard(target)?;
    Ok(state.before)
}

/// A config file, read the safe way: never blocking on a FIFO, bounded.
fn read_config(path: &Path) -> std::io::Result<Vec<u8>> {
    crate::safe_fs::read_regular(path, 32 << 20)
}

/// A file this tool wrote beside the config (backup, state), never read through a link or
/// from a FIFO: `None` when it does not exist.
fn read_own(path: &Path) -> Result<Option<Vec<u8>>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path);
    let file = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(Fail::failure(
                format!("`{}` is a symbolic link; this tool never reads its own files through a link", path.display()),
                "someone replaced it: compare the config with what you expect, fix it by hand, and remove this file",
            )
            .into())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read `{}`", path.display())),
    };
    if !file.metadata()?.is_file() {
        bail!(Fail::failure(
            format!("`{}` is not a regular file", path.display()),
            "someone replaced it: remove it, then check the config by hand",
        ));
    }
    let mut bytes = Vec::new();
    file.take(64 << 20).read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Temp file in the same dir, same mode and owner as `like`, fsync, rename, fsync the dir.
/// With `expect`, the file is re-read just before the rename and must still have that sha256:
/// an append by another process since it was read aborts the write.
fn write_atomic(
    path: &Path,
    bytes: &[u8],
    like: &std::fs::Metadata,
    expect: Option<&str>,
) -> Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".edgemicro-diag-")
        .tempfile_in(dir)
        .map_err(|e| {
            Fail::failure(
                format!(
                    "cannot write in `{}`: {}",
                    dir.display(),
                    crate::safe_fs::io_reason(&e)
                ),
                "run as the user that owns the EMG config dir",
            )
        })?;
    tmp.as_file()
        .set_permissions(Permissions::from_mode(like.mode() & 0o7777))?;
    // Keep the owner (root editing the edgemicro user's file must not take it over); only root may.
    let _ = std::os::unix::fs::fchown(tmp.as_file(), Some(like.uid()), Some(like.gid()));
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    let changed = || {
        Fail::failure(
            format!(
                "`{}` changed while the level was being switched; nothing was changed",
                path.display()
            ),
            "another process writes this file: run again when it is done",
        )
    };
    // The file as it is now, through one descriptor: what it holds is checked before the
    // rename, and its size after, so an append that lands in between is put back, not lost.
    let old = match expect {
        Some(expect) => {
            let mut old =
                File::open(path).with_context(|| format!("cannot read `{}`", path.display()))?;
            let mut now = Vec::new();
            std::io::Read::read_to_end(&mut old, &mut now)?;
            if sha256(&now) != expect {
                return Err(changed().into());
            }
            Some((old, now.len() as u64))
        }
        None => None,
    };
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot replace `{}`", path.display()))?;
    File::open(dir)?.sync_all()?;
    if let Some((mut old, len)) = old {
        if old.metadata()?.len() != len {
            let mut all = Vec::new();
            std::io::Seek::rewind(&mut old)?;
            std::io::Read::read_to_end(&mut old, &mut all)?;
            write_atomic(path, &all, like, None)?;
            return Err(changed().into());
        }
    }
    Ok(())
}

/// The edited text and the level before. Pure: unit-tested on every shape below.
pub(crate) fn edit_level(text: &str, level: &str) -> Result<(String, Option<String>)> {
    let yaml = Yaml::parse(text).map_err(|e| anyhow::anyhow!("{e}: not valid YAML"))?;
    let eol = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let root = yaml.docs.first().filter(|d| matches!(d, Node::Map { .. }));
    let edgemicro = root.and_then(|r| r.entry("edgemicro")).map(|(_, v)| v);
    let logging = edgemicro.and_then(|e| e.entry("logging"));
    let current = logging.and_then(|(_, l)| l.entry("level"));
    let (at, insert) = match (root, edgemicro, logging, current) {
        (_, _, _, Some((_, Node::Scalar(s)))) => return replace_level(text, s, level),
        (_, _, _, Some(_)) => {
            bail!("edgemicro.logging.level is an alias or a collection; edit it by hand")
        }
        (_, _, Some((key, logging)), None) => in_logging(text, key, logging, level, eol)?,
        (_, Some(Node::Map { entries, start, .. }), None, None) => {
            in_edgemicro(text, entries, *start, level, eol)?
        }
        (Some(_), None, None, None) => {
            let prefix = if text.is_empty() || text.ends_with('\n') {
                ""
            } else {
                eol
            };
            (
                text.len(),
                format!("{prefix}edgemicro:{eol}  logging:{eol}    level: {level}{eol}"),
            )
        }
        _ => bail!("the file is not an EMG config (no top-level map); edit it by hand"),
    };
    let out = format!("{}{insert}{}", &text[..at], &text[at..]);
    verified(text, out, level, None)
}

/// `level:` is there: only its value's bytes change, in the quoting it had.
fn replace_level(
    text: &str,
    s: &crate::yaml::Scalar,
    level: &str,
) -> Result<(String, Option<String>)> {
    if matches!(s.style, ScalarStyle::Literal | ScalarStyle::Folded) {
        bail!("edgemicro.logging.level is a block scalar; edit it by hand");
    }
    if s.anchor > 0 {
        bail!("edgemicro.logging.level carries an anchor (&); edit it by hand");
    }
    let quoted = match s.style {
        ScalarStyle::SingleQuoted => format!("'{level}'"),
        ScalarStyle::DoubleQuoted => format!("\"{level}\""),
        _ => level.to_string(),
    };
    let out = format!("{}{quoted}{}", &text[..s.span.start], &text[s.span.end..]);
    verified(text, out, level, Some(s.value.clone()))
}

/// `edgemicro.logging` is there without `level`: where to add it and what, in its style (flow
/// or block, at its keys' indentation).
fn in_logging(
    text: &str,
    key: &Node,
    logging: &Node,
    level: &str,
    eol: &str,
) -> Result<(usize, String)> {
    match logging {
        Node::Map { entries, start, .. } => {
            if text.as_bytes().get(*start) == Some(&b'{') {
                let sep = if entries.is_empty() { "" } else { ", " };
                Ok((*start + 1, format!("level: {level}{sep}")))
            } else {
                let first = entries.first().map(|(k, _)| k).unwrap_or(key);
                let (line_start, col) = line_and_col(text, key_start(first));
                Ok((
                    line_start,
                    format!("{}level: {level}{eol}", " ".repeat(col)),
                ))
            }
        }
        Node::Scalar(s) if s.value.is_empty() => {
            // `logging:` with nothing under it: add the key on the next line, one step in.
            let (_, col) = line_and_col(text, key_start(key));
            let end = text[key_start(key)..]
                .find('\n')
                .map_or(text.len(), |p| key_start(key) + p + 1);
            let prefix = if end == text.len() && !text.ends_with('\n') {
                eol
            } else {
                ""
            };
            Ok((
                end,
                format!("{prefix}{}level: {level}{eol}", " ".repeat(col + 2)),
            ))
        }
        _ => bail!("edgemicro.logging is not a map; edit it by hand"),
    }
}

/// `edgemicro` is a map without `logging`: where to add `logging: {level}`, in its style.
fn in_edgemicro(
    text: &str,
    entries: &[(Node, Node)],
    start: usize,
    level: &str,
    eol: &str,
) -> Result<(usize, String)> {
    if text.as_bytes().get(start) == Some(&b'{') {
        let sep = if entries.is_empty() { "" } else { ", " };
        Ok((start + 1, format!("logging: {{level: {level}}}{sep}")))
    } else if let Some((first, _)) = entries.first() {
        let (line_start, col) = line_and_col(text, key_start(first));
        Ok((
            line_start,
            format!("{0}logging:{eol}{0}{0}level: {level}{eol}", " ".repeat(col)),
        ))
    } else {
        bail!("edgemicro is an empty map; edit it by hand");
    }
}

fn key_start(key: &Node) -> usize {
    match key {
        Node::Scalar(s) => s.span.start,
        Node::Map { start, .. } | Node::Seq { start, .. } => *start,
        Node::Alias { .. } => 0,
    }
}

/// Byte offset of the line holding `offset`, and `offset`'s column in it.
fn line_and_col(text: &str, offset: usize) -> (usize, usize) {
    let line_start = text[..offset].rfind('\n').map_or(0, |p| p + 1);
    (line_start, offset - line_start)
}

/// Proves the edit: every other leaf is unchanged and the level reads back as asked.
fn verified(
    before_text: &str,
    out: String,
    level: &str,
    before: Option<String>,
) -> Result<(String, Option<String>)> {
    let before_yaml = Yaml::parse(before_text)?;
    let after_yaml = Yaml::parse(&out)
        .map_err(|e| anyhow::anyhow!("the edit would not parse ({e}); nothing was changed"))?;
    let mut a = before_yaml.leaves();
    let mut b = after_yaml.leaves();
    let got = b.remove(LEVEL_PATH);
    a.remove(LEVEL_PATH);
    // An empty `logging:` (null) becomes the map that holds the new key.
    if a.get("#0.edgemicro.logging").is_some_and(String::is_empty)
        && !b.contains_key("#0.edgemicro.logging")
    {
        a.remove("#0.edgemicro.logging");
    }
    if a != b || got.as_deref() != Some(level) {
        bail!("the edit would change more than edgemicro.logging.level; nothing was changed");
    }
    Ok((out, before))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edit(text: &str) -> String {
        edit_level(text, "info")
            .unwrap_or_else(|e| panic!("{e:#}\n{text}"))
            .0
    }

    #[test]
    fn changes_only_the_value_bytes() {
        let text = "# EMG config\nedgemicro:\n  port: 8000\n  logging:\n    level: error   # was warn\n    dir: /var/tmp\nmsg: >-\n  folded\n  text\n";
        assert_eq!(edit(text), text.replace("level: error", "level: info"));
        assert_eq!(
            edit_level(text, "info").unwrap().1.as_deref(),
            Some("error")
        );
        let crlf = text.replace('\n', "\r\n");
        assert_eq!(edit(&crlf), crlf.replace("level: error", "level: info"));
        let tab = "edgemicro:\n  logging:\n    level:\t'warn'\t# tab\n";
        assert_eq!(
            edit(tab),
            "edgemicro:\n  logging:\n    level:\t'info'\t# tab\n"
        );
        let flow = "edgemicro:\n  logging: {level: error, dir: /var/tmp}\n";
        assert_eq!(
            edit(flow),
            "edgemicro:\n  logging: {level: info, dir: /var/tmp}\n"
        );
        let dq = "edgemicro:\n  logging:\n    level: \"error\"\n";
        assert_eq!(edit(dq), "edgemicro:\n  logging:\n    level: \"info\"\n");
    }

    #[test]
    fn adds_the_key_in_the_files_own_indentation() {
        assert_eq!(
            edit("edgemicro:\n    port: 8000\n    logging:\n        dir: /var/tmp\n"),
            "edgemicro:\n    port: 8000\n    logging:\n        level: info\n        dir: /var/tmp\n"
        );
        assert_eq!(
            edit("edgemicro:\n  port: 8000\n"),
            "edgemicro:\n  logging:\n    level: info\n  port: 8000\n"
        );
        assert_eq!(
            edit("edgemicro:\r\n  port: 8000\r\n"),
            "edgemicro:\r\n  logging:\r\n    level: info\r\n  port: 8000\r\n"
        );
        assert_eq!(
            edit("edgemicro:\n  logging: {dir: /x}\n"),
            "edgemicro:\n  logging: {level: info, dir: /x}\n"
        );
        assert_eq!(
            edit("edgemicro:\n  logging:\nheaders: {}\n"),
            "edgemicro:\n  logging:\n    level: info\nheaders: {}\n"
        );
        assert_eq!(
            edit("headers: {via: true}"),
            "headers: {via: true}\nedgemicro:\n  logging:\n    level: info\n"
        );
        assert_eq!(
            edit("edgemicro: {port: 8000}\n"),
            "edgemicro: {logging: {level: info}, port: 8000}\n"
        );
        assert_eq!(
            edit("edgemicro: {}\n"),
            "edgemicro: {logging: {level: info}}\n"
        );
    }

    #[test]
    fn refuses_what_it_cannot_edit_safely() {
        for text in [
            "edgemicro:\n  logging:\n    level: |\n      error\n",
            "edgemicro:\n  logging:\n    level: &l error\n",
            "base: &l error\nedgemicro:\n  logging:\n    level: *l\n",
            "- a list\n",
            "edgemicro:\n  logging: to-console\n",
            "edgemicro: on\n",
        ] {
            assert!(edit_level(text, "info").is_err(), "should refuse:\n{text}");
        }
    }
}
