//! Who acts for the process registry's run: the thread that holds its
//! lease (see `run.rs`). Registrations made then are kept only from that
//! thread (`process.rs`); `exit` inside a handler counts only from there.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::wait::Event;

/// Notified whenever the run's state changes (the lease moves, a run
/// finishes, an async handler's outcome comes): what every thread that
/// waits for the run blocks on.
pub(crate) static CHANGED: Event = Event::new();

/// The lease that acts for the run now; 0 when no run is going on.
static LEASE: AtomicU64 = AtomicU64::new(0);
static LAST_LEASE: AtomicU64 = AtomicU64::new(0);
thread_local! {
    // The lease this thread holds, if any. `const` and without destructor:
    // usable while the thread's thread-locals are torn down.
    static ACTING: Cell<u64> = const { Cell::new(0) };
}

/// The lease acting for the run now (0: no run).
pub(crate) fn current() -> u64 {
    LEASE.load(Ordering::Acquire)
}

/// Moves the run from lease `from` to lease `to`, if `from` still holds it.
pub(crate) fn pass(from: u64, to: u64) -> bool {
    let passed = LEASE.compare_exchange(from, to, Ordering::AcqRel, Ordering::Relaxed).is_ok();
    if passed {
        CHANGED.notify();
    }
    passed
}

/// Gives the run to lease `to` (0: the run is over).
pub(crate) fn set(to: u64) {
    LEASE.store(to, Ordering::Release);
    CHANGED.notify();
}

/// A lease no thread held before.
pub(crate) fn new_lease() -> u64 {
    LAST_LEASE.fetch_add(1, Ordering::Relaxed) + 1
}

/// Whether the calling thread acts for the run going on.
pub(crate) fn acts_for_run() -> bool {
    let lease = ACTING.with(Cell::get);
    lease != 0 && lease == LEASE.load(Ordering::Acquire)
}

/// The lease the calling thread holds (0: none).
pub(crate) fn held() -> u64 {
    ACTING.with(Cell::get)
}

/// Makes the calling thread hold `lease` (0: none); returns the one it held.
pub(crate) fn hold(lease: u64) -> u64 {
    ACTING.with(|a| a.replace(lease))
}

/// Whether a run of the process registry's handlers is going on (at exit,
/// or an explicit `run_exitfuncs`), on any thread.
pub(crate) fn run_going_on() -> bool {
    LEASE.load(Ordering::Acquire) != 0
}
