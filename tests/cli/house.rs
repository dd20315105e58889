//! The shape of the code: no import circle between modules (scripts/module-graph, which also
//! prints the graph ARCHITECTURE.md draws).

use crate::harness::*;

#[test]
fn no_module_imports_a_module_that_imports_it_back() {
    let out = std::process::Command::new("python3")
        .arg(repo().join("scripts/module-graph"))
        .arg(repo().join("src"))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "import circles:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let graph = String::from_utf8_lossy(&out.stdout);
    // The bottom layer depends on nothing above it.
    for leaf in ["model -> yaml", "exit -> \n", "yaml -> \n"] {
        assert!(graph.contains(leaf), "{leaf:?} in\n{graph}");
    }
    // The layers of ARCHITECTURE.md's picture: a module depends only on its own layer and
    // those below (flows and engines take `Settings`, never the command line), and every
    // module has a place in the picture.
    let layers: [&[&str]; 4] = [
        &[
            "model", "record", "yaml", "lines", "units", "window", "exit", "signals", "safe_fs",
            "progress", "stdout", "envelope", "spill",
        ],
        &[
            "settings",
            "discover",
            "log_list",
            "container",
            "facts",
            "running",
            "priority",
            "redact",
            "analyze",
            "bundle",
            "capture",
            "child",
            "targets",
        ],
        &[
            "collect", "report", "dry_run", "preview", "analysis", "html", "loglevel",
        ],
        &[
            "main", "app", "answer", "cli", "resolve", "schema", "wizard",
        ],
    ];
    let layer_of = |m: &str| layers.iter().position(|l| l.contains(&m));
    for line in graph.lines() {
        let Some((module, deps)) = line.split_once(" -> ") else {
            continue;
        };
        let at = layer_of(module).unwrap_or_else(|| {
            panic!("{module} has no layer: place it in ARCHITECTURE.md and here")
        });
        for dep in deps.split(", ").filter(|d| !d.is_empty()) {
            let below = layer_of(dep).unwrap_or_else(|| panic!("{dep} has no layer"));
            assert!(
                below <= at,
                "{module} (layer {at}) depends on {dep} (layer {below}), a higher layer"
            );
        }
    }
}

/// The checker itself finds a circle when there is one.
#[test]
fn the_circle_check_can_fail() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.rs"), "use crate::b::X;\n").unwrap();
    std::fs::write(dir.path().join("b.rs"), "use crate::a::Y;\n").unwrap();
    std::fs::write(
        dir.path().join("c.rs"),
        "use crate::a::Y;\n#[cfg(test)]\nuse crate::c2::Z;\n",
    )
    .unwrap();
    // A test module in the middle of a file hides neither the code after it nor is counted.
    std::fs::write(
        dir.path().join("d.rs"),
        "#[cfg(test)]\nmod t {\n    use crate::x::Q;\n}\nuse crate::e::W;\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("e.rs"), "").unwrap();
    std::fs::write(dir.path().join("x.rs"), "").unwrap();
    let out = std::process::Command::new("python3")
        .arg(repo().join("scripts/module-graph"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("circle: a <-> b"));
    let graph = String::from_utf8_lossy(&out.stdout);
    assert!(graph.contains("d -> e\n"), "{graph}");
}
