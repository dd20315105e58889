//! One harness for every integration test: the real binary, run in a temp dir with a scrubbed
//! environment (HOME, no EDGEMICRO_*, TZ=UTC, NO_COLOR=1), with EMG installs built on disk.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const BIN: &str = env!("CARGO_BIN_EXE_edgemicro-diag");

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Test {
    pub dir: tempfile::TempDir,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
}

pub struct Run {
    pub code: i32,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(out: Output) -> Run {
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: out.stdout,
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Run {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).to_string()
    }
    /// Stdout as the one JSON object of `--json`, checked against the published schema
    /// (schema/edgemicro-diag.schema.json): every test that reads JSON checks the contract.
    pub fn json(&self) -> serde_json::Value {
        let value: serde_json::Value = serde_json::from_slice(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON object ({e}): {}\nstderr: {}",
                self.stdout_str(),
                self.stderr
            )
        });
        check_schema(&value);
        value
    }
}

impl Test {
    pub fn new() -> Test {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("home/.edgemicro")).unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        std::fs::create_dir_all(dir.path().join("out")).unwrap();
        Test {
            dir,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// A configured EMG install with no secrets: default.yaml and one ORG-ENV pair `o-e`.
    pub fn minimal() -> Test {
        Test::new()
            .config(
                "default.yaml",
                "edgemicro:\n  port: 8000\n  logging: {level: error, dir: /var/tmp}\n",
            )
            .config(
                "o-e-config.yaml",
                "edgemicro:\n  port: 8000\n  keep_alive_timeout: 65000\n",
            )
    }

    /// The example install shipped in the repo, copied into this test's HOME.
    pub fn example() -> Test {
        let t = Test::new();
        copy_dir(&repo().join("examples/emg/edgemicro"), &t.config_dir());
        copy_dir(&repo().join("examples/emg/logs"), &t.log_dir());
        // Rotation n was written after rotation n-1, as on a real host (a fresh clone has equal mtimes).
        let mut logs: Vec<PathBuf> = std::fs::read_dir(t.log_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        logs.sort();
        for (i, log) in logs.iter().enumerate() {
            let at = std::time::SystemTime::UNIX_EPOCH
                + std::time::Duration::from_secs(1_624_400_000 + 3600 * i as u64);
            std::fs::File::options()
                .write(true)
                .open(log)
                .unwrap()
                .set_modified(at)
                .unwrap();
        }
        t
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    pub fn config_dir(&self) -> PathBuf {
        self.path("home/.edgemicro")
    }
    pub fn log_dir(&self) -> PathBuf {
        self.path("logs")
    }

    pub fn config(self, name: &str, text: &str) -> Test {
        std::fs::write(self.config_dir().join(name), text).unwrap();
        self
    }

    pub fn log(self, name: &str, bytes: impl AsRef<[u8]>) -> Test {
        std::fs::write(self.log_dir().join(name), bytes).unwrap();
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: Into<OsString>>(mut self, args: I) -> Test {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.into(), value.into()));
        self
    }

    /// `collect -y` with this test's log dir and an output in `out/`.
    pub fn collect(self, bundle: &str) -> Test {
        let log_dir = self.log_dir();
        let out = self.path("out").join(bundle);
        self.args(["collect", "-y", "--log-dir"]).args([
            log_dir.into_os_string(),
            "-o".into(),
            out.into_os_string(),
        ])
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("TZ", "UTC")
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path())
            .args(&self.args)
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    pub fn run(&self) -> Run {
        self.command().output().expect("binary runs").into()
    }
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// Every entry of a zip, read with the real `unzip` (`unzip -Z1` lists, `unzip -p` extracts).
/// Panics with every violation when `value` does not follow the published JSON schema.
pub fn check_schema(value: &serde_json::Value) {
    static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let validator = SCHEMA.get_or_init(|| {
        let text = std::fs::read_to_string(repo().join("schema/edgemicro-diag.schema.json"))
            .expect("the schema file");
        jsonschema::validator_for(&serde_json::from_str(&text).expect("the schema is JSON"))
            .expect("the schema is a valid JSON Schema")
    });
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "output breaks the JSON schema:\n{}\n{value:#}",
        errors.join("\n")
    );
}

pub fn unzip_all(zip: &Path) -> Vec<(String, Vec<u8>)> {
    let list = Command::new("unzip")
        .arg("-Z1")
        .arg(zip)
        .output()
        .expect("unzip is installed (.ci/run installs it)");
    assert!(
        list.status.success(),
        "unzip -Z1 failed: {}",
        String::from_utf8_lossy(&list.stderr)
    );
    String::from_utf8(list.stdout)
        .unwrap()
        .lines()
        .map(|name| {
            let out = Command::new("unzip")
                .arg("-p")
                .arg(zip)
                .arg(name)
                .output()
                .unwrap();
            assert!(out.status.success(), "unzip -p {name} failed");
            (name.to_string(), out.stdout)
        })
        .collect()
}

/// One entry's bytes from `unzip_all`'s list.
pub fn entry<'a>(entries: &'a [(String, Vec<u8>)], name: &str) -> &'a [u8] {
    &entries
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no entry {name}"))
        .1
}

