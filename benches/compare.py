#!/usr/bin/env python3
"""Print a markdown table of zokio vs tokio from criterion's results.

With `--fs`, the file benchmarks instead (`cargo bench -p zokio-benches
--bench fs`): operations (or bytes) per second from the medians, and each
one's ratio to tokio::fs and to raw io_uring.

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


ARGS = [a for a in sys.argv[1:] if a != "--fs"]

# The file benchmark: group, work per iteration, unit, ids in table order,
# the tokio baseline's id.
FS_RANDOM = ("fs_random_read", 64 * 256, "reads/s",
             ["zokio_uring_owned", "zokio_uring_fixed", "zokio_uring_asyncread",
              "zokio_mio_owned", "tokio_fs", "raw_uring"], "tokio_fs")
FS_DIRECT = ("fs_random_read_direct", 64 * 256, "reads/s",
             ["zokio_uring_fixed", "zokio_uring_unregistered", "tokio_blocking", "raw_uring",
              "raw_uring_fixed"], "tokio_blocking")
FS_SEQ = ("fs_seq_write_1g", 1 << 30, "MiB/s", ["zokio_uring", "zokio_mio", "tokio_fs"],
          "tokio_fs")


def criterion_dir():
    if ARGS:
        return ARGS[0]
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


def fmt_cost(slow, base):
    """`slow`'s time over `base`'s, as a percentage change."""
    if not slow or not base:
        return "n/a"
    return f"{(slow / base - 1) * 100:+.1f}%"


def fs_tables(base):
    print(f"Medians from `{base}`.")
    for group, work, unit, ids, tokio_id in (FS_RANDOM, FS_DIRECT, FS_SEQ):
        print()
        print(f"`{group}`:")
        print()
        print(f"| runtime | median per iteration | {unit} | vs `{tokio_id}` | vs raw io_uring |")
        print("| --- | ---: | ---: | ---: | ---: |")
        medians = {i: median_ns(base, group, i) for i in ids}
        rate = {i: (work / (ns / 1e9) if ns else None) for i, ns in medians.items()}
        if unit == "MiB/s":
            rate = {i: (r / (1 << 20) if r else None) for i, r in rate.items()}
        for i in ids:
            cells = [f"`{i}`", fmt_time(medians[i]),
                     f"{rate[i]:,.0f}" if rate[i] else "n/a"]
            for base_id in (tokio_id, "raw_uring"):
                if rate[i] and rate.get(base_id):
                    cells.append(f"{rate[i] / rate[base_id]:.2f}×")
                else:
                    cells.append("n/a")
            print("| " + " | ".join(cells) + " |")


def main():
    base = criterion_dir()
    if "--fs" in sys.argv[1:]:
        fs_tables(base)
        return
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
    print()
    print("Metrics on vs off (same run). mt2: cost = on time / off time - 1. ct: the")
    print("metrics-on run sits between two metrics-off runs (`zokio_ct` before it,")
    print("`zokio_ct_control` after it); cost = on time / mean of the two off times - 1,")
    print("which cancels a drift across the three, and off vs off shows what no")
    print("difference measures as.")
    print()
    print("| workload | zokio mt2 | mt2 metrics on | cost | zokio ct | ct metrics on | "
          "ct off again | cost | off vs off |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for group in ("spawn_many_local", "yield_many"):
        cells = [f"`{group}`"]
        off = median_ns(base, group, "zokio_mt2")
        on = median_ns(base, group, "zokio_mt2_metrics")
        cells += [fmt_time(off), fmt_time(on), fmt_cost(on, off)]
        off = median_ns(base, group, "zokio_ct")
        on = median_ns(base, group, "zokio_ct_metrics")
        again = median_ns(base, group, "zokio_ct_control")
        both = (off + again) / 2 if off and again else None
        cells += [fmt_time(off), fmt_time(on), fmt_time(again), fmt_cost(on, both),
                  fmt_cost(again, off)]
        print("| " + " | ".join(cells) + " |")
    if missing:
        print()
        print("n/a: no result for that benchmark (not run, filtered out, or it failed).")


if __name__ == "__main__":
    main()
