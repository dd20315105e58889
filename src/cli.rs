//! The command line, clap derive only: every `///` on a flag is its `--help` text.
//!
//! Flags are turned into a plan by `settings.rs`; nothing here touches the host. Boolean env
//! twins read `1/0/true/false/yes/no/on/off` (clap's boolish parser), as bots set them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::units::{parse_size, parse_time, TimeBound};

const EXIT_CODES: &str = "\
Exit codes:
  0 bundle complete   1 failed, nothing left behind   2 usage error
  3 bundle written with something skipped (listed)    4 verify mismatch or leak self-check
  129/130/143 stopped by SIGHUP/SIGINT/SIGTERM, nothing left behind";

const EXAMPLES: &str = "\
Examples:
  # The wizard: asks what it cannot find, shows the plan, writes the bundle
  edgemicro-diag

  # The same without questions; bots add --json (one JSON object on stdout)
  edgemicro-diag collect --yes --json

  # Why the 502s? From this host's logs and configs, or from a bundle
  edgemicro-diag analyze --probe-targets
  edgemicro-diag analyze edgemicro-diag-gw1-20260101T120000Z.zip

  # Check a bundle before attaching it
  edgemicro-diag verify edgemicro-diag-gw1-20260101T120000Z.zip

Each command has its own examples: edgemicro-diag help COMMAND
";

const COLLECT_EXAMPLES: &str = "\
Examples:
  # On the gateway, as the user that runs edgemicro: one bundle in the current dir
  edgemicro-diag collect --yes

  # Another config dir and log dir, only the last 2 hours, at most 500 MB of logs
  edgemicro-diag collect -y -c /opt/emg/.edgemicro --log-dir /logs --since 2h --max-log-bytes 500M

  # Incident bots: no prompts, one JSON object on stdout, exit codes below
  edgemicro-diag collect --yes --json

  # Stream the zip over ssh; the report (with the zip's sha256) goes to stderr
  ssh gw1 edgemicro-diag collect -y --json -o - > gw1.zip 2> gw1.json

  # Switch edgemicro to log level info, give the 502s 5 minutes, collect, switch back
  edgemicro-diag collect -y --log-level info --reproduce-seconds 300

  # Capture 2 minutes of traffic to the targets (header-only) while the 502s happen
  sudo edgemicro-diag collect -y --capture-seconds 120

  # On a busy gateway: yield the CPU and the disk to its traffic (nice 19, ionice idle)
  edgemicro-diag collect -y --low-priority

  # Same secret, same token (REDACTED_PASSWORD_3f9c0a1b2c4d) across files; map kept beside it
  edgemicro-diag collect -y --pseudonymize -o gw1.zip   # writes gw1.zip.map.json (0600)

  # What would be collected and redacted; writes nothing
  edgemicro-diag collect --dry-run
";

const WIZARD_EXAMPLES: &str = "\
Examples:
  # Answer the questions; Enter accepts what was found
  edgemicro-diag

  # Start with the case id and a site rule file; those questions are not asked
  edgemicro-diag wizard --case 01234567 --rules /etc/edgemicro-diag/site-rules.yaml
";

const VERIFY_EXAMPLES: &str = "\
Examples:
  # Check a bundle (and the .sha256 beside it) before attaching it
  edgemicro-diag verify edgemicro-diag-gw1-20260101T120000Z.zip

  # Several bundles, or a directory a bundle was unzipped into; the worst exit code wins
  edgemicro-diag verify gw1.zip gw2.zip ./gw3-unzipped --json

Exit codes: 0 every bundle intact, 1 not a bundle or unreadable, 4 a mismatch (named)";

const ANALYZE_EXAMPLES: &str = "\
Examples:
  # On the gateway: log triage, keep-alive order of client, LB, EMG and targets
  edgemicro-diag analyze

  # Also measure how long each target keeps an idle connection (up to 2 minutes each)
  edgemicro-diag analyze --probe-targets --lb-idle-timeout 60

  # Support's side: one bundle, or several gateways behind one load balancer as one analysis
  edgemicro-diag analyze gw1.zip gw2.zip --html report.html";

