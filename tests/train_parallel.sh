#!/bin/sh
# clgrad-train data parallel (issue 15), end to end on Fashion-MNIST:
# - two devices in one process (PoCL exposes two CPU devices with
#   POCL_DEVICES="pthread pthread"), the MLP and the CNN: a run stopped
#   after one epoch and resumed leaves a checkpoint byte-identical to the
#   uninterrupted run's; a resume with another layout is refused; --split
#   speed trains (rows in proportion to measured speed) and learns.
# - with MPIEXEC (clgrad-train built with MPI): the same resume check with
#   two ranks; a rank that cannot open its device stops the job with one
#   line naming it; a rank stopped (SIGSTOP) mid-training makes rank 0 stop
#   the job after --timeout with one line naming it, leaving the last
#   checkpoint complete (a resume from it runs to the end).
# Usage: train_parallel.sh CLGRAD_TRAIN DATA_DIR [MPIEXEC]
set -eu
train=$1
data=$2
mpiexec=${3:-}
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
  echo "Fashion-MNIST is not in $data (apt-get install dataset-fashion-mnist)" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
export POCL_DEVICES="pthread pthread"
two="--device 0:0 --device 0:1"

# label, then the command (words without spaces: split where used)
resume_exact() {
  label=$1
  cmd=$2
  for model in mlp cnn; do
    opts="--model $model --width 4 --limit 1200 --batch 50 --data $data --epochs 2 --optimizer adamw"
    # shellcheck disable=SC2086
    $cmd $opts --save "$out/straight.st" >"$out/log" 2>&1 || { cat "$out/log" >&2; exit 1; }
    # shellcheck disable=SC2086
    $cmd $opts --stop-after 1 --save "$out/first.st" >/dev/null 2>&1
    # shellcheck disable=SC2086
    $cmd $opts --resume "$out/first.st" --save "$out/resumed.st" >/dev/null 2>&1
    if ! cmp -s "$out/straight.st" "$out/resumed.st"; then
      echo "$label, $model: the resumed run differs from the uninterrupted one" >&2
      exit 1
    fi
    if cmp -s "$out/first.st" "$out/straight.st"; then
      echo "$label, $model: the checkpoint after one epoch equals the final one: the test proves nothing" >&2
      exit 1
    fi
    echo "$label, $model: the resumed run's checkpoint is identical to the uninterrupted one's"
  done
}

resume_exact "2 devices" "$train $two"
grep -q "data parallel: 1 rank x 2 devices; rows per batch on this rank: 25 25 (even)" "$out/log" || {
  echo "2 devices: the run did not report its layout:" >&2
  cat "$out/log" >&2
  exit 1
}

# another layout refused, naming both
if "$train" --resume "$out/first.st" --data "$data" >"$out/log" 2>&1; then
  echo "a 2-device checkpoint resumed on one device" >&2
  exit 1
fi
grep -q "this run has 1 rank x 1 device, the checkpoint's had 1 rank x 2 devices" "$out/log" || { cat "$out/log" >&2; exit 1; }
echo "a resume with another layout is refused"

# by measured speed: rows reported per device, and it learns
# shellcheck disable=SC2086
"$train" $two --device reference --split speed --limit 1200 --batch 60 --epochs 1 --data "$data" >"$out/log" 2>&1 ||
  { cat "$out/log" >&2; exit 1; }
[ "$(grep -c "^split: device" "$out/log")" = 3 ] || { cat "$out/log" >&2; exit 1; }
acc=$(sed -n 's/.*final test accuracy \([0-9.]*\);.*/\1/p' "$out/log")
python3 -c "import sys; sys.exit(0 if float('$acc') > 0.55 else 1)" || {
  echo "--split speed: test accuracy $acc after one epoch (one device reaches about 0.7)" >&2
  exit 1
}
echo "--split speed on 3 devices: $(grep "^split:" "$out/log" | sed 's/.*(\(.*\)) \([0-9.]*\) ms.*takes \([0-9]*\) rows/\2 ms -> \3 rows;/' | tr '\n' ' ')accuracy $acc"

[ -n "$mpiexec" ] || { echo "no MPI: the rank checks are skipped"; exit 0; }
# Open MPI keeps what its components allocate, some in components it has
# unloaded by exit (no stack LeakSanitizer can suppress): no leak check of
# the ranks under the sanitizer build (their memory errors are still
# checked, and the same replicas code is leak-checked in test_replicas)
mpi="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 $mpiexec --oversubscribe --allow-run-as-root -np 2"

resume_exact "2 ranks" "$mpi $train"

# a rank that cannot start: one line naming it, the job ends
if $mpi "$train" --device 0:0 --device 9:9 --limit 1200 --data "$data" >"$out/log" 2>&1; then
  echo "a rank with no device: the job succeeded" >&2
  exit 1
fi
grep -q "^clgrad-train: rank 1: opening the device: unknown device spec '9:9'" "$out/log" || { cat "$out/log" >&2; exit 1; }
echo "a rank that cannot open its device ends the job, named"

# a rank that stops answering: rank 0 gives up after --timeout naming it
set -- --epochs 30 --limit 6000 --batch 50 --timeout 3 --data "$data" --save "$out/hang.st"
$mpi "$train" "$@" >"$out/log" 2>&1 &
job=$!
victim=
for _ in $(seq 1 300); do # rank 1, once the first checkpoint is written
  if [ -f "$out/hang.st" ]; then
    for p in /proc/[0-9]*; do
      if { tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1" &&
         { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -q "hang.st"; then
        victim=${p#/proc/}
      fi
    done
  fi
  [ -n "$victim" ] && break
  sleep 0.1
done
[ -n "$victim" ] || { echo "rank 1 was not found" >&2; kill "$job"; exit 1; }
kill -STOP "$victim"
if wait "$job"; then
  echo "a stopped rank: the job succeeded" >&2
  exit 1
fi
kill -CONT "$victim" 2>/dev/null || true
line=$(grep "^clgrad-train: rank 0: a step: " "$out/log" || true)
case "$line" in
*"rank 0 of 2 waited 3 s: rank 1 did not start step"* | *"rank 0 of 2 waited 3 s: every rank started step"*) ;;
*) echo "a stopped rank: rank 0 did not say so:" >&2; cat "$out/log" >&2; exit 1 ;;
esac
echo "a stopped rank: $line"
# the last checkpoint is whole: it resumes (its epochs cut to 2 by --stop-after)
$mpi "$train" --resume "$out/hang.st" --stop-after 2 --save "$out/after.st" >"$out/log" 2>&1 ||
  { cat "$out/log" >&2; exit 1; }
echo "the checkpoint left by the stopped job resumes"
