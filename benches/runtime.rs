//! The runtime's speed and memory, measured (`cargo bench --bench runtime`).
//!
//! Each figure is the median of repeated rounds. Lines starting with
//! `RESULT` are for `scripts/compare.sh`, which runs the same operations
//! through CPython's `atexit` and glibc's `atexit` in the same run and prints
//! each figure as a ratio. This reports; it passes or fails nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use atexit::{Registration, Registry};

/// Counts allocations and live bytes while `COUNTING` is on.
struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; the
// counters are plain atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: the caller's contract is the system allocator's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.load(Ordering::Relaxed) {
            LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
            LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn noop() {}
fn other() {}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Nanoseconds per operation: the median over `rounds` of `round()`, which
/// returns the time it took for `ops` operations.
fn per_op(rounds: usize, ops: usize, mut round: impl FnMut() -> Duration) -> f64 {
    median((0..rounds).map(|_| round().as_nanos() as f64 / ops as f64).collect())
}

fn report(key: &str, what: &str, value: f64, unit: &str) {
    println!("{what:<58} {value:>12.2} {unit}");
    println!("RESULT {key} {value}");
}

const N: usize = 100_000;
const ROUNDS: usize = 15;

/// Nanoseconds per `atexit::register(make(i))`, `N` at a time, the process
/// registry cleared between rounds.
fn register_ns<F: FnOnce() + Send + 'static>(make: impl Fn(u64) -> F) -> f64 {
    per_op(ROUNDS, N, || {
        let start = Instant::now();
        for i in 0..N as u64 {
            atexit::register(black_box(make(i)));
        }
        let elapsed = start.elapsed();
        atexit::clear();
        elapsed
    })
}

/// The code a user writes instead of this library: push under the lock;
/// at exit, pop under the lock and call outside it (so that a handler may
/// register), last first.
mod hand_written {
    use std::sync::Mutex;

    type Hook = Box<dyn FnOnce() + Send>;
    pub static HOOKS: Mutex<Vec<Hook>> = Mutex::new(Vec::new());

    pub fn register(f: impl FnOnce() + Send + 'static) {
        HOOKS.lock().unwrap().push(Box::new(f));
    }

    pub fn run() {
        loop {
            let next = HOOKS.lock().unwrap().pop();
            let Some(hook) = next else { break };
            hook();
        }
    }
}

/// `ours` and `peer` measured alternately, `RUNS` times each; the median
/// of each. One after the other, a drift of the machine (another process,
/// the clock) would favour one side.
fn interleaved(mut ours: impl FnMut() -> f64, mut peer: impl FnMut() -> f64) -> (f64, f64) {
    const RUNS: usize = 5;
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        a.push(ours());
        b.push(peer());
    }
    (median(a), median(b))
}

