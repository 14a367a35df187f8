//! The exit state: all the process knows of its exit, in one place.
//!
//! - who acts for the run of the process registry going on: the thread
//!   that holds its *lease* (see `run.rs`), and which thread of ours runs
//!   which handler;
//! - the runs started and finished, what the holder of the lease does when
//!   no handler is left, and each run's last panic;
//! - why and with what status the process exits (`reason.rs` names them);
//! - whether `#[atexit::main]`'s run awaits handlers on the application's
//!   runtime, and whether that runtime stalled;
//! - when the exit began: the deadline's clock;
//! - whether this process is a child `fork()`ed while its parent exited;
//! - the shutdown request of graceful signals (`shutdown.rs` reads it).
//!
//! A word that a hot path or a signal handler reads is an atomic; the rest
//! is behind one lock, which `fork()` holds across. Whatever changes what a
//! thread may wait for notifies [`CHANGED`], the one thing the runtime's
//! waits block on. A `fork()`ed child resets it in [`forked`], called by the
//! child's fork callback before anything else runs there.

use std::borrow::Cow;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::lock::{ForkLock, Guard, Lock};
use crate::panic::{HandlerPanic, drop_quietly};
use crate::reason::{Ending, ExitReason};
use crate::wait::Event;

/// What the holder of the lease does when no handler is left, innermost last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Then {
    /// Finish run number `run`; `ender` says who then ends the process.
    Finish { run: u64, ender: Ender },
    /// Hand the lease back to the thread that holds this one, which waits.
    Return(u64),
}

/// Who ends the process once a run finishes (if the exit decided how).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ender {
    /// The thread that started the run, which waits for it elsewhere.
    Starter,
    /// The thread that started the run, which runs the handlers itself; if
    /// a handler leaves it behind, the continuation that finishes the run.
    StarterOrItsContinuation,
    /// Whichever thread finishes the run: the one that started it is not
    /// in this process (a `fork()`ed child).
    Finisher,
}

/// The deadline's clock.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Clock {
    /// The process has not begun to exit.
    NotStarted,
    /// The process began to exit then: a deadline, set before or during the
    /// exit, counts from there.
    Since(std::time::Instant),
    /// A child `fork()`ed during its parent's exit, or a shared library's
    /// copy of the runtime: no deadline.
    Off,
}

/// The handler a thread of ours runs now, for the run, as `lease`.
pub(crate) struct Running {
    pub(crate) tid: i32,
    pub(crate) lease: u64,
    /// `None` on a thread not started here: its run's handlers are not
    /// told apart (that would cost every handler of `run_exitfuncs`).
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))] // read on Linux
    pub(crate) name: Option<Cow<'static, str>>,
    #[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))] // read on Linux
    pub(crate) started: std::time::Instant,
}

/// What is behind the lock.
pub(crate) struct Locked {
    pub(crate) then: Vec<Then>,
    /// The last panic of a run (by its number), from whichever thread ran
    /// the handler, for the thread that started it.
    pub(crate) last: Option<(u64, HandlerPanic)>,
    pub(crate) running: Option<Running>,
    reason: Option<ExitReason>,
    /// The status the process ends with, where known: `None` for a signal
    /// (the process dies of it) and for C's `exit` where libc does not say.
    status: Option<i32>,
    /// The reason of an explicit run going on now.
    explicit: Option<ExitReason>,
    clock: Clock,
}

struct ExitState {
    /// The lease acting for the run now; 0 when no run is going on.
    lease: AtomicU64,
    last_lease: AtomicU64,
    started: AtomicU64,
    finished: AtomicU64,
    /// Set when the exit begins: a registration from a thread that does
    /// not act for the run is turned away from then on.
    begun: AtomicBool,
    /// Set while `#[atexit::main]`'s async run awaits handlers on the
    /// application's runtime; `stalled` once a thread of that runtime
    /// blocked in an exit of its own, which stops the runtime's timers.
    awaiting: AtomicBool,
    stalled: AtomicBool,
    forked_from_an_exit: AtomicBool,
    /// The process it was made in (high half; the signal handler may read
    /// it in a child before its fork callback runs) and its cause (low
    /// half, encoded by `shutdown.rs`; 0: none).
    #[cfg_attr(not(all(any(unix, windows), feature = "signals")), allow(dead_code))]
    shutdown_request: AtomicU64,
    locked: Lock<Locked>,
}

