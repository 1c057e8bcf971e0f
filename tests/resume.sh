#!/bin/sh
# Resume is exact: two epochs straight, and one epoch, a stop, then the
# second resumed from the checkpoint, must leave byte-identical
# checkpoints (parameters, optimizer state, batch norm statistics, step,
# schedule position and loader position). The residual network runs with
# on-device augmentation (its crops follow the graph's RNG counter, which
# the checkpoint carries) and Nesterov SGD with weight decay off for its
# 1-D parameters (a parameter group), and label smoothing (cross_entropy).
# The MLP runs again in float16 mixed precision: its loss scaler's state
# (scale, growth tracker, steps taken) is in the checkpoint too.
# Usage: resume.sh CLGRAD_TRAIN DATA_DIR
set -eu
train=$1
data=$2
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
  echo "Fashion-MNIST is not in $data (apt-get install dataset-fashion-mnist)" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for run in mlp cnn resnet mlp-fp16; do
  model=${run%-fp16}
  set -- --model "$model" --width 4 --limit 1200 --batch 50 --data "$data" --schedule cosine --warmup 5 --epochs 2
  if [ "$run" = mlp-fp16 ]; then
    set -- "$@" --optimizer adam --precision fp16
  elif [ "$model" = resnet ]; then
    set -- "$@" --optimizer nesterov --lr 0.05 --weight-decay 5e-4 --augment crop-flip --label-smoothing 0.1
  else
    set -- "$@" --optimizer adamw
  fi
  "$train" "$@" --save "$out/straight.st" >/dev/null
  "$train" "$@" --stop-after 1 --save "$out/first.st" >/dev/null
  "$train" "$@" --resume "$out/first.st" --save "$out/resumed.st" >/dev/null
  if cmp -s "$out/straight.st" "$out/resumed.st"; then
    echo "$run: the resumed run's checkpoint is identical to the uninterrupted one's ($(wc -c <"$out/straight.st") bytes)"
  else
    echo "$run: the resumed run differs from the uninterrupted one" >&2
    exit 1
  fi
  if cmp -s "$out/first.st" "$out/straight.st"; then
    echo "$run: the checkpoint after one epoch equals the final one: the test proves nothing" >&2
    exit 1
  fi
done
