#!/usr/bin/env python3
"""TCP echo benchmark: zokio (mio, io_uring, io_uring with owned buffers)
against tokio, server and load generator in separate processes.

DESIGN.md ("How performance is judged"): closed loop, 32 connections,
64-byte messages. Steps:

1. build the release binaries (examples of `zokio-benches`):
   `echo_server_zokio`, `echo_server_tokio`, `echo_server_floor` (no
   runtime: the ceiling, for reference) and `echo_client`;
2. for each repeat, and each server in turn (the order rotates from one
   repeat to the next, so no server always runs first or last): start the
   server on a free port, run the client (warm-up, then a timed
   measurement), record round trips per second, the server's CPU time
   per round trip and the CPU the server and the client used (whether the
   client was saturated), kill the server; each run first waits for other
   processes to go quiet and is run again if they used the CPUs meanwhile;
3. for each server: start it, attach `perf stat` (or `strace -c -f` when
   perf cannot count syscall tracepoints) to it, run a fixed number of round
   trips, and divide the server's system calls by the round trips;
4. print a markdown table (median round trips/s, ratio against tokio,
   syscalls per round trip), a per-syscall breakdown, and every command.

Standard library only. Run from anywhere: `python3 benches/echo.py --help`.
Exits with status 1 if any run failed (the table says which, and why).
"""

import argparse
import os
import resource
import selectors
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> (binary, arguments); the flavor is appended per run.
SERVERS = {
    "zokio-mio": ("echo_server_zokio", ["--backend", "mio"]),
    "zokio-io_uring": ("echo_server_zokio", ["--backend", "io_uring"]),
    "zokio-io_uring-owned": ("echo_server_zokio", ["--backend", "io_uring", "--owned"]),
    "zokio-io_uring-sqpoll": ("echo_server_zokio", ["--backend", "io_uring-sqpoll"]),
    "zokio-mio-owned": ("echo_server_zokio", ["--backend", "mio", "--owned"]),
    "tokio": ("echo_server_tokio", []),
    # No runtime: one thread driving mio directly, the ceiling for reference.
    "floor": ("echo_server_floor", []),
}
DEFAULT_SERVERS = ["zokio-mio", "zokio-io_uring", "zokio-io_uring-owned", "tokio"]
BASELINE = "tokio"

# Per-syscall counters shown in the breakdown (those the kernel has).
SYSCALLS = [
    "read", "write", "readv", "writev", "recvfrom", "sendto", "recvmsg",
    "sendmsg", "epoll_wait", "epoll_pwait", "epoll_pwait2", "epoll_ctl",
    "io_uring_enter", "futex", "sched_yield", "accept4", "close",
]


def log(message):
    print(message, file=sys.stderr, flush=True)


def quote(cmd):
    return " ".join(shlex.quote(part) for part in cmd)


def parse_args():
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--repeats", type=int, default=3, help="timed runs per server")
    p.add_argument("--warmup", type=float, default=1.0, help="seconds before measuring")
    p.add_argument("--duration", type=float, default=5.0, help="seconds measured per run")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--size", type=int, default=64, help="message bytes")
    p.add_argument("--round-trips", type=int, default=100_000,
                   help="round trips in the syscall-counting run (0 skips it)")
    p.add_argument("--servers", default=",".join(DEFAULT_SERVERS),
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
                   help="seconds to wait, before each run, for other processes to "
                        "go quiet")
    p.add_argument("--pin", default="none", choices=["none", "split", "client"],
                   help="CPU placement with taskset: split = client on CPU 0, server on "
                        "the others; client = client on CPU 0, server anywhere")
    p.add_argument("--syscall-tool", default="auto", choices=["auto", "perf", "strace"])
    p.add_argument("--no-build", action="store_true", help="use the binaries already built")
    args = p.parse_args()
    args.servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    unknown = [s for s in args.servers if s not in SERVERS]
    if unknown:
        p.error(f"unknown server(s) {', '.join(unknown)}; known: {', '.join(SERVERS)}")
    return args


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")


def binary(name):
    return os.path.join(target_dir(), "release", "examples", name)


