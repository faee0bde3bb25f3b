#!/usr/bin/env python3
"""HTTP benchmark: the same hyper hello-world service on zokio (mio and
io_uring) and on tokio, loaded by wrk, server and load generator in
separate processes.

DESIGN.md ("How performance is judged") and issue 6: hyper's HTTP/1.1
server with one shared service (`benches/http/service.rs`), keep-alive, 64
connections from one external load generator (wrk) in the same run. Steps:

1. build the release binaries (examples of `zokio-benches`):
   `http_server_zokio` and `http_server_tokio`;
2. for each repeat, and each server in turn (the order rotates from one
   repeat to the next): wait for other processes to go quiet, start the
   server on a free port, run wrk for a warm-up (discarded) and then a timed
   run, record requests per second, the 99th-percentile latency and the CPU
   the server and wrk used, kill the server; a run during which other
   processes used the CPUs is run again;
3. print a markdown table: median requests/s and median p99 per server, and
   the ratios against tokio (throughput above 1x and p99 below 1x are better
   than tokio), then every command and each server's runtime description.

Needs wrk (`apt-get install wrk`). Standard library only; shares the server
start-up, the quiet-machine guard and CPU pinning with `benches/echo.py`.
Run from anywhere: `python3 benches/http.py --help`. Exits with status 1 if
any run failed (the table says which, and why).
"""

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import echo  # noqa: E402  (the shared helpers of the TCP echo driver)
from echo import RunFailed, Server, log, quote, tail  # noqa: E402

ROOT = echo.ROOT

# name -> (binary, arguments); the flavor is appended per run.
SERVERS = {
    "zokio-mio": ("http_server_zokio", ["--backend", "mio"]),
    "zokio-io_uring": ("http_server_zokio", ["--backend", "io_uring"]),
    "tokio": ("http_server_tokio", []),
}
BASELINE = "tokio"

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def parse_args():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--repeats", type=int, default=5, help="timed runs per server")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring")
    p.add_argument("--duration", type=float, default=10.0, help="seconds measured per run")
    p.add_argument("--connections", type=int, default=64, help="wrk -c: keep-alive connections")
    p.add_argument("--threads", type=int, default=1,
                   help="wrk -t: load generator threads (they share the machine's "
                        "CPUs with the server)")
    p.add_argument("--servers", default=",".join(SERVERS),
                   help="comma-separated, from: " + ", ".join(SERVERS))
    p.add_argument("--flavor", default="multi_thread",
                   choices=["multi_thread", "current_thread", "both"],
                   help="server runtime flavor (multi_thread has 2 workers)")
    p.add_argument("--max-foreign-cpu", type=float, default=0.15,
                   help="a timed run during which other processes used more CPU "
                        "than this (in cores) is run again")
    p.add_argument("--retries", type=int, default=2,
                   help="times a disturbed run is run again before it is kept, flagged")
    p.add_argument("--quiet-wait", type=float, default=120.0,
                   help="seconds to wait, before each run, for other processes to go quiet")
    p.add_argument("--pin", default="none", choices=["none", "split", "client"],
                   help="CPU placement with taskset: split = wrk on CPU 0, server on "
                        "the others; client = wrk on CPU 0, server anywhere")
    p.add_argument("--no-build", action="store_true", help="use the binaries already built")
    args = p.parse_args()
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in args.servers if s not in SERVERS]
    if unknown:
        p.error(f"unknown server(s) {', '.join(unknown)}; known: {', '.join(SERVERS)}")
    if args.duration < 1 or args.warmup < 0:
        p.error("--duration must be at least 1 second and --warmup not negative")
    return args


def build(commands):
    cmd = ["cargo", "build", "--release", "-p", "zokio-benches",
           "--example", "http_server_zokio", "--example", "http_server_tokio"]
    commands.append(("build", cmd))
    log(f"$ {quote(cmd)}")
    result = subprocess.run(cmd, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"build failed (status {result.returncode}): {quote(cmd)}")


