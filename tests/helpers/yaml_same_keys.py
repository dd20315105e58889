#!/usr/bin/env python3
"""Independent check (PyYAML, not the tool's parser): ORIGINAL and REDACTED parse to the same key
tree, every non-redacted leaf is unchanged, and every changed leaf is a REDACTED_ token.
usage: yaml_same_keys.py ORIGINAL REDACTED  (exit 0 = same structure; 1 = a difference, printed)"""
import sys
import yaml


def walk(a, b, path):
    if isinstance(a, dict):
        if not isinstance(b, dict) or list(a.keys()) != list(b.keys()):
            return f"{path}: keys differ: {list(a)} vs {list(b) if isinstance(b, dict) else type(b).__name__}"
        for k in a:
            err = walk(a[k], b[k], f"{path}.{k}")
            if err:
                return err
        return None
    if isinstance(a, list):
        if not isinstance(b, list) or len(a) != len(b):
            return f"{path}: list shape differs"
        for i, (x, y) in enumerate(zip(a, b)):
            err = walk(x, y, f"{path}[{i}]")
            if err:
                return err
        return None
    if a != b and not (isinstance(b, str) and "REDACTED_" in b):
        return f"{path}: non-redacted leaf changed"
    return None


def main():
    with open(sys.argv[1], "rb") as f:
        before = list(yaml.safe_load_all(f))
    with open(sys.argv[2], "rb") as f:
        after = list(yaml.safe_load_all(f))
    if len(before) != len(after):
        print("document count differs")
        return 1
    for i, (a, b) in enumerate(zip(before, after)):
        err = walk(a, b, f"#{i}")
        if err:
            print(err)
            return 1
    return 0


sys.exit(main())
