//! Findings: what the evidence says about the 502s, in support's terms, with the evidence
//! (counts, packet numbers, times) and the next step. `pcap` reads captures; the log triage and
//! the keep-alive comparison add their findings here too.
//!
//! Finding ids are stable (bots branch on them): `keepalive-race`, `target-hangup`,
//! `client-abort`, `timeout`, `refused`, `dns`, `tls`, `header-overflow`,
//! `target-aborted-response`, `no-keep-alive`, `lb-keepalive-order`, `none`. Each carries a
//! confidence (`high`/`medium`/`low`) and the reason for it.

mod causes;
pub(crate) mod hops;
pub(crate) mod idle;
pub(crate) mod keepalive;
pub(crate) mod logs;
pub(crate) mod pcap;
pub(crate) mod tls;

use serde::Serialize;

pub(crate) use crate::model::{FindingId, Severity};
pub(crate) use idle::Confidence;

/// Why the 502s happen, or context for them: one cause with its evidence and the next step.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
pub(crate) struct Finding {
    pub(crate) id: FindingId,
    pub(crate) severity: Severity,
    /// How sure the tool is that this is the cause, and why.
    pub(crate) confidence: Confidence,
    #[cfg_attr(test, schemars(length(min = 1)))]
    pub(crate) confidence_reason: String,
    #[cfg_attr(test, schemars(length(min = 1)))]
    pub(crate) summary: String,
    /// The figures behind the finding; their fields depend on the id.
    pub(crate) evidence: Figures,
    #[cfg_attr(test, schemars(length(min = 1)))]
    pub(crate) next_step: String,
}

/// A finding's evidence. Typed where other code reads it back (the races a capture caught:
/// the hops take their measured close, the page draws them); free-form figures otherwise,
/// which only renderings read.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(untagged)]
pub(crate) enum Figures {
    CaughtRaces(pcap::CaughtRaces),
    Other(serde_json::Value),
}

impl From<serde_json::Value> for Figures {
    fn from(value: serde_json::Value) -> Self {
        Figures::Other(value)
    }
}

impl Figures {
    /// The races a capture caught, when these are its figures.
    pub(crate) fn caught_races(&self) -> Option<&pcap::CaughtRaces> {
        match self {
            Figures::CaughtRaces(caught) => Some(caught),
            Figures::Other(_) => None,
        }
    }

    /// As JSON, for tests that look at one figure.
    #[cfg(test)]
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap()
    }
}

/// `findings.md`: the same findings for a person reading the bundle.
pub(crate) fn markdown(findings: &[Finding]) -> String {
    let mut out = String::from("# Findings\n\n");
    if findings.is_empty() {
        out.push_str("Nothing conclusive in the collected evidence.\n");
    }
    for f in findings {
        out.push_str(&format!(
            "## {} ({})\n\n{}\n\n**How sure:** {} ({})\n\n**Next step:** {}\n\n```json\n{}\n```\n\n",
            f.id,
            f.severity,
            f.summary,
            serde_json::to_value(f.confidence).unwrap_or_default().as_str().unwrap_or("?"),
            f.confidence_reason,
            f.next_step,
            serde_json::to_string_pretty(&f.evidence).unwrap_or_default()
        ));
    }
    out
}

/// Everything the conclusion draws on.
pub(crate) struct Evidence<'a> {
    pub(crate) triage: &'a logs::Triage,
    pub(crate) keepalive: &'a keepalive::KeepAlive,
    pub(crate) probes: &'a [keepalive::Probe],
    /// `--lb-idle-timeout`: the idle timeout (s) of a load balancer in front of EMG.
    pub(crate) lb_idle_timeout_s: Option<u64>,
    /// Findings a capture already produced.
    pub(crate) capture: Vec<Finding>,
    /// The Node version that runs EMG (`v20.11.1`), when the logs or the host tell it: it
    /// decides what a target's `Keep-Alive: timeout=1` does.
    pub(crate) node: Option<&'a str>,
}