const REDACT_EXAMPLES: &str = "\
Examples:
  # What the bundle would hide in one log and one config dir
  edgemicro-diag redact /var/tmp/edgemicro-gw1-0a1b-0-api.log ~/.edgemicro

  # With a site rule file, counts per file and rule as JSON
  edgemicro-diag redact --rules site-rules.yaml --json ~/.edgemicro";

const SHOW_EXAMPLES: &str = "\
Examples:
  edgemicro-diag log-level show
  edgemicro-diag log-level show -c /opt/emg/.edgemicro --org myorg --env test --json";

const SET_EXAMPLES: &str = "\
Examples:
  # Switch to info (backup kept), then reload edgemicro so it takes effect
  edgemicro-diag log-level set info --reload

  # One pair of several
  edgemicro-diag log-level set info --org myorg --env test";

const RESTORE_EXAMPLES: &str = "\
Examples:
  # Put the file back byte for byte and reload
  edgemicro-diag log-level restore --reload";

const RULES_LIST_EXAMPLES: &str = "\
Examples:
  edgemicro-diag rules list
  edgemicro-diag rules list --rules site-rules.yaml --json";

/// The rule file format, for a user who has the binary only (a unit test loads the example).
const RULES_FORMAT: &str = r#"Rule files (--rules FILE, YAML) add to the shipped rules; any of four sections:

  keep: ["*public_key"]             # key names that are never secret (globs)
  keys:                             # YAML configs: keys whose values are secret
    - id: vault_pin                 # [a-z0-9_]+, unique; the token is REDACTED_VAULT_PIN
      why: "our vault plugin keeps a PIN"
      names: ["*_pin"]              # globs on the normalized key name
  patterns:                         # every file: a byte regex, tried when a keyword occurs
    - id: vault_token_header
      why: "our plugin logs X-Vault-Token"
      keywords: ["x-vault-token"]
      regex: '(?i)x-vault-token\s*[:=]\s*(\S+)'   # group 1 is the secret
  blocks:                           # multi-line key material, from begin to end
    - id: pgp_private
      why: "exported keys in a plugin log"
      keywords: ["pgp private key"]
      begin: '-----BEGIN PGP PRIVATE KEY BLOCK-----'
      end: '-----END PGP PRIVATE KEY BLOCK-----'

`rules list` shows every rule in effect; a bad rule is named with its file and line.

Examples:
  edgemicro-diag rules list
  edgemicro-diag rules list --rules site-rules.yaml --json"#;

/// Builds the redacted, verifiable diagnostic bundle for an Apigee Edge Microgateway support case
/// (502 Bad Gateway, socket hang up / ECONNRESET).
#[derive(Debug, Parser)]
#[command(name = "edgemicro-diag", version, after_help = format!("{EXAMPLES}\n{EXIT_CODES}"))]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Collect configs, logs and system facts into one redacted bundle, without prompting
    #[command(after_help = format!("{COLLECT_EXAMPLES}\n{EXIT_CODES}"))]
    Collect(Box<CollectArgs>),
    /// Guided collection for an operator at a terminal (also what a bare `edgemicro-diag` runs);
    /// takes collect's flags and EDGEMICRO_DIAG_* variables and asks only what they leave open
    #[command(after_help = WIZARD_EXAMPLES)]
    Wizard(Box<CollectArgs>),
    /// Check a bundle: zip CRCs, manifest against entries, every sha256, the .sha256 sidecar
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// Tell why the 502s happen: log triage, keep-alive order, target probes, a bundle's capture
    #[command(after_help = ANALYZE_EXAMPLES)]
    Analyze(Box<AnalyzeArgs>),
    /// Preview redaction: each redacted line as `file:line rule: text`; writes nothing
    #[command(after_help = REDACT_EXAMPLES)]
    Redact(RedactArgs),
    /// Show, switch or restore edgemicro.logging.level (the only host change this tool makes)
    #[command(subcommand)]
    LogLevel(LogLevelCommand),
    /// List the redaction rules: the shipped ones (embedded) and any --rules files, with why
    #[command(subcommand, after_help = RULES_FORMAT)]
    Rules(RulesCommand),
    /// Internal: runs a program that dies with the calling process (used for tcpdump)
    #[command(name = "exec-tied", hide = true)]
    ExecTied(ExecTiedArgs),
}

