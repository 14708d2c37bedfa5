#!/usr/bin/env bash
# A symlink view of the installed namespace for the architecture and type checks:
#   DIR/thagen/*.py -> thagen/*.py, DIR/thagen/{rigs,render,annotate,train} -> the folders.
# import-linter (grimp) and mypy find modules by walking folders, and thagen's folders install
# as thagen.* from beside thagen/ (pyproject.toml's package-dir), which neither can map.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build/lint}
rm -rf "$dir"
mkdir -p "$dir/thagen"
root=$(pwd)
for f in thagen/*.py; do ln -s "$root/$f" "$dir/thagen/$(basename "$f")"; done
for d in rigs render annotate train; do ln -s "$root/$d" "$dir/thagen/$d"; done
