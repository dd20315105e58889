//! `sudo edgemicro-diag …` without SUDO_USER (a root shell, cron, a bot) finds the config dir
//! the running edgemicro reads — its `-c DIR` (relative to its cwd), else `$HOME/.edgemicro`
//! of its own environment — before root's own `~/.edgemicro`; two gateways with different
//! dirs are not guessed between.
//!
//! The console a running edgemicro writes to a file, and the official docker image's log dir,
//! are collected with how they were found.
//!
//! A test binary of its own: while its fake edgemicro runs, every other run of the tool on this
//! host would find it too, and cargo runs test binaries one after another. Its tests take
//! `SERIAL` so they never see each other's gateways either.

#[path = "cli/harness.rs"]
#[allow(dead_code)]
mod harness;

use harness::*;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A long-lived process whose argv is `python3 DIR/bin/edgemicro start …ARGS`, as nobody when
/// we are root (its files then belong to another user), with HOME and cwd as given.
fn fake_edgemicro(
    dir: &std::path::Path,
    home: &std::path::Path,
    cwd: &std::path::Path,
    args: &[&str],
) -> Child {
    fake_edgemicro_to(dir, home, cwd, args, Stdio::null(), Stdio::null())
}

/// The same with its console (stdout, stderr) going where the caller says.
fn fake_edgemicro_to(
    dir: &std::path::Path,
    home: &std::path::Path,
    cwd: &std::path::Path,
    args: &[&str],
    stdout: Stdio,
    stderr: Stdio,
) -> Child {
    // The system's python: nobody cannot enter root's pyenv or venv dirs.
    let python = std::path::Path::new("/usr/bin/python3");
    fake_edgemicro_on(
        python,
        "import time\ntime.sleep(60)\n",
        dir,
        home,
        cwd,
        args,
        (stdout, stderr),
    )
}

/// The same with `interpreter` (python or node) running `script` as `DIR/bin/edgemicro`.
fn fake_edgemicro_on(
    interpreter: &std::path::Path,
    script: &str,
    dir: &std::path::Path,
    home: &std::path::Path,
    cwd: &std::path::Path,
    args: &[&str],
    (stdout, stderr): (Stdio, Stdio),
) -> Child {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let path = bin.join("edgemicro");
    std::fs::write(&path, script).unwrap();
    let script = path;
    let mut cmd = if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(interpreter);
        c
    } else {
        Command::new(interpreter)
    };
    let child = cmd
        .arg(&script)
        .arg("start")
        .args(["-o", "o", "-e", "e"])
        .args(args)
        .env_clear()
        .env("HOME", home)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr)
        .spawn()
        .unwrap();
    // Until python has its argv, /proc shows setpriv's.
    let mut child = child;
    for _ in 0..100 {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the fake edgemicro stopped: {status}");
        }
        let argv = std::fs::read(format!("/proc/{}/cmdline", child.id())).unwrap_or_default();
        if !argv.starts_with(b"setpriv") && argv.windows(9).any(|w| w == b"edgemicro") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child
}

