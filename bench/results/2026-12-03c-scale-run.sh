#!/bin/bash
# alternating: 1 process 1 device / 2 devices in one process / 2 ranks; mlp full epoch, cnn limit 12000
cd /work/main/build
T=./bench/clgrad-train
M="mpirun --oversubscribe --allow-run-as-root -np 2"
for round in 1 2 3; do
  for model in mlp cnn; do
    if [ $model = mlp ]; then o="--model mlp --epochs 1"; else o="--model cnn --epochs 1 --limit 12000"; fi
    $T $o --json /tmp/scale/$model-1dev-$round.json > /tmp/scale/$model-1dev-$round.log 2>&1
    POCL_DEVICES="pthread pthread" $T $o --device 0:0 --device 0:1 --json /tmp/scale/$model-2dev-$round.json > /tmp/scale/$model-2dev-$round.log 2>&1
    POCL_DEVICES="pthread pthread" OPENBLAS_NUM_THREADS=1 $T $o --device 0:0 --device 0:1 --json /tmp/scale/$model-2dev1t-$round.json > /tmp/scale/$model-2dev1t-$round.log 2>&1
    $M $T $o --json /tmp/scale/$model-2rank-$round.json > /tmp/scale/$model-2rank-$round.log 2>&1
  done
done
echo done > /tmp/scale/DONE
