#!/usr/bin/env bash
# Runs every loom model (tests named `loom_*` built with `--cfg loom`), one at
# a time, and prints how many interleavings loom explored for each.
#
#   scripts/loom.sh              all models, LOOM_MAX_PREEMPTIONS=3
#   scripts/loom.sh queue        only the models whose name contains "queue"
#   LOOM_MAX_PREEMPTIONS=2 scripts/loom.sh    a cheaper bound (CI)
#   LOOM_MAX_PREEMPTIONS=none scripts/loom.sh every interleaving (exhaustive)
#
# The models live beside the code they check (grep `cfg(all(test, loom))` in
# zokio/src). A separate target dir keeps the normal build cached.
set -euo pipefail
cd "$(dirname "$0")/.."

filter=${1:-}
export LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-3}
if [ "$LOOM_MAX_PREEMPTIONS" = none ]; then
    unset LOOM_MAX_PREEMPTIONS
fi
export RUSTFLAGS="--cfg loom ${RUSTFLAGS:-}"
export CARGO_TARGET_DIR=${LOOM_TARGET_DIR:-target/loom}
# Only loom's own "Completed in N iterations" line, not its per-thread trace.
export LOOM_LOG=loom::model=info
locked=()
[ "${CI:-}" = true ] && locked=(--locked)

cargo test -p zokio --lib --release "${locked[@]}" --no-run
mapfile -t models < <(cargo test -q -p zokio --lib --release "${locked[@]}" loom_ -- --list 2>/dev/null \
    | sed -n 's/^\(.*loom_[^:]*\): test$/\1/p' | grep -- "$filter" || true)
if [ "${#models[@]}" -eq 0 ]; then
    echo "error: no loom model matches '$filter'" >&2
    exit 1
fi

echo "loom: ${#models[@]} models, LOOM_MAX_PREEMPTIONS=${LOOM_MAX_PREEMPTIONS:-none (exhaustive)}"
total=0
for model in "${models[@]}"; do
    started=$(date +%s%N)
    out=$(cargo test -q -p zokio --lib --release "${locked[@]}" "$model" -- --exact --nocapture 2>&1) || {
        echo "$out"
        echo "FAILED: $model" >&2
        exit 1
    }
    iterations=$(printf '%s\n' "$out" | sed 's/\x1b\[[0-9;]*m//g' \
        | sed -n 's/.*Completed in \([0-9]*\) iterations.*/\1/p' | tail -n 1)
    elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
    printf '%-74s %10s iterations %8s ms\n' "$model" "${iterations:-?}" "$elapsed_ms"
    total=$(( total + ${iterations:-0} ))
done
echo "loom: all ${#models[@]} models passed, $total iterations in total"
