#!/bin/sh
# clgrad-bench's outputs for comparing devices (issue 13), on the reference
# backend and the first OpenCL device at small sizes:
#  - every row of the table has a cell for every device (never missing;
#    "not run" would mean a device skipped a row without saying why);
#  - the chart holds every row of the JSON, and a roofline is written;
#  - the regression gate passes a run against itself with a wide
#    threshold, and fails (exit 3, naming the row) against a doctored
#    baseline three times faster.
# Usage: bench_report.sh CLGRAD_BENCH
set -eu
bench=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
devs="--device reference"
if "$bench" --list | grep -q '^0:0 '; then devs="$devs --device 0:0"; fi
# shellcheck disable=SC2086
"$bench" $devs --group ceilings --size 0.03125 --repeat 3 --json "$out/a.json" --csv "$out/a.csv" \
  --svg "$out/a.svg" --roofline "$out/r.svg" >"$out/table.txt"
cat "$out/table.txt"
"$bench" --check-json "$out/a.json"
if grep -q "not run" "$out/table.txt"; then echo "a row is missing for a device" >&2; exit 1; fi
rows=$(grep -c '^  gemm\|^  copy' "$out/table.txt")
# the chart's row labels, "name (size)": one per row of the table
labels=$(grep -o '<text x="10" y="[0-9]*">[^<]* ([^<)]*)</text>' "$out/a.svg" | wc -l)
[ "$labels" -eq "$rows" ] || { echo "the chart has $labels rows, the table $rows" >&2; exit 1; }
grep -q 'geometric mean over' "$out/a.svg"
grep -q '<polyline' "$out/r.svg"
# the gate
# shellcheck disable=SC2086
"$bench" $devs --group ceilings --size 0.03125 --repeat 3 --baseline "$out/a.json" --threshold 1000 >"$out/gate.txt"
grep -q "^gate: 0 regressions" "$out/gate.txt" || { cat "$out/gate.txt" >&2; exit 1; }
/usr/bin/env python3 - "$out/a.json" "$out/fast.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for dev in d["devices"]:
    for r in dev["results"]:
        if r["check"] == "ok" and r["rate"]:
            for k in ("median_s", "min_s", "max_s"):
                r[k] = r[k] / 3
            r["rate"] = r["rate"] * 3
json.dump(d, open(sys.argv[2], "w"))
PY
set +e
# shellcheck disable=SC2086
"$bench" $devs --group ceilings --size 0.03125 --repeat 3 --baseline "$out/fast.json" >"$out/gate2.txt"
rc=$?
set -e
cat "$out/gate2.txt" | grep "^gate"
[ "$rc" -eq 3 ] || { echo "the gate let a 3x slowdown through (exit $rc)" >&2; exit 1; }
grep -q "slower than the baseline" "$out/gate2.txt"
# --op picks results by name: a pattern, or a substring
"$bench" --device reference --group ops --op 'add [fb]*' --size 0.01 --repeat 1 >"$out/op.txt"
grep -q '^  add forward' "$out/op.txt" && grep -q '^  add backward' "$out/op.txt"
if grep -q '^  mul\|^  add row bias' "$out/op.txt"; then echo "--op 'add [fb]*' ran more than add" >&2; exit 1; fi
"$bench" --device reference --group optim --op adam --size 0.01 --repeat 1 >"$out/op2.txt"
[ "$(grep -c '^  adam' "$out/op2.txt")" -eq 3 ] || { echo "--op adam: $(grep -c '^  adam' "$out/op2.txt") rows" >&2; exit 1; }
echo "bench_report: every row for every device, charts written, the gate passes itself and stops a 3x slowdown"
