//! The run of the process registry: one at a time, and who acts for it.
//!
//! A run (the exit's, or an explicit `run_exitfuncs`) pops handlers one by one and calls each. Its rights belong to the
//! thread holding the run's *lease*: what a handler it runs does counts for the run (registering, `exit(n)`, a nested
//! run goes on with it). The lease moves to a fresh thread when the exiting thread's thread-locals are gone (C's
//! `exit`), to an async handler's thread while it runs, and to a continuation when a handler overruns its time limit
//! while blocking the holder (left behind there). Whoever holds it when no handler is left does what the exit state's
//! `Then` says.

use std::borrow::Cow;
use std::time::Duration;

use crate::callback::{AsyncHandler, Callback};
use crate::exit_state::{self as state, Ender, Running, Then};
use crate::last_words::write_stderr_now;
use crate::panic::{HandlerPanic, drop_quietly};
use crate::process::PROCESS;
use crate::thread;
use crate::watch::{self, Ended, OnOverrun};

/// Where a run's handlers run.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Place {
    /// On the calling thread, whose thread-locals are alive.
    Here,
    /// On a new thread: the calling thread's thread-locals are gone.
    Fresh,
    /// On the calling thread, nothing watched: a shared library being unloaded (none of its code may run once that
    /// returns).
    Unloading,
}

/// Runs the process registry's handlers until none is left; returns the last panic. From inside a handler of a run, it
/// goes on with that run, and when `exiting`, an async handler this thread awaits is dropped (from `run_exitfuncs`, it
/// goes on afterwards).
pub(crate) fn run(place: Place, exiting: bool) -> Result<(), HandlerPanic> {
    // Read here, so that a fresh thread need not read the environment.
    watch::settle();
    let result = if state::acts_for_run() { go_on(place, exiting) } else { start(place) };
    result.map_or(Ok(()), Err)
}

/// Takes the lease of a new run once no other is going on: the lease and the run's number. (With its thread-locals
/// gone, `Place::Fresh`, the caller cannot tell whether it is a runtime's thread.)
pub(crate) fn claim(ender: Ender, place: Place) -> (u64, u64) {
    let lease = state::new_lease();
    if !state::pass_lease(0, lease) {
        let may_be_the_runtimes = place == Place::Fresh || crate::thread::in_a_runtime();
        if may_be_the_runtimes && state::stall() {
            // Its exit blocks the runtime the run awaits on.
            watch::drop_awaited("a thread of its runtime called exit, which stops the runtime");
        }
        wait_for_the_run(|| state::pass_lease(0, lease));
    }
    (lease, state::start_run(ender))
}

/// Once run number `run` is finished (on any thread), its last panic.
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
        // For an exit waiting on this run to see a park in std's exit.
        let (last, done) = match thread::ours().is_none().then(thread::tid).flatten() {
            Some(tid) => running_as(tid, lease, None, || drain_all(lease, place)),
            None => drain_all(lease, place),
        };
        state::hold_lease(previous);
        state::keep_last(run, last);
        if done {
            finish(lease, false);
        }
    }
    outcome(run)
}

/// Inside a handler of the run: the rest runs now, here or on a fresh thread.
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
    // Left behind meanwhile, it still returns the last panic of the handlers it ran.
    drain_all(lease, place).0
}

/// Hands the lease to a fresh thread and waits for this thread's turn to end: its lease back, or the run finished.
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

/// [`wait_until`] for a run on another thread. A handler there that calls `std::process::exit` is parked for ever by
/// std while this process exits, which nothing notifies: on Linux this thread looks now and then.
fn wait_for_the_run(mut done: impl FnMut() -> bool) {
    while !state::CHANGED.wait_until_for(PARK_CHECK, &mut done) {
        go_on_without_a_parked_handler();
    }
}

const PARK_CHECK: Duration = Duration::from_millis(250);

/// What the rest of the exit has after a park, without a deadline: what the parked thread holds (stdout's lock, say)
/// can block the others.
const PARKED_GRACE: Duration = Duration::from_secs(2);

/// Runs `f`, the handler `name`, as `lease`: recorded on a thread of ours.
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

/// A handler of the run parked in std's exit is named and left behind; the run goes on from a new thread (or, with
/// none, from this one).
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
    watch::bound_the_rest(PARKED_GRACE);
    start_watchdog_if_wanted();
    if let Some(to) = watch::give_up_quietly(held) {
        continue_as(to, "the exiting thread");
    }
}

/// The run, given up by its holder, goes on as `to` from a new thread, or, with none to be had, from this one (`here`).
fn continue_as(to: u64, here: &str) {
    if let Err(e) = thread::spawn(&CONTINUATION) {
        write_stderr_now(&format!("atexit: the other handlers run on {here}: no thread: {e}\n"));
        drain_then(to, true);
    }
}

/// The fresh thread of [`hand_over`] and a continuation of [`continue_as`]. Each reads the lease it was started for
/// (nothing moves it meanwhile) rather than be given it in an allocation (see [`thread::Plain`]).
static FRESH: thread::Plain = thread::Plain { name: c"atexit-run", run: || drain_then(state::lease(), false) };
static CONTINUATION: thread::Plain = thread::Plain { name: c"atexit-run", run: || drain_then(state::lease(), true) };
/// The continuation after a handler's overrun: it takes the run from the handler's thread unless the handler came
/// back first (the lease moves only then, see [`watch::take_over`]).
static TAKE_OVER: thread::Plain = thread::Plain {
    name: c"atexit-run",
    run: || {
        if let Some(lease) = watch::take_over() {
            drain_then(lease, true);
        }
    },
};

