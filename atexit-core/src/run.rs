//! The run of the process registry: one at a time, and the threads that act
//! for it.
//!
//! A run (the exit's, or an explicit `run_exitfuncs`) takes the handlers out
//! one by one and calls each. Its rights belong to the run, not to a thread:
//! the thread that holds the run's *lease* acts for it, and only that
//! thread. What it does counts for the run: a handler it runs may register
//! (the new handler runs next), call `exit(n)` (the status becomes `n`),
//! or start a nested run (it goes on from there). The lease moves when
//! the run goes on from another thread:
//! - **a fresh thread**, for the whole run, when the exiting thread's
//!   thread-locals are gone (C's `exit` destroys them before its hooks run);
//! - **a runtime thread**, for the time an async handler runs there;
//! - **a continuation**, when a handler overruns its time limit while
//!   blocking the thread that held the lease: that thread is left behind
//!   with its handler, no longer acting for the run, and the rest of the run
//!   goes on from a new thread.
//!
//! Whoever holds the lease when no handler is left finishes what the thread
//! that handed it over waits for: the run itself, or that thread's turn.

use std::borrow::Cow;
use std::time::Duration;

use crate::callback::{AsyncHandler, Callback};
use crate::exit_state::{self as state, Ender, Running, Then};
use crate::last_words::write_stderr_now;
use crate::panic::{HandlerPanic, drop_quietly};
use crate::process::PROCESS;
use crate::reason::Ending;
use crate::thread;
use crate::watch::{self, Ended, OnOverrun};

/// Where a run's handlers run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Place {
    /// On the calling thread, whose thread-locals are alive.
    Here,
    /// On a new thread: the calling thread's thread-locals are gone.
    Fresh,
    /// On the calling thread, each handler waited for, none watched: a
    /// shared library's copy of the runtime, run as it is unloaded (no
    /// code of it may run once the unloading returns).
    Unloading,
}

/// Runs the process registry's handlers, each once, until none is left,
/// and returns the last panic. Called by a thread that acts for a run (from
/// inside a handler), it goes on with that run.
pub(crate) fn run(place: Place) -> Result<(), HandlerPanic> {
    run_as(place, true)
}

/// [`run`] for an explicit `run_exitfuncs`: inside a handler, the thread
/// that called it goes on afterwards, and so does an async handler that
/// it awaits.
pub(crate) fn run_explicitly() -> Result<(), HandlerPanic> {
    run_as(Place::Here, false)
}

fn run_as(place: Place, exiting: bool) -> Result<(), HandlerPanic> {
    // Read here, so that a fresh thread need not read the environment.
    watch::settle();
    let result = if state::acts_for_run() { go_on(place, exiting) } else { start(place) };
    result.map_or(Ok(()), Err)
}

/// Takes the lease of a new run, once no other run is going on, and says
/// who ends the process after it. Returns the lease and the run's number.
/// `place` is the caller's: a thread whose thread-locals are gone (C's
/// `exit`) cannot tell whether it is one of a runtime's.
pub(crate) fn claim(ender: Ender, place: Place) -> (u64, u64) {
    let lease = state::new_lease();
    if !state::pass_lease(0, lease) {
        let may_be_the_runtimes = place == Place::Fresh || crate::thread::in_a_runtime();
        if may_be_the_runtimes && state::stall() {
            // This thread may be one of the runtime's, which its exit now
            // blocks: what the run awaits there may never come.
            watch::drop_awaited("a thread of its runtime called exit, which stops the runtime");
        }
        wait_for_the_run(|| state::pass_lease(0, lease));
    }
    (lease, state::start_run(ender))
}

/// The end of a run for the thread that started it: once it is finished
/// (by this thread or another), its last panic.
pub(crate) fn outcome(run: u64) -> Option<HandlerPanic> {
    wait_until(|| state::finished(run));
    state::take_last(run)
}

/// A new run: waits for one that another thread is in, then runs.
fn start(place: Place) -> Option<HandlerPanic> {
    let fresh = place == Place::Fresh && PROCESS.len() > 0;
    let (lease, run) = claim(if fresh { Ender::Starter } else { Ender::StarterOrItsContinuation }, place);
    if fresh {
        hand_over(lease);
    } else {
        let previous = state::hold_lease(lease);
        // Another thread's exit waiting for this run looks whether it is
        // parked in the standard library's exit: which thread it runs on
        // (the handlers are not told apart there; a thread of ours says).
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let (last, done) = match thread::ours().is_none().then(thread::tid).flatten() {
            Some(tid) => running_as(tid, lease, None, || drain_all(lease, place)),
            None => drain_all(lease, place),
        };
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let (last, done) = drain_all(lease, place);
        state::hold_lease(previous);
        state::keep_last(run, last);
        if done {
            finish(lease, false);
        }
    }
    outcome(run)
}

