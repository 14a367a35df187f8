#!/usr/bin/env bash
# The cost of ending: whole processes spawned and reaped, the binaries
# taking turns run by run, the median of ROUNDS rounds of RUNS runs of each
# (defaults 9 and 150), for a plain binary, one that spawns and joins a thread, the
# hand-written `Mutex<Vec<Box<dyn FnOnce>>>` peer drained by C's `atexit`,
# atexit's three ways of registering one handler, and one crash action. Prints each time and
# the ratios the issue sets targets for.
#
#   bash scripts/exit-cost.sh [ROUNDS [RUNS]]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-9}
runs=${2:-150}
cd "$root"
cargo build -q --release -p atexit-fixture-exit-cost --bins
# The crash action's program alone with the `crash` feature; the others measure the default build.
cargo build -q --release -p atexit-fixture-exit-cost --bin crash_action --features crash
bin=${CARGO_TARGET_DIR:-$root/target}/release
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr); $(rustc --version)"
"$bin/exit-cost-runner" "$rounds" "$runs" \
    plain="$bin/plain" thread="$bin/thread" handwritten="$bin/handwritten" linked="$bin/linked" \
    register="$bin/register" static="$bin/static_handler" atexit_main="$bin/atexit_main" \
    crash_action="$bin/crash_action" | tee "$out"
python3 - "$out" <<'PY'
import sys
r = {}
for line in open(sys.argv[1]):
    p = line.split()
    if len(p) == 3 and p[0] == "RESULT":
        r[p[1]] = float(p[2])
print()
print(f"{'program':<34}{'µs':>8}{'vs plain':>10}{'vs thread':>11}{'vs hand-written':>17}  target")
rows = [
    ("plain binary", "plain", ""),
    ("spawn + join one thread", "thread", ""),
    ("hand-written peer", "handwritten", ""),
    ("links atexit, registers nothing", "linked", ""),
    ("register(f), main returns", "register", "≤ 1.02x thread"),
    ("one #[atexit::register] handler", "static", "≤ 1.02x thread"),
    ("#[atexit::main] + one handler", "atexit_main", "≤ 1.03x hand-written"),
    ("one crash action, no crash", "crash_action", "≈ links atexit"),
]
for label, key, target in rows:
    v = r[key]
    print(f"{label:<34}{v:>8.1f}{v / r['plain']:>9.3f}x{v / r['thread']:>10.3f}x{v / r['handwritten']:>16.3f}x  {target}")
PY
