//! The redaction engine alone (no I/O, no compression): bytes per second through
//! `FileRedactor::lines` plus the log triage, on EMG request logs shaped like
//! ../shared/bench/gen-corpus writes them (~1 % of lines carry a secret where EMG puts one).
//! Target (issue #9): ≥ 300 MB/s per core. Run: `cargo bench --bench redact`; with
//! `EDGEMICRO_DIAG_BENCH_LOGS=DIR` it reads up to 64 MiB of that dir's logs (the gen-corpus
//! logs, as bench/run.sh does) instead of the built-in sample.

use edgemicro_diag::engine::Triage;
use edgemicro_diag::engine::{KnownSecret, RuleSet, TextEngine};

fn main() {
    divan::main();
}

/// The logs to run on: a real corpus when named, else the built-in sample.
fn corpus() -> Vec<u8> {
    if let Some(dir) = std::env::var_os("EDGEMICRO_DIAG_BENCH_LOGS") {
        let mut out = Vec::new();
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .expect("EDGEMICRO_DIAG_BENCH_LOGS is a dir")
            .map(|e| e.expect("entry").path())
            .collect();
        files.sort();
        for f in files {
            let room = (64usize << 20).saturating_sub(out.len());
            let bytes = std::fs::read(&f).expect("readable log");
            let end = bytes[..bytes.len().min(room)]
                .iter()
                .rposition(|b| *b == b'\n')
                .map_or(0, |p| p + 1);
            out.extend_from_slice(&bytes[..end]);
        }
        return out;
    }
    sample()
}

/// ~32 MiB of EMG event records, deterministic.
fn sample() -> Vec<u8> {
    let mut out = Vec::with_capacity(33 << 20);
    let mut i: u64 = 0;
    while out.len() < 32 << 20 {
        i += 1;
        let corr = format!(
            "{:08x}-d3d6-11eb-95aa-{:012x}",
            i.wrapping_mul(2654435761) as u32,
            i * 7919
        );
        let (proxy, cid) = match i % 97 {
            0 => (format!("orders/v1/orders?apikey=QK{i:030}"), String::new()),
            1 => ("orders/v1/orders".to_string(), format!("CK{i:030}")),
            _ => (format!("orders/v1/orders/{}", i % 99_991), String::new()),
        };
        let ts = format!(
            "2021-06-23T03:{:02}:{:02}.{:03}Z",
            (i / 60_000) % 60,
            (i / 1000) % 60,
            i % 1000
        );
        for (host, msg, status) in [
            ("api.example.com", "sourceRequest", ""),
            ("10.1.2.3:8080", "targetRequest", ""),
            ("10.1.2.3:8080", "targetResponse", "200"),
            ("api.example.com", "sourceResponse", "200"),
        ] {
            out.extend_from_slice(
                format!("{ts} [info][{host}][1][myorg][test][{proxy}][172.16.0.9][{cid}][{corr}][plugins-middleware][{msg}][GET][{status}][][][12]\n").as_bytes(),
            );
        }
        if i.is_multiple_of(101) {
            out.extend_from_slice(format!("{ts} [error][0:8000][1][myorg][test][{proxy}][][][{corr}][microgateway-core][][GET][502][socket hang up][ECONNRESET][]\n").as_bytes());
        }
    }
    out
}

#[divan::bench(sample_count = 10)]
fn redact_and_triage(bencher: divan::Bencher) {
    let data = corpus();
    let rules = RuleSet::load(&[] as &[&str]).expect("shipped rules");
    let known = vec![KnownSecret::new(
        b"redis-password-from-config".to_vec(),
        "password",
    )];
    let engine = TextEngine::new(&rules, &known);
    bencher
        .counter(divan::counter::BytesCount::new(data.len()))
        .bench_local(|| {
            let mut redactor = engine.file();
            let mut triage = Triage::default();
            let mut out = Vec::with_capacity(data.len() + (1 << 20));
            // Whole lines, ~256 KiB per block, as the collector's reader hands them over.
            let mut start = 0;
            while start < data.len() {
                let limit = (start + (256 << 10)).min(data.len());
                let end = data[start..limit]
                    .iter()
                    .rposition(|b| *b == b'\n')
                    .map_or(limit, |p| start + p + 1);
                let at = out.len();
                redactor.lines(&data[start..end], false, &mut out);
                triage.block(&out[at..]);
                start = end;
            }
            divan::black_box((out.len(), triage.lines))
        });
}
