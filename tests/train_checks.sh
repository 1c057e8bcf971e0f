#!/bin/sh
# clgrad-train's checks before it trains, and its outputs when it stops:
#  1. --save and --json paths it cannot write are refused before any
#     training (a missing folder, a folder, a FIFO, a device node);
#  2. --resume refuses a --seed, --lr, --epochs, --warmup, --weight-decay,
#     --label-smoothing or --augment other than the checkpoint's, naming the
#     option and both values;
#  3. --resume takes the options not given from the checkpoint: the run is
#     byte-identical to the uninterrupted one;
#  4. resuming a finished run reports the model's real test accuracy;
#  5. a failed run leaves --json's file as it was (absent or the old one).
# Usage: train_checks.sh CLGRAD_TRAIN DATA_DIR
set -u
train=$1
data=$2
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
  echo "Fashion-MNIST is not in $data (apt-get install dataset-fashion-mnist)" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
status=0
bad() { echo "FAIL: $*" >&2; status=1; }
small="--data $data --limit 1200 --batch 50"

# 1. Refused up front: a non-zero exit, no epoch trained, the path named.
refused() { # option path what
  "$train" $small --epochs 1 "$1" "$2" >"$out/stdout" 2>"$out/stderr"
  rc=$?
  if [ "$rc" -eq 0 ] || grep -q '^epoch' "$out/stdout" || ! grep -qF -- "$2" "$out/stderr"; then
    bad "$1 $2 ($3): exit $rc, $(grep -c '^epoch' "$out/stdout") epoch(s) trained; stderr: $(cat "$out/stderr")"
  else
    echo "$1 $3 refused: $(cat "$out/stderr")"
  fi
}
mkfifo "$out/fifo"
mkdir "$out/folder"
refused --save "$out/missing/run.st" "a missing folder"
refused --save "$out/folder" "a folder"
refused --save "$out/fifo" "a FIFO"
refused --json "$out/missing/run.json" "a missing folder"
[ -p "$out/fifo" ] || bad "the FIFO was replaced"
# a device node with /dev/null's numbers in the test's folder, never a real one
if [ "$(id -u)" = 0 ] && mknod "$out/null" c 1 3 2>/dev/null; then
  refused --save "$out/null" "a device node"
  [ -c "$out/null" ] || bad "the device node was replaced"
else
  echo "skipped the device node: making one needs root and a file system that allows it"
fi

# 2. Options that differ from the checkpoint's.
run="--epochs 2 --seed 3 --lr 0.002 --warmup 2 --weight-decay 0.001 --label-smoothing 0.05 --augment crop-flip"
"$train" $small $run --stop-after 1 --save "$out/first.st" >/dev/null || bad "the first epoch failed"
for pair in "--seed 4 3" "--lr 0.003 0.002" "--epochs 3 2" "--warmup 5 2" "--weight-decay 0.002 0.001" \
  "--label-smoothing 0.1 0.05" "--augment none crop-flip"; do
  set -- $pair
  # every other option as recorded; the last value given counts
  "$train" $small $run --resume "$out/first.st" "$1" "$2" >"$out/stdout" 2>"$out/stderr"
  rc=$?
  if [ "$rc" -eq 0 ] || grep -q '^epoch' "$out/stdout" || ! grep -qF -- "$1 $2 " "$out/stderr" ||
    ! grep -qF -- "checkpoint's $3" "$out/stderr"; then
    bad "--resume with $1 $2 (checkpoint: $3): exit $rc; stderr: $(cat "$out/stderr")"
  else
    echo "--resume with $1 $2 refused: $(cat "$out/stderr")"
  fi
done

# 3. The same values given again are fine; left out, they come from the checkpoint.
"$train" $small $run --save "$out/straight.st" >"$out/straight.txt" || bad "the straight run failed"
"$train" --data "$data" --resume "$out/first.st" --save "$out/resumed.st" >/dev/null || bad "the bare resume failed"
cmp -s "$out/straight.st" "$out/resumed.st" || bad "a resume with the options left out differs from the straight run"
"$train" $small $run --resume "$out/first.st" --save "$out/again.st" >/dev/null || bad "resume with equal options failed"
cmp -s "$out/straight.st" "$out/again.st" || bad "a resume with the options repeated differs from the straight run"

# 4. A finished run: the summary's accuracy is the last epoch's.
want=$(sed -n 's/^epoch  2\/2 .*test accuracy \([0-9.]*\).*/\1/p' "$out/straight.txt")
"$train" $small $run --resume "$out/straight.st" >"$out/finished.txt" 2>"$out/stderr" || bad "resuming a finished run failed: $(cat "$out/stderr")"
got=$(sed -n 's/.*final test accuracy \([0-9.]*\);.*/\1/p' "$out/finished.txt")
if [ -z "$want" ] || [ "$got" != "$want" ]; then
  bad "resuming the finished run reports accuracy '$got', the run ended at '$want'"
else
  echo "a finished run resumed reports its accuracy $got"
fi

# 4b. An --lr the optimizer's float cannot hold is refused before anything
# runs (1e-50 became 0: a run that learnt nothing, exit 0; found by
# tests/hostile/run.sh).
for v in 1e-50 1e39 inf nan 0 -1 abc ""; do
  "$train" $small --epochs 1 --lr "$v" >/dev/null 2>"$out/stderr"
  rc=$?
  [ $rc = 2 ] && grep -q -- "--lr" "$out/stderr" || bad "--lr '$v': exit $rc, $(cat "$out/stderr")"
done

# 5. A run that fails (the loss overflows) writes no JSON, and keeps an old one.
"$train" $small --epochs 1 --lr 1e30 --json "$out/new.json" >/dev/null 2>&1 && bad "the run with --lr 1e30 did not fail"
[ -e "$out/new.json" ] && bad "a failed run left $(wc -c <"$out/new.json") bytes of JSON"
echo old >"$out/old.json"
"$train" $small --epochs 1 --lr 1e30 --json "$out/old.json" >/dev/null 2>&1
[ "$(cat "$out/old.json")" = old ] || bad "a failed run overwrote the previous JSON"
ls "$out" | grep -q '\.tmp$' && bad "a temporary file was left: $(ls "$out")"
"$train" $small --epochs 1 --json "$out/good.json" >/dev/null || bad "a good run failed"
if command -v python3 >/dev/null; then
  python3 -m json.tool "$out/good.json" >/dev/null || bad "a good run's JSON does not parse"
fi
exit $status
