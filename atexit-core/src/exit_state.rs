//! The exit state: all the process knows of its exit, in one place. Who acts for the run (the thread holding its
//! *lease*, see `run.rs`), the runs and their last panics, why and with what status the process exits, the async run on
//! the application's runtime, the deadline's clock, the handlers being watched and the watchdog (`watch.rs` acts on
//! them), the shutdown request (`shutdown.rs`).
//!
//! What a hot path or a signal handler reads is an atomic; the rest is behind one lock, which `fork()` holds across.
//! Whatever may end a wait notifies [`CHANGED`]. A `fork()`ed child resets it all in [`forked`].

use std::borrow::Cow;
use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::lock::{ForkLock, Guard, Lock};
use crate::panic::{HandlerPanic, drop_quietly};
use crate::reason::{Ending, ExitReason};
use crate::wait::Event;

/// What the holder of the lease does when no handler is left, innermost last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Then {
    /// Finish run number `run`; `ender` then ends the process.
    Finish { run: u64, ender: Ender },
    /// Hand the lease back to the thread holding this one, which waits.
    Return(u64),
}

/// Who ends the process once a run finishes (if the exit decided how).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ender {
    /// The thread that started the run, waiting for it elsewhere.
    Starter,
    /// The thread that started the run and runs it; if a handler leaves it behind, the continuation that finishes the
    /// run.
    StarterOrItsContinuation,
    /// Whoever finishes the run: its starter is not in this process (a `fork()`ed child).
    Finisher,
}

/// The deadline's clock.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Clock {
    NotStarted,
    /// The exit began then: a deadline, set before or during it, counts from there.
    Since(Instant),
    /// No deadline: a child `fork()`ed during its parent's exit, or a shared library's copy of the runtime.
    Off,
}

/// The handler a thread of ours runs now, as `lease`.
pub(crate) struct Running {
    pub(crate) tid: i32,
    pub(crate) lease: u64,
    /// `None` on a thread not started here: its run's handlers are not told apart (that would cost every handler of
    /// `run_exitfuncs`).
    pub(crate) name: Option<Cow<'static, str>>,
    pub(crate) started: Instant,
}

/// What becomes of a watched handler, and its run, when it overruns.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnOverrun {
    /// It blocks the thread the run goes on from: left there, and the run goes on elsewhere at once.
    MoveOn,
    /// An awaited async handler: woken to be dropped; as `MoveOn` if it is not back within `watch::CANCEL_GRACE`.
    CancelOrMoveOn,
    /// Waited for from another thread: woken to be dropped; if it is not back within the grace, given up, and the
    /// waiter is notified.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    CancelOrTellTheWaiter,
}

/// Where a watched handler stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Fate {
    Running,
    /// Over its time limit since then.
    Overran(Instant),
    /// Given up: a continuation is starting to take the run from its thread. Back before that (or with no thread to be
    /// had), its thread goes on with the run.
    GivingUp,
    /// Given up: its run went on without it.
    LeftBehind,
    /// An async handler dropped for another reason than its limit.
    Dropped,
}

/// A handler being watched (see `watch.rs`).
pub(crate) struct Watched {
    pub(crate) ticket: u64,
    pub(crate) name: Cow<'static, str>,
    pub(crate) started: Instant,
    pub(crate) limit: Duration,
    /// When its limit passes (`None`: no limit, or one too long to pass).
    pub(crate) until: Option<Instant>,
    pub(crate) on_overrun: OnOverrun,
    pub(crate) fate: Fate,
    pub(crate) waker: Option<Waker>,
    /// The lease it runs as: once it is given up the run goes on from another.
    pub(crate) lease: u64,
}

/// The watchdog of this process (a `fork()`ed child has none).
pub(crate) enum Watchdog {
    None,
    /// Needed: the next `watch::watchdog_to_start` starts it.
    Wanted,
    /// Started, not yet looking (it looks at everything when it does).
    Starting,
    /// Looking: unparked when there is something new to watch.
    Running(std::thread::Thread),
}

