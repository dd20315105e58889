//! `sudo edgemicro-diag …` without SUDO_USER (a root shell, cron, a bot) finds the config dir
//! the running edgemicro reads — its `-c DIR` (relative to its cwd), else `$HOME/.edgemicro`
//! of its own environment — before root's own `~/.edgemicro`; two gateways with different
//! dirs are not guessed between.
//!
//! A test binary of its own: while its fake edgemicro runs, every other run of the tool on this
//! host would find it too, and cargo runs test binaries one after another.

#[path = "cli/harness.rs"]
#[allow(dead_code)]
mod harness;

use harness::*;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};

/// A long-lived process whose argv is `python3 DIR/bin/edgemicro start …ARGS`, as nobody when
/// we are root (its files then belong to another user), with HOME and cwd as given.
fn fake_edgemicro(
    dir: &std::path::Path,
    home: &std::path::Path,
    cwd: &std::path::Path,
    args: &[&str],
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

#[test]
fn a_root_shell_finds_the_running_edgemicros_config_before_its_own() {
    let t = Test::new();
    let root = t.dir.path();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    let logs = t.log_dir();
    std::fs::write(
        logs.join("edgemicro-h-1-api.log"),
        "2026-01-01T00:00:00.000Z info 1 x\n",
    )
    .unwrap();
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
    let out = Command::new(BIN)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", t.path("home"))
        .env("TZ", "UTC")
        .args(["collect", "-y", "--json", "-o"])
        .arg(t.path("out").join(name))
        .current_dir(t.dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(json["exit_code"], 0, "{json}");
    json
}
