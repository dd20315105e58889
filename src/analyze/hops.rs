//! The chain of hops, client or load balancer → EMG → target, with each side's idle timeout and
//! where it came from. The rule it checks: every downstream hop (the one that opens the
//! connection) must close idle connections before the hop upstream of it does, or it will send a
//! request on a connection the other side is closing.

use serde::Serialize;

use super::idle::{Estimate, Verdict};
use super::keepalive::{KeepAlive, Probe};

#[derive(Debug, Clone, Serialize)]
pub struct Side {
    pub name: String,
    /// Seconds it keeps an idle connection; `None` when unknown, `Some(inf)` never closes.
    pub idle_s: Option<f64>,
    /// `never` for EMG's pool toward targets.
    pub shown: String,
    /// Where the value came from: config key, probe, capture, log estimate, default, flag.
    pub source: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Hop {
    /// The side that opens connections and must close idle ones first.
    pub downstream: Side,
    pub upstream: Side,
    /// `Some(false)`: the order is broken (the finding's hop); `None`: a side is unknown.
    pub in_order: Option<bool>,
    pub fix: Option<String>,
}

fn secs(s: f64) -> String {
    format!("{s:.1} s")
}

/// The hops this evidence knows about: one for the client side, one per target. A capture's
/// measured idle close comes from its `keepalive-race` finding.
pub fn chain(
    keepalive: &KeepAlive,
    lb_idle_timeout_s: Option<u64>,
    probes: &[Probe],
    estimates: &[Estimate],
    findings: &[super::Finding],
) -> Vec<Hop> {
    let captured_close_s = findings
        .iter()
        .find(|f| f.id == "keepalive-race")
        .and_then(|f| f.evidence["target_idle_close_s_median"].as_f64());
    let emg_s = keepalive.keep_alive_timeout_ms as f64 / 1000.0;
    let emg_source = match (&keepalive.source, keepalive.keep_alive_timeout_set) {
        (Some(file), true) => format!("edgemicro.keep_alive_timeout in {file}"),
        _ => "Node's default (edgemicro.keep_alive_timeout not set)".to_string(),
    };
    let mut hops = vec![Hop {
        downstream: Side {
            name: "client or load balancer".into(),
            idle_s: lb_idle_timeout_s.map(|s| s as f64),
            shown: lb_idle_timeout_s.map_or("unknown".into(), |s| secs(s as f64)),
            source: lb_idle_timeout_s.map_or(
                "give it with --lb-idle-timeout (AWS ALB 60 s, GCLB 600 s)".into(),
                |_| "--lb-idle-timeout".into(),
            ),
        },
        upstream: Side {
            name: "Edge Microgateway (inbound)".into(),
            idle_s: Some(emg_s),
            shown: secs(emg_s),
            source: emg_source,
        },
        in_order: lb_idle_timeout_s.map(|lb| (lb as f64) < emg_s),
        fix: lb_idle_timeout_s.filter(|lb| *lb as f64 >= emg_s).map(|lb| {
            format!(
                "set edgemicro.keep_alive_timeout: {} (ms) in ORG-ENV-config.yaml, above the load balancer's {lb} s, and reload EMG",
                lb.saturating_mul(1000).saturating_add(5000)
            )
        }),
    }];
    let mut targets: Vec<(String, f64, String)> = probes
        .iter()
        .filter_map(|p| {
            p.idle_close_s
                .map(|s| (p.target.clone(), s, "probe".to_string()))
        })
        .collect();
    for e in estimates
        .iter()
        .filter(|e| e.verdict == Verdict::KeepaliveRace)
    {
        if !targets.iter().any(|(t, _, _)| *t == e.target) {
            if let Some(s) = e.idle_close_s {
                let how = match captured_close_s {
                    Some(_) => "log estimate (a capture saw the race too)",
                    None => "log estimate",
                };
                targets.push((e.target.clone(), s, how.to_string()));
            }
        }
    }
    if targets.is_empty() {
        if let Some(s) = captured_close_s {
            targets.push(("target (capture)".into(), s, "capture".into()));
        }
    }
    if targets.is_empty() {
        targets.push((
            "target".into(),
            f64::NAN,
            "unknown: measure it with `analyze --probe-targets`, or collect at level info".into(),
        ));
    }
    for (target, close_s, source) in targets {
        let known = close_s.is_finite();
        hops.push(Hop {
            downstream: Side {
                name: "Edge Microgateway (pool toward the target)".into(),
                idle_s: Some(f64::INFINITY),
                shown: "never".into(),
                source: "no idle timeout in any microgateway-core version; no setting".into(),
            },
            upstream: Side {
                name: target,
                idle_s: known.then_some(close_s),
                shown: if known { secs(close_s) } else { "unknown".into() },
                source,
            },
            // EMG never closes an idle pooled socket: any target that closes idle ones breaks it.
            in_order: known.then_some(false),
            fix: known.then(|| format!(
                "no EMG setting closes idle target connections: make the target's keep-alive timeout (now {}) longer than any pause in the traffic EMG sends it, and any NAT, firewall or load balancer in between likewise",
                secs(close_s)
            )),
        });
    }
    hops
}
