//! report.html: valid HTML with every section, a text alternative for every chart, nothing that
//! fetches, the same findings as findings.json; rendered by real headless Chromium (PDF and PNG,
//! no network request, no console error) from a bundle of a real gateway run.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::*;

const SECTIONS: [&str; 6] = [
    "findings",
    "timeline",
    "idle",
    "hops",
    "collected",
    "redacted",
];

/// Parses the page as a browser would and checks what every page must hold.
pub fn check_page(html: &str) -> scraper::Html {
    let doc = scraper::Html::parse_document(html);
    assert!(doc.errors.is_empty(), "HTML parse errors: {:?}", doc.errors);
    let select = |css: &str| scraper::Selector::parse(css).unwrap();
    for id in SECTIONS {
        assert!(
            doc.select(&select(&format!("section h2#{id}")))
                .next()
                .is_some(),
            "section {id} is on the page"
        );
    }
    for svg in doc.select(&select("svg")) {
        assert_eq!(svg.value().attr("role"), Some("img"));
        let t = svg
            .select(&select("title"))
            .next()
            .map(|t| t.text().collect::<String>());
        let d = svg
            .select(&select("desc"))
            .next()
            .map(|t| t.text().collect::<String>());
        assert!(
            t.is_some_and(|t| !t.is_empty()) && d.is_some_and(|d| d.len() > 20),
            "every chart has a title and a text description"
        );
    }
    for table in doc.select(&select("table")) {
        assert!(
            table.select(&select("th")).next().is_some(),
            "tables have header cells"
        );
    }
    assert!(
        doc.select(&select("script, link, img, iframe, object"))
            .next()
            .is_none(),
        "nothing to load or run"
    );
    let linked: Vec<_> = doc
        .select(&select("[src], [href]"))
        .map(|e| e.value().clone())
        .collect();
    assert!(linked.is_empty(), "no URL attributes at all: {linked:?}");
    doc
}