/// What is behind the lock.
pub(crate) struct Locked {
    pub(crate) then: Vec<Then>,
    /// The last panic of a run (by number), for the thread that started it.
    pub(crate) last: Option<(u64, HandlerPanic)>,
    pub(crate) running: Option<Running>,
    reason: Option<ExitReason>,
    /// `None` for a signal, and for C's `exit` where libc does not say.
    status: Option<i32>,
    /// The reason of an explicit run going on now.
    explicit: Option<ExitReason>,
    /// How the program asked to end once it exits normally (`exit::end_with`).
    asked: Option<Ending>,
    pub(crate) clock: Clock,
    /// Innermost last: a nested run's handler runs inside another's.
    pub(crate) watched: Vec<Watched>,
    pub(crate) last_ticket: u64,
    pub(crate) watchdog: Watchdog,
    /// The futures awaiting the shutdown request, by number (see `shutdown.rs`).
    #[cfg_attr(not(all(any(unix, windows), feature = "signals")), allow(dead_code))]
    pub(crate) shutdown_waiters: Option<HashMap<u64, Waker>>,
    #[cfg_attr(not(all(any(unix, windows), feature = "signals")), allow(dead_code))]
    pub(crate) last_waiter: u64,
}

struct ExitState {
    /// The lease acting for the run now; 0 when no run is going on.
    lease: AtomicU64,
    last_lease: AtomicU64,
    started: AtomicU64,
    finished: AtomicU64,
    /// From then on, a registration from a thread not acting for the run is turned away.
    begun: AtomicBool,
    /// While `#[atexit::main]`'s async run awaits handlers on the application's runtime; `stalled` once a thread of
    /// that runtime blocked in an exit of its own, which stops the runtime's timers.
    awaiting: AtomicBool,
    stalled: AtomicBool,
    /// Set when `#[atexit::main]` runs the handlers after the runtime its `main` blocked on is gone.
    runtime_gone: AtomicBool,
    forked_from_an_exit: AtomicBool,
    /// The process that made it (high half: the signal handler may read it in a child before its fork callback runs)
    /// and its cause (low half).
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
    runtime_gone: AtomicBool::new(false),
    forked_from_an_exit: AtomicBool::new(false),
    shutdown_request: AtomicU64::new(0),
    locked: Lock::new(Locked {
        then: Vec::new(),
        last: None,
        running: None,
        reason: None,
        status: None,
        explicit: None,
        asked: None,
        clock: Clock::NotStarted,
        watched: Vec::new(),
        last_ticket: 0,
        watchdog: Watchdog::None,
        shutdown_waiters: None,
        last_waiter: 0,
    }),
};

/// Notified whenever a thread may be waiting for what changed.
pub(crate) static CHANGED: Event = Event::new();

thread_local! {
    // The lease this thread holds, if any. `const` and without destructor: usable while the thread's thread-locals are
    // torn down.
    static ACTING: Cell<u64> = const { Cell::new(0) };
}

pub(crate) fn locked() -> Guard<'static, Locked> {
    EXIT.locked.lock()
}

#[cfg_attr(any(not(unix), miri), allow(dead_code))] // fork: Unix only, not under Miri
pub(crate) fn fork_lock() -> &'static dyn ForkLock {
    &EXIT.locked
}

/// The lease acting for the run now (0: no run).
#[inline]
pub(crate) fn lease() -> u64 {
    EXIT.lease.load(Ordering::Acquire)
}

/// Moves the run from lease `from` to `to`, if `from` still holds it.
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

pub(crate) fn new_lease() -> u64 {
    EXIT.last_lease.fetch_add(1, Ordering::Relaxed) + 1
}

/// Whether the calling thread acts for the run going on.
#[inline]
pub(crate) fn acts_for_run() -> bool {
    let lease = ACTING.with(Cell::get);
    lease != 0 && lease == EXIT.lease.load(Ordering::Acquire)
}

pub(crate) fn held_lease() -> u64 {
    ACTING.with(Cell::get)
}

/// Makes the calling thread hold `lease` (0: none); returns the one it held.
pub(crate) fn hold_lease(lease: u64) -> u64 {
    ACTING.with(|a| a.replace(lease))
}

