//! The chain of hops, client or load balancer → EMG → target, with each side's idle timeout and
//! where it came from. The rule it checks: every downstream hop (the one that opens the
//! connection) must close idle connections before the hop upstream of it does, or it will send a
//! request on a connection the other side is closing.

use crate::model::FindingId;
use serde::Serialize;

use super::idle::{Estimate, Verdict};
use super::keepalive::{KeepAlive, Probe};

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Side {
    pub(crate) name: String,
    /// Seconds it keeps an idle connection; `None` when unknown, `Some(inf)` never closes.
    pub(crate) idle_s: Option<f64>,
    /// `never` for EMG's pool toward targets.
    pub(crate) shown: String,
    /// Where the value came from: config key, probe, capture, log estimate, default, flag.
    pub(crate) source: String,
}

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Hop {
    /// The side that opens connections and must close idle ones first.
    pub(crate) downstream: Side,
    pub(crate) upstream: Side,
    /// `Some(false)`: the order is broken (the finding's hop); `None`: a side is unknown.
    pub(crate) in_order: Option<bool>,
    pub(crate) fix: Option<String>,
}

fn secs(s: f64) -> String {
    format!("{s:.1} s")
}

/// `timeout=N` of a `Keep-Alive` response header.
fn announced_timeout(header: &str) -> Option<u64> {
    header.split(',').find_map(|part| {
        let (k, v) = part.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("timeout")
            .then(|| v.trim().parse().ok())?
    })
}

/// `v20.11.1` → 20.
fn node_major(version: &str) -> Option<u32> {
    let v = version.trim().trim_start_matches(['v', 'V']);
    v.split('.').next()?.parse().ok()
}

/// Whether EMG's Node opens a new connection for every request to a target that announces
/// `header` (`Keep-Alive: timeout=1` on Node ≥ 19): then no pooled socket can race there.
pub(crate) fn hint_stops_reuse(node: Option<&str>, header: Option<&str>) -> bool {
    node.and_then(node_major).is_some_and(|m| m >= 19)
        && header.and_then(announced_timeout) == Some(1)
}

/// EMG's pool toward one target, as its Node treats the target's `Keep-Alive: timeout=N`: Node
/// ≥ 19 uses the hint only to shorten an agent timeout that is already set, and EMG sets none,
/// so it changes nothing, except `timeout=1`, after which Node ≥ 19 never reuses the socket
/// (measured through the real core on Node 18 and 20). Older Node ignores the hint.
fn emg_pool(node: Option<&str>, hint: Option<u64>) -> Side {
    let never = |why: String| Side {
        name: "Edge Microgateway (pool toward the target)".into(),
        idle_s: Some(f64::INFINITY),
        shown: "never".into(),
        source: why,
    };
    let base = "no idle timeout in any microgateway-core version; no setting";
    match (node.and_then(node_major), hint) {
        (Some(major), Some(1)) if major >= 19 => Side {
            name: "Edge Microgateway (pool toward the target)".into(),
            idle_s: Some(0.0),
            shown: "no reuse".into(),
            source: format!("Node {major} does not reuse a socket whose target announced Keep-Alive: timeout=1: a new connection per request"),
        },
        (Some(major), Some(n)) if major >= 19 => never(format!(
            "{base}; the target's Keep-Alive: timeout={n} does not change that (Node {major} uses the hint only to shorten an agent timeout, and EMG sets none)"
        )),
        (Some(major), Some(n)) => never(format!(
            "{base}; Node {major} ignores the target's Keep-Alive: timeout={n}"
        )),
        (None, Some(n)) => never(format!(
            "{base}; the target's Keep-Alive: timeout={n} helps only with timeout=1 on Node 19 or later (Node version unknown)"
        )),
        (_, None) => never(base.to_string()),
    }
}

/// The hops this evidence knows about: one for the client side, one per target. A capture's
/// measured idle close comes from its `keepalive-race` finding. `node`: the Node version that
/// runs EMG (from its logs or the host), which decides what a target's keep-alive hint does.
pub(crate) fn chain(
    keepalive: &KeepAlive,
    lb_idle_timeout_s: Option<u64>,
    probes: &[Probe],
    estimates: &[Estimate],
    findings: &[super::Finding],
    node: Option<&str>,
) -> Vec<Hop> {
    let captured_close_s = findings
        .iter()
        .find(|f| f.id == FindingId::KeepaliveRace)
        .and_then(|f| f.evidence.caught_races())
        .map(|caught| caught.target_idle_close_s_median);
    let mut hops = vec![client_hop(keepalive, lb_idle_timeout_s)];
    for (target, close_s, source) in target_closes(probes, estimates, captured_close_s) {
        hops.push(target_hop(target, close_s, source, probes, node));
    }
    hops
}