static EXIT: ExitState = ExitState {
    lease: AtomicU64::new(0),
    last_lease: AtomicU64::new(0),
    started: AtomicU64::new(0),
    finished: AtomicU64::new(0),
    begun: AtomicBool::new(false),
    awaiting: AtomicBool::new(false),
    stalled: AtomicBool::new(false),
    forked_from_an_exit: AtomicBool::new(false),
    shutdown_request: AtomicU64::new(0),
    locked: Lock::new(Locked {
        then: Vec::new(),
        last: None,
        running: None,
        reason: None,
        status: None,
        explicit: None,
        clock: Clock::NotStarted,
    }),
};

/// Notified whenever a thread may be waiting for what changed.
pub(crate) static CHANGED: Event = Event::new();

thread_local! {
    // The lease this thread holds, if any. `const` and without destructor:
    // usable while the thread's thread-locals are torn down.
    static ACTING: Cell<u64> = const { Cell::new(0) };
}

/// The state behind the lock.
pub(crate) fn locked() -> Guard<'static, Locked> {
    EXIT.locked.lock()
}

/// The lock `fork()` holds across (see `fork.rs`).
#[cfg_attr(any(not(unix), miri), allow(dead_code))] // fork: Unix only, not under Miri
pub(crate) fn fork_lock() -> &'static dyn ForkLock {
    &EXIT.locked
}

// Who acts for the run.

/// The lease acting for the run now (0: no run).
#[inline]
pub(crate) fn lease() -> u64 {
    EXIT.lease.load(Ordering::Acquire)
}

/// Moves the run from lease `from` to lease `to`, if `from` still holds it.
pub(crate) fn pass_lease(from: u64, to: u64) -> bool {
    let passed = EXIT.lease.compare_exchange(from, to, Ordering::AcqRel, Ordering::Relaxed).is_ok();
    if passed {
        CHANGED.notify();
    }
    passed
}

/// Gives the run to lease `to` (0: the run is over).
pub(crate) fn set_lease(to: u64) {
    EXIT.lease.store(to, Ordering::Release);
    CHANGED.notify();
}

/// A lease no thread held before.
pub(crate) fn new_lease() -> u64 {
    EXIT.last_lease.fetch_add(1, Ordering::Relaxed) + 1
}

/// Whether the calling thread acts for the run going on.
#[inline]
pub(crate) fn acts_for_run() -> bool {
    let lease = ACTING.with(Cell::get);
    lease != 0 && lease == EXIT.lease.load(Ordering::Acquire)
}

/// The lease the calling thread holds (0: none).
pub(crate) fn held_lease() -> u64 {
    ACTING.with(Cell::get)
}

/// Makes the calling thread hold `lease` (0: none); returns the one it held.
pub(crate) fn hold_lease(lease: u64) -> u64 {
    ACTING.with(|a| a.replace(lease))
}

/// Whether a run of the process registry's handlers is going on (at exit,
/// or an explicit `run_exitfuncs`), on any thread.
#[inline]
pub(crate) fn run_going_on() -> bool {
    EXIT.lease.load(Ordering::Acquire) != 0
}

// The runs.

/// A new run, with what finishes it: its number.
pub(crate) fn start_run(ender: Ender) -> u64 {
    let run = EXIT.started.fetch_add(1, Ordering::Relaxed) + 1;
    locked().then.push(Then::Finish { run, ender });
    run
}

/// The number of the last run started.
pub(crate) fn last_run() -> u64 {
    EXIT.started.load(Ordering::Relaxed)
}

/// Whether run number `run` has finished.
pub(crate) fn finished(run: u64) -> bool {
    EXIT.finished.load(Ordering::Acquire) >= run
}

