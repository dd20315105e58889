//! The wizard through a real pseudo-terminal (rexpect): defaults, a pair of two, the log-level
//! switch declined and accepted, cancel at the preview, Ctrl-C in the middle.

use rexpect::process::WaitStatus;
use rexpect::reader::Options;
use rexpect::session::{spawn_with_options, PtySession};

use crate::harness::*;

const TEXT: &str =
    "edgemicro:\n  port: 8000\n  logging:\n    level: error   # EMG default\n    dir: LOGS\n";

fn install() -> Test {
    let t = Test::minimal();
    let text = TEXT.replace("LOGS", &t.log_dir().display().to_string());
    t.config("o-e-config.yaml", &text).log(
        "edgemicro-gw-1-api.log",
        "2021-06-23T03:52:24.110Z [error][0:8000][3][o][e][emg_badtarget/flakey/hangup?apikey=WIZSECRET1][][][6b08][microgateway-core][][GET][502][socket hang up][ECONNRESET][]\n",
    )
}

struct Pty {
    session: PtySession,
    seen: String,
}

impl Pty {
    fn start(t: &Test, args: &[&str]) -> Pty {
        let mut cmd = t.command();
        // The harness gives stdin /dev/null; here the pty rexpect set up must be inherited.
        cmd.args(args)
            .env("TERM", "xterm")
            .stdin(std::process::Stdio::inherit())
            .stdout(std::process::Stdio::inherit())
            .stderr(std::process::Stdio::inherit());
        let session = spawn_with_options(
            cmd,
            Options::new()
                .timeout_ms(Some(30_000))
                .strip_ansi_escape_codes(true),
        )
        .expect("spawn in a pty");
        Pty {
            session,
            seen: String::new(),
        }
    }

    fn expect(&mut self, text: &str) {
        let before = self
            .session
            .exp_string(text)
            .unwrap_or_else(|e| panic!("waiting for {text:?}: {e}\nseen so far:\n{}", self.seen));
        self.seen.push_str(&utf8(&before));
        self.seen.push_str(text);
    }

    /// Answers the prompt `prompt` with `keys` (`\r` is Enter).
    fn answer(&mut self, prompt: &str, keys: &str) {
        self.expect(prompt);
        // Let dialoguer finish drawing before keys arrive.
        std::thread::sleep(std::time::Duration::from_millis(150));
        self.session.send(keys).unwrap();
        self.session.flush().unwrap();
    }

    /// Enter at every prompt up to the preview; `switch` answers the log-level offer.
    fn defaults_until_preview(&mut self, switch: &str) {
        self.answer("EMG config dir", "\r");
        self.answer("Log dir", "\r");
        self.answer("Which time window?", "\r");
        self.answer("Support case id", "\r");
        self.answer("Switch", switch);
        self.answer("Capture traffic", "\r");
        self.answer("Bundle path", "\r");
    }

    fn finish(mut self) -> (i32, String) {
        let rest = self.session.exp_eof().unwrap_or_default();
        self.seen.push_str(&utf8(&rest));
        let code = match self.session.process().wait().unwrap() {
            WaitStatus::Exited(_, code) => code,
            WaitStatus::Signaled(_, signal, _) => 128 + signal as i32,
            other => panic!("unexpected end: {other:?}"),
        };
        (code, self.seen)
    }
}

/// rexpect hands over each byte as a char; put the UTF-8 back together.
fn utf8(text: &str) -> String {
    let bytes: Vec<u8> = text.chars().map(|c| c as u32 as u8).collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn bundles(t: &Test) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(t.dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().contains("edgemicro-diag-"))
        .collect()
}

fn config_text(t: &Test) -> String {
    std::fs::read_to_string(t.config_dir().join("o-e-config.yaml")).unwrap()
}

/// The answered prompts (`✔ prompt · answer`), paths, host and stamps normalized: the wizard's
/// words as an operator reads them.
fn prompts(transcript: &str, t: &Test) -> String {
    let tmp = t.dir.path().display().to_string();
    let bundle = regex::Regex::new(r"edgemicro-diag-\S+-\d{8}T\d{6}Z").unwrap();
    let mut lines: Vec<String> = transcript
        .split(['\n', '\r'])
        .filter_map(|l| l.find('✔').map(|at| &l[at..]))
        .map(|l| {
            bundle
                .replace_all(&l.replace(&tmp, "[TMP]"), "edgemicro-diag-[HOST]-[STAMP]")
                .trim()
                .to_string()
        })
        .collect();
    lines.dedup();
    lines.join("\n")
}

