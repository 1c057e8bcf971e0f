#!/bin/sh
# A CNN built with clgrad's public API, saved, and loaded into PyTorch with
# load_state_dict(strict=True) (export.c, load.py). Exit 77: skipped.
# Usage: run.sh TORCH_EXPORT SOURCE_DIR
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Debian's python3-torch is for the system's interpreter, not one earlier on PATH
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || { echo "skipped: no python3"; exit 77; }
"$1" "$work"
"$py" "$2/tests/torch/load.py" "$work"