def build(commands):
    cmd = ["cargo", "build", "--release", "-p", "zokio-benches",
           "--example", "echo_server_zokio", "--example", "echo_server_tokio",
           "--example", "echo_server_floor", "--example", "echo_client"]
    commands.append(("build", cmd))
    log(f"$ {quote(cmd)}")
    result = subprocess.run(cmd, cwd=ROOT)
    if result.returncode != 0:
        sys.exit(f"build failed (status {result.returncode}): {quote(cmd)}")


class RunFailed(Exception):
    pass


def tail(path, lines=15):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:]).strip()
    except OSError:
        return ""


class Server:
    """A server process; `addr` and `pid` come from its `listening on` line."""

    def __init__(self, cmd, workdir):
        self.cmd = cmd
        self.stderr_path = os.path.join(workdir, "server.stderr")
        self.stderr = open(self.stderr_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL)
        try:
            self.addr, self.pid = self._wait_ready(timeout=15.0)
        except BaseException:
            self.kill()
            raise

    def _wait_ready(self, timeout):
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        buffered = b""
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                continue
            chunk = os.read(self.proc.stdout.fileno(), 4096)
            if not chunk:
                self.proc.wait()
                raise RunFailed(f"server exited with status {self.proc.returncode} before "
                                f"listening; stderr:\n{tail(self.stderr_path)}")
            buffered += chunk
            for line in buffered.decode(errors="replace").splitlines():
                words = line.split()
                if line.startswith("listening on ") and len(words) >= 5 and words[3] == "pid":
                    return words[2], int(words[4])
        raise RunFailed(f"server printed no `listening on` line within {timeout:.0f}s; "
                        f"stderr:\n{tail(self.stderr_path)}")

    def describe(self):
        return tail(self.stderr_path, 40)

    def check_alive(self):
        status = self.proc.poll()
        if status is not None:
            raise RunFailed(f"server exited with status {status} during the run; "
                            f"stderr:\n{tail(self.stderr_path)}")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if not self.stderr.closed:
            self.stderr.close()
        if self.proc.stdout and not self.proc.stdout.closed:
            self.proc.stdout.close()


def pinned(args, role, cmd):
    """`cmd` under `taskset` as `--pin` asks: the client on CPU 0; with
    `split` the server on every other CPU."""
    cpus = os.cpu_count() or 1
    if args.pin == "none" or cpus < 2:
        return cmd
    if role == "client":
        return ["taskset", "-c", "0"] + cmd
    if args.pin == "split":
        others = "1" if cpus == 2 else f"1-{cpus - 1}"
        return ["taskset", "-c", others] + cmd
    return cmd


def run_client(args, addr, extra, timeout):
    cmd = pinned(args, "client", [binary("echo_client"), "--addr", addr,
                                  "--connections", str(args.connections),
                                  "--size", str(args.size)] + extra)
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RunFailed(f"client did not finish within {timeout:.0f}s: {quote(cmd)}")
    if result.returncode != 0:
        raise RunFailed(f"client failed (status {result.returncode}): "
                        f"{result.stderr.strip() or result.stdout.strip()}")
    fields = dict(w.split("=", 1) for w in result.stdout.split() if "=" in w)
    try:
        return (cmd, float(fields["round_trips_per_sec"]), int(fields["round_trips"]),
                int(fields.get("all_round_trips", fields["round_trips"])))
    except (KeyError, ValueError):
        raise RunFailed(f"cannot parse client output: {result.stdout!r}")


# ---- other load on the machine ---------------------------------------------
#
# The machines are shared: another build or benchmark running at the same
# time halves a result without any sign of it. So each timed run measures
# the CPU time the whole machine spent in processes (user + nice + system in
# /proc/stat; softirq, where loopback TCP is processed, is left out) and
# subtracts what the server and the client used. What remains is someone
# else's, and a run where it exceeds --max-foreign-cpu is run again.

CLOCK_TICK = os.sysconf("SC_CLK_TCK")


def machine_process_secs():
    with open("/proc/stat", encoding="ascii") as f:
        fields = f.readline().split()
    user, nice, system = (int(x) for x in fields[1:4])
    return (user + nice + system) / CLOCK_TICK


