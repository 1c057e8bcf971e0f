#!/bin/sh
# Builds the libFuzzer harnesses of the three readers (IDX, .npy,
# safetensors) with clang and AddressSanitizer + UndefinedBehaviorSanitizer,
# then runs each for a bounded time from its seed corpus (fuzz/corpus/<reader>,
# left as it is: new inputs go to a work folder).
#
# Usage: fuzz/run.sh [SECONDS_PER_READER (30)] [READER...]
# Environment: FUZZ_OUT (work folder, default $TMPDIR/clgrad-fuzz), CC (clang).
# Needs: clang and libclang-rt-*-dev (Debian: apt-get install clang libclang-rt-14-dev), zlib1g-dev.
# A crash, leak, hang (-timeout), or allocation over -malloc_limit_mb stops a
# fuzzer and leaves the input in $FUZZ_OUT/<reader>-crash-*; copy it into
# fuzz/corpus/<reader>/ once fixed, so that the test suite replays it.
set -eu
seconds=${1:-30}
[ $# -gt 0 ] && shift
readers=${*:-idx npy safetensors}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
out=${FUZZ_OUT:-${TMPDIR:-/tmp}/clgrad-fuzz}
cc=${CC:-clang}
mkdir -p "$out"

srcs="$root/io/array.c $root/io/fileio.c $root/io/idx.c $root/io/npy.c $root/io/json.c \
$root/io/meta.c $root/io/safetensors.c"
flags="-std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
-fno-omit-frame-pointer -I$root/include -I$root/io"

failed=""
for r in $readers; do
  case $r in
    idx) max_len=4096 ;;   # gzip inputs of this size inflate to at most ~4 MiB
    npy) max_len=2048 ;;
    safetensors) max_len=4096 ;;
    *) echo "unknown reader '$r' (idx, npy, safetensors)" >&2; exit 2 ;;
  esac
  # shellcheck disable=SC2086
  $cc $flags "$here/$r.c" $srcs -lz -lm -o "$out/fuzz_$r"
  mkdir -p "$out/work_$r"
  dict=""
  [ -f "$here/$r.dict" ] && dict="-dict=$here/$r.dict"
  echo "== fuzzing $r for ${seconds}s (max_len $max_len)"
  # shellcheck disable=SC2086
  if ! "$out/fuzz_$r" -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 \
      -malloc_limit_mb=512 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$out/$r-" $dict "$out/work_$r" "$here/corpus/$r" \
      >"$out/$r.log" 2>&1; then
    failed="$failed $r"
    tail -40 "$out/$r.log" >&2
  else
    grep -E "^(stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)" "$out/$r.log" || tail -3 "$out/$r.log"
  fi
done
if [ -n "$failed" ]; then
  echo "fuzz/run.sh: failures in:$failed (inputs in $out)" >&2
  exit 1
fi
echo "fuzz/run.sh: no failures in $seconds s per reader"
