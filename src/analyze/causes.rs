//! One function per cause: each reads the evidence and returns its finding when the evidence
//! shows that cause. `conclude` (mod.rs) calls them in the order support reads them.

use super::*;

/// Hang-ups (socket hang up or ECONNRESET) logged on `target`.
fn hangups_at(t: &logs::Triage, target: &str) -> u64 {
    t.by_target
        .get(target)
        .map_or(0, |c| c.socket_hang_up.max(c.econnreset))
}

/// Hang-ups on a target that its 504s do not account for (EMG's own timeout aborts the target
/// request, which is logged as a hang-up too).
fn hangups_beyond_timeouts(c: &logs::Counts) -> u64 {
    c.socket_hang_up
        .max(c.econnreset)
        .saturating_sub(c.status_504)
}

/// The targets with a count of `pick`, for a finding's evidence.
fn targets_with(t: &logs::Triage, pick: fn(&logs::Counts) -> u64) -> Vec<serde_json::Value> {
    t.by_target
        .iter()
        .filter(|(_, c)| pick(c) > 0)
        .map(|(k, c)| serde_json::json!({"target": k, "count": pick(c)}))
        .collect()
}

/// A probed target after which EMG's Node opens a new connection for every request: its
/// `Keep-Alive: timeout=1` on Node 19 and later.
pub(super) fn fresh_each_time(e: &Evidence, p: &keepalive::Probe) -> bool {
    hops::hint_stops_reuse(e.node, p.keep_alive_header.as_deref())
}

/// Targets that keep no connection (HTTP/1.0, Connection: close, or a hint that stops reuse)
/// cannot race: say so, so nobody chases a "close after 0.0 s" as a keep-alive race.
pub(super) fn no_keep_alive(e: &Evidence, plain: &[&keepalive::Probe]) -> Option<Finding> {
    if plain.is_empty() {
        return None;
    }
    Some(Finding {
        id: FindingId::NoKeepAlive,
        severity: Severity::Info,
        confidence: Confidence::High,
        confidence_reason: "measured by a probe of the target".into(),
        summary: format!(
            "{} target(s) keep no connection open after a response (HTTP/1.0, Connection: close, or Keep-Alive: timeout=1, after which Node 19 and later does not reuse the socket): EMG opens a new connection for every request to them, so no idle pooled socket can race there.",
            plain.len()
        ),
        evidence: serde_json::json!({"targets": plain.iter().map(|p| serde_json::json!({"target": p.target, "url": p.url, "status": p.status, "why": if p.no_keep_alive { "the target closes after every response".to_string() } else { format!("the target announces Keep-Alive: {}, and EMG runs on Node {}", p.keep_alive_header.as_deref().unwrap_or(""), e.node.unwrap_or("?")) }})).collect::<Vec<_>>()}).into(),
        next_step: "Nothing to tune for keep-alive on these targets; 502s on them come from the target closing before it answered (target-hangup) or from a timeout.".into(),
    })
}