def process_secs(pid):
    """User + system CPU time of process `pid` (all its threads)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read()
    except OSError:
        return 0.0
    rest = stat[stat.rfind(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / CLOCK_TICK


def children_secs():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def foreign_cpu_now(seconds=1.0):
    """Cores' worth of CPU that processes other than ours use right now."""
    before = machine_process_secs()
    time.sleep(seconds)
    return (machine_process_secs() - before) / seconds


def wait_for_quiet(limit, max_wait):
    """Waits (up to `max_wait` s) until other processes use under `limit` cores."""
    deadline = time.monotonic() + max_wait
    busy = foreign_cpu_now()
    warned = False
    while busy > limit and time.monotonic() < deadline:
        if not warned:
            log(f"  other processes use {busy:.2f} cores; waiting up to {max_wait:.0f}s "
                "for the machine to go quiet")
            warned = True
        busy = foreign_cpu_now(2.0)
    return busy


PAIRED_NOTE = ("Paired ratio = the median, over repeats, of the server's result over "
               "tokio's in the same repeat (they ran back to back, so mostly in the same "
               "machine state; this machine's speed changes by about 25% between states).")


SATURATION_NOTE = ("A load generator near 1.00 core is saturated: a faster server cannot "
                   "go faster than it (see benches/README.md, \"What bounds the network "
                   "benchmarks\").")


def cores_text(used):
    """(server, client) cores as "S + C"."""
    return f"{used[0]:.2f} + {used[1]:.2f}"


def median_cores(runs):
    """Per-run (server, client) cores: the medians of each, as "S + C"."""
    if not runs:
        return "n/a"
    return cores_text((statistics.median(u[0] for u in runs),
                       statistics.median(u[1] for u in runs)))


def paired_ratio(runs, base_runs):
    """Median over repeats of runs[r] / base_runs[r], as text ("n/a" if none)."""
    ratios = [runs[r] / base_runs[r] for r in runs if base_runs.get(r)]
    return f"{statistics.median(ratios):.2f}x" if ratios else "n/a"


def server_cmd(args, name, flavor):
    exe, extra = SERVERS[name]
    return pinned(args, "server",
                  [binary(exe), "--addr", "127.0.0.1:0", "--flavor", flavor] + extra)


def timed_run(args, name, flavor, workdir):
    """One measurement: returns (round trips/s, server CPU microseconds per
    round trip, foreign CPU in cores, (server, client) CPU in cores, server
    cmd, client cmd, describe)."""
    server = Server(server_cmd(args, name, flavor), workdir)
    try:
        extra = ["--warmup", str(args.warmup), "--duration", str(args.duration)]
        timeout = args.warmup + args.duration + 60
        machine, ours = machine_process_secs(), process_secs(server.pid) + children_secs()
        start = time.monotonic()
        try:
            server_cpu, client_cpu = process_secs(server.pid), children_secs()
            client, rps, _, all_trips = run_client(args, server.addr, extra, timeout)
            elapsed = time.monotonic() - start
            machine = machine_process_secs() - machine
            server_cpu = process_secs(server.pid) - server_cpu
            client_cpu = children_secs() - client_cpu
            ours = process_secs(server.pid) + children_secs() - ours
            foreign = max(0.0, machine - ours) / elapsed
        except RunFailed as e:
            alive = "still running" if server.proc.poll() is None else \
                f"exited with status {server.proc.returncode}"
            raise RunFailed(f"{e}\n(server {alive}; server stderr:\n"
                            f"{tail(server.stderr_path)})")
        server.check_alive()
        cpu_us = 1e6 * server_cpu / all_trips if all_trips else float("nan")
        cores = (server_cpu / elapsed, client_cpu / elapsed)
        return rps, cpu_us, foreign, cores, server.cmd, client, server.describe()
    finally:
        server.kill()


# ---- system calls per round trip ------------------------------------------

def perf_usable():
    if not shutil.which("perf"):
        return False
    probe = subprocess.run(["perf", "stat", "-x", ",", "-e", "raw_syscalls:sys_enter",
                            "--", "true"], capture_output=True, text=True)
    return probe.returncode == 0 and "not supported" not in probe.stderr


