#!/usr/bin/env python3
"""Print a markdown table of zokio vs tokio from criterion's results.

Reads `<criterion dir>/<workload>/<runtime>/new/estimates.json` (the median's
point estimate, in nanoseconds) written by

    cargo bench -p zokio-benches --bench runtime

and prints, per workload, the medians and the ratio tokio time / zokio time:
zokio's throughput relative to tokio (above 1 means zokio is faster).

The criterion directory is, in order: the first argument, then
`$CARGO_TARGET_DIR/criterion`, then `target/criterion` at the workspace root.
Standard library only.
"""

import json
import os
import sys

WORKLOADS = [
    "spawn_many_local",
    "spawn_many_remote_idle",
    "yield_many",
    "ping_pong",
    "chained_spawn",
]

# (zokio id, tokio id) per column pair.
PAIRS = [("zokio_mt2", "tokio_mt2"), ("zokio_ct", "tokio_ct")]


def criterion_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    target = os.environ.get("CARGO_TARGET_DIR")
    if target:
        return os.path.join(target, "criterion")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(root, "target", "criterion")


def median_ns(base, group, bench_id):
    path = os.path.join(base, group, bench_id, "new", "estimates.json")
    try:
        with open(path, encoding="utf-8") as f:
            return float(json.load(f)["median"]["point_estimate"])
    except (OSError, KeyError, ValueError):
        return None


def fmt_time(ns):
    if ns is None:
        return "n/a"
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def fmt_ratio(zokio, tokio):
    if zokio is None or tokio is None or zokio <= 0:
        return "n/a"
    return f"{tokio / zokio:.2f}×"


def main():
    base = criterion_dir()
    if not os.path.isdir(base):
        sys.exit(f"no criterion results in {base}: run "
                 "`cargo bench -p zokio-benches --bench runtime` first")
    print(f"Medians from `{base}`; ratio = tokio time / zokio time "
          "(zokio throughput relative to tokio, >1 means zokio is faster).")
    print()
    print("| workload | zokio mt2 | tokio mt2 | ratio | zokio ct | tokio ct | ratio |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    missing = False
    for group in WORKLOADS:
        cells = [f"`{group}`"]
        for zokio_id, tokio_id in PAIRS:
            z = median_ns(base, group, zokio_id)
            t = median_ns(base, group, tokio_id)
            missing |= z is None or t is None
            cells += [fmt_time(z), fmt_time(t), fmt_ratio(z, t)]
        print("| " + " | ".join(cells) + " |")
    if missing:
        print()
        print("n/a: no result for that benchmark (not run, filtered out, or it failed).")


if __name__ == "__main__":
    main()