/// Targets that close idle keep-alive connections race with EMG's pooled sockets: measured by a
/// probe, or estimated from the idle time before each request in the logs. A capture's own race
/// finding keeps its words and gets the measurements. Returns the targets found racing.
pub(super) fn keepalive_race(
    e: &Evidence,
    estimates: &[idle::Estimate],
    plain: &[&keepalive::Probe],
    out: &mut Vec<Finding>,
) -> Vec<String> {
    let hangups_at = |target: &str| hangups_at(e.triage, target);
    let tcp_keepalive = e
        .keepalive
        .os
        .get("net.ipv4.tcp_keepalive_time")
        .cloned()
        .flatten()
        .unwrap_or_else(|| "?".into());
    // Targets that close idle keep-alive connections race with EMG's pooled sockets: measured
    // by a probe, or estimated from the idle time before each request in the logs.
    let estimate_of = |target: &str| estimates.iter().find(|e| e.target == target);
    let closing: Vec<&keepalive::Probe> = e
        .probes
        .iter()
        .filter(|p| p.idle_close_s.is_some() && !fresh_each_time(e, p))
        .collect();
    let log_races: Vec<&idle::Estimate> = estimates
        .iter()
        .filter(|e| e.verdict == idle::Verdict::KeepaliveRace)
        .filter(|e| !closing.iter().any(|p| p.target == e.target))
        .filter(|e| !plain.iter().any(|p| p.target == e.target))
        .collect();
    if !closing.is_empty() || !log_races.is_empty() {
        let probes: Vec<serde_json::Value> = closing
            .iter()
            .map(|p| serde_json::json!({"target": p.target, "url": p.url, "idle_close_s": p.idle_close_s.map(|s| (s * 100.0).round() / 100.0), "measured_by": "probe", "keep_alive_header": p.keep_alive_header, "hang_ups_in_logs": hangups_at(&p.target), "log_estimate": estimate_of(&p.target)}))
            .collect();
        let mut targets = probes.clone();
        targets.extend(log_races.iter().map(|e| serde_json::json!({"target": e.target, "idle_close_s": e.idle_close_s, "measured_by": "log estimate", "hang_ups_in_logs": hangups_at(&e.target), "log_estimate": e})));
        let raced: u64 = closing
            .iter()
            .map(|p| hangups_at(&p.target))
            .chain(log_races.iter().map(|e| hangups_at(&e.target)))
            .sum();
        let shortest = closing
            .iter()
            .filter_map(|p| p.idle_close_s)
            .chain(log_races.iter().filter_map(|e| e.idle_close_s))
            .fold(f64::MAX, f64::min);
        let summary = race_summary(&closing, &log_races, raced);
        let (confidence, confidence_reason) = race_confidence(&closing, &log_races, raced);
        let finding = Finding {
            id: FindingId::KeepaliveRace,
            severity: if raced > 0 { Severity::High } else { Severity::Medium },
            confidence,
            confidence_reason,
            summary,
            evidence: serde_json::json!({"targets": targets, "probes": probes, "os_tcp_keepalive_time_s": tcp_keepalive, "emg_keep_alive_timeout_ms": e.keepalive.keep_alive_timeout_ms}).into(),
            next_step: format!(
                "Every downstream hop must close idle connections before the hop upstream of it, and EMG's pool toward targets has no idle limit (no EMG setting changes that). Make the target's keep-alive (idle) timeout, now about {shortest:.1} s, longer than any pause in the traffic EMG sends it (minutes, not seconds: keepAliveTimeout on Node, KeepAliveTimeout on Apache httpd, keepalive_timeout on nginx, connectionTimeout/keepAliveTimeout on Tomcat), and the idle timeout of any NAT, firewall or load balancer between EMG and the target likewise. Then confirm with `edgemicro-diag analyze --probe-targets`. (Apigee: \"502 Bad Gateway – Socket hang up\", Edge Microgateway.)"
            ),
        };
        match out.iter_mut().find(|f| f.id == FindingId::KeepaliveRace) {
            // A capture caught the race itself: keep its words, add the measurements.
            Some(existing) => {
                if let super::Figures::CaughtRaces(caught) = &mut existing.evidence {
                    caught.targets = Some(targets.into());
                    caught.probes = Some(probes.into());
                }
            }
            None => out.push(finding),
        }
    }
    closing
        .iter()
        .map(|p| p.target.clone())
        .chain(log_races.iter().map(|e| e.target.clone()))
        .collect()
}