fn text_of(doc: &scraper::Html) -> String {
    let body = scraper::Selector::parse("body").unwrap();
    doc.select(&body)
        .next()
        .unwrap()
        .text()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_example_bundle_has_a_report_page_with_the_findings() {
    let t = Test::example().collect("p.zip");
    assert_eq!(t.run().code, 0);
    let entries = unzip_all(&t.path("out/p.zip"));
    let page = String::from_utf8(entry(&entries, "report.html").to_vec()).unwrap();
    let doc = check_page(&page);
    let findings: serde_json::Value =
        serde_json::from_slice(entry(&entries, "findings.json")).unwrap();
    let text = text_of(&doc);
    for f in findings.as_array().unwrap() {
        assert!(text.contains(f["id"].as_str().unwrap()), "{}", f["id"]);
        assert!(
            text.contains(f["next_step"].as_str().unwrap()),
            "same words as findings.json"
        );
    }
    // Every entry written before the page is listed with its sha256.
    let manifest = manifest_of(&entries);
    for f in manifest["files"].as_array().unwrap() {
        let path = f["path"].as_str().unwrap();
        // README.txt is written after the page (its summary knows everything).
        if path != "report.html" && path != "README.txt" {
            assert!(
                text.contains(path) && text.contains(f["sha256"].as_str().unwrap()),
                "{path}"
            );
        }
    }
    assert!(page.len() < 200_000, "{} bytes", page.len());
    // The page's words, not its pixels: times, hashes and temp paths normalized.
    let normal = regex::Regex::new(
        r"[0-9a-f]{64}|\d{4}-\d\d-\d\dT[0-9:.]+Z|/tmp/\S+|edgemicro-diag-\S+\.zip",
    )
    .unwrap();
    // facts.json describes this host (its size varies with it).
    let sizes = regex::Regex::new(r"(system/facts\.json|README\.txt)\n\d+").unwrap();
    let text = normal.replace_all(&text, "[X]");
    insta::assert_snapshot!(
        "report_page_text_example",
        sizes.replace_all(&text, "$1\n[N]")
    );
}

/// `analyze BUNDLE --html FILE` writes the same page; it never replaces a file.
#[test]
fn analyze_writes_the_page_and_never_replaces_a_file() {
    let t = Test::example().collect("q.zip");
    assert_eq!(t.run().code, 0);
    let bundle = t.path("out/q.zip");
    let page = t.path("page.html");
    let run = Test::new()
        .args([
            "analyze".into(),
            bundle.clone().into_os_string(),
            "--html".into(),
            page.clone().into_os_string(),
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.stderr);
    check_page(&std::fs::read_to_string(&page).unwrap());
    let planted = t.path("planted.html");
    std::os::unix::fs::symlink("/etc/passwd-not-here", &planted).unwrap();
    for target in [&page, &planted] {
        let run = Test::new()
            .args([
                "analyze".into(),
                bundle.clone().into_os_string(),
                "--html".into(),
                target.clone().into_os_string(),
            ])
            .run();
        assert_eq!(run.code, 1, "{}", run.stderr);
        assert!(run.stderr.contains("exists"), "{}", run.stderr);
    }
    assert!(std::fs::symlink_metadata(&planted)
        .unwrap()
        .file_type()
        .is_symlink());
}

fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(PathBuf::from);
    if found.is_none() {
        assert!(
            std::env::var_os("EDGEMICRO_DIAG_REQUIRE_CAPTURE").is_none(),
            "CI installs chromium (.ci/run); EDGEMICRO_DIAG_REQUIRE_CAPTURE is set"
        );
        eprintln!("SKIPPED: no chromium (CI installs it)");
    }
    found
}

/// Opens `page` in headless Chromium with every host name mapped to a closed port and a net
/// log: the DOM text, a PDF and a 1280 px PNG are made; no request leaves, no console error.
pub fn render_in_chromium(page: &Path, work: &Path) -> Option<String> {
    let browser = chromium()?;
    let run = |url: &str, name: &str, extra: &[String]| {
        let net_log = work.join(format!("{name}.net.json"));
        let out = Command::new(&browser)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--host-resolver-rules=MAP * 127.0.0.1:9",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1280,2400",
            ])
            .arg(format!(
                "--user-data-dir={}",
                work.join(format!("{name}.profile")).display()
            ))
            .arg(format!("--log-net-log={}", net_log.display()))
            .args(extra)
            .arg(url)
            .output()
            .expect("chromium runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(!stderr.contains("CONSOLE"), "console messages: {stderr}");
        (
            out.stdout,
            hosts(&std::fs::read_to_string(&net_log).unwrap_or_default()),
        )
    };
    // The browser calls its own update and account services whatever it shows: what a blank
    // page's run asks for is the baseline; the report may ask for nothing beyond it.
    let blank = work.join("blank.html");
    std::fs::write(
        &blank,
        "<!DOCTYPE html><html lang=en><title>blank</title></html>",
    )
    .unwrap();
    let (_, baseline) = run(
        &format!("file://{}", blank.display()),
        "blank",
        &["--dump-dom".into()],
    );
    let url = format!("file://{}", page.display());
    let pdf = work.join("report.pdf");
    let png = work.join("report.png");
    let (dom, mut asked) = run(&url, "dom", &["--dump-dom".into()]);
    asked.extend(
        run(
            &url,
            "pdf",
            &[
                format!("--print-to-pdf={}", pdf.display()),
                "--no-pdf-header-footer".into(),
            ],
        )
        .1,
    );
    asked.extend(run(&url, "png", &[format!("--screenshot={}", png.display())]).1);
    let extra: Vec<&String> = asked.iter().filter(|h| !baseline.contains(*h)).collect();
    assert!(
        extra.is_empty(),
        "the page made network requests to {extra:?}"
    );
    assert!(std::fs::read(&pdf).unwrap().starts_with(b"%PDF"), "a PDF");
    assert!(
        std::fs::read(&png).unwrap().starts_with(b"\x89PNG"),
        "a PNG"
    );
    Some(String::from_utf8(dom).unwrap())
}

/// The hosts of every network URL in a Chromium net log.
fn hosts(net_log: &str) -> std::collections::BTreeSet<String> {
    let url = regex::Regex::new(r#""url":"(?:https?|wss?)://([^/":?]+)"#).unwrap();
    url.captures_iter(net_log)
        .map(|c| c[1].to_string())
        .collect()
}