/// Whether a run of the process registry is going on, on any thread.
#[inline]
pub(crate) fn run_going_on() -> bool {
    EXIT.lease.load(Ordering::Acquire) != 0
}

/// A new run, and what finishes it: its number.
pub(crate) fn start_run(ender: Ender) -> u64 {
    let run = EXIT.started.fetch_add(1, Ordering::Relaxed) + 1;
    locked().then.push(Then::Finish { run, ender });
    run
}

pub(crate) fn last_run() -> u64 {
    EXIT.started.load(Ordering::Relaxed)
}

pub(crate) fn finished(run: u64) -> bool {
    EXIT.finished.load(Ordering::Acquire) >= run
}

/// No handler is left: the holder of `lease`, if it still holds it, does what is next (and returns it).
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

/// Keeps the last panic of run number `run` for the thread that waits for it.
pub(crate) fn keep_last(run: u64, last: Option<HandlerPanic>) {
    if let Some(panic) = last {
        let previous = locked().last.replace((run, panic));
        if let Some((_, previous)) = previous {
            drop_quietly(previous);
        }
    }
}

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

/// `#[atexit::main]`'s async run begins (`true`) or ends awaiting handlers on the application's runtime.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) fn set_awaiting(awaiting: bool) {
    if awaiting {
        EXIT.stalled.store(false, Ordering::SeqCst);
    }
    EXIT.awaiting.store(awaiting, Ordering::SeqCst);
}

/// A thread that may be one of the application's runtime's calls an exit while the async run awaits there: whether it
/// is the first, which stalls the runtime.
pub(crate) fn stall() -> bool {
    EXIT.awaiting.load(Ordering::SeqCst) && !EXIT.stalled.swap(true, Ordering::SeqCst)
}

pub(crate) fn stalled() -> bool {
    EXIT.stalled.load(Ordering::SeqCst)
}

pub(crate) fn set_runtime_gone(gone: bool) {
    EXIT.runtime_gone.store(gone, Ordering::SeqCst);
}

/// Whether `#[atexit::main]` runs the handlers after its `main`'s runtime is gone; `true` once (it is said once).
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) fn runtime_gone_unsaid() -> bool {
    EXIT.runtime_gone.swap(false, Ordering::SeqCst)
}

impl ExitReason {
    /// A call that names a status, rather than `main` ending or a signal.
    fn is_exit_call(self) -> bool {
        matches!(self, ExitReason::Exit(_) | ExitReason::ProcessExit(_))
    }
}

/// An exit begins, or is asked for during one. The first decides how the process ends, except that an exit call decides
/// the status when made by a handler of the run (`by_handler`) or while `main`'s end or a signal runs the handlers (it
/// cannot be refused). Another exit racing the first changes nothing, so the handlers read what the process ends with.
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

/// A handler decides how the process ends: the last such call wins.
pub(crate) fn decide(reason: ExitReason, status: Option<i32>) {
    EXIT.begun.store(true, Ordering::SeqCst);
    let mut exiting = locked();
    exiting.reason = Some(reason);
    exiting.status = status;
}

#[inline]
pub(crate) fn has_begun() -> bool {
    EXIT.begun.load(Ordering::SeqCst)
}

/// How the process will end, for a handler to read: the status it exits with, or the signal it dies of. A handler's
/// [`exit(n)`](crate::exit) changes it for the handlers after it.
///
/// `None` while no exit is going on (an explicit [`run_exitfuncs`](crate::run_exitfuncs) that no handler ended), and
/// when the exit is C's `exit` (`main` returning without `#[atexit::main]`, `std::process::exit`) on a C library that
/// does not pass the status to exit hooks: glibc does; musl, macOS, the BSDs and Windows do not.
///
/// With [`exit_reason`] it says why and how: under `#[atexit::main]`, `main` returning `Err` is
/// `MainReturned` and `Status(1)`; after a graceful drain, the signal that asked is
/// [`signals::requested`](https://docs.rs/atexit/latest/atexit/signals/fn.requested.html) (feature `signals`).
///
/// ```
/// # extern crate atexit_core as atexit;
/// use atexit::Ending;
///
/// atexit::register(|| match atexit::ending() {
///     Some(Ending::Status(0)) | None => {}
///     Some(ending) => eprintln!("ending with {ending}: the work file is kept"),
/// });
/// # atexit::clear();
/// ```
pub fn ending() -> Option<Ending> {
    let exiting = locked();
    match (exiting.reason?, exiting.status) {
        (ExitReason::Signal(signal), _) => Some(Ending::Signal(signal)),
        (ExitReason::Exit(_), Some(code)) => Some(Ending::Status(code)),
        // `main` returning, C's `exit`, with success (or a status libc does not say): as the program asked, if it
        // did. A failure (a panic's 101, `main`'s `Err`) is not hidden.
        (_, Some(0) | None) => exiting.asked.or(exiting.status.map(Ending::Status)),
        (_, Some(code)) => Some(Ending::Status(code)),
    }
}