/// What the race finding says: the measured targets together, each estimated one with its own
/// close, interval and reason, then what EMG does with them.
fn race_summary(
    closing: &[&keepalive::Probe],
    log_races: &[&idle::Estimate],
    raced: u64,
) -> String {
    let announced = closing.iter().any(|p| p.keep_alive_header.is_some());
    let measured = (!closing.is_empty()).then(|| {
        format!(
            "{} target(s) close idle keep-alive connections themselves, the first after {:.1} s (measured){}.",
            closing.len(),
            closing.iter().filter_map(|p| p.idle_close_s).fold(f64::MAX, f64::min),
            if announced { ", announced with Keep-Alive: timeout=" } else { ", without announcing it in a Keep-Alive header" }
        )
    });
    let estimated = (!log_races.is_empty()).then(|| {
        let each: Vec<String> = log_races
            .iter()
            .map(|e| {
                let (low, high) = e.interval_s.unwrap_or_default();
                format!(
                    "{} after about {:.1} s idle (between {low:.1} and {high:.1} s; {})",
                    e.target,
                    e.idle_close_s.unwrap_or_default(),
                    e.reason
                )
            })
            .collect();
        format!(
            "From the logs alone, idle time explains the resets on {} target(s): the target (or a NAT, firewall or load balancer between EMG and it) closes connections: {}. Idle times in logs are lower bounds on the socket's idle time.",
            log_races.len(),
            each.join("; ")
        )
    });
    let how = [measured, estimated]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "{how} EMG keeps pooled target sockets with no idle timeout, so it sends a request on a socket the target has closed or is closing: the request dies with a reset and the client gets 502 socket hang up / ECONNRESET.{}",
        if raced > 0 { format!(" The logs show {raced} hang-up(s) on these targets.") } else { String::new() }
    )
}

/// High when a probe measured the close and the logs show hang-ups there; from the logs alone,
/// the weakest estimate's.
fn race_confidence(
    closing: &[&keepalive::Probe],
    log_races: &[&idle::Estimate],
    raced: u64,
) -> (Confidence, String) {
    if !closing.is_empty() {
        return if raced > 0 {
            (Confidence::High, "the idle close was measured by a probe and the logs show hang-ups on the same target".to_string())
        } else {
            (Confidence::Medium, "the idle close was measured by a probe, but these logs show no hang-up on that target".to_string())
        };
    }
    let best = log_races
        .iter()
        .map(|e| e.confidence)
        .min_by_key(|c| *c as u8)
        .unwrap_or(Confidence::Low);
    (best, format!("log estimate from {} reset(s) and {} success(es) with known idle times; a probe (`analyze --probe-targets`) or a capture measures it", log_races.iter().map(|e| e.resets).sum::<usize>(), log_races.iter().map(|e| e.successes).sum::<usize>()))
}

/// Hang-ups that idle time does not explain: the target closed before it answered.
pub(super) fn target_hangup(
    e: &Evidence,
    estimates: &[idle::Estimate],
    raced: &[String],
    out: &[Finding],
) -> Option<Finding> {
    let t = e.triage;
    let estimate_of = |target: &str| estimates.iter().find(|x| x.target == target);
    let hangup_targets: Vec<(&String, &logs::Counts)> = t
        .by_target
        .iter()
        .filter(|(target, c)| hangups_beyond_timeouts(c) > 0 && !raced.iter().any(|r| r == *target))
        .collect();
    let unexplained: u64 = hangup_targets
        .iter()
        .map(|(_, c)| hangups_beyond_timeouts(c))
        .sum();
    if t.kinds.hangup_502 == 0
        || unexplained == 0
        || out.iter().any(|f| f.id == FindingId::TargetHangup)
    {
        return None;
    }
    let (confidence, confidence_reason, why) = hangup_verdict(t, &hangup_targets, estimates);
    let next_step = if t.target_responses == 0 {
        "Switch EMG to level info while the 502s happen (`edgemicro-diag collect --log-level info --reproduce-seconds 300`, or `edgemicro-diag log-level set info` then `edgemicro reload`), then analyze again; or measure the target's idle close (`edgemicro-diag analyze --probe-targets`) and capture (`collect --capture-seconds 120`). Core 3.2.2 and older log the target error at warn: at level error only the 502 line is visible.".to_string()
    } else {
        "Look in the target's own logs at these times for a crash, a restart, a worker limit, a proxy or a size limit that drops the request, and fix it there; a capture (`collect --capture-seconds 120`) shows the target's FIN or RST right after EMG's request (Apigee: \"502 Bad Gateway – Socket hang up\", Edge Microgateway).".to_string()
    };
    Some(Finding {
        id: FindingId::TargetHangup,
        severity: Severity::High,
        confidence,
        confidence_reason,
        summary: format!(
            "{} request(s) got 502 because the target closed the connection (socket hang up / ECONNRESET), between {} and {}. {why}",
            unexplained.min(t.kinds.hangup_502),
            t.first.as_deref().unwrap_or("?"),
            t.last.as_deref().unwrap_or("?")
        ),
        evidence: serde_json::json!({
            "status_502_hang_up": t.kinds.hangup_502,
            "targets": hangup_targets.iter().map(|(k, c)| serde_json::json!({"target": k, "counts": c, "idle": estimate_of(k)})).collect::<Vec<_>>(),
            "by_proxy": t.by_proxy, "by_hour": t.by_hour, "first": t.first, "last": t.last,
            "target_responses_in_logs": t.target_responses, "samples": t.samples,
        }).into(),
        next_step,
    })
}