def perf_syscall_events():
    listing = subprocess.run(["perf", "list", "syscalls:sys_enter_*"],
                             capture_output=True, text=True).stdout
    have = {w for w in listing.split() if w.startswith("syscalls:sys_enter_")}
    return [s for s in SYSCALLS if f"syscalls:sys_enter_{s}" in have]


def choose_tool(choice):
    """Returns ("perf"|"strace", note) or (None, reason)."""
    if choice in ("auto", "perf") and perf_usable():
        return "perf", ""
    if choice == "perf":
        return None, "perf is missing or cannot count the raw_syscalls:sys_enter tracepoint"
    if shutil.which("strace"):
        note = "" if choice == "strace" else \
            "perf cannot count syscall tracepoints here; using strace -c (slows the server)"
        return "strace", note
    return None, ("neither perf (with syscall tracepoints) nor strace is available; "
                  "install one (`apt-get install strace`) to count syscalls")


def parse_perf(path):
    counts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            parts = line.strip().split(",")
            if len(parts) < 3 or not parts[2]:
                continue
            event = parts[2]
            try:
                value = int(parts[0])
            except ValueError:
                continue  # "<not counted>" / "<not supported>"
            if event == "raw_syscalls:sys_enter":
                counts["total"] = value
            elif event.startswith("syscalls:sys_enter_"):
                counts[event[len("syscalls:sys_enter_"):]] = value
    return counts


def parse_strace(path):
    counts = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            words = line.split()
            # % time, seconds, usecs/call, calls, [errors], syscall
            if len(words) >= 5 and words[0].replace(".", "", 1).isdigit():
                try:
                    counts[words[-1]] = int(words[3])
                except ValueError:
                    pass
    return counts


def syscall_run(args, name, flavor, tool, workdir):
    """Returns (counts dict, round trips, commands)."""
    server = Server(server_cmd(args, name, flavor), workdir)
    out = os.path.join(workdir, f"syscalls-{name}-{flavor}.txt")
    try:
        if tool == "perf":
            events = ["raw_syscalls:sys_enter"] + \
                [f"syscalls:sys_enter_{s}" for s in perf_syscall_events()]
            tracer_cmd = ["perf", "stat", "-x", ",", "-o", out,
                          "-e", ",".join(events), "-p", str(server.pid)]
        else:
            tracer_cmd = ["strace", "-c", "-f", "-o", out, "-p", str(server.pid)]
        tracer = subprocess.Popen(tracer_cmd, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)  # let the tracer attach to every thread
        if tracer.poll() is not None:
            raise RunFailed(f"{tool} exited early: {tracer.stderr.read().strip()}")
        try:
            client, _, round_trips, _ = run_client(
                args, server.addr, ["--round-trips", str(args.round_trips)], 300)
        finally:
            tracer.send_signal(signal.SIGINT)
            try:
                tracer.wait(timeout=30)
            except subprocess.TimeoutExpired:
                tracer.kill()
                tracer.wait()
        server.check_alive()
        counts = parse_perf(out) if tool == "perf" else parse_strace(out)
        if "total" not in counts:
            raise RunFailed(f"no syscall total in {tool} output {out}: "
                            f"{tracer.stderr.read().strip()}")
        return counts, round_trips, [server.cmd, tracer_cmd, client]
    finally:
        server.kill()


# ---- report -----------------------------------------------------------------

def run_when_quiet(args, label, unit, run, failures, repeat):
    """Runs one timed run (`run()`, which returns a tuple whose first item is
    the measured value and third the cores other processes used meanwhile)
    once the machine is quiet; runs it again, up to `args.retries` times,
    when other processes used more than `args.max_foreign_cpu` cores (the
    last attempt is kept and flagged). Returns the tuple, or None when the
    run failed (the failure is appended to `failures`)."""
    result = None
    for attempt in range(args.retries + 1):
        wait_for_quiet(args.max_foreign_cpu, args.quiet_wait)
        try:
            result = run()
        except RunFailed as e:
            failures.append(f"repeat {repeat + 1}: {e}")
            log(f"{label}: FAILED: {e}")
            return None
        value, foreign = result[0], result[2]
        if foreign <= args.max_foreign_cpu:
            break
        log(f"{label}: {value:,.0f} {unit}, but other processes used "
            f"{foreign:.2f} cores meanwhile"
            + ("; running it again" if attempt < args.retries else "; kept, flagged"))
    return result