/// The program asks to end so once it exits normally (see `exit::end_with`).
pub(crate) fn ask(ending: Ending) {
    locked().asked = Some(ending);
}

/// Ends the process as the exit decided, `exit` ending it with a status and `die` of a signal; returns if the exit did
/// not decide.
pub(crate) fn end_as_decided(exit: fn(i32) -> !, die: fn(crate::reason::Signal) -> !) {
    match ending() {
        Some(Ending::Signal(signal)) => die(signal),
        Some(Ending::Status(code)) => exit(code),
        None => {}
    }
}

/// Exits with `code` through the exit functions left (see `last_words::exit_process`).
pub(crate) fn exit_process(code: i32) -> ! {
    crate::last_words::exit_process(code, forked_from_an_exit())
}

/// An explicit run starts (`Some`) or ends (`None`).
pub(crate) fn explicit_run(reason: Option<ExitReason>) {
    locked().explicit = reason;
}

/// Why the handlers are running, for a handler to read: `None` when no run is going on.
///
/// It says how the process will end: once a handler calls [`exit(n)`](crate::exit), later handlers read `Exit(n)`.
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

/// Whether the process is exiting: from the moment an exit begins (`main` returning, `std::process::exit`,
/// [`exit`](crate::exit), a handled signal, a handler's `exit` inside an explicit run) to its end. An explicit
/// [`run_exitfuncs`](crate::run_exitfuncs) is no exit: `false` while it runs (there [`exit_reason`] says
/// `RunExitfuncs`).
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

/// Whether this process is a child `fork()`ed while its parent was exiting.
pub(crate) fn forked_from_an_exit() -> bool {
    EXIT.forked_from_an_exit.load(Ordering::SeqCst)
}

#[cfg_attr(not(all(any(unix, windows), feature = "signals")), allow(dead_code))]
pub(crate) fn shutdown_request() -> &'static AtomicU64 {
    &EXIT.shutdown_request
}

/// In a `fork()`ed child, whose one thread is the one that forked, before anything else but signal handlers runs there.
/// If that thread acted for the run (running a handler, an async handler's future, or left behind in one), the run goes
/// on from it, and whoever finishes it ends the child as its parent's exit would have. Otherwise the child is not
/// exiting. The parent's watchdog and watched handlers are not the child's.
#[cfg_attr(any(not(unix), miri), allow(dead_code))] // fork: Unix only, not under Miri
pub(crate) fn forked() {
    let held = held_lease();
    let goes_on = lease() != 0 && held != 0;
    EXIT.forked_from_an_exit.store(has_begun(), Ordering::SeqCst);
    EXIT.awaiting.store(false, Ordering::SeqCst);
    let mut state = locked();
    state.then.clear();
    state.running = None;
    std::mem::forget(std::mem::replace(&mut state.watchdog, Watchdog::None));
    std::mem::forget(std::mem::take(&mut state.watched));
    // The parent's wakers belong to its threads and runtimes: leaked, not dropped.
    std::mem::forget(state.shutdown_waiters.take());
    // A child going on with its parent's exit has no deadline; one that is not exiting starts its clock when it exits.
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
        (state.reason, state.status, state.explicit, state.asked) = (None, None, None, None);
    }
}