/// How sure the hang-up finding is, why, and what it says about the cause: idle time judged
/// on the failing targets, a target that never answered, or logs too thin to tell.
fn hangup_verdict(
    t: &logs::Triage,
    hangup_targets: &[(&String, &logs::Counts)],
    estimates: &[idle::Estimate],
) -> (Confidence, String, String) {
    let estimate_of = |target: &str| estimates.iter().find(|x| x.target == target);
    let judged: Vec<&idle::Estimate> = hangup_targets
        .iter()
        .filter_map(|(target, _)| estimate_of(target))
        .filter(|e| e.verdict == idle::Verdict::NotIdle)
        .collect();
    let never_answered: Vec<&str> = hangup_targets
        .iter()
        .filter(|(target, _)| t.idle.successes_on(target) == 0)
        .map(|(target, _)| target.as_str())
        .filter(|target| *target != "unknown")
        .collect();
    if t.target_responses == 0 {
        (
            Confidence::Low,
            "the logs hold no successful target response (the level is error or warn), so idle time before the resets cannot be told; at level info it can".to_string(),
            "These logs cannot tell the two causes apart: the keep-alive race (the target closed an idle connection as EMG reused it) or the target closing before it answered.".to_string(),
        )
    } else if let Some(e) = judged.first() {
        (
            e.confidence,
            format!("{}: {}", e.target, e.reason),
            format!("Idle time does not explain them ({}), so this is not the keep-alive race: the target closed connections before it answered.", e.reason),
        )
    } else if !never_answered.is_empty() {
        (
            Confidence::High,
            format!("{} answered no request in these logs", never_answered.join(", ")),
            "The target closed every connection before answering; it is failing, not racing an idle close.".to_string(),
        )
    } else {
        (
            Confidence::Low,
            "too few requests with known idle times to tell the keep-alive race from a failing target".to_string(),
            "Two causes give this: the keep-alive race (the target closed an idle connection as EMG reused it) or the target closing before it answered.".to_string(),
        )
    }
}