/// No handler is left: the holder of `lease`, if it still holds it, does
/// what is next (and returns it).
pub(crate) fn finish_turn(lease: u64) -> Option<Then> {
    if self::lease() != lease {
        return None;
    }
    let then = locked().then.pop();
    // Outside the lock: the lease's change wakes the waiters, which take it.
    match then {
        Some(Then::Return(to)) => set_lease(to),
        Some(Then::Finish { run, .. }) => {
            // Stored before the lease is given up, which notifies.
            EXIT.finished.store(run, Ordering::Release);
            set_lease(0);
        }
        None => set_lease(0),
    }
    then
}

/// The last panic of run number `run`, kept for the thread that waits for it.
pub(crate) fn keep_last(run: u64, last: Option<HandlerPanic>) {
    if let Some(panic) = last {
        let previous = locked().last.replace((run, panic));
        if let Some((_, previous)) = previous {
            drop_quietly(previous);
        }
    }
}

/// The last panic of run number `run`, taken.
pub(crate) fn take_last(run: u64) -> Option<HandlerPanic> {
    let last = locked().last.take();
    match last {
        Some((of, panic)) if of == run => Some(panic),
        Some((_, stale)) => {
            drop_quietly(stale);
            None
        }
        None => None,
    }
}

/// `#[atexit::main]`'s async run begins (`true`) or ends awaiting handlers
/// on the application's runtime.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) fn set_awaiting(awaiting: bool) {
    if awaiting {
        EXIT.stalled.store(false, Ordering::SeqCst);
    }
    EXIT.awaiting.store(awaiting, Ordering::SeqCst);
}

/// A thread that may be one of the application's runtime's calls an exit
/// while the async run awaits there: whether this is the first such, which
/// stalls the runtime.
pub(crate) fn stall() -> bool {
    EXIT.awaiting.load(Ordering::SeqCst) && !EXIT.stalled.swap(true, Ordering::SeqCst)
}

/// Whether the application's runtime stalled (see [`stall`]).
pub(crate) fn stalled() -> bool {
    EXIT.stalled.load(Ordering::SeqCst)
}

// Why and how the process exits.

impl ExitReason {
    /// Whether this is a call that names a status (`exit`), rather than
    /// `main` ending or a signal.
    fn is_exit_call(self) -> bool {
        matches!(self, ExitReason::Exit(_) | ExitReason::ProcessExit(_))
    }
}

/// An exit begins, or is asked for during one, for `reason` and with
/// `status`. The first one decides how the process ends, with two
/// exceptions: a handler of the run (`by_handler`) that calls an exit
/// asks for its status, and an exit call made while `main`'s end or a
/// signal runs the handlers decides the status, as a call that cannot be
/// refused. Another exit racing the first changes nothing: the handlers
/// read what the process ends with.
pub(crate) fn begin(reason: ExitReason, status: Option<i32>, by_handler: bool) {
    EXIT.begun.store(true, Ordering::SeqCst);
    let mut exiting = locked();
    let replaces = match exiting.reason {
        None => true,
        Some(first) => reason.is_exit_call() && (by_handler || !first.is_exit_call()),
    };
    if replaces {
        exiting.reason = Some(reason);
        exiting.status = status;
    }
}

/// A handler decides how the process ends (`exit(n)`, or dying of the
/// signal that asked for shutdown): the last such call wins.
pub(crate) fn decide(reason: ExitReason, status: Option<i32>) {
    EXIT.begun.store(true, Ordering::SeqCst);
    let mut exiting = locked();
    exiting.reason = Some(reason);
    exiting.status = status;
}

/// Whether the process has begun to exit.
#[inline]
pub(crate) fn has_begun() -> bool {
    EXIT.begun.load(Ordering::SeqCst)
}

/// How the process ends, as the exit decided (`None` before one began, or
/// for C's `exit` where libc does not say its status).
pub(crate) fn ending() -> Option<Ending> {
    let exiting = locked();
    match (exiting.reason?, exiting.status) {
        (ExitReason::Signal(signal), _) => Some(Ending::Signal(signal)),
        (_, Some(code)) => Some(Ending::Status(code)),
        (_, None) => None,
    }
}

/// An explicit run starts (`Some`) or ends (`None`).
pub(crate) fn explicit_run(reason: Option<ExitReason>) {
    locked().explicit = reason;
}

