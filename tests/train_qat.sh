#!/bin/sh
# clgrad-train --qat int8: for the MLP and the CNN, a short run whose
# evaluation with the checkpoint's int8 weights (dequantized) gives the
# QAT model's accuracy exactly; resume exact with the observers' state
# and the derived tensors; the checkpoint's int8 weights, scales and zero
# points read with the standard library and NumPy alone (qat_check.py:
# q = clamp(round(w / s) + zp) with PyTorch's rounding, every observer's
# scale and zero point present). Usage: train_qat.sh CLGRAD_TRAIN DATA_DIR SOURCE_DIR
set -eu
train=$1
data=$2
src=$3
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
  echo "Fashion-MNIST is not in $data (apt-get install dataset-fashion-mnist)" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
py=/usr/bin/python3
[ -x "$py" ] || py=$(command -v python3) || py=
for model in mlp cnn; do
  set -- --model "$model" --width 8 --limit 1200 --batch 50 --data "$data" --epochs 2 --qat int8
  "$train" "$@" --save "$out/straight.st" >"$out/log"
  line=$(grep '^int8 weights (dequantized)' "$out/log") || { echo "$model: no int8 evaluation line" >&2; cat "$out/log" >&2; exit 1; }
  int8=$(echo "$line" | sed 's/.*test accuracy \([0-9.]*\) (the QAT model: \([0-9.]*\)).*/\1/')
  qat=$(echo "$line" | sed 's/.*test accuracy \([0-9.]*\) (the QAT model: \([0-9.]*\)).*/\2/')
  if [ "$int8" != "$qat" ]; then
    echo "$model: int8 weights give $int8, the QAT model $qat" >&2
    exit 1
  fi
  echo "$model: int8 weights (dequantized) reproduce the QAT model's test accuracy $qat"
  "$train" "$@" --stop-after 1 --save "$out/first.st" >/dev/null
  "$train" "$@" --resume "$out/first.st" --save "$out/resumed.st" >/dev/null
  if ! cmp -s "$out/straight.st" "$out/resumed.st"; then
    echo "$model: the resumed QAT run differs from the uninterrupted one" >&2
    exit 1
  fi
  echo "$model: the resumed QAT run's checkpoint is identical to the uninterrupted one's"
  if [ -n "$py" ]; then
    "$py" "$src/tests/qat_check.py" "$out/straight.st" "$model"
  else
    echo "$model: no python3: the checkpoint's contents are not checked"
  fi
done