/// 504s: EMG's own limit expired; which limit applied to each proxy.
pub(super) fn timeout(e: &Evidence) -> Option<Finding> {
    let t = e.triage;
    if t.kinds.timeout_504 == 0 {
        return None;
    }
    let global = e.keepalive.request_timeout_s;
    // Which limit applied to each proxy with 504s: its own `timeout` (ms) when shorter.
    let applied: Vec<serde_json::Value> = t
        .by_proxy
        .iter()
        .filter(|(_, c)| c.status_504 > 0)
        .map(|(proxy, c)| {
            let own = e
                .keepalive
                .proxy_timeouts_ms
                .iter()
                .filter(|(base, _)| {
                    let base = base.trim_matches('/');
                    !base.is_empty() && (proxy == base || proxy.starts_with(&format!("{base}/")))
                })
                .max_by_key(|(base, _)| base.len())
                .map(|(_, ms)| *ms);
            let (limit, from) = match (own, global) {
                (Some(ms), Some(s)) if ms < s * 1000 => (format!("{ms} ms"), "the proxy's timeout (proxies[].timeout)"),
                (_, Some(s)) => (format!("{s} s"), "edgemicro.request_timeout"),
                (Some(ms), None) => (format!("{ms} ms"), "the proxy's timeout (proxies[].timeout)"),
                (None, None) => ("?".into(), "no timeout found in the config"),
            };
            serde_json::json!({"proxy": proxy, "status_504": c.status_504, "limit": limit, "set_by": from})
        })
        .collect();
    let limit = global.map_or("not set".to_string(), |s| format!("{s} s"));
    let own: Vec<String> = e
        .keepalive
        .proxy_timeouts_ms
        .iter()
        .map(|(base, ms)| format!("{base} {ms} ms"))
        .collect();
    Some(Finding {
        id: FindingId::Timeout,
        severity: Severity::High,
        confidence: Confidence::High,
        confidence_reason: "EMG answered 504, which it does only when its own timeout expired".into(),
        summary: format!(
            "{} request(s) got 504: EMG gave up waiting for the target (edgemicro.request_timeout {limit}{}). The ECONNRESET logged with them is EMG aborting the request, not the target closing it.",
            t.kinds.timeout_504,
            if own.is_empty() { String::new() } else { format!("; proxies with their own timeout: {}", own.join(", ")) }
        ),
        evidence: serde_json::json!({"status_504": t.kinds.timeout_504, "request_timeout_s": global, "proxy_timeouts_ms": e.keepalive.proxy_timeouts_ms, "applied": applied,
            "targets": t.by_target.iter().filter(|(_, c)| c.status_504 > 0).map(|(k, c)| serde_json::json!({"target": k, "status_504": c.status_504})).collect::<Vec<_>>()}).into(),
        next_step: "Find out why the target is slow at these times; if it is expected, raise the limit that applied (evidence.applied): edgemicro.request_timeout (seconds) in ORG-ENV-config.yaml, or the proxy's timeout (the Edge TargetEndpoint's, ms) and redeploy.".into(),
    })
}

/// 502s logged after the client had left (a 499 of the same request first): the target is
/// innocent.
pub(super) fn client_abort(e: &Evidence) -> Option<Finding> {
    let t = e.triage;
    if t.kinds.client_abort_502 == 0 {
        return None;
    }
    Some(Finding {
        id: FindingId::ClientAbort,
        severity: Severity::Medium,
        confidence: Confidence::High,
        confidence_reason: "each 502 follows a record of the same request (correlation id) that the client abandoned (status 499)".into(),
        summary: format!(
            "{} of the 502 socket hang up records are requests the client abandoned first ({} source request(s) logged with status 499): EMG aborted the target request because the client had left, and logged the abort as 502. The target is innocent, and no client saw these 502s.",
            t.kinds.client_abort_502, t.kinds.client_aborts
        ),
        evidence: serde_json::json!({"status_502_after_client_left": t.kinds.client_abort_502, "source_requests_aborted_499": t.kinds.client_aborts, "targets": targets_with(t, |c| c.client_abort)}).into(),
        next_step: "Look at the client side: its timeout is shorter than the target's response time (or users cancel). Raise the client's or the load balancer's timeout above the target's response time, or make the target faster; do not tune the target's keep-alive for these.".into(),
    })
}

/// The target's host name did not resolve on the EMG host.
pub(super) fn dns(e: &Evidence) -> Option<Finding> {
    let t = e.triage;
    if t.kinds.dns_502 == 0 {
        return None;
    }
    Some(Finding {
        id: FindingId::Dns,
        severity: Severity::High,
        confidence: Confidence::High,
        confidence_reason: "ENOTFOUND / EAI_AGAIN come from the resolver on the EMG host".into(),
        summary: format!("{} request(s) got 502 because the target's host name did not resolve (ENOTFOUND / EAI_AGAIN) on the EMG host.", t.kinds.dns_502),
        evidence: serde_json::json!({"status_502_dns": t.kinds.dns_502, "samples": t.samples}).into(),
        next_step: "Check name resolution on the EMG host (`getent hosts TARGET-HOST`, /etc/resolv.conf, the DNS server's health); EAI_AGAIN means a temporary failure of the DNS server, ENOTFOUND a name that does not exist (a typo in proxies[].url or the Edge target).".into(),
    })
}