/// Nanoseconds per handler when `run` runs `HANDLERS` no-op handlers that
/// `register` registered.
fn run_ns(register: impl Fn(), run: impl Fn()) -> f64 {
    const HANDLERS: usize = 1_000_000;
    per_op(7, HANDLERS, || {
        for _ in 0..HANDLERS {
            register();
        }
        let start = Instant::now();
        run();
        start.elapsed()
    })
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter.
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |key: &str| filter.is_empty() || filter.iter().any(|f| key.contains(f.as_str()));

    if wanted("register_fn") {
        let peer = || {
            per_op(ROUNDS, N, || {
                let start = Instant::now();
                for _ in 0..N {
                    hand_written::register(black_box(noop));
                }
                let elapsed = start.elapsed();
                hand_written::HOOKS.lock().unwrap().clear();
                elapsed
            })
        };
        let (ns, peer) = interleaved(|| register_ns(|_| noop), peer);
        report("register_fn", "register(fn item), process registry", ns, "ns/op");
        report("register_fn_peer", "  hand-written Mutex<Vec<Box<dyn FnOnce>>>", peer, "ns/op");
        let r = Registry::new();
        r.register(noop); // the first registration creates the stack
        COUNTING.store(true, Ordering::SeqCst);
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        for _ in 0..N {
            black_box(r.register(noop));
        }
        let allocations = ALLOCATIONS.load(Ordering::SeqCst) - before;
        COUNTING.store(false, Ordering::SeqCst);
        r.clear();
        report(
            "register_fn_allocs",
            "  allocations per register(fn item), amortised",
            allocations as f64 / N as f64,
            "allocs/op",
        );
    }

    // The registry step of adding a crash action (prepared beforehand: this
    // one needs no system call) against registering a handler, `CAPACITY`
    // at a time, each batch removed (or cleared) outside the timing.
    #[cfg(unix)]
    if wanted("crash_register") {
        use atexit::crash::{self, Action, CAPACITY};
        const BATCHES: usize = 2_000;
        let timed = |register: &mut dyn FnMut() -> Duration| {
            per_op(ROUNDS, CAPACITY * BATCHES, || (0..BATCHES).map(|_| register()).sum())
        };
        let crash_ns = || {
            timed(&mut || {
                let actions: Vec<Action> = (0..CAPACITY).map(|_| Action::signal_process_group(1 << 30, 0)).collect();
                let mut handles = Vec::with_capacity(CAPACITY);
                let start = Instant::now();
                for action in actions {
                    handles.push(crash::register(action).unwrap());
                }
                let elapsed = start.elapsed();
                handles.into_iter().for_each(|h| _ = h.remove());
                elapsed
            })
        };
        let handler_ns = || {
            timed(&mut || {
                let mut handles = Vec::with_capacity(CAPACITY);
                let start = Instant::now();
                for _ in 0..CAPACITY {
                    handles.push(atexit::register(black_box(noop)));
                }
                let elapsed = start.elapsed();
                atexit::clear();
                elapsed
            })
        };
        let (ns, handler) = interleaved(crash_ns, handler_ns);
        report("crash_register", "crash::register(prepared action)", ns, "ns/op");
        report("crash_register_peer", "  atexit::register(fn item), handle kept", handler, "ns/op");
    }

    if wanted("register_closure") {
        let ns = register_ns(|i| {
            move || {
                black_box(i);
            }
        });
        report("register_closure", "register(closure capturing a u64), process registry", ns, "ns/op");
        // Three words: too big to keep inline, so one allocation each.
        let ns = register_ns(|i| {
            let words = [i, i + 1, i + 2];
            move || {
                black_box(words);
            }
        });
        report("register_closure_large", "register(closure capturing three u64s), process registry", ns, "ns/op");
    }

    if wanted("handle_unregister") {
        let ns = per_op(ROUNDS, N, || {
            let handles: Vec<_> = (0..N).map(|_| atexit::register(noop)).collect();
            let start = Instant::now();
            for h in handles {
                black_box(h.unregister());
            }
            start.elapsed()
        });
        report("handle_unregister", "Handle::unregister, oldest first, among 100,000, process registry", ns, "ns/op");
    }

    if wanted("unregister_among") {
        let r = Registry::new();
        for _ in 0..N {
            r.register(other);
        }
        let ns = per_op(1001, 1, || {
            r.register(noop);
            let start = Instant::now();
            black_box(r.unregister(noop));
            start.elapsed()
        });
        report("unregister_among", "unregister(f), f once among 100,000 of another fn", ns, "ns/op");
    }

    if wanted("run") {
        let ours = || run_ns(|| drop(atexit::register(noop)), || atexit::run_exitfuncs().unwrap());
        let peer = || run_ns(|| hand_written::register(black_box(noop)), hand_written::run);
        let (ns, peer) = interleaved(ours, peer);
        report("run", "run 1,000,000 no-op handlers, process registry, per handler", ns, "ns/handler");
        report("run_peer", "  hand-written Mutex<Vec<Box<dyn FnOnce>>>", peer, "ns/handler");
        let r = Registry::new();
        let ns = run_ns(|| drop(r.register(noop)), || r.run().unwrap());
        report("run_local", "run 1,000,000 no-op handlers, a Registry, per handler", ns, "ns/handler");
    }

    if wanted("threads") {
        // Threads registering at once, each `N` times: atexit, then the
        // hand-written peer.
        let throughput = |threads: usize, register: fn(), clear: fn()| {
            median(
                (0..ROUNDS)
                    .map(|_| {
                        let barrier = Arc::new(Barrier::new(threads + 1));
                        let workers: Vec<_> = (0..threads)
                            .map(|_| {
                                let barrier = Arc::clone(&barrier);
                                std::thread::spawn(move || {
                                    barrier.wait();
                                    for _ in 0..N {
                                        register();
                                    }
                                })
                            })
                            .collect();
                        barrier.wait();
                        let start = Instant::now();
                        for w in workers {
                            w.join().unwrap();
                        }
                        let elapsed = start.elapsed();
                        clear();
                        (threads * N) as f64 / elapsed.as_secs_f64()
                    })
                    .collect(),
            )
        };
        for threads in [1, 2] {
            let ours = throughput(threads, || drop(black_box(atexit::register(noop))), atexit::clear);
            let peer = throughput(
                threads,
                || hand_written::register(black_box(noop)),
                || hand_written::HOOKS.lock().unwrap().clear(),
            );
            report(
                &format!("threads_{threads}"),
                &format!("register throughput, {threads} thread(s) at once, process registry"),
                ours / 1e6,
                "M ops/s",
            );
            report(
                &format!("threads_{threads}_peer"),
                "  hand-written Mutex<Vec<Box<dyn FnOnce>>>",
                peer / 1e6,
                "M ops/s",
            );
        }
    }

    if wanted("memory") {
        const M: usize = 1_000_000;
        let measure = |register: &dyn Fn(&Registry)| {
            let r = Registry::new();
            COUNTING.store(true, Ordering::SeqCst);
            let before = LIVE_BYTES.load(Ordering::SeqCst);
            for _ in 0..M {
                register(&r);
            }
            let bytes = LIVE_BYTES.load(Ordering::SeqCst) - before;
            COUNTING.store(false, Ordering::SeqCst);
            r.clear();
            bytes as f64 / M as f64
        };
        report("memory_fn", "memory per pending registration, fn item", measure(&|r| drop(r.register(noop))), "bytes");
        report(
            "memory_closure",
            "memory per pending registration, closure capturing a u64",
            measure(&|r| {
                let x = black_box(7u64);
                drop(r.register(move || {
                    black_box(x);
                }))
            }),
            "bytes",
        );
        report(
            "memory_named",
            "memory per pending registration, named with priority",
            measure(&|r| drop(Registration::new(noop).name("n").priority(1).register_in(r))),
            "bytes",
        );
    }

    #[cfg(unix)]
    if wanted("shutdown_waiters") {
        use std::future::Future;
        use std::task::{Context, Wake, Waker};
        struct Noop;
        impl Wake for Noop {
            fn wake(self: Arc<Self>) {}
        }
        // As a job runner's tasks do: each polls the shutdown future once,
        // with a waker of its own, then is dropped (its job done).
        let shutdown = atexit::signals::Shutdown::new();
        let poll_once = || {
            let waker = Waker::from(Arc::new(Noop));
            let mut future = std::pin::pin!(shutdown.requested_async());
            black_box(future.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        };
        let batch = |n: usize| {
            let start = Instant::now();
            (0..n).for_each(|_| poll_once());
            start.elapsed().as_nanos() as f64 / n as f64
        };
        COUNTING.store(true, Ordering::SeqCst);
        let live = LIVE_BYTES.load(Ordering::SeqCst);
        let first = batch(10_000);
        batch(180_000);
        let last = batch(10_000);
        let left = LIVE_BYTES.load(Ordering::SeqCst) - live;
        COUNTING.store(false, Ordering::SeqCst);
        report("shutdown_first", "Shutdown::requested_async, poll once, drop: first 10,000", first, "ns/op");
        report("shutdown_last", "  the same, after 190,000 more", last, "ns/op");
        report("shutdown_left", "  memory left once all 200,000 are dropped", left as f64, "bytes");
    }

    // Last: a time limit makes every later run of this process watch.
    if wanted("run_watched") {
        atexit::set_handler_time_limit(Duration::from_secs(3600));
        let ns = run_ns(|| drop(atexit::register(noop)), || atexit::run_exitfuncs().unwrap());
        report("run_watched", "run 1,000,000 no-op handlers, each with a time limit, per handler", ns, "ns/handler");
    }
}
