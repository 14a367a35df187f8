#!/usr/bin/env bash
# Runs the tests that build for Windows, as Windows programs, under Wine:
# the portable exit paths (tests/portable_exits.rs, whose Windows
# expectations are the README's Windows column), the macros at exit
# (tests/macros.rs) and in user code (tests/hygiene.rs). Each test binary
# runs its scenarios as child processes, as on Linux.
#
#   bash scripts/windows-check.sh     (needs wine and gcc-mingw-w64-x86-64)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR="$root/target/windows"
target=x86_64-pc-windows-gnu
tests=(portable_exits macros hygiene)

cargo test -q --target "$target" --no-run $(printf -- '--test %s ' "${tests[@]}")
deps="$CARGO_TARGET_DIR/$target/debug/deps"
# Wine 8 lacks bcryptprimitives.dll (ProcessPrng), which Rust's std imports.
x86_64-w64-mingw32-gcc -shared -O2 -o "$deps/bcryptprimitives.dll" \
    scripts/windows/bcryptprimitives.c scripts/windows/bcryptprimitives.def -ladvapi32

export WINEDEBUG=-all WINEPREFIX="$CARGO_TARGET_DIR/wineprefix"
fail=0
for test in "${tests[@]}"; do
    exe=$(ls -t "$deps/$test"-*.exe | head -1)
    echo "== $test (under $(wine --version))"
    if ! timeout 900 wine "$exe" 2> >(grep -v -e 'wine32 is missing' -e 'multiarch needs' -e 'dpkg --add-architecture' -e 'apt-get install wine32' -e 'syswow64' -e 'configuration in' -e 'created the configuration' >&2); then
        fail=1
    fi
done
exit $fail
