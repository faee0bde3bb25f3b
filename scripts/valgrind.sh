#!/usr/bin/env bash
# Runs a reduced stress workload (tests/tests/valgrind_workload.rs: tasks
# woken from another thread and aborted, local tasks (LocalSet) likewise and
# cancelled by the set's drop, echoed TCP connections, timers,
# owned-buffer file I/O (plain and registered buffers), blocking-pool jobs,
# then shutdown with socket reads, an accept and file reads in flight)
# under valgrind's memcheck, one runtime
# configuration at a time, and prints valgrind's summary for each.
#
#   scripts/valgrind.sh      all four: {current,multi}_thread x {mio,io_uring}
#
# Fails if memcheck reports any error or a definitely lost block.
#
# It needs valgrind 3.24 or newer. valgrind 3.19 (Debian 12's) keeps its
# global lock while a thread waits in io_uring_enter, so a wake-up that must
# come from another thread never runs and a multi_thread io_uring runtime
# deadlocks. If the valgrind on PATH is older, the script fetches Debian 13's
# valgrind package into target/valgrind (no root, nothing installed system
# wide) and uses that; VALGRIND=/path/to/valgrind picks one by hand.
#
# memcheck cannot see the kernel write into buffers through the ring; the
# workload reads files into zeroed spare capacity so it does not report those
# bytes as uninitialised.
set -euo pipefail
cd "$(dirname "$0")/.."

limit=${VALGRIND_TIME_LIMIT:-300}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
# Prints the valgrind to use: $VALGRIND, else the one on PATH if it is 3.24
# or newer, else Debian 13's, fetched once into $CARGO_TARGET_DIR/valgrind.
find_valgrind() {
    if [ -n "${VALGRIND:-}" ]; then
        echo "$VALGRIND"
        return
    fi
    if command -v valgrind >/dev/null; then
        local version
        version=$(valgrind --version | sed -n 's/^valgrind-\([0-9]*\)\.\([0-9]*\).*/\1 \2/p')
        read -r major minor <<<"$version"
        if [ "${major:-0}" -gt 3 ] || { [ "${major:-0}" -eq 3 ] && [ "${minor:-0}" -ge 24 ]; }; then
            command -v valgrind
            return
        fi
    fi
    local dir=$fetched
    if [ ! -x "$dir/usr/bin/valgrind" ]; then
        local mirror=http://deb.debian.org/debian
        local deb
        deb=$(curl -fsS "$mirror/dists/trixie/main/binary-amd64/Packages.xz" | xz -dc \
            | awk '/^Package: valgrind$/{p=1} p&&/^Filename:/{print $2; exit}')
        if [ -z "$deb" ]; then
            echo "error: valgrind 3.24+ is needed and Debian 13's package was not found" >&2
            return 1
        fi
        echo "fetching $mirror/$deb into $dir" >&2
        mkdir -p "$dir"
        curl -fsS -o "$dir/valgrind.deb" "$mirror/$deb"
        dpkg-deb -x "$dir/valgrind.deb" "$dir"
    fi
    echo "$dir/usr/bin/valgrind"
}
fetched=$(realpath -m "$CARGO_TARGET_DIR/valgrind")
valgrind=$(find_valgrind)
if [ "$valgrind" = "$fetched/usr/bin/valgrind" ]; then
    # The package's launcher looks for its tools where Debian installs them.
    export VALGRIND_LIB=$fetched/usr/libexec/valgrind
fi
"$valgrind" --version

cargo test --release -p zokio-tests --test valgrind_workload --no-run
binary=$(cargo test --release -p zokio-tests --test valgrind_workload --no-run --message-format=json 2>/dev/null \
    | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -n 1)

cases=(current_thread_mio multi_thread_mio current_thread_io_uring multi_thread_io_uring)

failed=()
for case in "${cases[@]}"; do
    log=$(mktemp)
    status=0
    timeout --signal=KILL "$limit" "$valgrind" --tool=memcheck --leak-check=full \
        --show-leak-kinds=definite --errors-for-leak-kinds=definite --error-exitcode=1 \
        --fair-sched=yes "$binary" --exact "$case" --test-threads=1 --nocapture >"$log" 2>&1 || status=$?
    echo "=== $case"
    grep -E '^test |test result|in use at exit|total heap usage|definitely lost|indirectly lost|possibly lost|ERROR SUMMARY' "$log" \
        | sed 's/^==[0-9]*== */  /' || true
    if [ "$status" -ne 0 ]; then
        if [ "$status" -eq 137 ]; then
            echo "FAILED: $case did not finish within ${limit}s under valgrind (hung); last lines:"
        else
            echo "FAILED: $case (exit $status); last lines:"
        fi
        tail -n 40 "$log"
        failed+=("$case")
    fi
    rm -f "$log"
done
if [ "${#failed[@]}" -gt 0 ]; then
    echo "valgrind: ${#failed[@]} of ${#cases[@]} failed: ${failed[*]}" >&2
    exit 1
fi
echo "valgrind: all ${#cases[@]} cases clean (no errors, nothing definitely lost)"
