//! Findings: what the evidence says about the 502s, in support's terms, with the evidence
//! (counts, packet numbers, times) and the next step. `pcap` reads captures; the log triage and
//! the keep-alive comparison add their findings here too.
//!
//! Finding ids are stable (bots branch on them): `keepalive-race`, `target-hangup`, `timeout`,
//! `lb-keepalive-order`, `refused`, `none`.

pub mod command;
pub mod keepalive;
pub mod logs;
pub mod pcap;

use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: &'static str,
    /// `high`: explains 502s seen; `medium`: a condition that produces them; `info`: context.
    pub severity: &'static str,
    pub summary: String,
    pub evidence: serde_json::Value,
    pub next_step: String,
}

/// `findings.md`: the same findings for a person reading the bundle.
pub fn markdown(findings: &[Finding]) -> String {
    let mut out = String::from("# Findings\n\n");
    if findings.is_empty() {
        out.push_str("Nothing conclusive in the collected evidence.\n");
    }
    for f in findings {
        out.push_str(&format!(
            "## {} ({})\n\n{}\n\n**Next step:** {}\n\n```json\n{}\n```\n\n",
            f.id,
            f.severity,
            f.summary,
            f.next_step,
            serde_json::to_string_pretty(&f.evidence).unwrap_or_default()
        ));
    }
    out
}

/// Everything the conclusion draws on.
pub struct Evidence<'a> {
    pub triage: &'a logs::Triage,
    pub keepalive: &'a keepalive::KeepAlive,
    pub probes: &'a [keepalive::Probe],
    /// `--lb-idle-timeout`: the idle timeout (s) of a load balancer in front of EMG.
    pub lb_idle_timeout_s: Option<u64>,
    /// Findings a capture already produced.
    pub capture: Vec<Finding>,
}

