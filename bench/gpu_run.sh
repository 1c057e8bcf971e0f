#!/bin/bash
# One device run on the lent GPU machine (see ../shared/gpu/README.md):
# build, the test suite on every device there, GEMM tuning for the GPU
# (clgrad-tune), then clgrad-bench's full
# suite on the GPU and the machine's PoCL beside PyTorch on CUDA, all
# written under $OUT for bench/RESULTS.md.
#   here, once:    bash ../shared/gpu/fetch-debs.sh
#   device run:    carry [".gpu"], command "bash bench/gpu_run.sh"
set -euo pipefail
: "${OUT:?run through the device tool, which sets OUT}"
source .gpu/setup.sh
cmake -S . -B /tmp/b -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build /tmp/b -j"$(nproc)" >/dev/null
clinfo -l | tee "$OUT/clinfo.txt"
/tmp/b/bench/clgrad-bench --list | tee "$OUT/list.txt"
ctest --test-dir /tmp/b --output-on-failure -j4 2>&1 | tail -40 | tee "$OUT/ctest.txt"
# The tuner before the suite (issue 11): CLBlast untuned on the GEMMs first,
# then clgrad-tune writes the GPU's entry, which every later context uses
# (its table holds the speed-up per product).
CLGRAD_TUNING=off /tmp/b/bench/clgrad-bench --suite full --group gemm --device nvidia --json "$OUT/gemm-untuned.json" \
  | tee "$OUT/gemm-untuned.txt" || true
/tmp/b/bench/clgrad-tune --device nvidia --quick --budget 150 2>&1 | tee "$OUT/tune.txt" || true
# the full suite (with time to accuracy, the tta group) on the GPU beside
# PyTorch on CUDA; the quick suite on the GPU beside the machine's PoCL
# (the same sizes on both: issue 13)
python3 bench/compare_torch.py --device cuda --suite full --json "$OUT/torch-cuda.json"
/tmp/b/bench/clgrad-bench --suite full --device nvidia --json "$OUT/clgrad.json" --svg "$OUT/clgrad.svg" \
  --roofline "$OUT/roofline.svg" --compare "$OUT/torch-cuda.json" | tee "$OUT/table.txt"
/tmp/b/bench/clgrad-bench --suite quick --device nvidia --device pocl --json "$OUT/quick-gpu-pocl.json" \
  --svg "$OUT/quick-gpu-pocl.svg" | tee "$OUT/quick-gpu-pocl.txt"
# Fused against unfused on the GPU (issue 10), alternated in this run: the
# elementwise chains, kernels per training step and the steps' speed.
for r in 1 2; do
  for f in off on; do
    CLGRAD_FUSION=$f /tmp/b/bench/clgrad-bench --suite full --group ops --device nvidia --repeat 5 \
      --json "$OUT/fusion-ops-$f-$r.json" >/dev/null
    CLGRAD_FUSION=$f /tmp/b/bench/clgrad-bench --group train --device nvidia --repeat 5 \
      --json "$OUT/fusion-train-$f-$r.json" >/dev/null
  done
done
python3 bench/compare_runs.py "$OUT/fusion-ops-off-*.json" "$OUT/fusion-ops-on-*.json" | tee "$OUT/fusion-ops.md"
python3 bench/compare_runs.py "$OUT/fusion-train-off-*.json" "$OUT/fusion-train-on-*.json" | tee "$OUT/fusion-train.md"
# Data parallelism (issue 15) with a real second device: the GPU and the
# machine's PoCL in one process, batch split by measured speed, one epoch
# of the MLP; then the GPU alone for the same epoch.
/tmp/b/bench/clgrad-train --model mlp --epochs 1 --device nvidia --device pocl --split speed \
  --json "$OUT/train-gpu-pocl.json" 2>&1 | tee "$OUT/train-gpu-pocl.txt" || true
/tmp/b/bench/clgrad-train --model mlp --epochs 1 --device nvidia --json "$OUT/train-gpu.json" 2>&1 \
  | tee "$OUT/train-gpu.txt" || true
