#!/usr/bin/env python3
"""Independent check (PyYAML, or js-yaml, EMG's own parser, for what PyYAML refuses such as a tab
after `key:`; never the tool's parser): ORIGINAL and REDACTED parse to the same key
tree, every non-redacted leaf is unchanged, and every changed leaf is a REDACTED_ token.
usage: yaml_same_keys.py ORIGINAL REDACTED  (exit 0 = same structure; 1 = a difference, printed)"""
import json
import os
import subprocess
import sys
import yaml

JS_YAML = os.path.join(os.path.dirname(__file__), "..", "emg", "node_modules", "js-yaml")


class Loader(yaml.SafeLoader):
    """Tags change no structure: custom tags (`!vault x`) and `!!binary` load as their text, so
    a redacted `!!binary REDACTED_SECRET` compares as a redacted leaf."""


def plain(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


Loader.add_multi_constructor("!", plain)
Loader.add_constructor("tag:yaml.org,2002:binary", lambda l, n: l.construct_scalar(n))


def load_all(path):
    try:
        with open(path, "rb") as f:
            return list(yaml.load_all(f, Loader=Loader))
    except yaml.YAMLError:
        script = "const y=require(process.argv[1]);const fs=require('fs');" \
                 "console.log(JSON.stringify(y.loadAll(fs.readFileSync(process.argv[2],'utf8'))))"
        out = subprocess.run(["node", "-e", script, os.path.abspath(JS_YAML), path],
                             check=True, capture_output=True, text=True).stdout
        return json.loads(out)


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
    before = load_all(sys.argv[1])
    after = load_all(sys.argv[2])
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