/// Drains as `lease`, then does what is next (see [`finish`]).
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

/// No handler is left: the holder of `lease`, if it still holds it, does what is next; finishing a run whose ender it
/// is (a continuation, `moved_on`, whose starter was left behind; a `fork()`ed child), it ends the process as the exit
/// would have.
pub(crate) fn finish(lease: u64, moved_on: bool) {
    match state::finish_turn(lease) {
        Some(Then::Finish { ender: Ender::Finisher, .. }) => {
            state::end_as_decided(state::exit_process, crate::last_words::die_of_signal_flushed)
        }
        Some(Then::Finish { ender: Ender::StarterOrItsContinuation, .. }) if moved_on => {
            state::end_as_decided(state::exit_process, crate::last_words::die_of_signal_flushed)
        }
        _ => {}
    }
}

/// Where a drain stopped.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) enum Drained {
    /// No handler is left.
    Done,
    /// The run went on without this thread.
    Moved,
    /// At an async handler, for the caller to await (see `asynchronous.rs`).
    Async(Box<dyn AsyncHandler>),
}

/// Calls handlers while this thread holds `lease`, until none is left, the run goes on elsewhere, or (if the caller
/// `awaits` them and its runtime did not stall) at an async handler: the last panic, and where it stopped.
pub(crate) fn drain(lease: u64, place: Place, awaits: bool) -> (Option<HandlerPanic>, Drained) {
    let mut last = None;
    let mut with_statics = true;
    // Asked once: a thread of ours records each handler.
    let ours = thread::ours().is_some();
    while state::lease() == lease {
        // An async handler makes runs watch (`watch::watching`).
        let ticket = if watch::watching() {
            match watch::next(lease) {
                watch::Next::Take(ticket) => Some(ticket),
                watch::Next::Moved => break,
                watch::Next::GiveUp(given_up) => {
                    given_up.say();
                    continue_as(given_up.to, "the thread of the handler left behind");
                    break;
                }
            }
        } else {
            None
        };
        let Some(callback) = PROCESS.pop(std::mem::take(&mut with_statics)) else {
            if let Some(ticket) = ticket {
                watch::close_unused(ticket);
            }
            return (last, Drained::Done);
        };
        let result = if let Some(ticket) = ticket {
            let called = match callback.into_async() {
                Ok(handler) if awaits && !state::stalled() => {
                    watch::close_unused(ticket);
                    return (last, Drained::Async(handler));
                }
                Ok(handler) => {
                    let called = handler.run_in(lease, place == Place::Unloading);
                    watch::close_unused(ticket);
                    called
                }
                Err(callback) => call(callback, ticket, lease, place),
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

/// [`drain`], not stopping at async handlers: whether it got to the end.
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

/// Calls one handler as `lease`, watched under `ticket` (see `watch::next`): `None` when the run went on without this
/// thread meanwhile.
#[inline(never)]
fn call(callback: Callback, ticket: watch::Ticket, lease: u64, place: Place) -> Option<Result<(), HandlerPanic>> {
    let limit = match place {
        Place::Unloading => None,
        _ => callback.time_limit().or_else(watch::default_limit),
    };
    let name = callback.name();
    watch::arm(ticket, name.clone(), limit);
    start_watchdog_if_wanted();
    let result = running(lease, || name, || callback.run());
    // (Left behind with no thread to go on from, the run waited for this one.)
    if watch::close(ticket, ended(&result)) && state::lease() != lease {
        if let Err(panic) = result {
            record(&mut None, panic);
        }
        return None;
    }
    Some(result)
}

/// Starts a continuation to take the run from handler `name`, over its time limit (see [`TAKE_OVER`]). With no thread,
/// the run waits for it to return: the watchdog stays free for the deadline.
fn start_take_over(name: &str) {
    if let Err(e) = thread::spawn(&TAKE_OVER) {
        watch::say(&format!(
            "atexit: handler `{name}` did not finish within its time limit; no thread for the other handlers ({e}): \
             they run once it returns\n"
        ));
    }
}

/// `watch::open`, and starts the watchdog if it needs one.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
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

pub(crate) fn start_watchdog_if_wanted() {
    static WATCHDOG: thread::Plain = thread::Plain { name: c"atexit-watchdog", run: watchdog };
    if watch::watchdog_to_start() {
        if let Err(e) = thread::spawn(&WATCHDOG) {
            watch::watchdog_not_started();
            write_stderr_now(&format!("atexit: no time limit and no deadline: could not start a thread: {e}\n"));
        }
    }
}

/// The watchdog: does what `watch::look` finds due, then sleeps until the next limit passes or it is woken.
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
                watch::Act::GiveUp { name, limit, started, on_overrun } => match on_overrun {
                    // The thread that waits for it looks again.
                    OnOverrun::CancelOrTellTheWaiter => {
                        watch::left_behind(&name, limit, started);
                        state::CHANGED.notify();
                    }
                    OnOverrun::MoveOn | OnOverrun::CancelOrMoveOn => start_take_over(&name),
                },
            }
        }
    }
}

/// Blocks until `done`, which reads the exit state (see [`state::CHANGED`]).
pub(crate) fn wait_until(done: impl FnMut() -> bool) {
    state::CHANGED.wait_until(done);
}
