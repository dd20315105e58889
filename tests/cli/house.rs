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
    // Nothing below the front ends reads the command line or calls back up into them: flows
    // and engines take `Settings` (ARCHITECTURE.md's layers).
    let front = ["answer", "app", "cli", "resolve", "schema", "wizard"];
    for line in graph.lines() {
        let Some((module, deps)) = line.split_once(" -> ") else {
            continue;
        };
        if front.contains(&module) {
            continue;
        }
        let up: Vec<&str> = deps.split(", ").filter(|d| front.contains(d)).collect();
        assert!(up.is_empty(), "{module} depends on the front end {up:?}");
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
    let out = std::process::Command::new("python3")
        .arg(repo().join("scripts/module-graph"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("circle: a <-> b"));
}