#[derive(Debug, Subcommand)]
pub(crate) enum RulesCommand {
    /// Every rule: kind (key, pattern, block), id (its REDACTED_<ID> token), why, and file
    #[command(after_help = RULES_LIST_EXAMPLES)]
    List(RulesListArgs),
}

#[derive(Debug, Args)]
pub(crate) struct RulesListArgs {
    /// Extra redaction rules to list with the shipped ones; repeatable
    #[arg(
        long = "rules",
        env = "EDGEMICRO_DIAG_RULES",
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub(crate) rules: Vec<PathBuf>,

    /// One JSON object on stdout: {"rules": [{kind, id, why, file}]}
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ExecTiedArgs {
    /// The pid that must be our parent
    pub(crate) parent: u32,
    /// SIGALRM after this many seconds
    pub(crate) alarm_seconds: u64,
    /// The program and its arguments
    #[arg(last = true, required = true)]
    pub(crate) argv: Vec<std::ffi::OsString>,
}

#[derive(Debug, Args)]
pub(crate) struct AnalyzeArgs {
    /// Analyze these bundles (each a .zip, or the directory it was unzipped into) instead of this
    /// host; several (gateways behind one load balancer) give one analysis of all their logs
    #[arg(value_name = "BUNDLE.zip")]
    pub(crate) bundles: Vec<PathBuf>,

    #[command(flatten)]
    pub(crate) emg: EmgArgs,

    /// Log dir on this host; overrides edgemicro.logging.dir
    #[arg(long, env = "EDGEMICRO_DIAG_LOG_DIR", value_name = "DIR")]
    pub(crate) log_dir: Option<PathBuf>,

    /// Measure how long a target keeps an idle keep-alive connection (http://HOST:PORT/PATH; repeatable)
    #[arg(long = "probe", value_name = "URL")]
    pub(crate) probes: Vec<String>,

    /// Probe every target found in the cache config and the logs
    #[arg(long)]
    pub(crate) probe_targets: bool,

    /// How long a probe waits for the target to close the idle connection
    #[arg(long, value_name = "SECONDS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub(crate) probe_max_seconds: u64,

    /// Probe https:// targets without checking their certificate (what EMG does for a target
    /// with ssl.client.rejectUnauthorized: false); by default the system's roots are trusted
    #[arg(long)]
    pub(crate) probe_insecure: bool,

    /// Idle timeout of a load balancer in front of EMG, in seconds (GCLB 600, AWS ALB 60)
    #[arg(long, value_name = "SECONDS")]
    pub(crate) lb_idle_timeout: Option<u64>,

    /// Print the analysis as one JSON object on stdout
    #[arg(long)]
    pub(crate) json: bool,

