#!/usr/bin/env python3
"""Step time against the number of ranks for data-parallel training
(issue 15), from a model's measured compute per step and the cost of a ring
all-reduce of its gradients over a stated link. bench/RESULTS.md prints its
tables; the inputs are arguments so that a measured GPU step can replace
the CPU ones.

    scaling_model.py --model NAME PARAMS STEP_MS [--model ...] [--link GB/s ...]

Per rank the batch is fixed (weak scaling, as DistributedDataParallel is
used): compute per step stays STEP_MS whatever the ranks. The all-reduce of
B = PARAMS x bytes-per-gradient bytes over a ring of p ranks moves
2 (p - 1) / p x B through every link in 2 (p - 1) steps:

    T_ar(p) = 2 (p - 1) / p x B / link + 2 (p - 1) x latency

Buckets are summed while backward runs (two thirds of a step's compute, by
the usual forward:backward = 1:2 of its FLOPs), except the last bucket,
which is produced when backward ends:

    T(p) = STEP_MS + max(T_ar(p) - 2/3 STEP_MS, T_ar(p) x last / B)

With --pcie (a GPU's host link), the averaged gradients' copy back to the
device, PARAMS x 4 bytes, follows the sum and is not hidden (the reads
into host memory are, with the sums): T(p) grows by PARAMS x 4 / pcie
for p > 1.

Efficiency is T(1) / T(p): the share of p devices' speed the job keeps.
clgrad sums in double (8 bytes a gradient), so that every rank gets the
same bits; a float all-reduce (4) halves the traffic, bf16 (2) quarters it.
"""
import argparse


def allreduce_ms(bytes_, p, link_gbs, latency_us):
    if p == 1:
        return 0.0
    return (2.0 * (p - 1) / p * bytes_ / (link_gbs * 1e9) + 2 * (p - 1) * latency_us * 1e-6) * 1e3


def step_ms(step, bytes_, p, link_gbs, latency_us, bucket, writeback_ms=0.0):
    ar = allreduce_ms(bytes_, p, link_gbs, latency_us)
    last = ar * min(1.0, bucket / bytes_) if bytes_ > 0 else 0.0
    return step + max(ar - 2.0 / 3.0 * step, last) + (writeback_ms if p > 1 else 0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", nargs=3, action="append", metavar=("NAME", "PARAMS", "STEP_MS"), required=True)
    ap.add_argument("--link", type=float, action="append", help="GB/s per link (default 25 and 100)")
    ap.add_argument("--latency-us", type=float, default=10.0, help="per ring step (default 10)")
    ap.add_argument("--bytes", type=float, default=8.0, help="per gradient summed (default 8: clgrad's double)")
    ap.add_argument("--bucket-mib", type=float, default=1.0, help="the last bucket (default 1 MiB)")
    ap.add_argument("--ranks", default="1,2,4,8,16,32,64,128")
    ap.add_argument("--pcie", type=float, default=0.0, help="GB/s host to device (default 0: none, a CPU device)")
    a = ap.parse_args()
    links = a.link or [25.0, 100.0]
    ranks = [int(x) for x in a.ranks.split(",")]
    for name, params, step in a.model:
        params, step = float(params), float(step)
        b = params * a.bytes
        bucket = a.bucket_mib * 2**20 * a.bytes / 4  # a bucket of float gradients, summed in a.bytes each
        wb = params * 4 / (a.pcie * 1e9) * 1e3 if a.pcie > 0 else 0.0
        print(f"\n{name}: {params:.3g} parameters ({b / 1e6:.3g} MB summed), {step:g} ms of compute a step, "
              f"{a.latency_us:g} us a ring step" + (f", {wb:.3g} ms to copy the average back ({a.pcie:g} GB/s)"
                                                    if wb else ""))
        print("| ranks | " + " | ".join(f"{l:g} GB/s: step ms (efficiency)" for l in links) + " |")
        print("|---|" + "---|" * len(links))
        for p in ranks:
            cells = []
            for l in links:
                t = step_ms(step, b, p, l, a.latency_us, bucket, wb)
                cells.append(f"{t:.3g} ({step / t:.0%})")
            print(f"| {p} | " + " | ".join(cells) + " |")
        for l in links:
            # where efficiency first falls below 90%, if it does among the ranks shown
            stop = next((p for p in ranks if step / step_ms(step, b, p, l, a.latency_us, bucket, wb) < 0.9), None)
            print(f"- {l:g} GB/s: " + (f"below 90% from {stop} ranks" if stop else
                                        f"at least 90% up to {ranks[-1]} ranks"))


if __name__ == "__main__":
    main()