/// TLS toward the target failed, in the logs or in a probe's handshake; names the ssl.client
/// keys the config sets.
pub(super) fn tls(e: &Evidence) -> Option<Finding> {
    let t = e.triage;
    let tls_probes: Vec<serde_json::Value> = e
        .probes
        .iter()
        .filter(|p| {
            p.error
                .as_deref()
                .is_some_and(|e| e.starts_with("TLS handshake failed"))
        })
        .map(|p| serde_json::json!({"url": p.url, "error": p.error}))
        .collect();
    if t.kinds.tls_502 == 0 && tls_probes.is_empty() {
        return None;
    }
    let keys = if e.keepalive.tls_client_keys.is_empty() {
        "no targets[].ssl.client keys are set in the config".to_string()
    } else {
        format!("the config sets {}", e.keepalive.tls_client_keys.join(", "))
    };
    Some(Finding {
        id: FindingId::Tls,
        severity: Severity::High,
        confidence: Confidence::High,
        confidence_reason: "the error code or message is a TLS failure toward the target".into(),
        summary: format!("{} request(s) got 502 because the TLS connection to the target failed (self-signed or expired certificate, host name mismatch, protocol error){}; {keys}.", t.kinds.tls_502, if tls_probes.is_empty() { String::new() } else { format!(", and {} probe(s) failed the TLS handshake with the system's trusted roots", tls_probes.len()) }),
        evidence: serde_json::json!({"status_502_tls": t.kinds.tls_502, "tls_client_keys": e.keepalive.tls_client_keys, "probes": tls_probes, "samples": t.samples}).into(),
        next_step: "Check the target's certificate from the EMG host (`openssl s_client -connect HOST:443 -servername HOST`). For a private CA set targets[].ssl.client.ca; for a host name that differs from the certificate set targets[].ssl.client.servername; only for a test target set targets[].ssl.client.rejectUnauthorized: false. An EPROTO error means the TLS versions or ciphers do not match, or the port does not speak TLS.".into(),
    })
}

/// Node's header-size limit (HPE_HEADER_OVERFLOW, 400/431).
pub(super) fn header_overflow(e: &Evidence) -> Option<Finding> {
    let t = e.triage;
    if t.kinds.header_overflow == 0 {
        return None;
    }
    let limit = e.keepalive.max_http_header_size.map_or_else(
        || {
            "edgemicro.maxHttpHeaderSize is not set (Node's default, 16 KiB on current Node)"
                .to_string()
        },
        |n| format!("edgemicro.maxHttpHeaderSize is {n}"),
    );
    Some(Finding {
        id: FindingId::HeaderOverflow,
        severity: Severity::High,
        confidence: Confidence::High,
        confidence_reason: "the error is Node's header-size limit (HPE_HEADER_OVERFLOW)".into(),
        summary: format!("{} request(s) failed on a header-size limit (HPE_HEADER_OVERFLOW, 400/431); {limit}.", t.kinds.header_overflow),
        evidence: serde_json::json!({"header_overflow": t.kinds.header_overflow, "max_http_header_size": e.keepalive.max_http_header_size, "samples": t.samples}).into(),
        next_step: "Find which side's limit it is: a large cookie or token from the client (raise edgemicro.maxHttpHeaderSize) or a target with a small header limit (Tomcat 8 KB: raise maxHttpHeaderSize on the target, or send fewer headers).".into(),
    })
}