struct Killed(Vec<Child>);
impl Drop for Killed {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn emg_dir(at: &std::path::Path, logs: &std::path::Path) {
    std::fs::create_dir_all(at).unwrap();
    std::fs::write(at.join("default.yaml"), "edgemicro:\n  port: 8000\n").unwrap();
    std::fs::write(
        at.join("o-e-config.yaml"),
        format!(
            "edgemicro:\n  port: 8000\n  logging:\n    level: info\n    dir: {}\n",
            logs.display()
        ),
    )
    .unwrap();
}

/// A test dir others may enter (the fake gateways run as nobody) with one EMG log.
fn host_with_a_log() -> Test {
    let t = Test::new();
    std::fs::set_permissions(t.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(
        t.log_dir().join("edgemicro-h-1-api.log"),
        "2026-01-01T00:00:00.000Z info 1 x\n",
    )
    .unwrap();
    t
}

#[test]
fn a_root_shell_finds_the_running_edgemicros_config_before_its_own() {
    let _serial = serial();
    let t = host_with_a_log();
    let root = t.dir.path();
    let logs = t.log_dir();
    // Root's own ~/.edgemicro (the tool's HOME) exists: the gateway's must still win.
    let (gw_home, gw_cwd, flag_dir) = (
        root.join("gw-home"),
        root.join("gw-cwd"),
        root.join("gw-cwd/conf"),
    );
    emg_dir(&t.config_dir(), &logs);
    emg_dir(&gw_home.join(".edgemicro"), &logs);
    emg_dir(&flag_dir, &logs);
    for d in [&gw_home, &gw_cwd, &flag_dir, &gw_home.join(".edgemicro")] {
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let run_tool = |name: &str| t_run(&t, name);

    // 1. Its $HOME/.edgemicro.
    {
        let _gw = Killed(vec![fake_edgemicro(root, &gw_home, &gw_cwd, &[])]);
        let json = run_tool("home.zip");
        assert_eq!(
            json["config_dir"]["path"],
            gw_home.join(".edgemicro").display().to_string(),
            "{json}"
        );
        let source = json["config_dir"]["source"].as_str().unwrap();
        assert!(
            source.contains("running edgemicro") && source.contains("$HOME"),
            "{source}"
        );
    }
    // 2. Its -c DIR, relative to its working dir, over its $HOME.
    {
        let _gw = Killed(vec![
            fake_edgemicro(root, &gw_home, &gw_cwd, &["-c", "conf"]),
            fake_edgemicro(root, &gw_home, &gw_cwd, &["-c", "conf"]),
        ]);
        let json = run_tool("flag.zip");
        assert_eq!(
            json["config_dir"]["path"],
            flag_dir.display().to_string(),
            "{json}"
        );
        assert!(
            json["config_dir"]["source"]
                .as_str()
                .unwrap()
                .contains("-c"),
            "{json}"
        );
    }
    // 3. Two gateways reading different dirs: no guess, the tool's own home.
    {
        let _gw = Killed(vec![
            fake_edgemicro(root, &gw_home, &gw_cwd, &[]),
            fake_edgemicro(root, &gw_home, &gw_cwd, &["--configDir", "conf"]),
        ]);
        let json = run_tool("two.zip");
        assert_eq!(
            json["config_dir"]["path"],
            t.config_dir().display().to_string(),
            "{json}"
        );
    }
    // 5. A real node runs it, installed by another user: its version is read beside the
    // binary (the install's node_version.h), never by running another user's program.
    {
        let node = root.join("nodejs");
        let from = repo().join("tests/emg/node_modules/node-18");
        std::fs::create_dir_all(node.join("bin")).unwrap();
        std::fs::create_dir_all(node.join("include/node")).unwrap();
        for rel in ["bin/node", "include/node/node_version.h"] {
            std::fs::copy(from.join(rel), node.join(rel))
                .unwrap_or_else(|e| panic!("{rel} of node 18 (npm ci in tests/emg): {e}"));
        }
        if is_root() {
            let chown = Command::new("chown")
                .args(["-R", "nobody:nogroup"])
                .arg(&node)
                .status()
                .unwrap();
            assert!(chown.success());
        }
        let _gw = Killed(vec![fake_edgemicro_on(
            &node.join("bin/node"),
            "setTimeout(() => {}, 60000);\n",
            &root.join("nodegw"),
            &gw_home,
            &gw_cwd,
            &[],
            (Stdio::null(), Stdio::null()),
        )]);
        let json = run_tool("node.zip");
        let entries = unzip_all(&t.path("out").join("node.zip"));
        let facts: serde_json::Value =
            serde_json::from_slice(entry(&entries, "system/facts.json")).unwrap();
        let node_facts = &facts["versions"]["nodejs"];
        assert_eq!(node_facts["version"], "18.20.8", "{facts:#} {json}");
        let source = node_facts["source"].as_str().unwrap();
        if is_root() {
            assert!(
                source.contains("node_version.h") && source.contains("not run"),
                "{source}"
            );
        } else {
            assert!(source.contains("--version"), "{source}");
        }
    }
    // 4. None running: the tool's own home, as always.
    let json = run_tool("none.zip");
    assert_eq!(
        json["config_dir"]["path"],
        t.config_dir().display().to_string(),
        "{json}"
    );
}

fn t_run(t: &Test, name: &str) -> serde_json::Value {
    collect_json(t, name, &[])
}

/// `collect -y --json -o out/NAME` as root would run it, with `env` added to a clean
/// environment; the run must give a complete bundle (exit 0).
fn collect_json(t: &Test, name: &str, env: &[(&str, &str)]) -> serde_json::Value {
    let out = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", t.path("home"))
        .env("TZ", "UTC")
        .envs(env.iter().copied())
        .args(["collect", "-y", "--json", "-o"])
        .arg(t.path("out").join(name))
        .current_dir(t.dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(json["exit_code"], 0, "{json:#}");
    json
}

const KEY: &str = "CONSOLEKEY0123456789abcdef0123456789abcdef0123456789abcdef012345";
const SECRET: &str = "CONSOLESECRET876543210fedcba9876543210fedcba9876543210fedcba987";

/// What an edgemicro console shows: the start line with key and secret, and a 502 record.
fn console_text(host: &str) -> String {
    format!(
        "edgemicro start -o o -e e -k {KEY} -s {SECRET}\n\
         2026-01-01T00:00:00.000Z [3] [microgateway edgemicro] current edgemicro version is 3.3.7\n\
         2026-01-01T00:00:01.000Z [error][{host}][1][o][e][orders][][][c1][microgateway-core][][GET][502][socket hang up][ECONNRESET][]\n"
    )
}

/// `nohup edgemicro start` (console in nohup.out, stdout and stderr alike) and a redirect into a
/// file of another name: each file is collected once, as `logs/console/…`, with the pid and
/// stream it was found through, redacted like any log; a console going to /dev/null is not.
#[test]
fn the_console_a_running_edgemicro_writes_to_a_file_is_collected() {
    let _serial = serial();
    let t = host_with_a_log();
    let root = t.dir.path();
    let logs = t.log_dir();
    emg_dir(&t.config_dir(), &logs);
    let gw_cwd = root.join("gw-cwd");
    std::fs::create_dir_all(&gw_cwd).unwrap();
    std::fs::set_permissions(&gw_cwd, std::fs::Permissions::from_mode(0o755)).unwrap();
    let nohup = gw_cwd.join("nohup.out");
    let redirect = gw_cwd.join("emg console.txt");
    std::fs::write(&nohup, console_text("0:8000")).unwrap();
    std::fs::write(&redirect, console_text("[::1]:8000")).unwrap();
    let append = |p: &std::path::Path| -> Stdio {
        std::fs::OpenOptions::new()
            .append(true)
            .open(p)
            .unwrap()
            .into()
    };
    let home = t.path("home");
    let _gw = Killed(vec![
        // The cluster master and a worker share nohup.out on both streams.
        fake_edgemicro_to(root, &home, &gw_cwd, &[], append(&nohup), append(&nohup)),
        fake_edgemicro_to(root, &home, &gw_cwd, &[], append(&nohup), append(&nohup)),
        fake_edgemicro_to(root, &home, &gw_cwd, &[], append(&redirect), Stdio::null()),
        fake_edgemicro_to(root, &home, &gw_cwd, &[], Stdio::null(), Stdio::null()),
    ]);
    let json = t_run(&t, "console.zip");
    let entries = unzip_all(&t.path("out").join("console.zip"));
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    let consoles: Vec<&&str> = names
        .iter()
        .filter(|n| n.starts_with("logs/console/"))
        .collect();
    assert_eq!(
        consoles.len(),
        2,
        "nohup.out once and the redirect: {names:?}\n{json:#}"
    );
    assert!(names.contains(&"logs/console/nohup.out"), "{names:?}");
    for (name, body) in &entries {
        for secret in [KEY, SECRET] {
            assert!(!contains(body, secret.as_bytes()), "{secret} in {name}");
        }
    }
    let manifest = manifest_of(&entries);
    let listed: Vec<&serde_json::Value> = manifest["logs_newest_first"]
        .as_array()
        .unwrap_or_else(|| panic!("{manifest:#}"))
        .iter()
        .filter(|l| l["name"].as_str().unwrap_or("").starts_with("console/"))
        .collect();
    assert_eq!(listed.len(), 2, "{manifest:#}");
    for l in &listed {
        let how = l["found_as"].as_str().unwrap();
        assert!(
            how.contains("console output of the running edgemicro (pid ") && how.contains("stdout"),
            "{how}"
        );
    }
    // The 502s the consoles hold are counted with the rest.
    let out = Command::new(BIN)
        .args(["analyze", "--json"])
        .arg(t.path("out").join("console.zip"))
        .output()
        .unwrap();
    let analysis: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(analysis["logs"]["totals"]["status_502"], 2, "{analysis:#}");
}

/// Removes what the test made under /opt.
struct Made(std::path::PathBuf);
impl Drop for Made {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The official docker image's layout, for real: the entrypoint echoes `edgemicro start … -k … -s
/// …` and tees the console into /opt/apigee/logs/edgemicro.log, while the config comes from a
/// secret-free EDGEMICRO_CONFIG whose logging.dir is empty. No --log-dir: the image's dir is
/// found because it exists, the console log is collected (key and secret redacted, its 502
/// counted) and the bundle is complete (exit 0).
#[test]
fn the_docker_images_console_log_is_found_in_container_mode() {
    let _serial = serial();
    let image = std::path::Path::new("/opt/apigee");
    if !is_root() || image.exists() {
        assert!(
            std::env::var_os("EDGEMICRO_DIAG_REQUIRE_CAPTURE").is_none() || !is_root(),
            "/opt/apigee exists on this host: the test would not own it"
        );
        eprintln!("skipped: needs root and no /opt/apigee");
        return;
    }
    let _made = Made(image.to_path_buf());
    std::fs::create_dir_all(image.join("logs")).unwrap();
    std::fs::write(image.join("logs/edgemicro.log"), console_text("0:8000")).unwrap();
    let t = Test::new();
    std::fs::remove_dir_all(t.config_dir()).unwrap();
    let config = format!(
        "edgemicro:\n  port: 8000\n  logging:\n    level: info\n    dir: {}\n",
        t.log_dir().display()
    );
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &config);
    let json = collect_json(
        &t,
        "pod.zip",
        &[
            ("EDGEMICRO_CONFIG", &encoded),
            ("EDGEMICRO_ORG", "o"),
            ("EDGEMICRO_ENV", "e"),
            ("EDGEMICRO_KEY", KEY),
            ("EDGEMICRO_SECRET", SECRET),
        ],
    );
    let dirs = json["log_dirs"].as_array().unwrap();
    assert!(
        dirs.iter().any(|d| d["path"] == "/opt/apigee/logs"
            && d["source"].as_str().unwrap().contains("docker image")),
        "{json:#}"
    );
    let entries = unzip_all(&t.path("out/pod.zip"));
    let (_, log) = entries
        .iter()
        .find(|(n, _)| n.ends_with("/edgemicro.log") || n == "logs/edgemicro.log")
        .unwrap_or_else(|| panic!("no edgemicro.log: {json:#}"));
    assert!(contains(log, b"[502][socket hang up]"));
    for (name, body) in &entries {
        for secret in [KEY, SECRET, encoded.as_str()] {
            assert!(!contains(body, secret.as_bytes()), "{secret} in {name}");
        }
    }
    let out = Command::new(BIN)
        .args(["analyze", "--json"])
        .arg(t.path("out/pod.zip"))
        .output()
        .unwrap();
    let analysis: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(analysis["logs"]["totals"]["status_502"], 1, "{analysis:#}");
}