    /// Also write the report page (the bundle's report.html) to FILE
    #[arg(long, value_name = "FILE")]
    pub(crate) html: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RedactArgs {
    /// Files or directories to preview (a directory is walked: regular files only, links
    /// never followed): YAML configs (.yaml/.yml get the structural pass) and logs
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,

    /// Extra redaction rules (YAML; the format: edgemicro-diag rules --help); repeatable
    #[arg(long = "rules", value_name = "FILE")]
    pub(crate) rules: Vec<PathBuf>,

    /// One JSON object on stdout: per file, counts by rule and every redacted line
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum LogLevelCommand {
    /// The level in effect, the file it comes from, and the cache config's level if different
    #[command(after_help = SHOW_EXAMPLES)]
    Show(LogLevelArgs),
    /// Switch ORG-ENV-config.yaml to LEVEL (backup kept; only that value's bytes change)
    #[command(after_help = SET_EXAMPLES)]
    Set {
        /// error, warn, info, debug, trace or none; support asks for info while the 502s happen
        #[arg(value_enum)]
        level: crate::model::LogLevel,
        #[command(flatten)]
        args: LogLevelArgs,
    },
    /// Put ORG-ENV-config.yaml back byte for byte, as it was before `set`
    #[command(after_help = RESTORE_EXAMPLES)]
    Restore(LogLevelArgs),
}

#[derive(Debug, Args)]
pub(crate) struct LogLevelArgs {
    #[command(flatten)]
    pub(crate) emg: EmgArgs,

    /// After set/restore, run `edgemicro reload` (needs EDGEMICRO_KEY and EDGEMICRO_SECRET set)
    #[arg(long)]
    pub(crate) reload: bool,

    /// Print the result as one JSON object on stdout
    #[arg(long)]
    pub(crate) json: bool,
}

/// Where the EMG install is: shared by every command that reads it.
#[derive(Debug, Args)]
pub(crate) struct EmgArgs {
    /// EMG config dir holding default.yaml and ORG-ENV-config.yaml [default: $HOME/.edgemicro]
    #[arg(short = 'c', long, env = "EDGEMICRO_CONFIG_DIR", value_name = "DIR")]
    pub(crate) config_dir: Option<PathBuf>,

    /// Organization of the ORG-ENV pair (all pairs when omitted)
    #[arg(long, env = "EDGEMICRO_ORG", requires = "env")]
    pub(crate) org: Option<String>,

    /// Environment of the ORG-ENV pair (all pairs when omitted)
    #[arg(long, env = "EDGEMICRO_ENV", requires = "org")]
    pub(crate) env: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct CollectArgs {
    #[command(flatten)]
    pub(crate) emg: EmgArgs,

    /// Log dir; overrides edgemicro.logging.dir of the EMG config [default: /var/tmp]
    #[arg(long, env = "EDGEMICRO_DIAG_LOG_DIR", value_name = "DIR")]
    pub(crate) log_dir: Option<PathBuf>,

    /// Keep log lines from this time on: RFC 3339 (2026-01-01T10:00:00Z) or an age (2h, 30m, 7d)
    #[arg(long, env = "EDGEMICRO_DIAG_SINCE", value_parser = parse_time, value_name = "TIME")]
    pub(crate) since: Option<TimeBound>,

    /// Keep log lines up to this time: RFC 3339 or an age (1h = one hour ago)
    #[arg(long, env = "EDGEMICRO_DIAG_UNTIL", value_parser = parse_time, value_name = "TIME")]
    pub(crate) until: Option<TimeBound>,

    /// Read at most this many log bytes, newest first (e.g. 500M, 2G); the rest is listed as skipped
    #[arg(long, env = "EDGEMICRO_DIAG_MAX_LOG_BYTES", value_parser = parse_size, value_name = "SIZE")]
    pub(crate) max_log_bytes: Option<u64>,

    /// Keep the bundle under this size (e.g. 25M for a mail attachment): newest logs first, the
    /// rest listed as skipped
    #[arg(long, env = "EDGEMICRO_DIAG_MAX_BUNDLE_BYTES", value_parser = parse_size, value_name = "SIZE")]
    pub(crate) max_bundle_bytes: Option<u64>,

    /// Stop reading logs after this many seconds (newest first); the rest is listed as skipped
    #[arg(long, env = "EDGEMICRO_DIAG_MAX_SECONDS", value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) max_seconds: Option<u64>,

    /// Extra redaction rules (YAML; the format: edgemicro-diag rules --help); repeatable
    #[arg(
        long = "rules",
        env = "EDGEMICRO_DIAG_RULES",
        value_name = "FILE",
        value_delimiter = ','
    )]
    pub(crate) rules: Vec<PathBuf>,

    /// Support case id, recorded in the manifest
    #[arg(long = "case", env = "EDGEMICRO_DIAG_CASE", value_name = "ID")]
    pub(crate) case_id: Option<String>,

    /// Replace secrets with REDACTED_<RULE>_<12 hex> instead of REDACTED_<RULE>: one secret gets
    /// one token across lines and files (HMAC-SHA256 under a key drawn for this bundle, never
    /// stored). The token map is written to BUNDLE.map.json (mode 0600), never into the bundle
    #[arg(long, env = "EDGEMICRO_DIAG_PSEUDONYMIZE", value_parser = clap::builder::BoolishValueParser::new())]
    pub(crate) pseudonymize: bool,

    /// With --pseudonymize: also write each secret's value into the map (keep the map private;
    /// support never needs it)
    #[arg(long, requires = "pseudonymize")]
    pub(crate) keep_map_values: bool,

    /// Bundle path, or - to stream the zip to stdout [default: ./edgemicro-diag-HOST-UTCSTAMP.zip]
    #[arg(short = 'o', long, env = "EDGEMICRO_DIAG_OUTPUT", value_name = "PATH")]
    pub(crate) output: Option<PathBuf>,

    /// Print the plan (files, sizes, estimated bundle size, redaction counts) and write nothing
    #[arg(long, env = "EDGEMICRO_DIAG_DRY_RUN", value_parser = clap::builder::BoolishValueParser::new())]
    pub(crate) dry_run: bool,

    /// Replace an existing bundle (and its .sha256) at the output path
    #[arg(long)]
    pub(crate) force: bool,

    /// Print exactly one JSON object on stdout (on stderr with -o -); no human summary
    #[arg(long, env = "EDGEMICRO_DIAG_JSON", value_parser = clap::builder::BoolishValueParser::new())]
    pub(crate) json: bool,

    /// Never prompt (collect never does; accepted so bots can say it explicitly)
    #[arg(
        short = 'y',
        long,
        visible_alias = "non-interactive",
        env = "EDGEMICRO_DIAG_YES",
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub(crate) yes: bool,

    /// Print only errors and the result
    #[arg(short = 'q', long)]
    pub(crate) quiet: bool,

    /// Yield to the gateway: run at nice 19 and in the idle I/O class (ionice -c 3), as
    /// `sos report --low-priority` does; slower on a busy host, unnoticed by its traffic
    #[arg(long, env = "EDGEMICRO_DIAG_LOW_PRIORITY", value_parser = clap::builder::BoolishValueParser::new())]
    pub(crate) low_priority: bool,

    /// Read EDGEMICRO_CONFIG (and the key/secret to redact) from this running edgemicro's
    /// environment (/proc/PID/environ): the docker/Kubernetes way of configuring EMG
    #[arg(long, env = "EDGEMICRO_DIAG_FROM_PID", value_name = "PID")]
    pub(crate) from_pid: Option<u32>,

    /// Also collect a log piped into stdin as logs/NAME (e.g. `docker logs gw | … --stdin-log gw1.log`)
    #[arg(long, env = "EDGEMICRO_DIAG_STDIN_LOG", value_name = "NAME")]
    pub(crate) stdin_log: Option<String>,

    /// Read EMG's systemd journal: `auto` (default) takes every unit named like edgemicro the
    /// journal knows, UNIT takes that unit, `off` none; each becomes logs/journal-UNIT.log
    #[arg(
        long,
        env = "EDGEMICRO_DIAG_JOURNAL",
        value_name = "UNIT|auto|off",
        default_value = "auto",
        hide_default_value = true
    )]
    pub(crate) journal: crate::model::JournalChoice,

