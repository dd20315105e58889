# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_edgemicro_diag_global_optspecs
    string join \n h/help V/version
end

function __fish_edgemicro_diag_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_edgemicro_diag_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_edgemicro_diag_using_subcommand
    set -l cmd (__fish_edgemicro_diag_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c edgemicro-diag -n "__fish_edgemicro_diag_needs_command" -s h -l help -d 'Print help'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_needs_command" -s V -l version -d 'Print version'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_needs_command" -f -a "collect" -d 'Collect configs, logs and system facts into one redacted bundle, without prompting'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_needs_command" -f -a "wizard" -d 'Guided collection for an operator at a terminal (also what a bare `edgemicro-diag` runs); takes collect\'s flags and EDGEMICRO_DIAG_* variables and asks only what they leave open'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_needs_command" -f -a "verify" -d 'Check a bundle: zip CRCs, manifest against entries, every sha256, the .sha256 sidecar'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_needs_command" -f -a "analyze" -d 'Tell why the 502s happen: log triage, keep-alive order, target probes, a bundle\'s capture'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_needs_command" -f -a "redact" -d 'Preview redaction: each redacted line as `file:line rule: text`; writes nothing'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_needs_command" -f -a "log-level" -d 'Show, switch or restore edgemicro.logging.level (the only host change this tool makes)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_needs_command" -f -a "rules" -d 'List the redaction rules: the shipped ones (embedded) and any --rules files, with why'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_needs_command" -f -a "exec-tied" -d 'Internal: runs a program that dies with the calling process (used for tcpdump)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -s c -l config-dir -d 'EMG config dir holding default.yaml and ORG-ENV-config.yaml [default: $HOME/.edgemicro]' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l org -d 'Organization of the ORG-ENV pair (all pairs when omitted)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l env -d 'Environment of the ORG-ENV pair (all pairs when omitted)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l log-dir -d 'Log dir; overrides edgemicro.logging.dir of the EMG config [default: /var/tmp]' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l since -d 'Keep log lines from this time on: RFC 3339 (2026-01-01T10:00:00Z) or an age (2h, 30m, 7d)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l until -d 'Keep log lines up to this time: RFC 3339 or an age (1h = one hour ago)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l max-log-bytes -d 'Read at most this many log bytes, newest first (e.g. 500M, 2G); the rest is listed as skipped' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l max-bundle-bytes -d 'Keep the bundle under this size (e.g. 25M for a mail attachment): newest logs first, the rest listed as skipped' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l max-seconds -d 'Stop reading logs after this many seconds (newest first); the rest is listed as skipped' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l rules -d 'Extra redaction rules (YAML; the format: edgemicro-diag rules --help); repeatable' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l case -d 'Support case id, recorded in the manifest' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -s o -l output -d 'Bundle path, or - to stream the zip to stdout [default: ./edgemicro-diag-HOST-UTCSTAMP.zip]' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l from-pid -d 'Read EDGEMICRO_CONFIG (and the key/secret to redact) from this running edgemicro\'s environment (/proc/PID/environ): the docker/Kubernetes way of configuring EMG' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l stdin-log -d 'Also collect a log piped into stdin as logs/NAME (e.g. `docker logs gw | … --stdin-log gw1.log`)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l journal -d 'Read EMG\'s systemd journal: `auto` (default) takes every unit named like edgemicro the journal knows, UNIT takes that unit, `off` none; each becomes logs/journal-UNIT.log' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l journal-dir -d 'Read the journal from the files in DIR (a /var/log/journal copied from a gateway or a container) instead of this host\'s journal' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l log-level -d 'Switch edgemicro.logging.level to LEVEL while collecting, then restore it (always)' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''
none\t''"
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l capture-seconds -d 'Capture traffic to the targets with tcpdump for N seconds (at most 3600) while the problem is reproduced; needs root or CAP_NET_RAW' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l capture-host -d 'Capture traffic to this host (repeatable) instead of the targets found in the cache config (proxies[].url) and the logs (targetRequest errors)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l capture-port -d 'Capture this target port (repeatable) instead of the discovered ones' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l capture-interface -d 'Interface for the capture' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l capture-max-bytes -d 'Stop the capture at this size (the pcap in the bundle never exceeds it)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l capture-max-packets -d 'Stop the capture after this many packets' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l reproduce-seconds -d 'With --log-level or a capture: wait this long (at most 3600 s) for the problem to happen' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l pseudonymize -d 'Replace secrets with REDACTED_<RULE>_<12 hex> instead of REDACTED_<RULE>: one secret gets one token across lines and files (HMAC-SHA256 under a key drawn for this bundle, never stored). The token map is written to BUNDLE.map.json (mode 0600), never into the bundle'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l keep-map-values -d 'With --pseudonymize: also write each secret\'s value into the map (keep the map private; support never needs it)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l dry-run -d 'Print the plan (files, sizes, estimated bundle size, redaction counts) and write nothing'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l force -d 'Replace an existing bundle (and its .sha256) at the output path'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l json -d 'Print exactly one JSON object on stdout (on stderr with -o -); no human summary'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -s y -l yes -l non-interactive -d 'Never prompt (collect never does; accepted so bots can say it explicitly)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -s q -l quiet -d 'Print only errors and the result'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l low-priority -d 'Yield to the gateway: run at nice 19 and in the idle I/O class (ionice -c 3), as `sos report --low-priority` does; slower on a busy host, unnoticed by its traffic'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l follow-hardlinks -d 'Also read logs that are hard links in a log dir other users can write (skipped by default: a second name for a file may be another file\'s contents)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l reload -d 'With --log-level: run `edgemicro reload` after the switch and after the restore (needs EDGEMICRO_KEY and EDGEMICRO_SECRET in the environment and edgemicro on PATH)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -l capture-payload -d 'Capture whole packets: the payload is NOT redacted (marked "unredacted" in the manifest)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand collect" -s h -l help -d 'Print help'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -s c -l config-dir -d 'EMG config dir holding default.yaml and ORG-ENV-config.yaml [default: $HOME/.edgemicro]' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l org -d 'Organization of the ORG-ENV pair (all pairs when omitted)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l env -d 'Environment of the ORG-ENV pair (all pairs when omitted)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l log-dir -d 'Log dir; overrides edgemicro.logging.dir of the EMG config [default: /var/tmp]' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l since -d 'Keep log lines from this time on: RFC 3339 (2026-01-01T10:00:00Z) or an age (2h, 30m, 7d)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l until -d 'Keep log lines up to this time: RFC 3339 or an age (1h = one hour ago)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l max-log-bytes -d 'Read at most this many log bytes, newest first (e.g. 500M, 2G); the rest is listed as skipped' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l max-bundle-bytes -d 'Keep the bundle under this size (e.g. 25M for a mail attachment): newest logs first, the rest listed as skipped' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l max-seconds -d 'Stop reading logs after this many seconds (newest first); the rest is listed as skipped' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l rules -d 'Extra redaction rules (YAML; the format: edgemicro-diag rules --help); repeatable' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l case -d 'Support case id, recorded in the manifest' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -s o -l output -d 'Bundle path, or - to stream the zip to stdout [default: ./edgemicro-diag-HOST-UTCSTAMP.zip]' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l from-pid -d 'Read EDGEMICRO_CONFIG (and the key/secret to redact) from this running edgemicro\'s environment (/proc/PID/environ): the docker/Kubernetes way of configuring EMG' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l stdin-log -d 'Also collect a log piped into stdin as logs/NAME (e.g. `docker logs gw | … --stdin-log gw1.log`)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l journal -d 'Read EMG\'s systemd journal: `auto` (default) takes every unit named like edgemicro the journal knows, UNIT takes that unit, `off` none; each becomes logs/journal-UNIT.log' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l journal-dir -d 'Read the journal from the files in DIR (a /var/log/journal copied from a gateway or a container) instead of this host\'s journal' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l log-level -d 'Switch edgemicro.logging.level to LEVEL while collecting, then restore it (always)' -r -f -a "error\t''
warn\t''
info\t''
debug\t''
trace\t''
none\t''"
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l capture-seconds -d 'Capture traffic to the targets with tcpdump for N seconds (at most 3600) while the problem is reproduced; needs root or CAP_NET_RAW' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l capture-host -d 'Capture traffic to this host (repeatable) instead of the targets found in the cache config (proxies[].url) and the logs (targetRequest errors)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l capture-port -d 'Capture this target port (repeatable) instead of the discovered ones' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l capture-interface -d 'Interface for the capture' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l capture-max-bytes -d 'Stop the capture at this size (the pcap in the bundle never exceeds it)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l capture-max-packets -d 'Stop the capture after this many packets' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l reproduce-seconds -d 'With --log-level or a capture: wait this long (at most 3600 s) for the problem to happen' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l pseudonymize -d 'Replace secrets with REDACTED_<RULE>_<12 hex> instead of REDACTED_<RULE>: one secret gets one token across lines and files (HMAC-SHA256 under a key drawn for this bundle, never stored). The token map is written to BUNDLE.map.json (mode 0600), never into the bundle'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l keep-map-values -d 'With --pseudonymize: also write each secret\'s value into the map (keep the map private; support never needs it)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l dry-run -d 'Print the plan (files, sizes, estimated bundle size, redaction counts) and write nothing'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l force -d 'Replace an existing bundle (and its .sha256) at the output path'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l json -d 'Print exactly one JSON object on stdout (on stderr with -o -); no human summary'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -s y -l yes -l non-interactive -d 'Never prompt (collect never does; accepted so bots can say it explicitly)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -s q -l quiet -d 'Print only errors and the result'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l low-priority -d 'Yield to the gateway: run at nice 19 and in the idle I/O class (ionice -c 3), as `sos report --low-priority` does; slower on a busy host, unnoticed by its traffic'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l follow-hardlinks -d 'Also read logs that are hard links in a log dir other users can write (skipped by default: a second name for a file may be another file\'s contents)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l reload -d 'With --log-level: run `edgemicro reload` after the switch and after the restore (needs EDGEMICRO_KEY and EDGEMICRO_SECRET in the environment and edgemicro on PATH)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -l capture-payload -d 'Capture whole packets: the payload is NOT redacted (marked "unredacted" in the manifest)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand wizard" -s h -l help -d 'Print help'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand verify" -l json -d 'Print the result as one JSON object on stdout'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand verify" -s h -l help -d 'Print help'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand analyze" -s c -l config-dir -d 'EMG config dir holding default.yaml and ORG-ENV-config.yaml [default: $HOME/.edgemicro]' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand analyze" -l org -d 'Organization of the ORG-ENV pair (all pairs when omitted)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand analyze" -l env -d 'Environment of the ORG-ENV pair (all pairs when omitted)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand analyze" -l log-dir -d 'Log dir on this host; overrides edgemicro.logging.dir' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand analyze" -l probe -d 'Measure how long a target keeps an idle keep-alive connection (http://HOST:PORT/PATH; repeatable)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand analyze" -l probe-max-seconds -d 'How long a probe waits for the target to close the idle connection' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand analyze" -l lb-idle-timeout -d 'Idle timeout of a load balancer in front of EMG, in seconds (GCLB 600, AWS ALB 60)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand analyze" -l html -d 'Also write the report page (the bundle\'s report.html) to FILE' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand analyze" -l probe-targets -d 'Probe every target found in the cache config and the logs'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand analyze" -l probe-insecure -d 'Probe https:// targets without checking their certificate (what EMG does for a target with ssl.client.rejectUnauthorized: false); by default the system\'s roots are trusted'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand analyze" -l json -d 'Print the analysis as one JSON object on stdout'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand analyze" -s h -l help -d 'Print help'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand redact" -l rules -d 'Extra redaction rules (YAML; the format: edgemicro-diag rules --help); repeatable' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand redact" -l json -d 'One JSON object on stdout: per file, counts by rule and every redacted line'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand redact" -s h -l help -d 'Print help'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and not __fish_seen_subcommand_from show set restore help" -s h -l help -d 'Print help'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and not __fish_seen_subcommand_from show set restore help" -f -a "show" -d 'The level in effect, the file it comes from, and the cache config\'s level if different'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and not __fish_seen_subcommand_from show set restore help" -f -a "set" -d 'Switch ORG-ENV-config.yaml to LEVEL (backup kept; only that value\'s bytes change)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and not __fish_seen_subcommand_from show set restore help" -f -a "restore" -d 'Put ORG-ENV-config.yaml back byte for byte, as it was before `set`'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and not __fish_seen_subcommand_from show set restore help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from show" -s c -l config-dir -d 'EMG config dir holding default.yaml and ORG-ENV-config.yaml [default: $HOME/.edgemicro]' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from show" -l org -d 'Organization of the ORG-ENV pair (all pairs when omitted)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from show" -l env -d 'Environment of the ORG-ENV pair (all pairs when omitted)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from show" -l reload -d 'After set/restore, run `edgemicro reload` (needs EDGEMICRO_KEY and EDGEMICRO_SECRET set)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from show" -l json -d 'Print the result as one JSON object on stdout'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from show" -s h -l help -d 'Print help'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from set" -s c -l config-dir -d 'EMG config dir holding default.yaml and ORG-ENV-config.yaml [default: $HOME/.edgemicro]' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from set" -l org -d 'Organization of the ORG-ENV pair (all pairs when omitted)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from set" -l env -d 'Environment of the ORG-ENV pair (all pairs when omitted)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from set" -l reload -d 'After set/restore, run `edgemicro reload` (needs EDGEMICRO_KEY and EDGEMICRO_SECRET set)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from set" -l json -d 'Print the result as one JSON object on stdout'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from restore" -s c -l config-dir -d 'EMG config dir holding default.yaml and ORG-ENV-config.yaml [default: $HOME/.edgemicro]' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from restore" -l org -d 'Organization of the ORG-ENV pair (all pairs when omitted)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from restore" -l env -d 'Environment of the ORG-ENV pair (all pairs when omitted)' -r
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from restore" -l reload -d 'After set/restore, run `edgemicro reload` (needs EDGEMICRO_KEY and EDGEMICRO_SECRET set)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from restore" -l json -d 'Print the result as one JSON object on stdout'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from restore" -s h -l help -d 'Print help'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from help" -f -a "show" -d 'The level in effect, the file it comes from, and the cache config\'s level if different'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from help" -f -a "set" -d 'Switch ORG-ENV-config.yaml to LEVEL (backup kept; only that value\'s bytes change)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from help" -f -a "restore" -d 'Put ORG-ENV-config.yaml back byte for byte, as it was before `set`'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand log-level; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand rules; and not __fish_seen_subcommand_from list help" -s h -l help -d 'Print help'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand rules; and not __fish_seen_subcommand_from list help" -f -a "list" -d 'Every rule: kind (key, pattern, block), id (its REDACTED_<ID> token), why, and file'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand rules; and not __fish_seen_subcommand_from list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand rules; and __fish_seen_subcommand_from list" -l rules -d 'Extra redaction rules to list with the shipped ones; repeatable' -r -F
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand rules; and __fish_seen_subcommand_from list" -l json -d 'One JSON object on stdout: {"rules": [{kind, id, why, file}]}'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand rules; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand rules; and __fish_seen_subcommand_from help" -f -a "list" -d 'Every rule: kind (key, pattern, block), id (its REDACTED_<ID> token), why, and file'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand rules; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand exec-tied" -s h -l help -d 'Print help'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand help; and not __fish_seen_subcommand_from collect wizard verify analyze redact log-level rules exec-tied help" -f -a "collect" -d 'Collect configs, logs and system facts into one redacted bundle, without prompting'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand help; and not __fish_seen_subcommand_from collect wizard verify analyze redact log-level rules exec-tied help" -f -a "wizard" -d 'Guided collection for an operator at a terminal (also what a bare `edgemicro-diag` runs); takes collect\'s flags and EDGEMICRO_DIAG_* variables and asks only what they leave open'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand help; and not __fish_seen_subcommand_from collect wizard verify analyze redact log-level rules exec-tied help" -f -a "verify" -d 'Check a bundle: zip CRCs, manifest against entries, every sha256, the .sha256 sidecar'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand help; and not __fish_seen_subcommand_from collect wizard verify analyze redact log-level rules exec-tied help" -f -a "analyze" -d 'Tell why the 502s happen: log triage, keep-alive order, target probes, a bundle\'s capture'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand help; and not __fish_seen_subcommand_from collect wizard verify analyze redact log-level rules exec-tied help" -f -a "redact" -d 'Preview redaction: each redacted line as `file:line rule: text`; writes nothing'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand help; and not __fish_seen_subcommand_from collect wizard verify analyze redact log-level rules exec-tied help" -f -a "log-level" -d 'Show, switch or restore edgemicro.logging.level (the only host change this tool makes)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand help; and not __fish_seen_subcommand_from collect wizard verify analyze redact log-level rules exec-tied help" -f -a "rules" -d 'List the redaction rules: the shipped ones (embedded) and any --rules files, with why'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand help; and not __fish_seen_subcommand_from collect wizard verify analyze redact log-level rules exec-tied help" -f -a "exec-tied" -d 'Internal: runs a program that dies with the calling process (used for tcpdump)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand help; and not __fish_seen_subcommand_from collect wizard verify analyze redact log-level rules exec-tied help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand help; and __fish_seen_subcommand_from log-level" -f -a "show" -d 'The level in effect, the file it comes from, and the cache config\'s level if different'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand help; and __fish_seen_subcommand_from log-level" -f -a "set" -d 'Switch ORG-ENV-config.yaml to LEVEL (backup kept; only that value\'s bytes change)'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand help; and __fish_seen_subcommand_from log-level" -f -a "restore" -d 'Put ORG-ENV-config.yaml back byte for byte, as it was before `set`'
complete -c edgemicro-diag -n "__fish_edgemicro_diag_using_subcommand help; and __fish_seen_subcommand_from rules" -f -a "list" -d 'Every rule: kind (key, pattern, block), id (its REDACTED_<ID> token), why, and file'