def print_appendix(script, loader, commands, descriptions, failures):
    """Prints the commands that were run, each server's runtime description
    and the failures (then exits with status 1 if there were any): the end
    of every driver's report (`echo.py`, `http.py`). `loader` names what was
    given the server's address ("the client", "wrk")."""
    print()
    print(f"Commands (servers bind a free port; {loader} is given the address the "
          "server prints):")
    print()
    print("```sh")
    print(f"python3 benches/{script} {quote(sys.argv[1:])}".rstrip())
    for label, cmd in commands:
        print(f"# {label}")
        print(quote(cmd))
    print("```")

    if descriptions:
        print()
        print("Server start-up output (runtime description), per server:")
        print()
        print("```text")
        for (name, flavor), text in descriptions.items():
            print(f"## {name} ({flavor})")
            print(text)
        print("```")

    failed = {v: f for v, f in failures.items() if f}
    if failed:
        print()
        print("Failures:")
        for (name, flavor), messages in failed.items():
            for message in messages:
                print(f"- {name} ({flavor}): " + message.replace("\n", "\n  "))
        sys.exit(1)


def main():
    args = parse_args()
    flavors = ["multi_thread", "current_thread"] if args.flavor == "both" else [args.flavor]
    commands = []
    if not args.no_build:
        build(commands)
    if args.pin != "none" and not shutil.which("taskset"):
        sys.exit("--pin needs taskset (util-linux)")
    needed = {SERVERS[name][0] for name in args.servers} | {"echo_client"}
    for exe in sorted(needed):
        if not os.path.exists(binary(exe)):
            sys.exit(f"missing {binary(exe)}: run without --no-build")

    variants = [(name, flavor) for flavor in flavors for name in args.servers]
    rps = {v: [] for v in variants}
    failures = {v: [] for v in variants}
    descriptions = {}
    workdir = tempfile.mkdtemp(prefix="zokio-echo-")
    started = time.strftime("%Y-%m-%d %H:%M:%S")

    disturbed = {v: [] for v in variants}  # per run: foreign cores, or None if clean
    foreign_cpu = {v: [] for v in variants}  # per run: foreign cores
    cpu = {v: [] for v in variants}  # per run: server CPU µs per round trip
    cores = {v: [] for v in variants}  # per run: (server, client) CPU in cores
    by_repeat = {v: {} for v in variants}  # repeat -> round trips/s
    for repeat in range(args.repeats):
        shift = repeat % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            name, flavor = variant
            label = f"[{repeat + 1}/{args.repeats}] {name} ({flavor})"
            result = run_when_quiet(args, label, "round trips/s",
                                    lambda: timed_run(args, name, flavor, workdir),
                                    failures[variant], repeat)
            if result is None:
                continue
            value, cpu_us, foreign, used, server, client, described = result
            rps[variant].append(value)
            by_repeat[variant][repeat] = value
            cpu[variant].append(cpu_us)
            cores[variant].append(used)
            disturbed[variant].append(foreign if foreign > args.max_foreign_cpu else None)
            foreign_cpu[variant].append(foreign)
            descriptions.setdefault(variant, described)
            if repeat == 0:
                commands.append((f"{name} ({flavor})", server))
                commands.append(("client", client))
            log(f"{label}: {value:,.0f} round trips/s, server CPU {cpu_us:.2f} µs per round "
                f"trip, CPU used {cores_text(used)} cores (other processes: {foreign:.2f} "
                "cores)")

    syscalls = {}
    tool, tool_note = (None, "skipped (--round-trips 0)")
    if args.round_trips > 0:
        tool, tool_note = choose_tool(args.syscall_tool)
        if tool_note:
            log(tool_note)
    if tool:
        for variant in variants:
            name, flavor = variant
            wait_for_quiet(args.max_foreign_cpu, args.quiet_wait)
            try:
                counts, trips, cmds = syscall_run(args, name, flavor, tool, workdir)
            except RunFailed as e:
                failures[variant].append(f"syscall run: {e}")
                log(f"syscalls {name} ({flavor}): FAILED: {e}")
                continue
            syscalls[variant] = {k: v / trips for k, v in counts.items()}
            if variant == variants[0]:
                for label, cmd in zip(("server", f"{tool} (attached to the server)", "client"), cmds):
                    commands.append((f"syscalls: {label}", cmd))
            log(f"syscalls {name} ({flavor}): {syscalls[variant]['total']:.2f} per round trip")

    # Table.
    print(f"TCP echo, closed loop: {args.connections} connections x {args.size}-byte "
          f"messages; {args.repeats} repeats of {args.warmup:g}s warm-up + "
          f"{args.duration:g}s measured per server, interleaved; CPU pinning: {args.pin}.")
    foreign = [d for runs in foreign_cpu.values() for d in runs]
    print(f"Machine: {os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().release}; "
          f"started {started}; other processes used at most "
          f"{max(foreign, default=0):.2f} cores during a timed run.")
    print()
    print(f"| server | flavor | median round trips/s | ratio vs tokio | paired ratio | syscalls/round trip ({tool or 'n/a'}) | server CPU µs/round trip | CPU used, server + client (cores) | runs (round trips/s) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for variant in variants:
        name, flavor = variant
        values = rps[variant]
        med = statistics.median(values) if values else None
        base = rps.get((BASELINE, flavor)) or []
        base_med = statistics.median(base) if base else None
        ratio = f"{med / base_med:.2f}x" if med and base_med else "n/a"
        sc = syscalls.get(variant)
        sc_text = f"{sc['total']:.2f}" if sc else ("failed" if failures[variant] else "n/a")
        runs = ", ".join(f"{v:,.0f}" + ("*" if d is not None else "")
                         for v, d in zip(values, disturbed[variant])) or "-"
        if failures[variant]:
            runs += f" ({len(failures[variant])} failed)"
        med_text = f"{med:,.0f}" if med else "failed"
        cpu_text = f"{statistics.median(cpu[variant]):.2f}" if cpu[variant] else "n/a"
        paired = paired_ratio(by_repeat[variant], by_repeat.get((BASELINE, flavor), {}))
        print(f"| {name} | {flavor} | {med_text} | {ratio} | {paired} | {sc_text} | {cpu_text} "
              f"| {median_cores(cores[variant])} | {runs} |")
    print()
    print("Ratio = server median / tokio median for the same flavor (above 1x: faster "
          f"than tokio). {PAIRED_NOTE} multi_thread servers have 2 workers; client and server share "
          "the machine's cores. Server CPU = the server's user + system time over the "
          "whole client run (warm-up included) / the round trips in it, median over "
          "runs: less sensitive to noise than throughput; loopback TCP work done in "
          "softirq context is not in it. CPU used = median over runs of the server's "
          f"and the client's CPU time / the run's wall time. {SATURATION_NOTE}")
    if any(d is not None for runs in disturbed.values() for d in runs):
        print()
        print(f"\\* other processes used more than {args.max_foreign_cpu:g} cores during "
              f"this run, even after {args.retries} retries: it is noisy.")

    if syscalls:
        shown = [s for s in SYSCALLS if any(s in v for v in syscalls.values())]
        shown = [s for s in shown if any(v.get(s, 0) >= 0.005 for v in syscalls.values())]
        print()
        print(f"Server syscalls per round trip ({tool}, {args.round_trips:,} round trips; "
              "only calls with at least 0.005 per round trip):")
        print()
        print("| server | flavor | total | " + " | ".join(shown) + " |")
        print("| --- | --- | ---: | " + " | ".join("---:" for _ in shown) + " |")
        for variant in variants:
            sc = syscalls.get(variant)
            if not sc:
                continue
            cells = [f"{sc.get(s, 0):.2f}" for s in shown]
            print(f"| {variant[0]} | {variant[1]} | {sc['total']:.2f} | " + " | ".join(cells) + " |")
    elif args.round_trips > 0:
        print()
        print(f"Syscalls per round trip not measured: {tool_note}")

    print_appendix("echo.py", "the client", commands, descriptions, failures)

if __name__ == "__main__":
    main()