/// The findings, in support's terms: what happened, the evidence, the next step. Each cause is
/// its own function in `causes.rs`; here is only their order.
pub(crate) fn conclude(mut e: Evidence) -> Vec<Finding> {
    let mut out = std::mem::take(&mut e.capture);
    let e = &e;
    let estimates = e.triage.idle.estimates();
    let plain: Vec<&keepalive::Probe> = e
        .probes
        .iter()
        .filter(|p| p.no_keep_alive || causes::fresh_each_time(e, p))
        .collect();
    out.extend(causes::no_keep_alive(e, &plain));
    let raced = causes::keepalive_race(e, &estimates, &plain, &mut out);
    out.extend(causes::target_hangup(e, &estimates, &raced, &out));
    let others: [fn(&Evidence) -> Option<Finding>; 8] = [
        causes::timeout,
        causes::client_abort,
        causes::dns,
        causes::tls,
        causes::header_overflow,
        causes::aborted_response,
        causes::refused,
        causes::lb_order,
    ];
    for cause in others {
        out.extend(cause(e));
    }
    if out.is_empty() {
        out.push(causes::nothing(e));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A probe of `http://t:80/` that answered 200.
    fn probe_of_t80(
        header: Option<&str>,
        idle_close_s: Option<f64>,
        no_keep_alive: bool,
    ) -> keepalive::Probe {
        keepalive::Probe {
            url: "http://t:80/".into(),
            target: "t:80".into(),
            status: Some(200),
            keep_alive_header: header.map(Into::into),
            idle_close_s,
            no_keep_alive,
            waited_s: idle_close_s.unwrap_or(0.0),
            error: None,
        }
    }

    /// A probe of a target without keep-alive is its own finding, never a keep-alive race.
    #[test]
    fn a_target_without_keep_alive_is_not_called_a_race() {
        let probe = probe_of_t80(None, None, true);
        let keepalive = keepalive::from_configs(std::iter::empty(), Default::default());
        let findings = conclude(Evidence {
            node: None,
            triage: &logs::Triage::default(),
            keepalive: &keepalive,
            probes: &[probe],
            lb_idle_timeout_s: None,
            capture: Vec::new(),
        });
        let ids: Vec<&str> = findings.iter().map(|f| f.id.as_str()).collect();
        assert!(ids.contains(&"no-keep-alive"), "{ids:?}");
        assert!(!ids.contains(&"keepalive-race"), "{ids:?}");
    }

    /// A target that announces `Keep-Alive: timeout=1` and closes idle connections after 1 s:
    /// on Node ≥ 19 EMG never reuses its sockets (no race: a new connection per request), on
    /// older Node, or when the version is unknown, the pool races with that close.
    #[test]
    fn timeout_1_on_node_19_and_later_is_no_reuse_not_a_race() {
        let keepalive = keepalive::from_configs(std::iter::empty(), Default::default());
        for (node, header, race) in [
            (Some("v20.18.1"), "timeout=1", false),
            (Some("v22.1.0"), "timeout=1, max=100", false),
            (Some("v18.20.8"), "timeout=1", true),
            (None, "timeout=1", true),
            (Some("v20.18.1"), "timeout=2", true),
        ] {
            let probe = probe_of_t80(Some(header), Some(1.0), false);
            let findings = conclude(Evidence {
                node,
                triage: &logs::Triage::default(),
                keepalive: &keepalive,
                probes: &[probe],
                lb_idle_timeout_s: None,
                capture: Vec::new(),
            });
            let ids: Vec<&str> = findings.iter().map(|f| f.id.as_str()).collect();
            assert_eq!(
                ids.contains(&"keepalive-race"),
                race,
                "{node:?} {header}: {ids:?}"
            );
            assert_eq!(
                ids.contains(&"no-keep-alive"),
                !race,
                "{node:?} {header}: {ids:?}"
            );
        }
    }

    /// A 504 names the limit that applied: the proxy's own timeout when shorter than
    /// request_timeout, else request_timeout.
    #[test]
    fn a_timeout_names_the_limit_that_applied() {
        let yaml = crate::yaml::Yaml::parse(
            "edgemicro:\n  request_timeout: 60\nproxies:\n  - base_path: /slow\n    timeout: 2000\n    url: http://t:1\n  - base_path: /other\n    timeout: 90000\n    url: http://u:1\n",
        )
        .unwrap();
        let keepalive =
            keepalive::from_configs([("o-e-cache-config.yaml", &yaml)], Default::default());
        let mut t = logs::Triage::default();
        for (corr, proxy) in [
            ("a", "slow/report"),
            ("b", "slow/x"),
            ("c", "other/y"),
            ("d", "plain/z"),
        ] {
            t.line(format!("2026-01-01T00:00:00.000Z [error][0:8000][1][o][e][{proxy}][][][{corr}][microgateway-core][][GET][504][Gateway timed out trying to reach target][][]").as_bytes());
        }
        let findings = conclude(Evidence {
            node: None,
            triage: &t,
            keepalive: &keepalive,
            probes: &[],
            lb_idle_timeout_s: None,
            capture: Vec::new(),
        });
        let timeout = findings
            .iter()
            .find(|f| f.id == FindingId::Timeout)
            .unwrap();
        let figures = timeout.evidence.json();
        let applied = figures["applied"].as_array().unwrap();
        let by = |p: &str| applied.iter().find(|a| a["proxy"] == p).unwrap().clone();
        assert_eq!(by("slow/report")["limit"], "2000 ms");
        assert_eq!(
            by("slow/x")["set_by"],
            "the proxy's timeout (proxies[].timeout)"
        );
        assert_eq!(
            by("other/y")["limit"],
            "60 s",
            "request_timeout is shorter than 90 s"
        );
        assert_eq!(by("plain/z")["set_by"], "edgemicro.request_timeout");
        assert!(
            timeout.summary.contains("/slow 2000 ms"),
            "{}",
            timeout.summary
        );
    }
}