/// Client (or load balancer) → EMG's listener: in order when the client side gives up first.
fn client_hop(keepalive: &KeepAlive, lb_idle_timeout_s: Option<u64>) -> Hop {
    let emg_s = keepalive.keep_alive_timeout_ms as f64 / 1000.0;
    let emg_source = match (&keepalive.source, keepalive.keep_alive_timeout_set) {
        (Some(file), true) => format!("edgemicro.keep_alive_timeout in {file}"),
        _ => "Node's default (edgemicro.keep_alive_timeout not set)".to_string(),
    };
    Hop {
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
    }
}

/// Each target's idle close and how it is known: measured by a probe, else estimated from the
/// logs, else a capture's; "unknown" when nothing tells.
fn target_closes(
    probes: &[Probe],
    estimates: &[Estimate],
    captured_close_s: Option<f64>,
) -> Vec<(String, f64, String)> {
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
    targets
}

/// EMG's pool → a target: never in order when the target closes idle connections, unless this
/// Node opens a fresh connection per request.
fn target_hop(
    target: String,
    close_s: f64,
    source: String,
    probes: &[Probe],
    node: Option<&str>,
) -> Hop {
    let known = close_s.is_finite();
    let hint = probes
        .iter()
        .find(|p| p.target == target)
        .and_then(|p| p.keep_alive_header.as_deref())
        .and_then(announced_timeout);
    let pool = emg_pool(node, hint);
    let no_reuse = pool.idle_s == Some(0.0);
    let on_19 = node.and_then(node_major).is_some_and(|m| m >= 19);
    Hop {
        downstream: pool,
        upstream: Side {
            name: target,
            idle_s: known.then_some(close_s),
            shown: if known { secs(close_s) } else { "unknown".into() },
            source,
        },
        // EMG never closes an idle pooled socket: any target that closes idle ones breaks
        // it, unless EMG does not reuse the socket at all.
        in_order: if no_reuse { Some(true) } else { known.then_some(false) },
        fix: (known && !no_reuse).then(|| format!(
            "no EMG setting closes idle target connections: make the target's keep-alive timeout (now {}) longer than any pause in the traffic EMG sends it, and any NAT, firewall or load balancer in between likewise{}",
            secs(close_s),
            if on_19 { "; or have the target answer Keep-Alive: timeout=1, which makes this Node open a new connection per request (no race, no reuse)" } else { "" }
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(target: &str, header: Option<&str>) -> Probe {
        Probe {
            url: format!("http://{target}/"),
            target: target.into(),
            status: Some(200),
            keep_alive_header: header.map(String::from),
            idle_close_s: Some(1.0),
            no_keep_alive: false,
            waited_s: 1.0,
            error: None,
        }
    }

    /// What a target's `Keep-Alive: timeout=N` does depends on the Node that runs EMG.
    #[test]
    fn the_target_hint_counts_only_as_timeout_1_on_node_19_and_later() {
        let ka = KeepAlive {
            source: None,
            keep_alive_timeout_ms: 5000,
            keep_alive_timeout_set: false,
            headers_timeout_ms: None,
            request_timeout_s: None,
            os: Default::default(),
            tls_client_keys: Vec::new(),
            max_http_header_size: None,
            on_target_response_abort: None,
            proxy_timeouts_ms: Default::default(),
        };
        for (node, header, in_order, shown) in [
            (Some("v20.11.1"), Some("timeout=1"), Some(true), "no reuse"),
            (
                Some("22.3.0"),
                Some("timeout=1, max=100"),
                Some(true),
                "no reuse",
            ),
            (Some("v20.11.1"), Some("timeout=5"), Some(false), "never"),
            (Some("v18.20.8"), Some("timeout=1"), Some(false), "never"),
            (Some("v16.20.2"), None, Some(false), "never"),
            (None, Some("timeout=1"), Some(false), "never"),
        ] {
            let hops = chain(&ka, None, &[probe("t:80", header)], &[], &[], node);
            let hop = &hops[1];
            assert_eq!(hop.in_order, in_order, "{node:?} {header:?}");
            assert_eq!(hop.downstream.shown, shown, "{node:?} {header:?}");
            let fix = hop.fix.clone().unwrap_or_default();
            let on_19 = node.is_some_and(|n| !n.contains("18") && !n.contains("16"));
            assert_eq!(
                fix.contains("timeout=1"),
                in_order == Some(false) && on_19,
                "{node:?} {header:?}: {fix}"
            );
        }
    }
}
