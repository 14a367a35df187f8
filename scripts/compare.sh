#!/usr/bin/env bash
# Runs the runtime benchmark (benches/runtime.rs), the same operations
# through CPython's atexit (python3) and glibc's atexit (a C program built
# with cc), and the static-handler benchmark, all in this one run, and
# prints each figure next to theirs as a ratio, with the target from the
# performance issue.
#
#   bash scripts/compare.sh            # everything (about 4 minutes on 2 cores)
#   SKIP_STATICS=1 bash scripts/compare.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(uname -sr)"
echo "versions: $(rustc --version), $(python3 --version), $(ldd --version | head -1)"
echo

echo "atexit (cargo bench --bench runtime) ..."
(cd "$root" && cargo bench -q --bench runtime) | tee "$out/atexit.txt" | grep -v '^RESULT'
echo
echo "CPython atexit ..."
python3 "$root/scripts/compare/cpython_atexit.py" > "$out/cpython.txt"
echo "glibc atexit ..."
cc -O2 -pthread -o "$out/glibc_atexit" "$root/scripts/compare/glibc_atexit.c"
cc -O2 -o "$out/glibc_run" "$root/scripts/compare/glibc_run.c"
"$out/glibc_atexit" > "$out/glibc.txt"
# glibc at its best: the faster median of the two ways (see glibc_run.c).
cold=$(for _ in 1 2 3 4 5; do "$out/glibc_run"; done | grep -v '^#' | sort -n | sed -n 3p)
warm=$(for _ in 1 2 3 4 5; do "$out/glibc_run" warm; done | grep -v '^#' | sort -n | sed -n 3p)
echo "glibc run per handler: $cold ns (heap trimmed at exit), $warm ns (not trimmed)"
printf '%s\n%s\n' "$cold" "$warm" | sort -n | head -1 | sed 's/^/RESULT run /' >> "$out/glibc.txt"
if [ -z "${SKIP_STATICS:-}" ]; then
    echo "static handlers (scripts/statics-bench.sh 1000) ..."
    bash "$root/scripts/statics-bench.sh" 1000 > "$out/statics.txt"
else
    : > "$out/statics.txt"
fi
echo

python3 - "$out" <<'PY'
import sys

def results(path):
    found = {}
    for line in open(path):
        parts = line.split()
        if len(parts) == 3 and parts[0] == "RESULT":
            try:
                found[parts[1]] = float(parts[2])
            except ValueError:
                pass
    return found

out = sys.argv[1]
ours, py, c, st = (results(f"{out}/{name}.txt") for name in ("atexit", "cpython", "glibc", "statics"))

def ratio(a, b):
    return f"{a / b:.3g}x" if a is not None and b else "n/a"

def fmt(v, unit="ns"):
    return "n/a" if v is None else f"{v:,.1f} {unit}"

rows = [
    # key, what, target on the hand-written peer, on CPython, on glibc
    ("register_fn", "register(fn item)", 1.0, 0.15, 0.5),
    # The issue's target compares a closure with CPython registering a plain function.
    ("register_closure", "register(capturing closure) vs CPython's register(fn)", None, 0.3, None),
    ("run", "run, per handler (1,000,000 no-ops)", 1.0, 0.25, 0.75),
    ("unregister_among", "unregister(f) among 100,000", None, 0.1, None),
]
print("The hand-written peer: a static Mutex<Vec<Box<dyn FnOnce() + Send>>>, pushed under the lock,")
print("run by popping under the lock and calling outside it; measured in the same process, the two")
print("interleaved, the median of 5 runs each (within 5 % of the target counts as met).")
print()
print(f"| operation | atexit | hand-written | CPython | glibc | vs hand-written (target) | vs CPython (target) | vs glibc (target) |")
print(f"|---|---|---|---|---|---|---|---|")
for key, what, t_peer, t_py, t_c in rows:
    a, p, g = ours.get(key), py.get("register_fn" if key == "register_closure" else key), c.get(key)
    peer = ours.get(f"{key}_peer")
    vs_peer = f"{ratio(a, peer)} (≤ {t_peer}x)" if t_peer else ""
    vs_py = f"{ratio(a, p)} (≤ {t_py}x)" if t_py else ratio(a, p)
    vs_c = f"{ratio(a, g)} (≤ {t_c}x)" if t_c else (ratio(a, g) if g else "n/a (glibc has none)")
    print(f"| {what} | {fmt(a)} | {fmt(peer) if peer else ''} | {fmt(p)} | {fmt(g)} | {vs_peer} | {vs_py} | {vs_c} |")
v = ours.get("run_local")
print(f"| run, per handler, a `Registry` | {fmt(v)} | | | | | | |")

v = ours.get("register_closure_large")
print(f"| register(closure capturing three words: allocates) | {fmt(v)} | | | | | | |")
h, r = ours.get("handle_unregister"), ours.get("register_fn")
print(f"| Handle::unregister, 100,000 pending | {fmt(h)} | | n/a | n/a | | {ratio(h, r)} of register (≤ 3x) | |")
for threads in (1, 2):
    v, g = ours.get(f"threads_{threads}"), c.get(f"threads_{threads}")
    vs_c = f"{v / g:.3g}x of glibc's throughput" if v and g else "n/a"
    print(f"| register, {threads} thread(s) at once | {fmt(v, 'M ops/s')} | | | {fmt(g, 'M ops/s')} | | | {vs_c} |")
for key, what in (("memory_fn", "memory per pending fn item"), ("memory_closure", "memory per pending closure (u64)")):
    v = ours.get(key)
    target = " (≤ 32 bytes)" if key == "memory_fn" else ""
    print(f"| {what} | {fmt(v, 'bytes')}{target} | | | | | | |")
a, b = st.get("startup_exit_plain"), st.get("startup_exit_statics")
c, d = st.get("startup_only_plain"), st.get("startup_only_statics")
if a and b:
    split = f"; start-up +{(d - c) / 1e3:.0f} µs, exit +{((b - a) - (d - c)) / 1e3:.0f} µs" if c and d else ""
    print(f"| start-up + exit, 1,000 static handlers | +{(b / a - 1) * 100:.1f}% ({a / 1e3:.0f} → {b / 1e3:.0f} µs{split}) (≤ +10%) | | | | | | |")
a, b = st.get("compile_build_plain"), st.get("compile_build_statics")
if a and b:
    print(f"| cargo build, 1,000 static handlers vs plain fns | {b:.2f} s vs {a:.2f} s | | | | | | |")
a = st.get("expand_with")
if a:
    print(f"| rustc macro expansion, 1,000 static handlers | {a:.3f} s | | | | | | |")
PY
