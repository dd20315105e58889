//! Install like real software: shell completions and man pages generated from the clap
//! definitions match the checked-in copies under dist/ (`EDGEMICRO_DIAG_BLESS=1` rewrites them);
//! the portable binary needs glibc 2.17 at most and runs; the .deb holds the binary, the man
//! page and the completions.

use std::path::Path;
use std::process::Command;

use clap::CommandFactory;

use crate::harness::*;

/// Every generated file: (path under dist/, contents).
fn generated() -> Vec<(String, Vec<u8>)> {
    use clap_complete::Shell;
    let mut out = Vec::new();
    for (shell, name) in [
        (Shell::Bash, "completions/edgemicro-diag.bash"),
        (Shell::Zsh, "completions/_edgemicro-diag"),
        (Shell::Fish, "completions/edgemicro-diag.fish"),
    ] {
        let mut buf = Vec::new();
        clap_complete::generate(
            shell,
            &mut edgemicro_diag::Cli::command(),
            "edgemicro-diag",
            &mut buf,
        );
        out.push((name.to_string(), buf));
    }
    let cmd = edgemicro_diag::Cli::command();
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut page)
        .unwrap();
    out.push(("man/edgemicro-diag.1".into(), page));
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("edgemicro-diag-{}", sub.get_name());
        let mut page = Vec::new();
        clap_mangen::Man::new(sub.clone())
            .title(name.clone())
            .render(&mut page)
            .unwrap();
        out.push((format!("man/{name}.1"), page));
    }
    out
}

#[test]
fn completions_and_man_pages_match_the_code() {
    let dist = repo().join("dist");
    let bless = std::env::var_os("EDGEMICRO_DIAG_BLESS").is_some();
    let mut stale = Vec::new();
    for (name, contents) in generated() {
        let path = dist.join(&name);
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &contents).unwrap();
        } else if std::fs::read(&path).ok().as_deref() != Some(contents.as_slice()) {
            stale.push(name);
        }
    }
    assert!(
        stale.is_empty(),
        "dist/ is stale for {stale:?}: run `EDGEMICRO_DIAG_BLESS=1 cargo test --test cli install::` and commit dist/"
    );
    let man = std::fs::read_to_string(dist.join("man/edgemicro-diag-collect.1")).unwrap();
    assert!(
        man.contains("max\\-log\\-bytes") && man.contains("EDGEMICRO_DIAG_LOG_DIR"),
        "the collect page documents flags and env twins"
    );
    let bash = std::fs::read_to_string(dist.join("completions/edgemicro-diag.bash")).unwrap();
    assert!(bash.contains("--capture-seconds") && bash.contains("log-level"));
}

fn zigbuild_available() -> bool {
    let has = Command::new("python3")
        .args(["-c", "import venv"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        assert!(
            std::env::var_os("EDGEMICRO_DIAG_REQUIRE_CAPTURE").is_none(),
            "CI builds the portable binary; python3 with venv is needed"
        );
    }
    has
}

/// scripts/build-portable: glibc 2.17 at most (RHEL 7 onward), checked with objdump -T; the
/// binary runs; scripts/build-deb packages it with the man page and completions.
#[test]
fn the_portable_binary_needs_glibc_2_17_at_most_and_packages_as_a_deb() {
    if std::env::var_os("EDGEMICRO_DIAG_REQUIRE_CAPTURE").is_none() {
        eprintln!("SKIPPED: the portable build takes minutes; CI runs it (EDGEMICRO_DIAG_REQUIRE_CAPTURE)");
        return;
    }
    assert!(zigbuild_available());
    let out = tempfile::tempdir().unwrap();
    let run = Command::new(repo().join("scripts/build-portable"))
        .arg(out.path())
        .output()
        .expect("the script runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let version = env!("CARGO_PKG_VERSION");
    let bin = out
        .path()
        .join(format!("edgemicro-diag-{version}-x86_64-linux-gnu"));
    let symbols = Command::new("objdump")
        .arg("-T")
        .arg(&bin)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&symbols.stdout);
    let highest = regex::Regex::new(r"GLIBC_(\d+)\.(\d+)")
        .unwrap()
        .captures_iter(&text)
        .map(|c| (c[1].parse::<u32>().unwrap(), c[2].parse::<u32>().unwrap()))
        .max()
        .unwrap();
    assert!(
        highest <= (2, 17),
        "needs GLIBC_{}.{}",
        highest.0,
        highest.1
    );
    let version_out = Command::new(&bin).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version_out.stdout).contains(version));
    sha256sum_check_named(
        out.path(),
        &format!("edgemicro-diag-{version}-x86_64-linux-gnu.sha256"),
    );

    let run = Command::new(repo().join("scripts/build-deb"))
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let deb = out
        .path()
        .join(format!("edgemicro-diag_{version}_amd64.deb"));
    let listing = Command::new("dpkg-deb")
        .arg("-c")
        .arg(&deb)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    for needed in [
        "./usr/bin/edgemicro-diag",
        "./usr/share/man/man1/edgemicro-diag.1.gz",
        "./usr/share/bash-completion/completions/edgemicro-diag",
        "./usr/share/zsh/vendor-completions/_edgemicro-diag",
        "./usr/share/fish/vendor_completions.d/edgemicro-diag.fish",
        "./usr/share/doc/edgemicro-diag/edgemicro-diag.schema.json",
    ] {
        assert!(listing.contains(needed), "{needed} in the .deb:\n{listing}");
    }
}

fn sha256sum_check_named(dir: &Path, sidecar: &str) {
    let run = Command::new("sha256sum")
        .arg("-c")
        .arg(sidecar)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stdout)
    );
}
