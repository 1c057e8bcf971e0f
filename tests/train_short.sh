#!/bin/sh
# CI's short training: the MLP on the first 6000 Fashion-MNIST images for
# one epoch on the default device. The loss must fall (the epoch's last
# tenth below 60% of its first) and the test accuracy clear 0.75 (chance
# is 0.10; a working run reaches about 0.80 here).
# Usage: train_short.sh CLGRAD_TRAIN DATA_DIR
set -eu
train=$1
data=$2
if [ ! -f "$data/train-images-idx3-ubyte.gz" ]; then
  echo "Fashion-MNIST is not in $data (apt-get install dataset-fashion-mnist)" >&2
  exit 1
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$train" --model mlp --epochs 1 --limit 6000 --data "$data" --json "$out/run.json"
field() { sed -n "s/.*\"$1\": \([-0-9.e+]*\).*/\1/p" "$out/run.json" | head -n 1; }
first=$(field loss_first_tenth)
last=$(field loss_last_tenth)
acc=$(field test_accuracy)
echo "loss first tenth $first, last tenth $last, test accuracy $acc"
awk -v f="$first" -v l="$last" -v a="$acc" 'BEGIN { exit !(l < 0.6 * f && a >= 0.75) }' || {
  echo "the loss did not fall enough or the accuracy is below 0.75" >&2
  exit 1
}

# The residual network on 1200 images for 4 epochs (Nesterov SGD, weight
# decay off for the 1-D parameters, cosine with warm-up, crop and flip on
# the device): the last epoch's last tenth below 60% of the first epoch's
# first tenth, and the test accuracy at least 0.45 (chance 0.10; about 0.63
# here: four short epochs are far from trained).
"$train" --model resnet --width 8 --limit 1200 --epochs 4 --batch 50 --optimizer nesterov --lr 0.1 \
  --weight-decay 5e-4 --schedule cosine --warmup 24 --augment crop-flip --data "$data" --json "$out/resnet.json"
first=$(sed -n 's/.*"loss_first_tenth": \([-0-9.e+]*\).*/\1/p' "$out/resnet.json" | head -n 1)
last=$(sed -n 's/.*"loss_last_tenth": \([-0-9.e+]*\).*/\1/p' "$out/resnet.json" | tail -n 1)
acc=$(sed -n 's/.*"final_test_accuracy": \([-0-9.e+]*\).*/\1/p' "$out/resnet.json")
echo "resnet: loss first tenth $first, last tenth $last, test accuracy $acc"
awk -v f="$first" -v l="$last" -v a="$acc" 'BEGIN { exit !(l < 0.6 * f && a >= 0.45) }' || {
  echo "resnet: the loss did not fall enough or the accuracy is below 0.45" >&2
  exit 1
}
