#!/usr/bin/env bash
# Start-up plus exit, counted in instructions by valgrind (cachegrind, no
# cache simulation): the one start-up/exit figure that is the same from run
# to run on a noisy machine. Release builds of small generated programs:
#   plain        fn main() {}
#   one          links atexit, registers one handler at run time
#   linked       links atexit, registers nothing (the base for `statics`)
#   inventory    1,000 `inventory::submit!` of a fn, all called at exit by
#                one C `atexit` function (what `inventory` alone costs)
#   statics      1,000 `#[atexit::register]` functions
#   crash_linked links atexit with the `crash` feature, registers nothing
#   crash_action the same, registers one crash action, does not crash
# Prints "RESULT key value" lines too, for scripts/compare.sh.
#
#   bash scripts/instructions.sh [N]     (default 1000; needs valgrind)
set -euo pipefail
n=${1:-1000}
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/target/instructions-bench"
export CARGO_TARGET_DIR="$work/target"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }

make_crate() { # name, dependencies, body (a file of Rust)
    local dir="$work/$1"
    mkdir -p "$dir/src"
    cat > "$dir/Cargo.toml" <<TOML
[package]
name = "instr-$1"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
$2
[profile.release]
debug = false
[workspace]
TOML
    cat > "$dir/src/main.rs"
}

atexit_dep="atexit = { path = \"$root\" }"
inventory_dep='inventory = "0.3"
libc = "0.2"'

echo 'fn main() {}' | make_crate plain ""
echo 'fn noop() {} fn main() { atexit::register(noop); }' | make_crate one "$atexit_dep"
echo 'fn main() { std::hint::black_box(atexit::ncallbacks as fn() -> usize); }' | make_crate linked "$atexit_dep"
crash_dep="atexit = { path = \"$root\", features = [\"crash\"] }"
echo 'fn main() { std::hint::black_box(atexit::ncallbacks as fn() -> usize); }' | make_crate crash_linked "$crash_dep"
echo 'fn main() { let a = atexit::crash::Action::unlink("/nonexistent/x.lock").unwrap().only_on_crash(); std::hint::black_box(atexit::crash::register(a).unwrap()); }' \
    | make_crate crash_action "$crash_dep"
{
    echo 'pub struct Handler(pub fn());'
    echo 'inventory::collect!(Handler);'
    echo 'extern "C" fn run_all() { for h in inventory::iter::<Handler> { (h.0)() } }'
    for i in $(seq 1 "$n"); do
        echo "fn handler_$i() { std::hint::black_box($i); }"
        echo "inventory::submit! { Handler(handler_$i) }"
    done
    echo 'fn main() { unsafe { libc::atexit(run_all); } }'
} | make_crate inventory "$inventory_dep"
{
    for i in $(seq 1 "$n"); do
        echo "#[atexit::register] fn handler_$i() { std::hint::black_box($i); }"
    done
    echo 'fn main() {}'
} | make_crate statics "$atexit_dep"

count() { # binary -> instructions executed, start to exit
    valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$1" 2>&1 \
        | sed -n 's/.*I *refs: *\([0-9,]*\).*/\1/p' | tr -d ,
}

declare -A refs
for kind in plain one linked inventory statics crash_linked crash_action; do
    (cd "$work/$kind" && cargo build -q --release)
    refs[$kind]=$(count "$work/target/release/instr-$kind")
    echo "$kind: ${refs[$kind]} instructions"
    echo "RESULT instr_$kind ${refs[$kind]}"
done
python3 - "${refs[plain]}" "${refs[one]}" "${refs[linked]}" "${refs[inventory]}" "${refs[statics]}" "$n" \
    "${refs[crash_linked]}" "${refs[crash_action]}" <<'PY'
import sys
plain, one, linked, inventory, statics, n, crash_linked, crash_action = map(int, sys.argv[1:])
per_inventory = (inventory - plain) / n
per_static = (statics - linked) / n
print(f"links atexit and registers one handler: {one / plain:.3f}x a plain binary ({one - plain:+d} instructions; target ≤ 1.02x)")
print(f"  of which linking atexit, registering nothing: {linked / plain:.3f}x ({linked - plain:+d})")
print(f"per static handler: {per_static:.0f} instructions; inventory alone: {per_inventory:.0f}; ratio {per_static / per_inventory:.2f}x (target ≤ 2x)")
print(f"one crash action, no crash: {crash_action - crash_linked:+d} instructions against linking atexit with `crash` ({crash_action / crash_linked:.4f}x); the feature itself, registering nothing: {crash_linked - linked:+d}")
print(f"RESULT instr_crash_action {crash_action - crash_linked}")
print(f"RESULT instr_one_ratio {one / plain}")
print(f"RESULT instr_per_static {per_static}")
print(f"RESULT instr_per_inventory {per_inventory}")
PY