#[test]
fn accept_all_defaults_gives_a_verified_bundle_and_changes_nothing() {
    let t = install();
    let original = config_text(&t);
    let mut pty = Pty::start(&t, &[]);
    pty.defaults_until_preview("\r");
    pty.expect("Redaction preview");
    pty.expect("query_secret 1");
    pty.answer("Write the bundle?", "\r");
    pty.expect("next        attach");
    let (code, transcript) = pty.finish();
    assert_eq!(code, 0, "{transcript}");
    assert!(
        !transcript.contains("WIZSECRET1"),
        "the preview never shows a value"
    );
    let found = bundles(&t);
    let zip = found
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .expect("a bundle");
    sha256sum_check(zip);
    let entries = unzip_all(zip);
    assert!(entries
        .iter()
        .any(|(n, _)| n == "logs/edgemicro-gw-1-api.log"));
    assert!(!entries.iter().any(|(_, b)| contains(b, b"WIZSECRET1")));
    assert_eq!(
        config_text(&t),
        original,
        "declined switch: the config is untouched"
    );
    insta::assert_snapshot!("wizard_prompts_defaults", prompts(&transcript, &t));
}

#[test]
fn pick_one_pair_of_two() {
    let t = install().config(
        "o2-e2-config.yaml",
        "edgemicro:\n  port: 8000\n  redisPassword: OTHERPAIRPW\n",
    );
    let mut pty = Pty::start(&t, &["wizard"]);
    pty.answer("EMG config dir", "\r");
    pty.answer("Which org-env pair has the 502s?", "j\r");
    pty.answer("Log dir", "\r");
    pty.answer("Which time window?", "\r");
    pty.answer("Support case id", "CASE-42\r");
    pty.answer("Switch", "\r");
    pty.answer("Capture traffic", "\r");
    pty.answer("Bundle path", "\r");
    pty.answer("Write the bundle?", "\r");
    let (code, transcript) = pty.finish();
    assert_eq!(code, 0, "{transcript}");
    let zip = bundles(&t)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .unwrap();
    let entries = unzip_all(&zip);
    let names: Vec<&str> = entries.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        names.contains(&"config/o-e-config.yaml") && !names.iter().any(|n| n.contains("o2-e2")),
        "{names:?}"
    );
    let manifest = manifest_of(&entries);
    assert_eq!(manifest["case"], "CASE-42");
}

#[test]
fn accepted_switch_is_applied_during_the_reproduction_and_restored() {
    let t = install();
    let original = config_text(&t);
    let mut pty = Pty::start(&t, &[]);
    pty.defaults_until_preview("y");
    pty.answer("Write the bundle?", "\r");
    pty.expect("edgemicro reload -o o -e e");
    pty.expect("Reproduce the problem now");
    assert!(
        config_text(&t).contains("level: info   # EMG default"),
        "switched while reproducing"
    );
    pty.session.send("\r").unwrap();
    pty.session.flush().unwrap();
    let (code, transcript) = pty.finish();
    assert_eq!(code, 0, "{transcript}");
    assert_eq!(config_text(&t), original, "restored byte for byte");
    let zip = bundles(&t)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .unwrap();
    let manifest = manifest_of(&unzip_all(&zip));
    assert_eq!(manifest["log_level"]["during"], "info");
    assert_eq!(manifest["log_level"]["restored"], true);
}

#[test]
fn cancel_at_the_preview_writes_nothing() {
    let t = install();
    let mut pty = Pty::start(&t, &[]);
    pty.defaults_until_preview("y");
    pty.answer("Write the bundle?", "jj\r");
    pty.expect("cancelled; nothing was written");
    let (code, transcript) = pty.finish();
    assert_eq!(code, 1, "{transcript}");
    assert!(bundles(&t).is_empty(), "{:?}", bundles(&t));
    assert!(
        config_text(&t).contains("level: error"),
        "the switch is never made before the bundle is confirmed"
    );
}

