#!/bin/sh
# The ops of ops_values.c on every device against PyTorch in float64
# (ops_values.py). Exit 77: skipped (no PyTorch).
# Usage: ops_values.sh TORCH_OPS_VALUES SOURCE_DIR
set -eu
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || { echo "skipped: no python3"; exit 77; }
"$py" -c "import torch" 2>/dev/null || { echo "skipped: no PyTorch"; exit 77; }
"$1" "$work/values.txt"
"$py" "$2/tests/torch/ops_values.py" "$work/values.txt"