def server_cmd(args, name, flavor):
    exe, extra = SERVERS[name]
    return echo.pinned(args, "server",
                       [echo.binary(exe), "--addr", "127.0.0.1:0", "--flavor", flavor] + extra)


def wrk_cmd(args, addr, seconds):
    # wrk takes whole seconds.
    return echo.pinned(args, "client",
                       ["wrk", "--latency", "-t", str(args.threads), "-c", str(args.connections),
                        "-d", f"{max(1, round(seconds))}s", f"http://{addr}/"])


def to_ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m|h)", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * UNITS[m.group(2)]


def parse_wrk(output):
    """(requests/s, p99 latency in ms, non-2xx/3xx responses, socket errors)."""
    rps = re.search(r"^Requests/sec:\s+([0-9.]+)", output, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.M)
    if not rps or not p99:
        raise RunFailed(f"cannot parse wrk's output:\n{output.strip()}")
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)
    return (float(rps.group(1)), to_ms(p99.group(1)), int(bad.group(1)) if bad else 0,
            sum(int(x) for x in errors.groups()) if errors else 0)


def run_wrk(args, addr, seconds):
    cmd = wrk_cmd(args, addr, seconds)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    except subprocess.TimeoutExpired:
        raise RunFailed(f"wrk did not finish within {seconds + 60:.0f}s: {quote(cmd)}")
    if result.returncode != 0:
        raise RunFailed(f"wrk failed (status {result.returncode}): "
                        f"{result.stderr.strip() or result.stdout.strip()}")
    return cmd, parse_wrk(result.stdout)


def timed_run(args, name, flavor, workdir):
    """One measurement: (requests/s, p99 ms, foreign CPU in cores, (server,
    wrk) CPU in cores, server cmd, wrk cmd, server description)."""
    server = Server(server_cmd(args, name, flavor), workdir)
    try:
        if args.warmup > 0:
            run_wrk(args, server.addr, args.warmup)
        machine = echo.machine_process_secs()
        server_cpu, wrk_cpu = echo.process_secs(server.pid), echo.children_secs()
        start = time.monotonic()
        cmd, (rps, p99, bad, errors) = run_wrk(args, server.addr, args.duration)
        elapsed = time.monotonic() - start
        machine = echo.machine_process_secs() - machine
        server_cpu = echo.process_secs(server.pid) - server_cpu
        wrk_cpu = echo.children_secs() - wrk_cpu
        ours = server_cpu + wrk_cpu
        foreign = max(0.0, machine - ours) / elapsed
        server.check_alive()
        if bad or errors:
            raise RunFailed(f"{bad} non-2xx/3xx responses and {errors} socket errors "
                            f"(server stderr:\n{tail(server.stderr_path)})")
        cores = (server_cpu / elapsed, wrk_cpu / elapsed)
        return rps, p99, foreign, cores, server.cmd, cmd, server.describe()
    except RunFailed as e:
        alive = "still running" if server.proc.poll() is None else \
            f"exited with status {server.proc.returncode}"
        raise RunFailed(f"{e}\n(server {alive})")
    finally:
        server.kill()


