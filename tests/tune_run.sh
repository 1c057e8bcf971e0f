#!/bin/sh
# clgrad-tune end to end on one device, in a fresh cache folder, with a
# short search budget: it records the training graphs' products, searches,
# writes the device's entry; a context on that device then says it is
# tuned, and clgrad-bench's GEMMs (checked against double) still pass.
# Usage: tune_run.sh CLGRAD_TUNE CLGRAD_BENCH [DEVICE]
set -eu
tune=$1
bench=$2
dev=${3:-0:0}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
export CLGRAD_CACHE_DIR="$dir"
"$tune" --device "$dev" --quick --budget 15 | tee "$dir/tune.txt"
grep -q '^written: ' "$dir/tune.txt"
grep -q 'all products: ' "$dir/tune.txt"
test "$(ls "$dir/tune" | wc -l)" -eq 1
"$bench" --device "$dev" --suite gemm --repeat 1 --json "$dir/gemm.json" | tee "$dir/bench.txt"
grep -q 'tuned' "$dir/bench.txt"
if grep -q FAILED "$dir/bench.txt"; then
  echo "a GEMM failed its check after tuning" >&2
  exit 1
fi
# a damaged entry: reported, not used, nothing fails
f=$(ls "$dir"/tune/*)
printf 'x' | dd of="$f" bs=1 seek=40 conv=notrunc 2>/dev/null
"$bench" --device "$dev" --suite gemm --repeat 1 --json "$dir/gemm2.json" | tee "$dir/bench2.txt"
grep -q 'damaged' "$dir/bench2.txt"
! grep -q FAILED "$dir/bench2.txt"
# usage errors: one line, exit 2 (tests/program_args.sh checks every program)
set +e
"$tune" --bogus 2>"$dir/err"
rc=$?
set -e
test "$rc" -eq 2
grep -q "unknown option '--bogus'" "$dir/err"