/// The findings, in support's terms: what happened, the evidence, the next step.
pub fn conclude(e: Evidence) -> Vec<Finding> {
    let t = e.triage;
    let mut out = e.capture;
    let tcp_keepalive = e
        .keepalive
        .os
        .get("net.ipv4.tcp_keepalive_time")
        .cloned()
        .flatten()
        .unwrap_or_else(|| "?".into());
    let hangups_at = |target: &str| {
        t.by_target
            .get(target)
            .map_or(0, |c| c.socket_hang_up.max(c.econnreset))
    };

    // Targets that keep no connection (HTTP/1.0, Connection: close) cannot race: say so, so
    // nobody chases a "close after 0.0 s" as a keep-alive race.
    let plain: Vec<&keepalive::Probe> = e.probes.iter().filter(|p| p.no_keep_alive).collect();
    if !plain.is_empty() {
        out.push(Finding {
            id: "no-keep-alive",
            severity: "info",
            summary: format!(
                "{} target(s) keep no connection open after a response (HTTP/1.0 or Connection: close): EMG opens a new connection for every request to them, so no idle pooled socket can race there.",
                plain.len()
            ),
            evidence: serde_json::json!({"targets": plain.iter().map(|p| serde_json::json!({"target": p.target, "url": p.url, "status": p.status})).collect::<Vec<_>>()}),
            next_step: "Nothing to tune for keep-alive on these targets; 502s on them come from the target closing before it answered (target-hangup) or from a timeout.".into(),
        });
    }

    // Targets that close idle keep-alive connections race with EMG's pooled sockets.
    let closing: Vec<&keepalive::Probe> = e
        .probes
        .iter()
        .filter(|p| p.idle_close_s.is_some())
        .collect();
    if !closing.is_empty() {
        let targets: Vec<serde_json::Value> = closing
            .iter()
            .map(|p| serde_json::json!({"target": p.target, "url": p.url, "idle_close_s": p.idle_close_s.map(|s| (s * 100.0).round() / 100.0), "keep_alive_header": p.keep_alive_header, "hang_ups_in_logs": hangups_at(&p.target)}))
            .collect();
        let raced: u64 = closing.iter().map(|p| hangups_at(&p.target)).sum();
        let shortest = closing
            .iter()
            .filter_map(|p| p.idle_close_s)
            .fold(f64::MAX, f64::min);
        let announced = closing.iter().any(|p| p.keep_alive_header.is_some());
        let summary = format!(
            "{} target(s) close idle keep-alive connections themselves, the first after {:.1} s{}. EMG keeps pooled target sockets with no idle timeout, so it can send a request on a socket the target is closing (FIN): the request dies with a reset and the client gets 502 socket hang up / ECONNRESET.{}",
            closing.len(),
            shortest,
            if announced { " (announced with Keep-Alive: timeout=)" } else { ", without announcing it in a Keep-Alive header" },
            if raced > 0 { format!(" The logs show {raced} hang-up(s) on these targets.") } else { String::new() }
        );
        let finding = Finding {
            id: "keepalive-race",
            severity: if raced > 0 { "high" } else { "medium" },
            summary,
            evidence: serde_json::json!({"probes": targets, "os_tcp_keepalive_time_s": tcp_keepalive, "emg_keep_alive_timeout_ms": e.keepalive.keep_alive_timeout_ms}),
            next_step: format!(
                "Every downstream hop must close idle connections before the hop upstream of it. EMG is downstream of the target: raise the target's keep-alive timeout well above {shortest:.1} s (above the longest gap between requests), or make the EMG host close first by lowering its OS keep-alive (net.ipv4.tcp_keepalive_time, now {tcp_keepalive} s) below the target's (Apigee: \"502 Bad Gateway – Socket hang up\", Edge Microgateway)."
            ),
        };
        match out.iter_mut().find(|f| f.id == "keepalive-race") {
            Some(existing) => existing.evidence["probes"] = finding.evidence["probes"].clone(),
            None => out.push(finding),
        }
    }

    let hangup_targets: Vec<(&String, &logs::Counts)> = t
        .by_target
        .iter()
        .filter(|(target, c)| {
            c.socket_hang_up.max(c.econnreset) > 0
                && !closing.iter().any(|p| &p.target == *target)
                && c.status_504 == 0
        })
        .collect();
    if t.kinds.hangup_502 > 0 && !out.iter().any(|f| f.id == "target-hangup") {
        let gaps = t.gap_stats().map(
            |(min, median, max)| serde_json::json!({"min": min, "median": median, "max": max}),
        );
        out.push(Finding {
            id: "target-hangup",
            severity: "high",
            summary: format!(
                "{} request(s) got 502 because the target closed the connection (socket hang up / ECONNRESET), between {} and {}. Two causes give this: the keep-alive race (the target closed an idle connection as EMG reused it) or the target closing before it answered.",
                t.kinds.hangup_502,
                t.first.as_deref().unwrap_or("?"),
                t.last.as_deref().unwrap_or("?")
            ),
            evidence: serde_json::json!({
                "status_502_hang_up": t.kinds.hangup_502,
                "targets": hangup_targets.iter().map(|(k, c)| serde_json::json!({"target": k, "counts": c})).collect::<Vec<_>>(),
                "by_proxy": t.by_proxy, "by_hour": t.by_hour, "first": t.first, "last": t.last,
                "seconds_since_previous_success_on_target": gaps, "samples": t.samples,
            }),
            next_step: "Tell the two causes apart: measure the target's idle close (`edgemicro-diag analyze --probe-targets`) and capture while the 502s happen (`collect --capture-seconds 120`); check the target's own logs at these times.".into(),
        });
    }

    if t.kinds.timeout_504 > 0 {
        let limit = e
            .keepalive
            .request_timeout_s
            .map_or("not set".to_string(), |s| format!("{s} s"));
        out.push(Finding {
            id: "timeout",
            severity: "high",
            summary: format!(
                "{} request(s) got 504: EMG gave up waiting for the target (edgemicro.request_timeout {limit}). The ECONNRESET logged with them is EMG aborting the request, not the target closing it.",
                t.kinds.timeout_504
            ),
            evidence: serde_json::json!({"status_504": t.kinds.timeout_504, "request_timeout_s": e.keepalive.request_timeout_s,
                "targets": t.by_target.iter().filter(|(_, c)| c.status_504 > 0).map(|(k, c)| serde_json::json!({"target": k, "status_504": c.status_504})).collect::<Vec<_>>()}),
            next_step: "Find out why the target is slow at these times; if it is expected, raise edgemicro.request_timeout (seconds) or the proxy's timeout.".into(),
        });
    }

    if t.kinds.refused_502 > 0 || t.totals.econnrefused > 0 {
        out.push(Finding {
            id: "refused",
            severity: "high",
            summary: format!("{} connection(s) to the target were refused (ECONNREFUSED): nothing listened at the target's address.", t.totals.econnrefused.max(t.kinds.refused_502)),
            evidence: serde_json::json!({"targets": t.by_target.iter().filter(|(_, c)| c.econnrefused > 0).map(|(k, c)| serde_json::json!({"target": k, "econnrefused": c.econnrefused})).collect::<Vec<_>>()}),
            next_step: "Check that the target is running and listening on that host and port (proxies[].url in the cache config).".into(),
        });
    }

    if let Some(lb) = e.lb_idle_timeout_s {
        let emg_s = e.keepalive.keep_alive_timeout_ms as f64 / 1000.0;
        if lb as f64 >= emg_s {
            out.push(Finding {
                id: "lb-keepalive-order",
                severity: "high",
                summary: format!(
                    "The load balancer in front keeps idle connections {lb} s, EMG only {emg_s} s (edgemicro.keep_alive_timeout{}): EMG closes first, and the LB can send a request on a connection EMG just closed, which the LB answers with 502.",
                    if e.keepalive.keep_alive_timeout_set { String::new() } else { " not set: Node's default 5000 ms".into() }
                ),
                evidence: serde_json::json!({"lb_idle_timeout_s": lb, "emg_keep_alive_timeout_ms": e.keepalive.keep_alive_timeout_ms, "set_in": e.keepalive.source}),
                next_step: format!(
                    "The downstream hop (the LB) must close first: set `edgemicro: keep_alive_timeout: {}` (ms, above the LB's {lb} s) in ORG-ENV-config.yaml and reload or restart EMG (for example 65000 behind a 60 s AWS ALB).",
                    lb.saturating_mul(1000).saturating_add(5000)
                ),
            });
        }
    }

    if out.is_empty() {
        out.push(Finding {
            id: "none",
            severity: "info",
            summary: format!("No 502/504 or connection errors in {} log line(s), and no keep-alive conflict found.", t.lines),
            evidence: serde_json::json!({"lines": t.lines, "files": t.files}),
            next_step: "If 502s happen, collect again at log level info while they happen (collect --log-level info --reproduce-seconds N).".into(),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A probe of a target without keep-alive is its own finding, never a keep-alive race.
    #[test]
    fn a_target_without_keep_alive_is_not_called_a_race() {
        let probe = keepalive::Probe {
            url: "http://t:80/".into(),
            target: "t:80".into(),
            status: Some(200),
            keep_alive_header: None,
            idle_close_s: None,
            no_keep_alive: true,
            waited_s: 0.0,
            error: None,
        };
        let keepalive = keepalive::from_configs(std::iter::empty(), Default::default());
        let findings = conclude(Evidence {
            triage: &logs::Triage::default(),
            keepalive: &keepalive,
            probes: &[probe],
            lb_idle_timeout_s: None,
            capture: Vec::new(),
        });
        let ids: Vec<&str> = findings.iter().map(|f| f.id).collect();
        assert!(ids.contains(&"no-keep-alive"), "{ids:?}");
        assert!(!ids.contains(&"keepalive-race"), "{ids:?}");
    }
}
