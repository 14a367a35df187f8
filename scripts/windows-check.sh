#!/usr/bin/env bash
# Runs the tests that build for Windows, as Windows programs, under Wine:
# the portable exit paths (tests/portable_exits.rs, whose Windows
# expectations are the README's Windows column), the macros at exit
# (tests/macros.rs) and in user code (tests/hygiene.rs), crash actions
# (tests/crash.rs, its console case on a terminal: Wine's debugger
# prints its report of each crash to the crashed program's stdout, which the
# checks allow). Each test binary
# runs its scenarios as child processes, as on Linux. Then console control
# events (tests/fixtures/console-probe): Ctrl-C sent to a console, which
# Wine has when it runs on a terminal (here `script`'s).
#
#   bash scripts/windows-check.sh     (needs wine and gcc-mingw-w64-x86-64)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export CARGO_TARGET_DIR="$root/target/windows"
target=x86_64-pc-windows-gnu
tests=(portable_exits macros hygiene crash)

cargo test -q --target "$target" --no-run $(printf -- '--test %s ' "${tests[@]}")
cargo build -q --target "$target" -p atexit-fixture-console-probe
cargo build -q --target "$target" -p atexit-fixture-abort-probe --profile abort
deps="$CARGO_TARGET_DIR/$target/debug/deps"
# Wine 8 lacks bcryptprimitives.dll (ProcessPrng), which Rust's std imports.
x86_64-w64-mingw32-gcc -shared -O2 -o "$deps/bcryptprimitives.dll" \
    scripts/windows/bcryptprimitives.c scripts/windows/bcryptprimitives.def -ladvapi32

export WINEDEBUG=-all WINEPREFIX="$CARGO_TARGET_DIR/wineprefix"
fail=0
for test in "${tests[@]}"; do
    exe=$(ls -t "$deps/$test"-*.exe | head -1)
    echo "== $test (under $(wine --version))"
    # crash's console case runs on a terminal (below).
    skip=()
    [ "$test" == crash ] && skip=(--skip=console)
    if ! timeout 900 wine "$exe" "${skip[@]}" 2> >(grep -v -e 'wine32 is missing' -e 'multiarch needs' -e 'dpkg --add-architecture' -e 'apt-get install wine32' -e 'syswow64' -e 'configuration in' -e 'created the configuration' -e 'starting debugger' >&2); then
        fail=1
    fi
done
probe="$CARGO_TARGET_DIR/$target/debug/atexit-fixture-console-probe.exe"
cp "$deps/bcryptprimitives.dll" "$(dirname "$probe")/"
console() { # mode, expected output, expected status (a Unix status: Windows' code & 255)
    local out status typescript="$CARGO_TARGET_DIR/console-$1.typescript"
    status=0
    timeout 120 script -qec "wine $probe $1" "$typescript" >/dev/null 2>&1 || status=$?
    out=$(tr -d '\r' < "$typescript" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | grep -v -e '^Script started on' -e '^Script done on' -e '^$')
    if [ "$out" == "$2" ] && [ "$status" == "$3" ]; then
        echo "console $1 ... ok"
    else
        printf 'console %s ... FAILED\n  output %q (expected %q), status %s (expected %s)\n' "$1" "$out" "$2" "$status" "$3"
        fail=1
    fi
}
echo "== crash actions on a console (Wine has one on a terminal: \`script\`'s)"
typescript="$CARGO_TARGET_DIR/crash-console.typescript"
status=0
timeout 300 script -qec "wine $(ls -t "$deps"/crash-*.exe | head -1) console" "$typescript" >/dev/null 2>&1 || status=$?
tr -d '\r' < "$typescript" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1b\][^\x07]*\x07//g' | grep -a -e '^exit path' -e '^  ' -e 'passed,'
[ "$status" == 0 ] || fail=1
echo "== panic = \"abort\": the crash action runs from the panic hook, before the message"
abort_probe="$CARGO_TARGET_DIR/$target/abort/atexit-fixture-abort-probe.exe"
cp "$deps/bcryptprimitives.dll" "$(dirname "$abort_probe")/"
# Its stderr a file: a Linux pipe is no Windows pipe under Wine, whose mode
# the action cannot set, so it would not write there.
status=0
timeout 120 wine "$abort_probe" crash_panic >/dev/null 2>"$CARGO_TARGET_DIR/crash_panic.stderr" || status=$?
err=$(tr -d '\r' < "$CARGO_TARGET_DIR/crash_panic.stderr")
# `__fastfail` ends it: STATUS_STACK_BUFFER_OVERRUN, 0xC0000409, whose low byte is 9.
if [ "$status" == 9 ] && [ "$(grep -c 'crash action' <<<"$err")" == 1 ] \
    && [ "$(grep -n 'crash action' <<<"$err" | cut -d: -f1)" -lt "$(grep -n 'panicked at' <<<"$err" | cut -d: -f1)" ]; then
    echo "crash_panic ... ok"
else
    printf 'crash_panic ... FAILED\n  stderr %q, status %s\n' "$err" "$status"
    fail=1
fi
echo "== console control events"
# Ctrl-C runs the handlers, then the crash actions, then the process ends
# as Windows ends it:
# STATUS_CONTROL_C_EXIT, 0xC000013A, whose low byte is 58.
console immediate $'handler ran\ncrash action' 58
console graceful $'requested by SIGINT\ndrained\nhandler ran' 0
exit $fail