def main():
    args = parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed: apt-get install wrk")
    if args.pin != "none" and not shutil.which("taskset"):
        sys.exit("--pin needs taskset (util-linux)")
    flavors = ["multi_thread", "current_thread"] if args.flavor == "both" else [args.flavor]
    commands = []
    if not args.no_build:
        build(commands)
    for exe in sorted({SERVERS[name][0] for name in args.servers}):
        if not os.path.exists(echo.binary(exe)):
            sys.exit(f"missing {echo.binary(exe)}: run without --no-build")

    variants = [(name, flavor) for flavor in flavors for name in args.servers]
    rps = {v: [] for v in variants}
    p99 = {v: [] for v in variants}
    by_repeat = {v: {} for v in variants}  # repeat -> requests/s
    disturbed = {v: [] for v in variants}
    cores = {v: [] for v in variants}  # per run: (server, wrk) CPU in cores
    foreign_cpu = []
    failures = {v: [] for v in variants}
    descriptions = {}
    workdir = tempfile.mkdtemp(prefix="zokio-http-")
    started = time.strftime("%Y-%m-%d %H:%M:%S")

    for repeat in range(args.repeats):
        shift = repeat % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            name, flavor = variant
            label = f"[{repeat + 1}/{args.repeats}] {name} ({flavor})"
            result = echo.run_when_quiet(args, label, "requests/s",
                                         lambda: timed_run(args, name, flavor, workdir),
                                         failures[variant], repeat)
            if result is None:
                continue
            value, latency, foreign, used, server, client, described = result
            rps[variant].append(value)
            by_repeat[variant][repeat] = value
            p99[variant].append(latency)
            cores[variant].append(used)
            disturbed[variant].append(foreign > args.max_foreign_cpu)
            foreign_cpu.append(foreign)
            descriptions.setdefault(variant, described)
            if repeat == 0:
                commands.append((f"{name} ({flavor})", server))
                commands.append(("load", client))
            log(f"{label}: {value:,.0f} requests/s, p99 {latency:.2f} ms, CPU used "
                f"{echo.cores_text(used)} cores (other processes: {foreign:.2f} cores)")

    print(f"HTTP/1.1 hello world (hyper), wrk: {args.connections} keep-alive connections, "
          f"{args.threads} wrk thread(s); {args.repeats} repeats of {args.warmup:g}s warm-up + "
          f"{args.duration:g}s measured per server, interleaved; CPU pinning: {args.pin}.")
    print(f"Machine: {os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().release}; "
          f"started {started}; other processes used at most "
          f"{max(foreign_cpu, default=0):.2f} cores during a timed run.")
    print()
    print("| server | flavor | median requests/s | ratio vs tokio | paired ratio "
          "| median p99 (ms) | p99 ratio vs tokio | CPU used, server + wrk (cores) "
          "| runs (requests/s) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for variant in variants:
        name, flavor = variant
        base = (BASELINE, flavor)
        med = statistics.median(rps[variant]) if rps[variant] else None
        base_med = statistics.median(rps[base]) if rps.get(base) else None
        lat = statistics.median(p99[variant]) if p99[variant] else None
        base_lat = statistics.median(p99[base]) if p99.get(base) else None
        ratio = f"{med / base_med:.2f}x" if med and base_med else "n/a"
        lat_ratio = f"{lat / base_lat:.2f}x" if lat and base_lat else "n/a"
        runs = ", ".join(f"{v:,.0f}" + ("*" if d else "")
                         for v, d in zip(rps[variant], disturbed[variant])) or "-"
        if failures[variant]:
            runs += f" ({len(failures[variant])} failed)"
        paired = echo.paired_ratio(by_repeat[variant], by_repeat.get(base, {}))
        print(f"| {name} | {flavor} | {f'{med:,.0f}' if med else 'failed'} | {ratio} "
              f"| {paired} | {f'{lat:.2f}' if lat else 'n/a'} | {lat_ratio} "
              f"| {echo.median_cores(cores[variant])} | {runs} |")
    print()
    print("Ratios are against tokio's median for the same flavor: requests/s above 1x "
          f"and p99 below 1x are better than tokio. {echo.PAIRED_NOTE} multi_thread servers have 2 workers; "
          "wrk and the server share the machine's CPUs. CPU used = median over runs of the "
          "server's and wrk's CPU time / the run's wall time (measured run only). "
          f"{echo.SATURATION_NOTE}")
    if any(d for runs in disturbed.values() for d in runs):
        print()
        print(f"\\* other processes used more than {args.max_foreign_cpu:g} cores during "
              f"this run, even after {args.retries} retries: it is noisy.")

    echo.print_appendix("http.py", "wrk", commands, descriptions, failures)

if __name__ == "__main__":
    main()