/// The reason the JSON report gives for skipping the file whose path ends with `file`.
pub fn skip_reason<'a>(json: &'a serde_json::Value, file: &str) -> &'a str {
    json["skipped"]
        .as_array()
        .expect("a skipped list")
        .iter()
        .find(|s| s["source"].as_str().unwrap().ends_with(file))
        .unwrap_or_else(|| panic!("{file} not skipped: {}", json["skipped"]))["reason"]
        .as_str()
        .unwrap()
}

pub fn manifest_of(entries: &[(String, Vec<u8>)]) -> serde_json::Value {
    serde_json::from_slice(entry(entries, "manifest.json")).expect("manifest.json is JSON")
}

/// `unzip -t`: the real tool tests every CRC.
pub fn unzip_test(zip: &Path) {
    let out = Command::new("unzip").arg("-t").arg(zip).output().unwrap();
    assert!(
        out.status.success(),
        "unzip -t: {}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// `sha256sum -c` on the sidecar, run in the bundle's dir as an operator would.
pub fn sha256sum_check(zip: &Path) {
    let sidecar = format!("{}.sha256", zip.file_name().unwrap().to_string_lossy());
    let out = Command::new("sha256sum")
        .arg("-c")
        .arg(&sidecar)
        .current_dir(zip.parent().unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "sha256sum -c: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Sends a real signal (`kill -TERM PID`) and returns the child's exit code and stderr.
pub fn signal_and_wait(child: std::process::Child, signal: &str) -> (Option<i32>, String) {
    let sent = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "kill {signal} failed");
    let out = child.wait_with_output().expect("the child is reaped");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The run's own `.partial` (`NAME.<random>.partial`) in `out/`, while it is being written.
pub fn partial_of(t: &Test, name: &str) -> Option<PathBuf> {
    std::fs::read_dir(t.path("out")).ok()?.find_map(|e| {
        let e = e.ok()?;
        let n = e.file_name().into_string().ok()?;
        (n.starts_with(&format!("{name}.")) && n.ends_with(".partial")).then(|| e.path())
    })
}

/// Nothing in `out/`: no bundle, no `.partial`, no sidecar.
pub fn assert_nothing_left(t: &Test) {
    let left: Vec<_> = std::fs::read_dir(t.path("out"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

/// PyYAML's view: same key tree, only REDACTED_ leaves changed.
pub fn assert_same_yaml_keys(original: &Path, redacted: &[u8]) {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), redacted).unwrap();
    let out = Command::new("python3")
        .arg(repo().join("tests/helpers/yaml_same_keys.py"))
        .arg(original)
        .arg(tmp.path())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{} changed structure: {}{}",
        original.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// True when the tests run as root (CI does): permission failures then need a real
/// unprivileged user, since root reads any file.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

impl Test {
    /// Runs the binary as user `nobody` when the tests run as root, so that file modes apply;
    /// the test dir is opened up for that user first.
    pub fn run_unprivileged(&self) -> Run {
        if !is_root() {
            return self.run();
        }
        for entry in walk(self.dir.path()) {
            let meta = std::fs::symlink_metadata(&entry).unwrap();
            if meta.is_dir() {
                let mode = std::os::unix::fs::PermissionsExt::mode(&meta.permissions());
                if mode & 0o700 == 0o700 {
                    std::fs::set_permissions(
                        &entry,
                        std::os::unix::fs::PermissionsExt::from_mode(0o777),
                    )
                    .unwrap();
                }
            }
        }
        let inner = self.command();
        let mut cmd = Command::new("setpriv");
        cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
            .arg(inner.get_program())
            .args(inner.get_args());
        cmd.env_clear()
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        for (k, v) in inner.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        cmd.output().expect("setpriv runs").into()
    }
}

fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = vec![root.to_path_buf()];
    let mut i = 0;
    while i < out.len() {
        if std::fs::symlink_metadata(&out[i])
            .map(|m| m.is_dir())
            .unwrap_or(false)
        {
            for e in std::fs::read_dir(&out[i]).unwrap() {
                out.push(e.unwrap().path());
            }
        }
        i += 1;
    }
    out
}

/// Deterministic, barely compressible log lines (a xorshift stream as hex), `n` bytes or so.
pub fn noisy_log(seed: u64, n: usize) -> String {
    let mut x = seed | 1;
    let mut out = String::with_capacity(n + 200);
    while out.len() < n {
        let mut hex = String::new();
        for _ in 0..8 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            hex.push_str(&format!("{x:016x}"));
        }
        out.push_str(&format!("2026-01-01T00:00:00.000Z info 1 payload {hex}\n"));
    }
    out
}

/// Runs a Python script with `arg` as its argument (zips written by an independent writer);
/// the script must succeed.
pub fn python(script: &str, arg: &Path) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(arg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deterministic values for the leak corpora (xorshift), so a failure names the same values
/// on every run.
pub struct Gen(pub u64);

impl Gen {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn pick(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[(self.next() % alphabet.len() as u64) as usize] as char)
            .collect()
    }
    /// A unique secret core: 24 characters, never a substring of anything else planted.
    pub fn core(&mut self, i: usize) -> String {
        format!(
            "Z{i:02}{}",
            self.pick(
                b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789",
                21
            )
        )
    }
    pub fn hex(&mut self, n: usize) -> String {
        self.pick(b"0123456789abcdef", n)
    }
}
