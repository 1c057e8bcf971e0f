#!/usr/bin/env python3
"""Before/after table of clgrad-bench JSON runs made alternately in one session.

    python3 bench/compare_runs.py "before-*.json" "after-*.json" [--device SPEC]

Pairs the i-th before run with the i-th after run (sorted by name: run them
alternately, before-1, after-1, before-2, ...), and prints a Markdown row per
benchmark: the median over the runs of each side's medians, their ratio
(after/before; for time units, before/after, so that above 1 is always
faster), and the spread: the lowest and highest ratio of a single pair.
"""
import glob
import json
import statistics
import sys

TIME_UNITS = {"ms", "s", "us", "kernels"}  # fewer is better


def load(pattern, device):
    runs = []
    for path in sorted(glob.glob(pattern)):
        with open(path) as f:
            doc = json.load(f)
        for d in doc["devices"]:
            if device is None or d["spec"] == device:
                runs.append({(r["group"], r["name"], str(r["size"])): r for r in d["results"] if r.get("rate")})
                break
    if not runs:
        sys.exit(f"compare_runs: no runs match {pattern}")
    return runs


def speedup(unit, before, after):
    if not before or not after:
        return None
    return before / after if unit in TIME_UNITS else after / before


def main(argv):
    device = None
    if "--device" in argv:
        i = argv.index("--device")
        device = argv[i + 1]
        del argv[i : i + 2]
    if len(argv) != 2:
        sys.exit(__doc__)
    before, after = load(argv[0], device), load(argv[1], device)
    pairs = min(len(before), len(after))
    print("| group | benchmark | size | unit | before (median) | after (median) | after/before | spread of pairs |")
    print("|---|---|---|---|---|---|---|---|")
    for key, first in before[0].items():
        unit = first["unit"]
        b = [r[key]["rate"] for r in before if key in r]
        a = [r[key]["rate"] for r in after if key in r]
        if not a:
            continue
        mb, ma = statistics.median(b), statistics.median(a)
        ratios = [speedup(unit, before[i][key]["rate"], after[i][key]["rate"])
                  for i in range(pairs) if key in before[i] and key in after[i]]
        ratios = [x for x in ratios if x is not None]
        ratio = speedup(unit, mb, ma)
        spread = f"{min(ratios):.2f}–{max(ratios):.2f}" if ratios else "-"
        print(f"| {key[0]} | {key[1]} | {key[2]} | {unit} | {mb:.4g} | {ma:.4g} | "
              f"{ratio:.2f} | {spread} |" if ratio is not None else
              f"| {key[0]} | {key[1]} | {key[2]} | {unit} | {mb:.4g} | {ma:.4g} | - | - |")


if __name__ == "__main__":
    main(sys.argv[1:])
