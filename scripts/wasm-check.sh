#!/usr/bin/env bash
# What runs on WebAssembly, proven by running it (Node runs both kinds of
# module): tests/fixtures/wasm-probe built for wasm32-unknown-unknown (a
# library with no process exit: registry functions and run_exitfuncs) and
# for wasm32-wasip1 (a command: which exits run the handlers).
#
#   bash scripts/wasm-check.sh      (needs both targets and node)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
fail=0
check() { # what, expected, actual
    if [ "$2" == "$3" ]; then
        echo "ok: $1"
    else
        printf 'FAILED: %s\n  expected: %q\n  actual:   %q\n' "$1" "$2" "$3"
        fail=1
    fi
}

# Wherever cargo puts its builds (CARGO_TARGET_DIR, a config file, ...).
target=$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')

cargo build -q -p atexit-fixture-wasm-probe --lib --target wasm32-unknown-unknown
# 1 static handler counted (inventory's constructors ran), 4 pending, then
# the order: 4 2 1 (the runtime ones, last first; 3 was unregistered), 9 (the static).
check "wasm32-unknown-unknown: registry and run_exitfuncs" "10044219" \
    "$(node scripts/wasm/unknown.mjs "$target/wasm32-unknown-unknown/debug/atexit_fixture_wasm_probe.wasm")"

cargo build -q -p atexit-fixture-wasm-probe --bin atexit-fixture-wasm-probe --target wasm32-wasip1
wasi="$target/wasm32-wasip1/debug/atexit-fixture-wasm-probe.wasm"
run_wasi() { node --no-warnings scripts/wasm/wasi.mjs "$wasi" "$@"; }
check "wasm32-wasip1: main returns" $'main returns\nruntime handler\nstatic handler\nstatus 0' "$(run_wasi)"
check "wasm32-wasip1: std::process::exit(3)" $'std::process::exit(3)\nruntime handler\nstatic handler\nstatus 3' "$(run_wasi exit)"
check "wasm32-wasip1: atexit::exit(4)" $'atexit::exit(4)\nruntime handler\nstatic handler\nstatus 4' "$(run_wasi atexit-exit)"
exit $fail
