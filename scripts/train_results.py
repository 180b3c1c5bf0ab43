#!/usr/bin/env python3
"""Measures the training lab's results table (docs/TRAINING.md): test accuracy on the
digits split of float, PTQ, QAT, KD and QAT+KD at W2A4, W3A8, W4A8 and W8A8, each over
seeds 0, 1, 2 (mean and sample standard deviation), with `quantscope train --json`.
Standard library only.

    python3 scripts/train_results.py [--cli target/release/quantscope] [--model mlp]
        [--per-channel] [--seeds 0,1,2] [--json out.json]
"""

import argparse
import json
import statistics
import subprocess
import sys
import time

BITS = [(2, 4), (3, 8), (4, 8), (8, 8)]
METHODS = ["ptq", "qat", "lsq", "kd", "qat-kd"]


def run(cli, args):
    out = subprocess.run([cli, "train", *args, "--json"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def fmt(v):
    if len(v) == 1:
        return f"{v[0]:.2f}"
    return f"{statistics.mean(v):.2f} ± {statistics.stdev(v):.2f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", default="target/release/quantscope")
    ap.add_argument("--model", default="mlp")
    ap.add_argument("--per-channel", action="store_true")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--json")
    args = ap.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    extra = ["--model", args.model] + (["--per-channel"] if args.per_channel else [])
    acc = {}
    floats = {s: None for s in seeds}
    start = time.time()
    for w, a in BITS:
        for m in METHODS:
            for s in seeds:
                r = run(args.cli, extra + ["--method", m, "--wbits", str(w), "--abits", str(a),
                                           "--seed", str(s)])
                acc.setdefault((w, a, m), []).append(r["accuracy"])
                if floats[s] is None:
                    floats[s] = r["float_accuracy"]
                elif floats[s] != r["float_accuracy"]:
                    sys.exit(f"seed {s}: float accuracy {r['float_accuracy']} differs from {floats[s]}")
                print(f"W{w}A{a} {m} seed {s}: {r['accuracy']:.2f} % ({r['seconds']:.1f} s)",
                      file=sys.stderr)
    fl = [floats[s] for s in seeds]
    gran = "per channel" if args.per_channel else "per tensor"
    print(f"{args.model.upper()}, weights {gran}; test accuracy (%) on 359 digits, "
          f"mean ± sd over seeds {args.seeds}; float: {fmt(fl)}")
    print()
    print("| bits | PTQ | QAT | LSQ | KD | QAT+KD | PTQ loses | QAT recovers | QAT+KD recovers |")
    print("|---|---|---|---|---|---|---|---|---|")
    f_mean = statistics.mean(fl)
    for w, a in BITS:
        cells = [fmt(acc[(w, a, m)]) for m in METHODS]
        ptq = statistics.mean(acc[(w, a, "ptq")])
        loss = f_mean - ptq

        def rec(m):
            got = statistics.mean(acc[(w, a, m)])
            return f"{100 * (got - ptq) / loss:.0f} %" if loss > 0.05 else "-"

        print(f"| W{w}A{a} | " + " | ".join(cells) + f" | {loss:.2f} | {rec('qat')} | {rec('qat-kd')} |")
    print(f"\n({len(acc) * len(seeds)} runs in {time.time() - start:.0f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"float": fl, "runs": {f"W{w}A{a}-{m}": v for (w, a, m), v in acc.items()}}, f, indent=1)


if __name__ == "__main__":
    main()
