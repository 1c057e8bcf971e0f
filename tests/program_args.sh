#!/bin/sh
# Every program reads its command line the same way (bench/cli.c): --help
# on stdout with exit 0, --version, "--opt value" and "--opt=value", and a
# refused option or value is one line on stderr naming it, nothing on
# stdout, exit status 2 -- never "abc" read as 0, "-1" as 2^64 - 1 or an
# overflow of "99999999999" (found by tests/hostile/run.sh).
# Usage: program_args.sh HELLO LINREG TRAIN BENCH TUNE
set -u
hello=$1 linreg=$2 train=$3 bench=$4 tune=$5
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

# refuse PATTERN CMD...: exit 2, one stderr line matching PATTERN, empty stdout
refuse() {
  pattern=$1
  shift
  "$@" >"$out/stdout" 2>"$out/stderr"
  rc=$?
  lines=$(wc -l <"$out/stderr")
  if [ $rc -ne 2 ] || [ "$lines" -ne 1 ] || [ -s "$out/stdout" ] || ! grep -q -- "$pattern" "$out/stderr"; then
    fail "$* -> exit $rc, $lines stderr line(s), stdout $(wc -c <"$out/stdout") bytes: $(head -c 300 "$out/stderr")"
  fi
}

for p in "$hello" "$linreg" "$train" "$bench" "$tune"; do
  name=$(basename "$p")
  "$p" --help >"$out/stdout" 2>"$out/stderr"
  rc=$?
  { [ $rc -eq 0 ] && head -n 1 "$out/stdout" | grep -q "^usage: $name " && grep -q -- "--device" "$out/stdout" &&
    grep -q -- "--version" "$out/stdout" && [ ! -s "$out/stderr" ]; } || fail "$name --help: exit $rc"
  "$p" -h >"$out/stdout" 2>&1 && grep -q "^usage: $name " "$out/stdout" || fail "$name -h"
  "$p" --version >"$out/stdout" 2>&1 && grep -q "^$name (clgrad) [0-9]*\.[0-9]*\.[0-9]*$" "$out/stdout" ||
    fail "$name --version: $(cat "$out/stdout")"
  refuse "unknown option '--no-such-option'" "$p" --no-such-option
  refuse "unknown option '-x'" "$p" -x
  refuse "unexpected argument 'stray'" "$p" stray
  refuse "--device needs a value" "$p" --device
  refuse "--help.*takes no value" "$p" --help=1
done

for v in abc -5 0 1e30 99999999999 "" 3x " 1"; do
  refuse "--steps must be a whole number" "$hello" --device reference --steps "$v"
done
for v in abc 5 -1 1e30 99999999999 ""; do refuse "--rows must be a whole number" "$linreg" --device reference --rows "$v"; done
for v in abc 0 -1 99999999999 ""; do refuse "--steps must be a whole number" "$linreg" --device reference --steps "$v"; done
for v in abc -1 " 1" 18446744073709551616 ""; do refuse "--seed must be a whole number" "$linreg" --device reference --seed "$v"; done
refuse "--all takes no value" "$linreg" --all=yes
for v in 0 -3 abc 65537; do refuse "--batch must be a whole number" "$train" --batch "$v"; done
refuse "--model must be one of mlp, cnn" "$train" --model resnet9
refuse "--optimizer must be one of" "$train" --optimizer=lbfgs
refuse "--lr must be a positive number" "$train" --lr 1e-50
refuse "--suite must be one of quick, full" "$bench" --suite nonsense
refuse "--repeat must be a whole number" "$bench" --repeat 0
refuse "--budget must be a number" "$tune" --budget soon

# the good values still work, in both spellings, and name the device
"$hello" --device reference --steps 3 >/dev/null 2>&1 || fail "clgrad-hello --steps 3"
"$hello" --device=reference --steps=2 >"$out/stdout" 2>"$out/stderr" && grep -q "^step 2: w = 3.92" "$out/stdout" &&
  grep -q "^clgrad-hello: on reference" "$out/stderr" || fail "clgrad-hello --device=reference --steps=2"
"$linreg" --device reference --seed 18446744073709551615 >/dev/null 2>&1 || fail "clgrad-linreg --seed 2^64-1"
"$linreg" --dev=reference --rows=10 --steps=5 --seed=7 >"$out/stdout" 2>&1
grep -q "^reference" "$out/stdout" || fail "clgrad-linreg --dev=reference (a prefix) did not name the device: $(head -c 300 "$out/stdout")"
[ $fails -eq 0 ] && echo "program_args: every program parsed alike"
exit $((fails != 0))
