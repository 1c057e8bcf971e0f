#!/bin/sh
# clgrad-bench refuses a --size it cannot use before running anything: one
# error line naming the option, exit status 2, no table (it used to run
# the suite and mark every row FAILED).
# Usage: bench_args.sh CLGRAD_BENCH
set -u
bench=$1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
for v in 1e30 inf -inf nan 0 -1 1e-9 2000 abc 2x ''; do
  # a small suite, so that the unfixed program ends soon too
  "$bench" --device reference --suite ceilings --size "$v" >"$out/stdout" 2>"$out/stderr"
  rc=$?
  lines=$(wc -l <"$out/stderr")
  if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || [ -s "$out/stdout" ] || ! grep -q -- '--size' "$out/stderr"; then
    echo "--size '$v': exit $rc, $lines stderr line(s), $(wc -c <"$out/stdout") bytes on stdout; stderr:" >&2
    head -n 5 "$out/stderr" >&2
    status=1
  else
    echo "--size '$v': $(cat "$out/stderr")"
  fi
done
# Output paths are checked before anything runs too: a FIFO (fopen waited
# for a reader forever, after the whole suite), a folder, a missing folder,
# an empty path (found by tests/hostile/run.sh).
mkfifo "$out/fifo"
mkdir "$out/folder"
refused() { # option path
  timeout 60 "$bench" --device reference --suite ceilings "$1" "$2" >"$out/stdout" 2>"$out/stderr"
  rc=$?
  lines=$(wc -l <"$out/stderr")
  if [ "$rc" -ne 2 ] || [ "$lines" -ne 1 ] || [ -s "$out/stdout" ] || ! grep -q -- "$1" "$out/stderr"; then
    echo "$1 '$2': exit $rc, $lines stderr line(s), $(wc -c <"$out/stdout") bytes on stdout; stderr:" >&2
    head -n 5 "$out/stderr" >&2
    status=1
  else
    echo "$1 '$2': $(cat "$out/stderr")"
  fi
}
refused --json "$out/fifo"
refused --csv "$out/folder"
refused --svg "$out/missing/x.svg"
refused --json ""
# inputs: a FIFO waited for a writer forever; /dev/zero grew a buffer until
# memory ran out
for f in "$out/fifo" /dev/zero; do
  timeout 60 "$bench" --check-json "$f" >"$out/stdout" 2>"$out/stderr"
  rc=$?
  if [ "$rc" = 0 ] || [ "$rc" -ge 124 ] || ! grep -q "not a regular file" "$out/stderr"; then
    echo "--check-json $f: exit $rc; stderr: $(head -c 300 "$out/stderr")" >&2
    status=1
  else
    echo "--check-json $f: $(cat "$out/stderr")"
  fi
done
exit $status
