//! `report.html`: the page a support engineer opens first. One self-contained file (inline CSS
//! and SVG, no script, no fetch of any kind), built from the same findings, triage and manifest
//! entries as `findings.json`; every value in it is already redacted.
//!
//! Charts aggregate (at most `COLUMNS` time buckets, `BINS` idle bins, a few targets stacked),
//! so the page stays small whatever the logs hold. Every chart has a text alternative and a
//! table with the same numbers.

use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::analyze::hops::Hop;
use crate::analyze::idle::Estimate;
use crate::analyze::logs::Triage;
use crate::analyze::Finding;
use crate::bundle::FileEntry;
use crate::model::Skipped;

const COLUMNS: i64 = 240;
const STACKED: usize = 5;
const BINS: usize = 40;
const PALETTE: [&str; 6] = [
    "#c0392b", "#e67e22", "#8e44ad", "#2c7fb8", "#16a085", "#7f8c8d",
];

/// Everything the page shows.
pub(crate) struct Page<'a> {
    pub(crate) title: String,
    /// What the page describes: a host and time, or a bundle's name.
    pub(crate) subject: String,
    pub(crate) findings: &'a [Finding],
    pub(crate) triage: &'a Triage,
    pub(crate) hops: &'a [Hop],
    /// Moments marked on the timeline (a log-level switch, a capture), epoch ms.
    pub(crate) marks: Vec<(String, i64)>,
    pub(crate) files: Rows<'a, FileEntry>,
    pub(crate) skipped: Rows<'a, Skipped>,
    /// Redactions per rule, and per file.
    pub(crate) by_rule: Vec<(String, u64)>,
    pub(crate) by_file: Rows<'a, (String, u64)>,
}

/// A table's rows: the first `ROWS` (all a page shows), and how many there are in all (a
/// collect of many files keeps the rest on disk, never all in memory for the page).
pub(crate) struct Rows<'a, T: Clone> {
    pub(crate) first: std::borrow::Cow<'a, [T]>,
    pub(crate) total: usize,
}