    /// Read the journal from the files in DIR (a /var/log/journal copied from a gateway or a
    /// container) instead of this host's journal
    #[arg(long, env = "EDGEMICRO_DIAG_JOURNAL_DIR", value_name = "DIR")]
    pub(crate) journal_dir: Option<std::path::PathBuf>,

    /// Also read logs that are hard links in a log dir other users can write (skipped by
    /// default: a second name for a file may be another file's contents)
    #[arg(long, env = "EDGEMICRO_DIAG_FOLLOW_HARDLINKS", value_parser = clap::builder::BoolishValueParser::new())]
    pub(crate) follow_hardlinks: bool,

    /// Switch edgemicro.logging.level to LEVEL while collecting, then restore it (always)
    #[arg(
        long,
        env = "EDGEMICRO_DIAG_LOG_LEVEL",
        value_name = "LEVEL",
        value_enum
    )]
    pub(crate) log_level: Option<crate::model::LogLevel>,

    /// With --log-level: run `edgemicro reload` after the switch and after the restore (needs
    /// EDGEMICRO_KEY and EDGEMICRO_SECRET in the environment and edgemicro on PATH)
    #[arg(long, requires = "log_level", env = "EDGEMICRO_DIAG_RELOAD", value_parser = clap::builder::BoolishValueParser::new())]
    pub(crate) reload: bool,

    /// Capture traffic to the targets with tcpdump for N seconds (at most 3600) while the
    /// problem is reproduced; needs root or CAP_NET_RAW
    #[arg(long, env = "EDGEMICRO_DIAG_CAPTURE_SECONDS", value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) capture_seconds: Option<u64>,

    /// Capture traffic to this host (repeatable) instead of the targets found in the cache
    /// config (proxies[].url) and the logs (targetRequest errors)
    #[arg(
        long,
        env = "EDGEMICRO_DIAG_CAPTURE_HOST",
        value_name = "HOST",
        value_delimiter = ','
    )]
    pub(crate) capture_host: Vec<crate::targets::Host>,

    /// Capture this target port (repeatable) instead of the discovered ones
    #[arg(
        long,
        env = "EDGEMICRO_DIAG_CAPTURE_PORT",
        value_name = "PORT",
        value_delimiter = ',',
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub(crate) capture_port: Vec<u16>,

    /// Interface for the capture
    #[arg(
        long,
        env = "EDGEMICRO_DIAG_CAPTURE_INTERFACE",
        value_name = "IF",
        default_value = "any"
    )]
    pub(crate) capture_interface: String,

    /// Stop the capture at this size (the pcap in the bundle never exceeds it)
    #[arg(long, env = "EDGEMICRO_DIAG_CAPTURE_MAX_BYTES", value_name = "SIZE", value_parser = parse_size, default_value = "50M")]
    pub(crate) capture_max_bytes: u64,

    /// Stop the capture after this many packets
    #[arg(
        long,
        env = "EDGEMICRO_DIAG_CAPTURE_MAX_PACKETS",
        value_name = "N",
        default_value_t = 200_000
    )]
    pub(crate) capture_max_packets: u64,

    /// Capture whole packets: the payload is NOT redacted (marked "unredacted" in the manifest)
    #[arg(long, env = "EDGEMICRO_DIAG_CAPTURE_PAYLOAD", value_parser = clap::builder::BoolishValueParser::new())]
    pub(crate) capture_payload: bool,

    /// With --log-level or a capture: wait this long (at most 3600 s) for the problem to happen
    #[arg(long, env = "EDGEMICRO_DIAG_REPRODUCE_SECONDS", value_name = "N",
          value_parser = clap::value_parser!(u64).range(0..=3600))]
    pub(crate) reproduce_seconds: Option<u64>,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// The bundles to check (or directories a bundle was unzipped into); BUNDLE.sha256 beside
    /// each zip is checked too when present
    #[arg(value_name = "BUNDLE.zip", required = true, num_args = 1..)]
    pub(crate) bundles: Vec<PathBuf>,

    /// Print the result as one JSON object on stdout
    #[arg(long)]
    pub(crate) json: bool,
}

#[cfg(test)]
mod tests {
    /// The rule file shown in `rules --help` is one the tool accepts, and it does what it says.
    #[test]
    fn the_rule_format_in_the_help_loads() {
        let example: String = super::RULES_FORMAT
            .lines()
            .skip(2)
            .take_while(|l| !l.is_empty())
            .map(|l| format!("{}\n", &l[2..]))
            .collect();
        let dir = std::env::temp_dir().join(format!("rules-help-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("site.yaml");
        std::fs::write(&file, &example).unwrap();
        let rules = crate::redact::rules::RuleSet::load(&[&file]);
        std::fs::remove_dir_all(&dir).unwrap();
        let rules = rules.unwrap();
        let listed = format!("{rules:?}");
        for id in ["vault_pin", "vault_token_header", "pgp_private"] {
            assert!(
                listed.contains(id),
                "{id} missing from the loaded example:\n{example}"
            );
        }
    }
}
