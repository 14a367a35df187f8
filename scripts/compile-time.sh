#!/usr/bin/env bash
# Clean debug build, on this machine, of a crate that uses
# `#[atexit::register]` against one that uses `thiserror` (the issue's
# yardstick for a light macro crate), alternating, several rounds, in one
# run. Prints each round and the medians.
#
#   bash scripts/compile-time.sh [rounds]      (default 3)
set -euo pipefail
rounds=${1:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/target/compile-bench"
mkdir -p "$work/atexit/src" "$work/thiserror/src"

cat > "$work/atexit/Cargo.toml" <<TOML
[package]
name = "uses-atexit"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
atexit = { path = "$root" }
[workspace]
TOML
cat > "$work/atexit/src/main.rs" <<'RS'
#[atexit::register]
fn flush() {
    println!("flushed");
}
fn main() {}
RS

cat > "$work/thiserror/Cargo.toml" <<'TOML'
[package]
name = "uses-thiserror"
version = "0.0.0"
edition = "2021"
publish = false
[dependencies]
thiserror = "2"
[workspace]
TOML
cat > "$work/thiserror/src/main.rs" <<'RS'
#[derive(Debug, thiserror::Error)]
#[error("failed")]
struct Failed;
fn main() {
    let _ = Failed;
}
RS

# Fetch and lock once, outside the timings.
for crate in atexit thiserror; do (cd "$work/$crate" && cargo fetch -q); done

build() { # crate -> seconds
    local dir="$work/$1"
    rm -rf "$dir/target"
    local start end
    start=$(date +%s.%N)
    (cd "$dir" && CARGO_TARGET_DIR="$dir/target" cargo build -q --offline)
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}

declare -a a t
for i in $(seq 1 "$rounds"); do
    a+=("$(build atexit)")
    t+=("$(build thiserror)")
    echo "round $i: atexit ${a[-1]} s, thiserror ${t[-1]} s"
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
ma=$(median "${a[@]}")
mt=$(median "${t[@]}")
echo "median: atexit $ma s, thiserror $mt s"
echo "RESULT compile_atexit $ma"
echo "RESULT compile_thiserror $mt"
