#!/usr/bin/env python3
"""The cost of `metrics = true` on the `current_thread` scheduler, over many
rounds (issue 7).

One criterion run of the metrics benchmarks is too noisy on a small shared
machine to tell 2% from 4%, so this runs them ROUNDS times and prints each
round's cost and the median. A round is

    <bench binary> --bench '(spawn_many_local|yield_many)/zokio_ct(_metrics|_control)?$' --noplot

and its cost is the metrics-on median over the mean of the two metrics-off
medians around it (`zokio_ct` before, `zokio_ct_control` after), as
`compare.py` takes it; "off vs off" is `zokio_ct_control` against
`zokio_ct`, what no difference measures as.

    python3 benches/metrics_cost.py                      # 8 rounds, this tree
    python3 benches/metrics_cost.py --rounds 16
    python3 benches/metrics_cost.py --binaries A B        # interleaved A/B

Without `--binaries` it builds the benchmark (`cargo bench -p zokio-benches
--bench runtime --no-run`) and runs that binary. With `--binaries`, each round
runs every given binary once, in turn (copies of earlier builds, to compare
two commits). Results go to `$CARGO_TARGET_DIR/criterion` (or
`target/criterion`). Standard library only.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import median_ns  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILTER = "(spawn_many_local|yield_many)/zokio_ct(_metrics|_control)?$"
GROUPS = ("spawn_many_local", "yield_many")


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def build():
    """Builds the benchmark and returns its executable's path."""
    out = subprocess.run(
        ["cargo", "bench", "-p", "zokio-benches", "--bench", "runtime", "--no-run",
         "--message-format=json"],
        cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout
    for line in out.splitlines():
        msg = json.loads(line)
        if msg.get("reason") == "compiler-artifact" and msg.get("executable") \
                and msg["target"]["name"] == "runtime":
            return msg["executable"]
    sys.exit("cargo did not report the runtime benchmark's executable")


def one_round(binary, criterion):
    """Runs the metrics benchmarks once; returns {group: (cost, off_vs_off)}."""
    subprocess.run([binary, "--bench", FILTER, "--noplot"], cwd=os.path.join(ROOT, "benches"),
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, CARGO_TARGET_DIR=target_dir()))
    result = {}
    for group in GROUPS:
        off = median_ns(criterion, group, "zokio_ct")
        on = median_ns(criterion, group, "zokio_ct_metrics")
        again = median_ns(criterion, group, "zokio_ct_control")
        if None in (off, on, again):
            sys.exit(f"missing criterion results for {group} in {criterion}")
        result[group] = (100 * (on / ((off + again) / 2) - 1), 100 * (again / off - 1))
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--binaries", nargs="+", help="prebuilt bench binaries to interleave")
    args = p.parse_args()
    binaries = args.binaries or [build()]
    criterion = os.path.join(target_dir(), "criterion")
    costs = {b: {g: [] for g in GROUPS} for b in binaries}
    for r in range(args.rounds):
        for b in binaries:
            result = one_round(b, criterion)
            for g in GROUPS:
                costs[b][g].append(result[g])
            line = ", ".join(f"{g} {result[g][0]:+.2f}% (off vs off {result[g][1]:+.2f}%)"
                             for g in GROUPS)
            print(f"round {r + 1} {os.path.basename(b)}: {line}", flush=True)
    print()
    print(f"Metrics-on cost, `current_thread`, {args.rounds} rounds of "
          f"`--bench '{FILTER}'`:")
    print()
    print("| binary | workload | cost per round, sorted | median cost | off vs off, median |")
    print("| --- | --- | --- | ---: | ---: |")
    for b in binaries:
        for g in GROUPS:
            on = sorted(c for c, _ in costs[b][g])
            offs = [o for _, o in costs[b][g]]
            print(f"| {os.path.basename(b)} | `{g}` | "
                  f"{', '.join(f'{c:.1f}' for c in on)} % | "
                  f"**{statistics.median(on):+.2f} %** | {statistics.median(offs):+.2f} % |")


if __name__ == "__main__":
    main()
