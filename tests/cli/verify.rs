use crate::harness::*;

fn bundle() -> (Test, std::path::PathBuf) {
    let t = Test::example().collect("v.zip");
    assert_eq!(t.run().code, 0);
    let zip = t.path("out/v.zip");
    (t, zip)
}

fn verify(zip: &std::path::Path) -> Run {
    Test::new()
        .args(["verify".into(), zip.as_os_str().to_owned()])
        .run()
}

#[test]
fn one_flipped_byte_in_an_entry_fails_verify_with_4() {
    let (_t, zip) = bundle();
    assert_eq!(verify(&zip).code, 0);
    // Flip one byte in the middle of the first log entry's stored data.
    python(
        "import sys, zipfile\n\
         p = sys.argv[1]\n\
         z = zipfile.ZipFile(p)\n\
         i = [x for x in z.infolist() if x.filename.startswith('logs/')][0]\n\
         raw = bytearray(open(p, 'rb').read())\n\
         n, e = int.from_bytes(raw[i.header_offset+26:i.header_offset+28], 'little'), int.from_bytes(raw[i.header_offset+28:i.header_offset+30], 'little')\n\
         at = i.header_offset + 30 + n + e + i.compress_size // 2\n\
         raw[at] ^= 0x01\n\
         open(p, 'wb').write(raw)\n",
        &zip,
    );
    let run = verify(&zip);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr.contains("logs/") || run.stderr.contains("sha256"),
        "names the mismatch: {}",
        run.stderr
    );
}

#[test]
fn consistent_zip_but_changed_content_fails_on_the_manifest_sha256() {
    let (_t, zip) = bundle();
    std::fs::remove_file(zip.with_extension("zip.sha256")).unwrap();
    // Rewrite the zip with valid CRCs but one config byte changed.
    python(
        "import sys, zipfile\n\
         p = sys.argv[1]\n\
         entries = [(i, zipfile.ZipFile(p).read(i.filename)) for i in zipfile.ZipFile(p).infolist()]\n\
         with zipfile.ZipFile(p, 'w', zipfile.ZIP_DEFLATED) as z:\n\
         \x20   for i, data in entries:\n\
         \x20       if i.filename == 'config/default.yaml':\n\
         \x20           data = data.replace(b'8000', b'8001')\n\
         \x20       z.writestr(i.filename, data)\n",
        &zip,
    );
    let run = verify(&zip);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr.contains("config/default.yaml")
            && run.stderr.contains("does not match the manifest"),
        "{}",
        run.stderr
    );
}

#[test]
fn an_entry_missing_from_the_manifest_or_a_wrong_sidecar_fails_with_4() {
    let (_t, zip) = bundle();
    std::fs::write(
        zip.with_extension("zip.sha256"),
        format!("{}  v.zip\n", "0".repeat(64)),
    )
    .unwrap();
    let run = verify(&zip);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains(".sha256"), "{}", run.stderr);

    std::fs::remove_file(zip.with_extension("zip.sha256")).unwrap();
    python(
        "import sys, zipfile\nzipfile.ZipFile(sys.argv[1], 'a').writestr('extra.txt', b'x')\n",
        &zip,
    );
    let run = verify(&zip);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(
        run.stderr.contains("extra.txt") && run.stderr.contains("not listed"),
        "{}",
        run.stderr
    );
}

/// Something that is not a zip at all is a plain mistake (exit 1, said plainly); a zip that is
/// damaged is an integrity failure (exit 4).
#[test]
fn not_a_zip_is_exit_1_and_a_damaged_zip_is_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    for junk in [&b"not a zip"[..], b"", b"%PDF-1.7\n", b"\x1f\x8b\x08\x00"] {
        let path = dir.path().join("junk.zip");
        std::fs::write(&path, junk).unwrap();
        let run = verify(&path);
        assert_eq!(run.code, 1, "{junk:?}: {}", run.stderr);
        assert!(run.stderr.contains("is not a zip file"), "{}", run.stderr);
    }
    let path = dir.path().join("cut.zip");
    std::fs::write(&path, b"PK\x03\x04 cut short").unwrap();
    assert_eq!(verify(&path).code, 4);
}

/// A zip written by Python with the given entry names (each holding "x"), plus a manifest that
/// lists them with the right sha256: only the names are hostile.
fn crafted(names: &[&str]) -> std::path::PathBuf {
    let dir = tempfile::tempdir().unwrap().keep();
    let zip = dir.join("crafted.zip");
    let script = "import sys, json, hashlib, zipfile\n\
                  names = sys.argv[2:]\n\
                  files = [{'path': n, 'source': 'x', 'bytes': 1, 'sha256': hashlib.sha256(b'x').hexdigest(), 'redactions': 0, 'truncated': False} for n in names]\n\
                  with zipfile.ZipFile(sys.argv[1], 'w') as z:\n\
                  \x20   for n in names:\n\
                  \x20       z.writestr(n, b'x')\n\
                  \x20   z.writestr('manifest.json', json.dumps({'files': files}))\n";
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(&zip)
        .args(names)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    zip
}

#[test]
fn verify_rejects_unsafe_and_duplicate_entry_names() {
    let ok = crafted(&["logs/a.log"]);
    assert_eq!(verify(&ok).code, 0, "a well-formed crafted bundle passes");
    for (names, says) in [
        (vec!["../evil.log"], "unsafe path"),
        (vec!["/etc/cron.d/evil"], "unsafe path"),
        (vec!["logs/../../evil"], "unsafe path"),
        (vec!["logs/a.log", "logs/a.log"], "appears twice"),
    ] {
        let zip = crafted(&names);
        let run = verify(&zip);
        assert_eq!(run.code, 4, "{names:?}: {}", run.stderr);
        assert!(run.stderr.contains(says), "{names:?}: {}", run.stderr);
    }
}