impl<'a, T: Clone> Rows<'a, T> {
    pub(crate) fn of(all: &'a [T]) -> Rows<'a, T> {
        Rows {
            first: std::borrow::Cow::Borrowed(&all[..all.len().min(ROWS)]),
            total: all.len(),
        }
    }

    pub(crate) fn first_of(all: &crate::spill::Spill<T>) -> Rows<'a, T>
    where
        T: serde::de::DeserializeOwned,
    {
        Rows {
            first: std::borrow::Cow::Owned(all.first(ROWS)),
            total: all.len(),
        }
    }

    fn more(&self) -> usize {
        self.total.saturating_sub(self.first.len())
    }
}

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#222;max-width:1200px;margin:0 auto;padding:16px 24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:28px}
h3{font-size:15px;margin:16px 0 4px}.sub{color:#555;margin:0 0 12px}
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{border:1px solid #ddd;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
.finding{border-left:5px solid #999;padding:4px 12px;margin:12px 0;background:#fafafa}
.finding.high{border-color:#c0392b}.finding.medium{border-color:#e67e22}.finding.info{border-color:#2c7fb8}
.broken{background:#fdecea}.ok{background:#eaf7ee}code,pre{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f6f6;padding:6px}
svg{max-width:100%;height:auto}.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
details{margin:6px 0}@media print{details{display:block}body{max-width:none}.finding{break-inside:avoid}}
";

pub(crate) fn render(page: &Page) -> String {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // No fetch of any kind: the page is opened on support laptops.
                meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:";
                title { (page.title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    h1 { (page.title) }
                    p.sub { (page.subject) }
                }
                main {
                    (findings(page.findings))
                    (timeline(page.triage, &page.marks))
                    (idle_picture(page.triage))
                    (hop_chain(page.hops))
                    (capture(page.findings))
                    (collected(page))
                    (redacted(page))
                }
            }
        }
    };
    markup.into_string()
}

fn findings(findings: &[Finding]) -> Markup {
    html! {
        section aria-labelledby="findings" {
            h2 #findings { "Findings" }
            @if findings.is_empty() { p { "Nothing conclusive in the collected evidence." } }
            @for f in findings {
                article class={ "finding " (f.severity) } {
                    h3 { code { (f.id) } " — " (f.severity) }
                    p { (f.summary) }
                    p { strong { "How sure: " } (confidence(f)) " — " (f.confidence_reason) }
                    p { strong { "Next step: " } (f.next_step) }
                    details {
                        summary { "Evidence" }
                        pre { (serde_json::to_string_pretty(&f.evidence).unwrap_or_default()) }
                    }
                }
            }
        }
    }
}

fn confidence(f: &Finding) -> String {
    serde_json::to_value(f.confidence)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(String::new, |t| {
        t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    })
}

/// The timeline's minutes in at most `COLUMNS` buckets: failures per bucket and series (the
/// worst `STACKED` targets, then the rest as one), successes per bucket.
struct Buckets {
    /// First and last minute since the epoch, and minutes per bucket.
    first: i64,
    last: i64,
    bucket: i64,
    failures_by_target: Vec<u64>,
    /// Targets by failures, most first; `shown` are those with a series of their own.
    order: Vec<usize>,
    shown: Vec<usize>,
    /// Per bucket: failures per series (the last is "other targets"), and successes.
    failed: Vec<Vec<u64>>,
    ok: Vec<u64>,
}

impl Buckets {
    fn of(tl: &crate::analyze::logs::Timeline) -> Option<Buckets> {
        let first = tl.cells.keys().map(|(m, _)| *m).min()?;
        let last = tl.cells.keys().map(|(m, _)| *m).max()?;
        let bucket = ((last - first + 1) + COLUMNS - 1) / COLUMNS;
        let columns = ((last - first) / bucket + 1) as usize;
        // The targets with most failures get their own colour.
        let mut failures_by_target = vec![0u64; tl.targets.len()];
        for ((_, t), [failed, _]) in &tl.cells {
            failures_by_target[usize::from(*t)] += u64::from(*failed);
        }
        let mut order: Vec<usize> = (0..tl.targets.len()).collect();
        order.sort_by_key(|t| std::cmp::Reverse(failures_by_target[*t]));
        let shown: Vec<usize> = order
            .iter()
            .copied()
            .filter(|t| failures_by_target[*t] > 0)
            .take(STACKED)
            .collect();
        let series = shown.len() + 1;
        let mut failed = vec![vec![0u64; series]; columns];
        let mut ok = vec![0u64; columns];
        for ((minute, t), [f, s]) in &tl.cells {
            let col = ((minute - first) / bucket) as usize;
            let slot = shown
                .iter()
                .position(|x| usize::from(*t) == *x)
                .unwrap_or(series - 1);
            failed[col][slot] += u64::from(*f);
            ok[col] += u64::from(*s);
        }
        Some(Buckets {
            first,
            last,
            bucket,
            failures_by_target,
            order,
            shown,
            failed,
            ok,
        })
    }
}

/// Failures per bucket, stacked by target (the worst `STACKED`, the rest as one), with the
/// successful responses as a line on their own scale.
fn timeline(triage: &Triage, marks: &[(String, i64)]) -> Markup {
    let tl = &triage.timeline;
    let Some(b) = Buckets::of(tl) else {
        return no_timeline();
    };
    let Buckets {
        first,
        last,
        bucket,
        failures_by_target,
        order,
        shown,
        failed,
        ok,
    } = b;
    let (columns, series) = (failed.len(), shown.len() + 1);
    let max_failed = failed
        .iter()
        .map(|c| c.iter().sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let max_ok = ok.iter().copied().max().unwrap_or(0).max(1);
    let (w, h, left, bottom) = (1100.0, 220.0, 50.0, 30.0);
    let plot_w = w - left - 10.0;
    let plot_h = h - bottom - 10.0;
    let col_w = plot_w / columns as f64;
    let x_of_ms = |ms: i64| left + ((ms as f64 / 60_000.0 - first as f64) / bucket as f64) * col_w;
    let bars = stacked_bars(&failed, max_failed, left, col_w, plot_h);
    let total_failed: u64 = failures_by_target.iter().sum();
    let total_ok: u64 = ok.iter().sum();
    let labels: Vec<String> = (0..series)
        .map(|slot| {
            shown
                .get(slot)
                .map_or("other targets".to_string(), |t| tl.targets[*t].clone())
        })
        .collect();
    let ok_line = successes_line(&ok, max_ok, left, col_w, plot_h);
    let desc = format!(
        "{total_failed} failed requests (502, 504, resets) and {total_ok} successful target responses between {} and {}, in buckets of {bucket} minute(s); the most failures in one bucket: {max_failed}.",
        utc(first * 60_000),
        utc((last + 1) * 60_000)
    );
    html! {
        section aria-labelledby="timeline" {
            h2 #timeline { "Timeline" }
            p { (desc) }
            (legend(&labels, shown.len(), &failed, max_ok))
            svg role="img" aria-labelledby="timeline-title timeline-desc" viewBox={ "0 0 " (w) " " (h) } xmlns="http://www.w3.org/2000/svg" {
                title #timeline-title { "Failures per time bucket, stacked by target" }
                desc #timeline-desc { (desc) }
                line x1=(left) y1=(10.0 + plot_h) x2=(w - 10.0) y2=(10.0 + plot_h) stroke="#888" {}
                text x="4" y="18" font-size="11" { (max_failed) }
                text x="4" y=(10.0 + plot_h) font-size="11" { "0" }
                text x=(left) y=(h - 8.0) font-size="11" { (utc(first * 60_000)) }
                text x=(w - 10.0) y=(h - 8.0) font-size="11" text-anchor="end" { (utc((last + 1) * 60_000)) }
                @for (x, y, height, slot, n) in &bars {
                    rect x=(format!("{x:.1}")) y=(format!("{y:.1}")) width=(format!("{:.2}", (col_w - 0.5).max(0.5))) height=(format!("{height:.1}")) fill=(PALETTE[(*slot).min(PALETTE.len() - 1)]) {
                        title { (labels[*slot]) ": " (n) }
                    }
                }
                polyline points=(ok_line) fill="none" stroke="#999" stroke-width="1" {}
                @for (name, ms) in marks {
                    line x1=(format!("{:.1}", x_of_ms(*ms))) y1="10" x2=(format!("{:.1}", x_of_ms(*ms))) y2=(10.0 + plot_h) stroke="#2c3e50" stroke-dasharray="4 3" {}
                    text x=(format!("{:.1}", x_of_ms(*ms) + 3.0)) y="22" font-size="11" { (name) }
                }
            }
            (per_target(tl, &order, &failures_by_target))
        }
    }
}

fn no_timeline() -> Markup {
    html! {
        section aria-labelledby="timeline" {
            h2 #timeline { "Timeline" }
            p { "No request records with times in the logs." }
        }
    }
}

/// The colour of each series that has failures (the named targets always), then the
/// successes' grey.
fn legend(labels: &[String], named: usize, failed: &[Vec<u64>], max_ok: u64) -> Markup {
    html! {
        p.legend {
            @for (slot, label) in labels.iter().enumerate() {
                @if slot < named || failed.iter().any(|c| c[slot] > 0) {
                    span { span.sw style={ "background:" (PALETTE[slot.min(PALETTE.len() - 1)]) } {} (label) }
                }
            }
            span { span.sw style="background:#999" {} "successful responses (own scale, max " (max_ok) " per bucket)" }
        }
    }
}

/// The successes per bucket as an SVG polyline's points, on their own scale.
fn successes_line(ok: &[u64], max_ok: u64, left: f64, col_w: f64, plot_h: f64) -> String {
    ok.iter()
        .enumerate()
        .map(|(i, n)| {
            format!(
                "{:.1},{:.1}",
                left + (i as f64 + 0.5) * col_w,
                10.0 + plot_h - (*n as f64 / max_ok as f64) * plot_h
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Stacked bars: (x, y, height, series, count), bottom to top in each column.
fn stacked_bars(
    failed: &[Vec<u64>],
    max_failed: u64,
    left: f64,
    col_w: f64,
    plot_h: f64,
) -> Vec<(f64, f64, f64, usize, u64)> {
    let mut bars = Vec::new();
    for (col, stack) in failed.iter().enumerate() {
        let mut y = 10.0 + plot_h;
        for (slot, n) in stack.iter().enumerate().filter(|(_, n)| **n > 0) {
            let height = (*n as f64 / max_failed as f64) * plot_h;
            y -= height;
            bars.push((left + col as f64 * col_w, y, height, slot, *n));
        }
    }
    bars
}

/// The timeline's numbers as a table, for screen readers and for copying into a ticket.
fn per_target(
    tl: &crate::analyze::logs::Timeline,
    order: &[usize],
    failures_by_target: &[u64],
) -> Markup {
    html! {
        details {
            summary { "The numbers per target" }
            table {
                thead { tr { th scope="col" { "target" } th scope="col" { "failed requests" } } }
                tbody {
                    @for t in order {
                        tr { td { (tl.targets[*t]) } td.n { (failures_by_target[*t]) } }
                    }
                }
            }
            @if tl.dropped > 0 { p { (tl.dropped) " records past the timeline's bound are not drawn." } }
        }
    }
}

/// For the target with most resets: how long the target had been idle before each request,
/// resets against successes, with the estimated idle close drawn.
fn idle_picture(triage: &Triage) -> Markup {
    let estimates = triage.idle.estimates();
    let Some(worst) = estimates.iter().max_by_key(|e| e.resets) else {
        return html! {
            section aria-labelledby="idle" {
                h2 #idle { "Idle time before requests" }
                p { "No resets with a known idle time (the logs need level info to show successful target responses)." }
            }
        };
    };
    let Some(hist) = triage.idle.histogram(&worst.target, BINS) else {
        return html! {};
    };
    let max = hist
        .bins
        .iter()
        .map(|(r, s)| (*r).max(*s))
        .max()
        .unwrap_or(0)
        .max(1);
    let (w, h, left, bottom) = (1100.0, 200.0, 50.0, 30.0);
    let plot_w = w - left - 10.0;
    let plot_h = h - bottom - 10.0;
    let bin_w = plot_w / hist.bins.len() as f64;
    let x_of = |s: f64| left + (s / hist.bin_s) * bin_w;
    let desc = describe_idle(worst);
    html! {
        section aria-labelledby="idle" {
            h2 #idle { "Idle time before requests: " (worst.target) }
            p { (desc) }
            p.legend {
                span { span.sw style="background:#c0392b" {} "requests that reset" }
                span { span.sw style="background:#95a5a6" {} "requests that succeeded" }
                @if worst.idle_close_s.is_some() { span { "dashed: estimated idle close" } }
            }
            svg role="img" aria-labelledby="idle-title idle-desc" viewBox={ "0 0 " (w) " " (h) } xmlns="http://www.w3.org/2000/svg" {
                title #idle-title { "Idle time before each request, resets against successes" }
                desc #idle-desc { (desc) }
                line x1=(left) y1=(10.0 + plot_h) x2=(w - 10.0) y2=(10.0 + plot_h) stroke="#888" {}
                text x="4" y="18" font-size="11" { (max) }
                text x=(left) y=(h - 8.0) font-size="11" { "0 s" }
                text x=(w - 10.0) y=(h - 8.0) font-size="11" text-anchor="end" { (format!("{:.1} s idle", hist.bin_s * hist.bins.len() as f64)) }
                @for (i, (resets, successes)) in hist.bins.iter().enumerate() {
                    @let x = left + i as f64 * bin_w;
                    @let hs = (*successes as f64 / max as f64) * plot_h;
                    @let hr = (*resets as f64 / max as f64) * plot_h;
                    rect x=(format!("{x:.1}")) y=(format!("{:.1}", 10.0 + plot_h - hs)) width=(format!("{:.1}", bin_w / 2.0)) height=(format!("{hs:.1}")) fill="#95a5a6" { title { (successes) " succeeded" } }
                    rect x=(format!("{:.1}", x + bin_w / 2.0)) y=(format!("{:.1}", 10.0 + plot_h - hr)) width=(format!("{:.1}", bin_w / 2.0)) height=(format!("{hr:.1}")) fill="#c0392b" { title { (resets) " reset" } }
                }
                @if let Some(close) = worst.idle_close_s {
                    line x1=(format!("{:.1}", x_of(close))) y1="10" x2=(format!("{:.1}", x_of(close))) y2=(10.0 + plot_h) stroke="#2c3e50" stroke-dasharray="5 3" {}
                    text x=(format!("{:.1}", x_of(close) + 4.0)) y="22" font-size="11" { (format!("idle close ≈ {close:.2} s")) }
                }
            }
            details {
                summary { "The numbers per idle bin" }
                table {
                    thead { tr { th scope="col" { "idle (s)" } th scope="col" { "succeeded" } th scope="col" { "reset" } } }
                    tbody {
                        @for (i, (resets, successes)) in hist.bins.iter().enumerate() {
                            @if *resets + *successes > 0 {
                                tr { td { (format!("{:.2}–{:.2}", i as f64 * hist.bin_s, (i + 1) as f64 * hist.bin_s)) } td.n { (successes) } td.n { (resets) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn describe_idle(e: &Estimate) -> String {
    match (e.idle_close_s, e.interval_s) {
        (Some(close), Some((low, high))) => format!(
            "The resets are explained by idle time: {}. Estimated idle close {close:.2} s (between {low:.2} and {high:.2} s). {} resets and {} successes with a known idle time.",
            e.reason, e.resets, e.successes
        ),
        _ => format!(
            "{}. {} resets and {} successes with a known idle time.",
            e.reason, e.resets, e.successes
        ),
    }
}

fn hop_chain(hops: &[Hop]) -> Markup {
    html! {
        section aria-labelledby="hops" {
            h2 #hops { "The chain of hops" }
            p { "Every downstream hop (the side that opens connections) must close idle connections before the hop upstream of it does. A highlighted row breaks that order." }
            table {
                thead {
                    tr {
                        th scope="col" { "downstream (closes first)" }
                        th scope="col" { "its idle timeout" }
                        th scope="col" { "upstream" }
                        th scope="col" { "its idle timeout" }
                        th scope="col" { "order" }
                        th scope="col" { "fix" }
                    }
                }
                tbody {
                    @for hop in hops {
                        @let class = match hop.in_order { Some(false) => "broken", Some(true) => "ok", None => "" };
                        tr class=(class) {
                            td { (hop.downstream.name) }
                            td { (hop.downstream.shown) br; small { (hop.downstream.source) } }
                            td { (hop.upstream.name) }
                            td { (hop.upstream.shown) br; small { (hop.upstream.source) } }
                            td { @match hop.in_order { Some(true) => "in order", Some(false) => strong { "broken" }, None => "unknown" } }
                            td { (hop.fix.as_deref().unwrap_or("")) }
                        }
                    }
                }
            }
        }
    }
}

/// Sequence diagrams of the races a capture caught: the target's FIN, EMG's request after it,
/// the target's RST, with packet numbers and times.
fn capture(findings: &[Finding]) -> Markup {
    let examples: Vec<&crate::analyze::pcap::RaceCaught> = findings
        .iter()
        .filter_map(|f| f.evidence.caught_races())
        .flat_map(|caught| &caught.examples)
        .take(3)
        .collect();
    if examples.is_empty() {
        return html! {};
    }
    html! {
        section aria-labelledby="capture" {
            h2 #capture { "The capture: races caught" }
            @for (i, ex) in examples.iter().enumerate() {
                @let desc = format!(
                    "Connection {} to {}: the target sent FIN (packet {}) after {} s idle at {}; EMG sent a request on it {} ms later (packet {}); the target answered RST (packet {}).",
                    ex.client, ex.target,
                    ex.target_fin_packet, ex.idle_before_fin_s, ex.target_fin_time.as_deref().unwrap_or("?"),
                    ex.request_ms_after_fin, ex.request_after_fin_packet,
                    ex.target_rst_packet.map_or("?".to_string(), |p| p.to_string()));
                figure {
                    svg role="img" aria-labelledby={ "cap-t" (i) " cap-d" (i) } viewBox="0 0 700 170" xmlns="http://www.w3.org/2000/svg" {
                        title id={ "cap-t" (i) } { "Race " (i + 1) }
                        desc id={ "cap-d" (i) } { (desc) }
                        text x="60" y="16" font-size="12" text-anchor="middle" { "EMG" }
                        text x="640" y="16" font-size="12" text-anchor="middle" { "target" }
                        line x1="60" y1="22" x2="60" y2="165" stroke="#555" {}
                        line x1="640" y1="22" x2="640" y2="165" stroke="#555" {}
                        line x1="640" y1="45" x2="60" y2="65" stroke="#2c3e50" stroke-width="2" {}
                        text x="350" y="48" font-size="11" text-anchor="middle" { "#" (ex.target_fin_packet) " FIN after " (ex.idle_before_fin_s) " s idle" }
                        line x1="60" y1="90" x2="640" y2="110" stroke="#e67e22" stroke-width="2" {}
                        text x="350" y="93" font-size="11" text-anchor="middle" { "#" (ex.request_after_fin_packet) " request, " (ex.request_ms_after_fin) " ms after the FIN" }
                        line x1="640" y1="130" x2="60" y2="150" stroke="#c0392b" stroke-width="2" {}
                        text x="350" y="133" font-size="11" text-anchor="middle" { "#" (ex.target_rst_packet.map_or("?".to_string(), |p| p.to_string())) " RST → 502 socket hang up" }
                    }
                    figcaption { (desc) }
                }
            }
        }
    }
}

/// Rows of the entries and skips tables: enough to read, and the page stays small however many
/// files a bundle holds (20 000 rows made a 9.5 MB page); manifest.json lists every one.
pub(crate) const ROWS: usize = 500;

fn collected(page: &Page) -> Markup {
    let more = page.files.more();
    let more_skipped = page.skipped.more();
    html! {
        section aria-labelledby="collected" {
            h2 #collected { "What was collected" }
            table {
                thead { tr { th scope="col" { "entry" } th scope="col" { "bytes" } th scope="col" { "sha256" } th scope="col" { "source" } th scope="col" { "redactions" } } }
                tbody {
                    @for f in page.files.first.iter() {
                        tr {
                            td { code { (f.path) } @if f.truncated { " (truncated)" } }
                            td.n { (f.bytes) }
                            td { code { (f.sha256) } }
                            td { (f.source) }
                            td.n { (f.redactions) }
                        }
                    }
                }
            }
            @if more > 0 {
                p { "… and " (more) " more entries, each in manifest.json with its sha256." }
            }
            p { "manifest.json, README.txt and this page are listed in manifest.json with their sha256." }
            @if page.skipped.total > 0 {
                h3 { "Skipped" }
                table {
                    thead { tr { th scope="col" { "what" } th scope="col" { "why" } } }
                    tbody { @for s in page.skipped.first.iter() { tr { td { (s.source) } td { (s.reason) } } } }
                }
                @if more_skipped > 0 {
                    p { "… and " (more_skipped) " more, each in manifest.json with the reason." }
                }
            }
        }
    }
}

fn redacted(page: &Page) -> Markup {
    html! {
        section aria-labelledby="redacted" {
            h2 #redacted { "What was redacted" }
            p { "Counts only; values never appear in this bundle." }
            table {
                caption { "Per rule" }
                thead { tr { th scope="col" { "rule" } th scope="col" { "replaced" } } }
                tbody { @for (rule, n) in &page.by_rule { tr { td { code { (rule) } } td.n { (n) } } } }
            }
            table {
                caption { "Per file" }
                thead { tr { th scope="col" { "entry" } th scope="col" { "replaced" } } }
                tbody { @for (file, n) in page.by_file.first.iter() { tr { td { code { (file) } } td.n { (n) } } } }
            }
            @if page.by_file.more() > 0 {
                p { "… and " (page.by_file.more()) " more files, each in redaction-report.json." }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// However many files a bundle holds, the page lists the first ROWS and counts the rest.
    #[test]
    fn the_files_table_stays_readable() {
        let files: Vec<FileEntry> = (0..ROWS + 700)
            .map(|i| FileEntry {
                bytes: 1,
                path: format!("logs/edgemicro-{i}.log"),
                redactions: 0,
                sha256: "0".repeat(64),
                source: format!("/var/tmp/edgemicro-{i}.log"),
                truncated: false,
            })
            .collect();
        let skipped: Vec<Skipped> = (0..3)
            .map(|i| Skipped {
                reason: "permission denied".into(),
                source: format!("/var/tmp/x{i}.log"),
            })
            .collect();
        let triage = Triage::default();
        let page = render(&Page {
            title: "t".into(),
            subject: "s".into(),
            findings: &[],
            triage: &triage,
            hops: &[],
            marks: Vec::new(),
            files: Rows::of(&files),
            skipped: Rows::of(&skipped),
            by_rule: Vec::new(),
            by_file: Rows::of(&[]),
        });
        assert!(page.contains(&format!("logs/edgemicro-{}.log", ROWS - 1)));
        assert!(!page.contains(&format!("logs/edgemicro-{ROWS}.log")));
        assert!(page.contains("and 700 more entries"));
        assert!(
            page.contains("/var/tmp/x2.log"),
            "a short skip list is whole"
        );
        assert!(!page.contains("more, each in manifest.json with the reason"));
    }
}