/// Why the handlers are running, for a handler to read: `None` when no run
/// is going on.
///
/// What it says is how the process will end: once a handler calls
/// [`exit(n)`](crate::exit), later handlers read `Exit(n)`, the status the
/// process then ends with.
///
/// ```
/// # extern crate atexit_core as atexit;
/// use atexit::ExitReason;
///
/// atexit::register(|| match atexit::exit_reason() {
///     Some(ExitReason::Signal(signal)) => eprintln!("stopped by {signal:?}"),
///     Some(ExitReason::ProcessExit(Some(code))) if code != 0 => eprintln!("failing with {code}"),
///     _ => {}
/// });
/// # atexit::clear();
/// ```
pub fn exit_reason() -> Option<ExitReason> {
    let exiting = locked();
    exiting.reason.or(exiting.explicit)
}

/// Whether the process is exiting: from the moment an exit begins (`main`
/// returning, `std::process::exit`, [`exit`](crate::exit), a handled signal,
/// a handler's `exit` inside an explicit run) to its end. An explicit
/// [`run_exitfuncs`](crate::run_exitfuncs) is no exit: while it runs, this
/// is `false` (a handler tells the two apart with
/// [`exit_reason`], which says `RunExitfuncs` there).
///
/// ```
/// # extern crate atexit_core as atexit;
/// atexit::register(|| println!("exiting: {}", atexit::is_exiting()));
/// assert!(!atexit::is_exiting());
/// atexit::run_exitfuncs()?; // prints "exiting: false"
/// # Ok::<(), atexit::HandlerPanic>(())
/// ```
pub fn is_exiting() -> bool {
    has_begun()
}

/// The process begins to exit: the deadline's clock starts, unless it has
/// (or is off). The clock, if this call started it.
pub(crate) fn start_clock() -> Option<Clock> {
    let mut state = locked();
    if !matches!(state.clock, Clock::NotStarted) {
        return None;
    }
    state.clock = Clock::Since(std::time::Instant::now());
    Some(state.clock)
}

/// This copy of the runtime never has a deadline (see `watch::no_deadline`).
pub(crate) fn stop_clock() {
    locked().clock = Clock::Off;
}

/// Where a deadline counts from.
pub(crate) fn clock() -> Clock {
    locked().clock
}

/// Whether this process is a child `fork()`ed while its parent was exiting
/// (see `last_words::exit_process`).
pub(crate) fn forked_from_an_exit() -> bool {
    EXIT.forked_from_an_exit.load(Ordering::SeqCst)
}

/// The shutdown request's word (see `shutdown.rs`).
#[cfg_attr(not(all(any(unix, windows), feature = "signals")), allow(dead_code))]
pub(crate) fn shutdown_request() -> &'static AtomicU64 {
    &EXIT.shutdown_request
}

/// In a `fork()`ed child, whose one thread is the one that forked, before
/// anything else runs there but signal handlers. If that thread acted for
/// the run going on (however: running a handler, an async handler's
/// future, or left behind in one), the run goes on from it, and whoever
/// finishes it ends the child as the exit would have; its exit is its
/// parent's. Otherwise no run goes on there, and the child is not exiting.
#[cfg_attr(any(not(unix), miri), allow(dead_code))] // fork: Unix only, not under Miri
pub(crate) fn forked() {
    let held = held_lease();
    let goes_on = lease() != 0 && held != 0;
    EXIT.forked_from_an_exit.store(has_begun(), Ordering::SeqCst);
    EXIT.awaiting.store(false, Ordering::SeqCst);
    let mut state = locked();
    state.then.clear();
    state.running = None;
    // A child that goes on with its parent's exit has no deadline; one that
    // is not exiting starts its clock when it exits.
    if let Clock::Since(_) = state.clock {
        state.clock = if goes_on { Clock::Off } else { Clock::NotStarted };
    }
    if goes_on {
        EXIT.lease.store(held, Ordering::Release);
        state.then.push(Then::Finish { run: last_run(), ender: Ender::Finisher });
    } else {
        EXIT.lease.store(0, Ordering::Release);
        EXIT.finished.store(last_run(), Ordering::Release);
        EXIT.begun.store(false, Ordering::SeqCst);
        (state.reason, state.status, state.explicit) = (None, None, None);
    }
}
