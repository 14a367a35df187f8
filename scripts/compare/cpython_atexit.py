"""The same operations as benches/runtime.rs, through CPython's atexit, for
scripts/compare.sh. Prints "RESULT key value" lines (nanoseconds)."""
import atexit
import statistics
import time

N = 100_000
ROUNDS = 15


def noop():
    pass


def other():
    pass


def per_op(rounds, ops, round_fn):
    return statistics.median(round_fn() / ops for _ in range(rounds))


def register_fn():
    t0 = time.perf_counter_ns()
    for _ in range(N):
        atexit.register(noop)
    elapsed = time.perf_counter_ns() - t0
    atexit._clear()
    return elapsed


def register_closure():
    # Python's counterpart of a capturing closure: the function with an argument.
    t0 = time.perf_counter_ns()
    for i in range(N):
        atexit.register(noop_arg, i)
    elapsed = time.perf_counter_ns() - t0
    atexit._clear()
    return elapsed


def noop_arg(x):
    pass


def unregister_among():
    times = []
    for _ in range(N):
        atexit.register(other)
    for _ in range(101):
        atexit.register(noop)
        t0 = time.perf_counter_ns()
        atexit.unregister(noop)
        times.append(time.perf_counter_ns() - t0)
    atexit._clear()
    return statistics.median(times)


def run():
    handlers = 1_000_000
    for _ in range(handlers):
        atexit.register(noop)
    t0 = time.perf_counter_ns()
    atexit._run_exitfuncs()
    return (time.perf_counter_ns() - t0) / handlers


print("RESULT register_fn", per_op(ROUNDS, N, register_fn))
print("RESULT register_closure", per_op(ROUNDS, N, register_closure))
print("RESULT unregister_among", unregister_among())
print("RESULT run", statistics.median(run() for _ in range(5)))