/// Inside a handler of the run: the rest runs now, from here, or from a
/// fresh thread if this one's thread-locals are gone.
fn go_on(place: Place, exiting: bool) -> Option<HandlerPanic> {
    let lease = state::held_lease();
    if exiting {
        // An async handler this thread awaits will not be polled again.
        watch::drop_awaited("the thread awaiting it called exit");
    }
    if place == Place::Fresh {
        if PROCESS.len() == 0 {
            return None;
        }
        state::locked().then.push(Then::Return(lease));
        hand_over(lease);
        return None;
    }
    // Left behind meanwhile, its panics were reported; the run goes on
    // without them.
    let (last, done) = drain_all(lease, place);
    last.filter(|_| done)
}

/// Hands the lease over to a fresh thread, which drains and then does what
/// the exit state's `then` says, and waits until the run is done with this thread's
/// turn: its lease back, or the run finished.
fn hand_over(lease: u64) {
    let fresh = state::new_lease();
    state::set_lease(fresh);
    if let Err(e) = thread::spawn(&FRESH) {
        write_stderr_now(&format!("atexit: the handlers run on the exiting thread: no thread: {e}\n"));
        drain_then(fresh, false);
    }
    let run = state::last_run();
    wait_for_the_run(|| state::lease() == lease || state::finished(run));
}

/// Blocks, as [`wait_until`], until `done`, which waits for a run on
/// another thread. A handler there that calls `std::process::exit` is
/// parked for ever by the standard library (this thread, or another,
/// exits): nothing notifies that, so on Linux this thread looks now and
/// then, and the run goes on without it.
fn wait_for_the_run(done: impl FnMut() -> bool) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let mut done = done;
        while !state::CHANGED.wait_until_for(PARK_CHECK, &mut done) {
            go_on_without_a_parked_handler();
        }
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    wait_until(done);
}

/// How often the exiting thread looks whether the handler running on a
/// thread of ours is parked in the standard library's exit.
#[cfg(any(target_os = "linux", target_os = "android"))]
const PARK_CHECK: Duration = Duration::from_millis(250);

/// How long the rest of the exit has, once a handler was found parked in
/// the standard library's exit, if no deadline is set: what the parked
/// thread holds (stdout's lock, say) can block the others for ever.
#[cfg(any(target_os = "linux", target_os = "android"))]
const PARKED_GRACE: Duration = Duration::from_secs(2);

/// Runs `f`, the handler `name`, as `lease`: recorded while it runs if
/// this is a thread of ours.
#[inline]
pub(crate) fn running<R>(lease: u64, name: impl FnOnce() -> Cow<'static, str>, f: impl FnOnce() -> R) -> R {
    match thread::ours() {
        Some(tid) => running_as(tid, lease, Some(name()), f),
        None => f(),
    }
}

/// [`running`] on thread `tid`.
fn running_as<R>(tid: i32, lease: u64, name: Option<Cow<'static, str>>, f: impl FnOnce() -> R) -> R {
    let running = Running { tid, lease, name, started: std::time::Instant::now() };
    let previous = state::locked().running.replace(running);
    drop(previous);
    let result = f();
    let mine = state::locked().running.take_if(|r| r.lease == lease && r.tid == tid);
    drop(mine);
    result
}

/// If the handler running for the run on a thread of ours is parked in the
/// standard library's exit, it is named and left behind, and the run goes
/// on from a new thread (or, with none, from this one).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn go_on_without_a_parked_handler() {
    let parked = state::locked().running.as_ref().map(|r| (r.tid, r.lease, r.name.clone(), r.started));
    let Some((tid, held, name, started)) = parked else { return };
    if state::lease() != held || !thread::parked_in_exit(tid) {
        return;
    }
    let who =
        name.as_ref().map_or_else(|| "a handler of another thread's run".into(), |name| format!("handler `{name}`"));
    write_stderr_now(&format!(
        "atexit: {who} called std::process::exit while the process exits, which the standard library \
         answers by parking it for ever; it is left behind and the other handlers run, for {:?} at most \
         unless a deadline is set (to end the process from a handler, call atexit::exit)\n",
        PARKED_GRACE
    ));
    if let Some(name) = &name {
        watch::trace(name, "left behind (parked in std::process::exit)", started.elapsed());
    }
    watch::abandon(held);
    // What it holds (stdout's lock, say) may block the others for ever.
    watch::bound_the_rest(PARKED_GRACE);
    start_watchdog_if_wanted();
    if let Err(e) = move_on(held) {
        write_stderr_now(&format!("atexit: the other handlers run on the exiting thread: no thread: {e}\n"));
        let here = state::new_lease();
        if state::pass_lease(held, here) {
            drain_then(here, true);
        }
    }
}

