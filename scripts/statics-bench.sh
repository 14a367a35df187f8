#!/usr/bin/env bash
# Measures what #[atexit::register] costs: a binary with N annotated
# functions against the same binary with N plain functions.
# - compile time: the median of 5 `cargo check` and 5 `cargo build` runs of
#   each (dependencies already built), and, where nightly has -Z time-passes,
#   rustc's own macro-expansion time;
# - start-up plus exit: the median wall time of 300 runs of each release
#   binary, interleaved (main does nothing; the static handlers run at exit).
# Prints "RESULT key value" lines too, for scripts/compare.sh.
#
#   bash scripts/statics-bench.sh [N]    (default 1000)
set -euo pipefail
n=${1:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/target/expand-bench"
export CARGO_TARGET_DIR="$work/target"

make_crate() { # name, attribute line, main's body
    local dir="$work/$1"
    mkdir -p "$dir/src"
    cat > "$dir/Cargo.toml" <<TOML
[package]
name = "expand-bench-$1"
version = "0.0.0"
edition = "2024"
publish = false
[dependencies]
atexit = { path = "$root" }
[workspace]
TOML
    {
        echo "#![allow(dead_code)]"
        for i in $(seq 1 "$n"); do
            [ -n "$2" ] && echo "$2"
            echo "fn handler_$i() { std::hint::black_box($i); }"
        done
        echo 'unsafe extern "C" { fn _exit(status: i32) -> !; }'
        echo "fn main() { $3 }"
    } > "$dir/src/main.rs"
}

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

time_cmd() { # dir, cargo subcommand -> seconds (median of 5, after one warm-up)
    local dir=$1 cmd=$2
    (cd "$dir" && cargo "$cmd" -q 2>/dev/null)
    for _ in 1 2 3 4 5; do
        touch "$dir/src/main.rs"
        local start end
        start=$(date +%s.%N)
        (cd "$dir" && cargo "$cmd" -q)
        end=$(date +%s.%N)
        echo "$end - $start" | bc
    done | median
}

make_crate with "#[atexit::register]" ""
make_crate without "" ""
# The same, leaving at once with _exit: start-up alone, no exit handlers.
make_crate with-startup "#[atexit::register]" "unsafe { _exit(0) }"
make_crate without-startup "" "unsafe { _exit(0) }"

for cmd in check build; do
    with=$(time_cmd "$work/with" "$cmd")
    without=$(time_cmd "$work/without" "$cmd")
    printf 'cargo %-5s  %d fns: plain %.2f s, #[atexit::register] %.2f s, difference %.2f s\n' \
        "$cmd" "$n" "$without" "$with" "$(echo "$with - $without" | bc)"
    echo "RESULT compile_${cmd}_plain $without"
    echo "RESULT compile_${cmd}_statics $with"
done

for kind in without with without-startup with-startup; do
    (cd "$work/$kind" && cargo build -q --release)
done
python3 - "$work/target/release" <<'PY'
import statistics, subprocess, sys, time
def once(exe):
    t0 = time.perf_counter_ns()
    subprocess.run([exe], check=True)
    return time.perf_counter_ns() - t0
bins = [f"{sys.argv[1]}/expand-bench-{kind}" for kind in ("without", "with", "without-startup", "with-startup")]
for _ in range(20):  # warm the page cache
    for exe in bins:
        once(exe)
# Interleaved, so that a drift in the machine's speed falls on all alike.
times = [[] for _ in bins]
for _ in range(300):
    for exe, t in zip(bins, times):
        t.append(once(exe))
a, b, c, d = (statistics.median(t) for t in times)
print(f"start-up + exit, release: plain {a/1e3:.0f} us, 1000 static handlers {b/1e3:.0f} us, +{(b/a-1)*100:.1f}%")
print(f"  of which start-up (leaving with _exit): +{(d-c)/1e3:.0f} us; exit: +{((b-a)-(d-c))/1e3:.0f} us")
print(f"RESULT startup_exit_plain {a}")
print(f"RESULT startup_exit_statics {b}")
print(f"RESULT startup_only_plain {c}")
print(f"RESULT startup_only_statics {d}")
PY

if cargo +nightly --version >/dev/null 2>&1; then
    for kind in without with; do
        touch "$work/$kind/src/main.rs"
        expand=$(cd "$work/$kind" && CARGO_TARGET_DIR="$work/nightly" cargo +nightly rustc -q -- -Z time-passes 2>&1 \
            | sed -n 's/^time: *\([0-9.]*\);.*\texpand_crate$/\1/p' | head -n 1)
        echo "rustc expand_crate ($kind): ${expand:-n/a} s"
        echo "RESULT expand_${kind} ${expand:-nan}"
    done
fi