/// The target stopped in the middle of its response body.
pub(super) fn aborted_response(e: &Evidence) -> Option<Finding> {
    let t = e.triage;
    if t.kinds.target_response_aborted == 0 {
        return None;
    }
    Some(Finding {
        id: FindingId::TargetAbortedResponse,
        severity: Severity::High,
        confidence: Confidence::High,
        confidence_reason: "EMG logged `targetResponse aborted`: the target's response started and then stopped".into(),
        summary: format!(
            "{} target response(s) stopped in the middle of the body: the target (or something between) closed the connection after it had started answering. edgemicro.on_target_response_abort is {}.",
            t.kinds.target_response_aborted,
            e.keepalive.on_target_response_abort.as_deref().unwrap_or("not set (the client gets a cut body)")
        ),
        evidence: serde_json::json!({"target_response_aborted": t.kinds.target_response_aborted, "on_target_response_abort": e.keepalive.on_target_response_abort}).into(),
        next_step: "Check the target's logs for crashes or timeouts while streaming large responses; set edgemicro.on_target_response_abort: appendErrorToClientResponseBody (or abortClientRequest) so clients can tell a cut body from a complete one.".into(),
    })
}

/// Nothing listened at the target's address.
pub(super) fn refused(e: &Evidence) -> Option<Finding> {
    let t = e.triage;
    if t.kinds.refused_502 == 0 && t.totals.econnrefused == 0 {
        return None;
    }
    Some(Finding {
        id: FindingId::Refused,
        severity: Severity::High,
        confidence: Confidence::High,
        confidence_reason: "ECONNREFUSED comes from the target host itself".into(),
        summary: format!("{} connection(s) to the target were refused (ECONNREFUSED): nothing listened at the target's address.", t.totals.econnrefused.max(t.kinds.refused_502)),
        evidence: serde_json::json!({"targets": t.by_target.iter().filter(|(_, c)| c.econnrefused > 0).map(|(k, c)| serde_json::json!({"target": k, "econnrefused": c.econnrefused})).collect::<Vec<_>>()}).into(),
        next_step: "Check that the target is running and listening on that host and port (proxies[].url in the cache config).".into(),
    })
}

/// A load balancer in front that keeps idle connections longer than EMG does.
pub(super) fn lb_order(e: &Evidence) -> Option<Finding> {
    let lb = e.lb_idle_timeout_s?;
    let emg_s = e.keepalive.keep_alive_timeout_ms as f64 / 1000.0;
    if (lb as f64) < emg_s {
        return None;
    }
    Some(Finding {
            id: FindingId::LbKeepaliveOrder,
            severity: Severity::High,
            confidence: Confidence::Medium,
            confidence_reason: "from the configured values; the LB timeout is what you gave with --lb-idle-timeout".into(),
            summary: format!(
                "The load balancer in front keeps idle connections {lb} s, EMG only {emg_s} s (edgemicro.keep_alive_timeout{}): EMG closes first, and the LB can send a request on a connection EMG just closed, which the LB answers with 502.",
                if e.keepalive.keep_alive_timeout_set { String::new() } else { " not set: Node's default 5000 ms".into() }
            ),
            evidence: serde_json::json!({"lb_idle_timeout_s": lb, "emg_keep_alive_timeout_ms": e.keepalive.keep_alive_timeout_ms, "set_in": e.keepalive.source}).into(),
            next_step: format!(
                "The downstream hop (the LB) must close first: set `edgemicro: keep_alive_timeout: {}` (ms, above the LB's {lb} s) in ORG-ENV-config.yaml and reload or restart EMG (for example 65000 behind a 60 s AWS ALB).",
                lb.saturating_mul(1000).saturating_add(5000)
            ),
        })
}

/// Nothing found: what was looked at.
pub(super) fn nothing(e: &Evidence) -> Finding {
    let t = e.triage;
    Finding {
        id: FindingId::Nothing,
        severity: Severity::Info,
        confidence: Confidence::Medium,
        confidence_reason: "nothing in these logs and configs; logs below level info show less".into(),
        summary: format!("No 502/504 or connection errors in {} log line(s), and no keep-alive conflict found.", t.lines),
        evidence: serde_json::json!({"lines": t.lines, "files": t.files}).into(),
        next_step: "If 502s happen, collect again at log level info while they happen (collect --log-level info --reproduce-seconds N).".into(),
    }
}
