#!/usr/bin/env python3
"""Regenerates switchboard.example.toml and the README's configuration table from the binary's
schema (`switchboard config example|reference`). Tests fail when either is out of date."""
import re
import subprocess
import sys

binary = sys.argv[1] if len(sys.argv) > 1 else "build/switchboard"
example = subprocess.run([binary, "config", "example"], check=True, capture_output=True, text=True).stdout
open("switchboard.example.toml", "w").write(example)
table = subprocess.run([binary, "config", "reference"], check=True, capture_output=True, text=True).stdout
readme = open("README.md").read()
pattern = re.compile(r"\| key \| type \| default \| environment variable \| description \|\n(\|.*\n)+")
if not pattern.search(readme):
    sys.exit("README.md: configuration table not found")
readme = pattern.sub(lambda m: table if table.endswith("\n") else table + "\n", readme, count=1)
open("README.md", "w").write(readme)