#[test]
fn ctrl_c_while_reproducing_restores_the_level_and_leaves_nothing() {
    let t = install();
    let original = config_text(&t);
    let mut pty = Pty::start(&t, &[]);
    pty.defaults_until_preview("y");
    pty.answer("Write the bundle?", "\r");
    pty.expect("Reproduce the problem now");
    assert!(config_text(&t).contains("level: info"));
    std::thread::sleep(std::time::Duration::from_millis(150));
    pty.session.send_control('c').unwrap();
    let (code, transcript) = pty.finish();
    assert_eq!(code, 130, "{transcript}");
    assert_eq!(config_text(&t), original, "level restored");
    assert!(bundles(&t).is_empty(), "nothing left: {:?}", bundles(&t));
    assert!(!t
        .config_dir()
        .join("o-e-config.yaml.edgemicro-diag.bak")
        .exists());
}

#[test]
fn ctrl_c_at_the_first_prompt_exits_130() {
    let t = install();
    let mut pty = Pty::start(&t, &["wizard"]);
    pty.answer("EMG config dir", "");
    pty.session.send_control('c').unwrap();
    let (code, transcript) = pty.finish();
    assert_eq!(code, 130, "{transcript}");
    assert!(bundles(&t).is_empty());
}

#[test]
fn without_a_terminal_the_wizard_exits_2_with_a_hint() {
    let run = install().args(["wizard"]).run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("collect --yes"), "{}", run.stderr);
}

#[test]
fn capture_offer_runs_tcpdump_until_the_operator_presses_enter() {
    let has_tcpdump = std::process::Command::new("tcpdump")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !(is_root() && has_tcpdump) {
        eprintln!("SKIPPED: capturing needs root and tcpdump (CI has both)");
        return;
    }
    let t = install();
    let mut pty = Pty::start(&t, &[]);
    pty.answer("EMG config dir", "\r");
    pty.answer("Log dir", "\r");
    pty.answer("Which time window?", "\r");
    pty.answer("Support case id", "\r");
    pty.answer("Switch", "\r");
    pty.answer("Capture traffic", "y");
    pty.answer("Capture for how many seconds", "30\r");
    pty.answer("Target hosts", "127.0.0.1\r");
    pty.answer("Capture whole packets?", "\r");
    pty.answer("Bundle path", "\r");
    pty.expect("capture traffic to the targets for up to 30 s (headers only)");
    pty.answer("Write the bundle?", "\r");
    pty.expect("tcpdump 'tcp and ((host 127.0.0.1))'");
    pty.answer("Reproduce the problem now", "\r");
    let started = std::time::Instant::now();
    let (code, transcript) = pty.finish();
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "Enter ended the 30 s capture"
    );
    assert_eq!(code, 0, "{transcript}");
    let zip = bundles(&t)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .unwrap();
    let entries = unzip_all(&zip);
    let capture = &manifest_of(&entries)["capture"];
    assert_eq!(capture["status"], "captured", "{capture}");
    assert_eq!(capture["stopped_by"], "reproduction");
    assert!(entries.iter().any(|(n, _)| n == "capture/targets.pcap"));
}

/// The wizard resolves the same settings as `collect`: a site rule file named only in the
/// environment is applied, and what flags or the environment already answered is not asked again
/// (it is shown with where it came from).
#[test]
fn the_wizard_takes_flags_and_environment_like_collect() {
    let t = install();
    let t = t.log(
        "edgemicro-gw-2-api.log",
        "2021-06-23T03:52:25.110Z [error][0:8000][3][o][e][emg_badtarget/x][][][6b09][microgateway-core][][GET][502][tenant SITEONLY-77aa91 refused][ECONNRESET][]\n",
    );
    let rules = t.dir.path().join("site-rules.yaml");
    std::fs::write(
        &rules,
        "patterns:\n  - id: site_tenant\n    why: tenant ids are customer data\n    keywords: [\"siteonly-\"]\n    regex: '(SITEONLY-[0-9a-f]+)'\n",
    )
    .unwrap();
    let t = t.env("EDGEMICRO_DIAG_RULES", rules.to_str().unwrap());
    let log_dir = t.log_dir().display().to_string();
    let mut pty = Pty::start(&t, &["wizard", "--case", "CASE-7", "--log-dir", &log_dir]);
    pty.expect("(from $EDGEMICRO_DIAG_RULES)");
    pty.expect("(from --case)");
    pty.answer("EMG config dir", "\r");
    // --log-dir and --case answered two questions: the next prompt is the time window.
    pty.answer("Which time window?", "\r");
    pty.answer("Switch", "\r");
    pty.answer("Capture traffic", "\r");
    pty.answer("Bundle path", "\r");
    pty.expect("site_tenant 1");
    pty.answer("Write the bundle?", "\r");
    let (code, transcript) = pty.finish();
    assert_eq!(code, 0, "{transcript}");
    assert!(!transcript.contains("Log dir ·"), "{transcript}");
    assert!(!transcript.contains("Support case id"), "{transcript}");
    let zip = bundles(&t)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .unwrap();
    let entries = unzip_all(&zip);
    assert!(
        !entries.iter().any(|(_, b)| contains(b, b"SITEONLY-77aa91")),
        "the site rule from EDGEMICRO_DIAG_RULES was applied"
    );
    assert!(entries
        .iter()
        .any(|(n, _)| n == "logs/edgemicro-gw-2-api.log"));
    let manifest = manifest_of(&entries);
    assert_eq!(manifest["case"], "CASE-7");
}

