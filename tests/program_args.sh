#!/bin/sh
# clgrad-hello and clgrad-linreg refuse numbers they cannot use, with a
# message and exit status 2, instead of reading "abc" as 0, "-1" as
# 2^64 - 1 or overflowing on "99999999999" (found by tests/hostile/run.sh).
# Usage: program_args.sh CLGRAD-HELLO CLGRAD-LINREG
set -u
hello=$1 linreg=$2
fails=0
refuse() {
  err=$("$@" 2>&1 >/dev/null)
  rc=$?
  case $rc in
    2) case $err in *"must be a whole number"*) return ;; esac ;;
  esac
  echo "FAIL: $* -> exit $rc, '$err'"
  fails=$((fails + 1))
}
for v in abc -5 0 1e30 99999999999 "" 3x; do refuse "$hello" --device reference --steps "$v"; done
for v in abc 5 -1 1e30 99999999999 ""; do refuse "$linreg" --device reference --rows "$v"; done
for v in abc 0 -1 99999999999 ""; do refuse "$linreg" --device reference --steps "$v"; done
for v in abc -1 " 1" 18446744073709551616 ""; do refuse "$linreg" --device reference --seed "$v"; done
# the good values still work
"$hello" --device reference --steps 3 >/dev/null || { echo "FAIL: clgrad-hello --steps 3"; fails=$((fails + 1)); }
"$linreg" --device reference --seed 18446744073709551615 >/dev/null 2>&1 ||
  { echo "FAIL: clgrad-linreg --seed 2^64-1"; fails=$((fails + 1)); }
[ $fails -eq 0 ] && echo "program_args: all refused as they should be"
exit $((fails != 0))
