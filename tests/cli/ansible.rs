//! examples/ansible/collect.yml end to end with ansible-core (`.ci/run` installs it from PyPI):
//! two inventory hosts over the local connection plugin get verified bundles on the
//! controller; a third, broken host is recorded as failed without stopping the others.

use std::process::Command;

use crate::harness::*;

#[test]
fn playbook_collects_fetches_and_verifies_two_hosts_and_survives_a_failing_one() {
    let t = Test::new();
    for host in ["gw1", "gw2"] {
        copy_dir(
            &repo().join("examples/emg/edgemicro"),
            &t.path(&format!("{host}/edgemicro")),
        );
        copy_dir(
            &repo().join("examples/emg/logs"),
            &t.path(&format!("{host}/logs")),
        );
    }
    let python = String::from_utf8(
        Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let dir = t.dir.path().display().to_string();
    let inventory = format!(
        "[edgemicro]\n\
         gw1 ansible_connection=local edgemicro_diag_args=\"-c {dir}/gw1/edgemicro --log-dir {dir}/gw1/logs\"\n\
         gw2 ansible_connection=local edgemicro_diag_args=\"-c {dir}/gw2/edgemicro --log-dir {dir}/gw2/logs\"\n\
         gw3 ansible_connection=local edgemicro_diag_args=\"-c {dir}/no-such-dir\"\n\n\
         [edgemicro:vars]\nansible_python_interpreter={}\n",
        python.trim()
    );
    std::fs::write(t.path("inventory.ini"), inventory).unwrap();
    let bundles = t.path("bundles");
    let out = Command::new("ansible-playbook")
        .args(["-i", "inventory.ini"])
        .arg(repo().join("examples/ansible/collect.yml"))
        .args([
            "-e",
            &format!("edgemicro_diag_local_bin={BIN}"),
            "-e",
            &format!("edgemicro_diag_bundles={}", bundles.display()),
        ])
        .current_dir(t.dir.path())
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_LOCALHOST_WARNING", "false")
        .env("ANSIBLE_LOCAL_TEMP", t.path("ansible-local"))
        .env("ANSIBLE_REMOTE_TEMP", t.path("ansible-remote"))
        .env("HOME", t.path("home"))
        .output()
        .expect("ansible-playbook is installed (.ci/run: pip install ansible-core)");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{log}");
    for host in ["gw1", "gw2"] {
        let zip = bundles.join(host).join(format!("{host}.zip"));
        sha256sum_check(&zip);
        let verify = Test::new()
            .args(["verify".into(), zip.clone().into_os_string()])
            .run();
        assert_eq!(verify.code, 0, "{}", verify.stderr);
        let entries = unzip_all(&zip);
        assert!(
            !entries.iter().any(|(_, b)| contains(b, b"FAKE")),
            "redacted on the host before it left"
        );
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundles.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["gw1"]["status"], "ok", "{summary}");
    assert_eq!(summary["gw2"]["status"], "ok");
    assert_eq!(summary["gw3"]["status"], "failed");
    assert_eq!(summary["gw3"]["exit_code"], 1);
    assert!(
        summary["gw3"]["error"]
            .as_str()
            .unwrap()
            .contains("no EMG config dir"),
        "{summary}"
    );
    assert!(!bundles.join("gw3").exists());
    assert!(log.contains("gw3: failed (exit 1)"), "{log}");
}