/// A bare `edgemicro-diag` is the wizard with the same environment: EDGEMICRO_DIAG_* apply.
#[test]
fn the_bare_command_reads_the_same_environment() {
    let t = install().log(
        "edgemicro-gw-3-api.log",
        "2021-06-23T03:52:26.110Z [error][0:8000][3][o][e][emg_badtarget/x][][][6b0a][microgateway-core][][GET][502][tenant SITEONLY-0f0f0f0f refused][ECONNRESET][]\n",
    );
    let rules = t.dir.path().join("site.yaml");
    std::fs::write(
        &rules,
        "patterns:\n  - id: site_tenant\n    why: tenant ids\n    keywords: [\"siteonly-\"]\n    regex: '(SITEONLY-[0-9a-f]+)'\n",
    )
    .unwrap();
    let t = t
        .env("EDGEMICRO_DIAG_RULES", rules.to_str().unwrap())
        .env("EDGEMICRO_DIAG_CASE", "ENV-CASE-9")
        .env("EDGEMICRO_DIAG_SINCE", "2020-01-01T00:00:00Z");
    let mut pty = Pty::start(&t, &[]);
    pty.expect("(from $EDGEMICRO_DIAG_CASE)");
    pty.answer("EMG config dir", "\r");
    pty.answer("Log dir", "\r");
    // The window (EDGEMICRO_DIAG_SINCE) and the case id are answered.
    pty.answer("Switch", "\r");
    pty.answer("Capture traffic", "\r");
    pty.answer("Bundle path", "\r");
    pty.answer("Write the bundle?", "\r");
    let (code, transcript) = pty.finish();
    assert_eq!(code, 0, "{transcript}");
    assert!(!transcript.contains("Which time window"), "{transcript}");
    let zip = bundles(&t)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .unwrap();
    let entries = unzip_all(&zip);
    assert!(!entries
        .iter()
        .any(|(_, b)| contains(b, b"SITEONLY-0f0f0f0f")));
    assert_eq!(manifest_of(&entries)["case"], "ENV-CASE-9");
}

/// The wizard's plan names the systemd journal it will read, and its bundle holds it.
#[test]
fn the_wizard_plans_and_collects_the_journal() {
    let t = install();
    let dir = t.path("journal");
    let line = "2026-11-30T00:29:40.850Z [error][gw][7][o][e][h/x][::1][][c1][microgateway-core][][GET][502][socket hang up][ECONNRESET][]";
    if !crate::journal::journal(&dir, &[("edgemicro.service", line)]) {
        return;
    }
    let mut pty = Pty::start(&t, &["wizard", "--journal-dir", dir.to_str().unwrap()]);
    pty.defaults_until_preview("\r");
    pty.expect(
        "will read the journal of edgemicro.service into logs/journal-edgemicro.service.log",
    );
    pty.answer("Write the bundle?", "\r");
    let (code, transcript) = pty.finish();
    assert_eq!(code, 0, "{transcript}");
    let zip = bundles(&t)
        .into_iter()
        .find(|p| p.extension().is_some_and(|e| e == "zip"))
        .unwrap();
    let entries = unzip_all(&zip);
    assert!(
        contains(
            entry(&entries, "logs/journal-edgemicro.service.log"),
            b"[GET][502]"
        ),
        "{transcript}"
    );
}