/// The fresh thread of [`hand_over`], and a continuation of [`move_on`].
/// Each holds the lease it was started for: nothing moves the lease between
/// the start and the first handler, so each reads it, rather than be given
/// it in an allocation of the starting thread (see [`thread::Plain`]).
static FRESH: thread::Plain = thread::Plain { name: c"atexit-run", run: || drain_then(state::lease(), false) };
static CONTINUATION: thread::Plain = thread::Plain { name: c"atexit-run", run: || drain_then(state::lease(), true) };

/// Drains as `lease` on this thread, then, if it still holds the lease,
/// does what is next. A continuation (`moved_on`) finishing a run whose
/// starter was left behind ends the process as the exit would have, and
/// so does whoever finishes the run in a `fork()`ed child.
pub(crate) fn drain_then(lease: u64, moved_on: bool) {
    state::hold_lease(lease);
    let run = state::last_run();
    let (last, done) = drain_all(lease, Place::Here);
    state::keep_last(run, last);
    if !done {
        return;
    }
    finish(lease, moved_on);
}

/// No handler is left: the holder of `lease`, if it still holds it, does
/// what is next. If that finishes a run whose ender it is (in a `fork()`ed
/// child; a continuation whose run's starter was left behind), it ends the
/// process as the exit would have.
pub(crate) fn finish(lease: u64, moved_on: bool) {
    match state::finish_turn(lease) {
        Some(Then::Finish { ender: Ender::Finisher, .. }) => end_as_the_exit_would(),
        Some(Then::Finish { ender: Ender::StarterOrItsContinuation, .. }) if moved_on => end_as_the_exit_would(),
        _ => {}
    }
}

/// The run has finished on a thread that nobody waits for: the one that
/// started it was left behind in a handler, or this is a `fork()`ed child
/// where it does not exist. The process ends now, as that thread would
/// have ended it. (Not after an explicit run: its caller returns when its
/// handler does.)
fn end_as_the_exit_would() {
    match state::ending() {
        Some(Ending::Signal(signal)) => crate::last_words::die_of_signal(signal),
        Some(Ending::Status(code)) => crate::last_words::exit_process(code, state::forked_from_an_exit()),
        None => {}
    }
}

/// Where a drain stopped.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) enum Drained {
    /// No handler is left.
    Done,
    /// The run went on without this thread.
    Moved,
    /// At an async handler, which the caller awaits in its place
    /// (`#[atexit::main]`'s async run: see `asynchronous.rs`).
    Async(Box<dyn AsyncHandler>),
}

/// Calls handlers while this thread holds `lease`, until none is left or
/// the run goes on without this thread, or, if the caller `awaits` them
/// (and its runtime did not stall), at an async handler. Returns the last
/// panic, and where it stopped.
pub(crate) fn drain(lease: u64, place: Place, awaits: bool) -> (Option<HandlerPanic>, Drained) {
    let mut last = None;
    let mut with_statics = true;
    // Whether this is a thread of ours, whose handlers are recorded (see
    // `go_on_without_a_parked_handler`): asked once, not per handler.
    let ours = thread::ours().is_some();
    while state::lease() == lease {
        let Some(callback) = PROCESS.pop(std::mem::take(&mut with_statics)) else {
            return (last, Drained::Done);
        };
        // An async handler makes runs watch (`watch::watching`).
        let result = if watch::watching() {
            let called = match callback.into_async() {
                Ok(handler) if awaits && !state::stalled() => return (last, Drained::Async(handler)),
                Ok(handler) => handler.run_in(lease, place == Place::Unloading),
                Err(callback) => call(callback, lease, place),
            };
            match called {
                Some(result) => result,
                None => break,
            }
        } else if ours {
            let name = callback.name();
            running(lease, || name, || callback.run())
        } else {
            callback.run()
        };
        if let Err(panic) = result {
            record(&mut last, panic);
        }
    }
    (last, Drained::Moved)
}

/// Drains (see [`drain`]) to the end, or until the run goes on without
/// this thread: whether it got to the end.
fn drain_all(lease: u64, place: Place) -> (Option<HandlerPanic>, bool) {
    let (last, drained) = drain(lease, place, false);
    (last, matches!(drained, Drained::Done))
}

/// A handler's panic: reported, and the last one kept.
#[cold]
pub(crate) fn record(last: &mut Option<HandlerPanic>, panic: HandlerPanic) {
    if panic.is_exit_request() {
        drop_quietly(panic);
        return;
    }
    panic.report();
    if let Some(previous) = last.replace(panic) {
        drop_quietly(previous);
    }
}

pub(crate) fn ended(result: &Result<(), HandlerPanic>) -> Ended {
    match result {
        Ok(()) => Ended::Ok,
        Err(panic) if panic.is_exit_request() => Ended::CalledExit,
        Err(_) => Ended::Panicked,
    }
}

/// Calls one handler for the run, as `lease`, watched. `None` when the run
/// went on without this thread meanwhile (the handler overran its limit).
#[inline(never)]
fn call(callback: Callback, lease: u64, place: Place) -> Option<Result<(), HandlerPanic>> {
    let limit = match place {
        Place::Unloading => None,
        _ => callback.time_limit().or_else(watch::default_limit),
    };
    let name = callback.name();
    let ticket = open(|| name.clone(), limit, OnOverrun::MoveOn, lease);
    let result = running(lease, || name, || callback.run());
    // Left behind, and the run went on without this thread meanwhile (with
    // no thread to go on from, it waited for this one).
    if watch::close(ticket, ended(&result)) && state::lease() != lease {
        // A panic still says whose it was.
        if let Err(panic) = result {
            record(&mut None, panic);
        }
        return None;
    }
    Some(result)
}

/// The holder of `from` is left behind in a handler: the run goes on from
/// a new thread, or, if none can start, the lease goes back to `from`.
fn move_on(from: u64) -> std::io::Result<()> {
    let to = state::new_lease();
    if !state::pass_lease(from, to) {
        return Ok(());
    }
    thread::spawn(&CONTINUATION).inspect_err(|_| {
        state::pass_lease(to, from);
    })
}

/// Opens the watch ticket of a handler that runs as `lease` (see
/// `watch::open`), and starts the watchdog if it needs one.
pub(crate) fn open(
    name: impl FnOnce() -> Cow<'static, str>,
    limit: Option<Duration>,
    on_overrun: OnOverrun,
    lease: u64,
) -> watch::Ticket {
    let ticket = watch::open(name, limit, on_overrun, lease);
    start_watchdog_if_wanted();
    ticket
}

/// Starts the watchdog if something needs it and none runs.
pub(crate) fn start_watchdog_if_wanted() {
    static WATCHDOG: thread::Plain = thread::Plain { name: c"atexit-watchdog", run: watchdog };
    if watch::watchdog_to_start() {
        if let Err(e) = thread::spawn(&WATCHDOG) {
            watch::watchdog_not_started();
            write_stderr_now(&format!("atexit: no time limit and no deadline: could not start a thread: {e}\n"));
        }
    }
}

/// The watchdog: one thread per process, which does what `watch::look`
/// finds due (and ends the process there when the deadline passes), then
/// sleeps until the next limit passes or it is woken.
fn watchdog() {
    let me = std::thread::current();
    loop {
        let (acts, next) = watch::look(&me);
        if acts.is_empty() {
            match next {
                Some(at) => std::thread::park_timeout(at.saturating_duration_since(std::time::Instant::now())),
                None => std::thread::park(),
            }
            continue;
        }
        for act in acts {
            match act {
                watch::Act::Wake(waker) => waker.wake(),
                watch::Act::GiveUp { name, limit, started, on_overrun, lease } => {
                    watch::left_behind(&name, limit, started);
                    match on_overrun {
                        // The thread that waits for it looks again.
                        OnOverrun::CancelOrTellTheWaiter => state::CHANGED.notify(),
                        OnOverrun::MoveOn | OnOverrun::CancelOrMoveOn => move_on_or_wait(lease),
                    }
                }
            }
        }
    }
}

/// From the watchdog: the holder of `from` overran its limit. With no
/// thread to go on from, the run waits for it to return (the watchdog
/// stays free for the deadline).
fn move_on_or_wait(from: u64) {
    if let Err(e) = move_on(from) {
        write_stderr_now(&format!("atexit: no thread for the other handlers ({e}): they run once it returns\n"));
    }
}

/// Blocks until `done`, which reads the exit state: whatever changes it
/// notifies [`state::CHANGED`].
pub(crate) fn wait_until(done: impl FnMut() -> bool) {
    state::CHANGED.wait_until(done);
}
