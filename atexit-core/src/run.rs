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
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crate::callback::{Callback, Pending};
use crate::last_words::write_stderr_now;
use crate::lease;
use crate::lock::{ForkLock, Lock};
use crate::panic::{HandlerPanic, drop_quietly};
use crate::process::PROCESS;
use crate::reason::Ending;
use crate::thread;
use crate::wait::Event;
use crate::watch::{self, Ended, Fate, OnOverrun, Ticket};

/// Runs started, and the number of the last one finished.
static STARTED: AtomicU64 = AtomicU64::new(0);
static FINISHED: AtomicU64 = AtomicU64::new(0);
/// The process the run going on started in: a `fork()`ed child finishes
/// it alone, and then ends as the exit would have.
static RUN_PID: AtomicU32 = AtomicU32::new(0);
/// Set while `#[atexit::main]`'s async run awaits handlers on the
/// application's runtime; `STALLED` once a thread of that runtime blocked
/// in an exit of its own, which stops the runtime's timers: the async
/// handlers left then run on a runtime built for them.
static AWAITING: AtomicBool = AtomicBool::new(false);
static STALLED: AtomicBool = AtomicBool::new(false);

/// What the holder of the lease does when no handler is left, innermost last.
#[derive(Clone, Copy, Debug)]
enum Then {
    /// Finish run number `run`. `starter_drains`: the thread that started
    /// it runs its handlers itself (if it is left behind, whoever finishes
    /// ends the process, as it would have).
    Finish { run: u64, starter_drains: bool },
    /// Hand the lease back to the thread that holds this one, which waits.
    Return(u64),
}

struct State {
    then: Vec<Then>,
    /// The last panic of a run (by its number), from whichever thread ran
    /// the handler, for the thread that started it.
    last: Option<(u64, HandlerPanic)>,
}

static STATE: Lock<State> = Lock::new(State { then: Vec::new(), last: None });

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
    Unwatched,
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
    let result = if lease::acts_for_run() { go_on(place, exiting) } else { start(place) };
    result.map_or(Ok(()), Err)
}

/// Takes the lease of a new run, once no other run is going on, and says
/// what finishes it. Returns the lease and the run's number. `place` is
/// the caller's: a thread whose thread-locals are gone (C's `exit`) cannot
/// tell whether it is one of a runtime's.
fn claim(starter_drains: bool, place: Place) -> (u64, u64) {
    let lease = lease::new_lease();
    if !lease::pass(0, lease) {
        let may_be_the_runtimes = place == Place::Fresh || in_a_runtime();
        if AWAITING.load(Ordering::SeqCst) && may_be_the_runtimes && !STALLED.swap(true, Ordering::SeqCst) {
            // This thread may be one of the runtime's, which its exit now
            // blocks: what the run awaits there may never come.
            watch::drop_awaited("a thread of its runtime called exit, which stops the runtime");
        }
        wait_until(|| lease::pass(0, lease));
    }
    RUN_PID.store(thread::process_id(), Ordering::Relaxed);
    let run = STARTED.fetch_add(1, Ordering::Relaxed) + 1;
    STATE.lock().then.push(Then::Finish { run, starter_drains });
    (lease, run)
}

/// The end of a run for the thread that started it: once it is finished
/// (by this thread or another), its last panic.
fn outcome(run: u64) -> Option<HandlerPanic> {
    wait_until(|| FINISHED.load(Ordering::Acquire) >= run);
    let last = STATE.lock().last.take();
    match last {
        Some((of, panic)) if of == run => Some(panic),
        Some((_, stale)) => {
            drop_quietly(stale);
            None
        }
        None => None,
    }
}

/// A new run: waits for one that another thread is in, then runs.
fn start(place: Place) -> Option<HandlerPanic> {
    let fresh = place == Place::Fresh && PROCESS.len() > 0;
    let (lease, run) = claim(!fresh, place);
    if fresh {
        hand_over(lease);
    } else {
        let previous = lease::hold(lease);
        let (last, done) = drain(lease, place);
        lease::hold(previous);
        keep_last(run, last);
        if done {
            finish_turn(lease);
        }
    }
    outcome(run)
}

/// Inside a handler of the run: the rest runs now, from here, or from a
/// fresh thread if this one's thread-locals are gone.
fn go_on(place: Place, exiting: bool) -> Option<HandlerPanic> {
    let lease = lease::held();
    if exiting {
        // An async handler this thread awaits will not be polled again.
        watch::drop_awaited("the thread awaiting it called exit");
    }
    if place == Place::Fresh {
        if PROCESS.len() == 0 {
            return None;
        }
        STATE.lock().then.push(Then::Return(lease));
        hand_over(lease);
        return None;
    }
    // Left behind meanwhile, its panics were reported; the run goes on
    // without them.
    let (last, done) = drain(lease, place);
    last.filter(|_| done)
}

/// Hands the lease over to a fresh thread, which drains and then does what
/// `STATE.then` says, and waits until the run is done with this thread's
/// turn: its lease back, or the run finished.
fn hand_over(lease: u64) {
    let fresh = lease::new_lease();
    lease::set(fresh);
    if let Err(e) = thread::spawn(&FRESH) {
        write_stderr_now(&format!("atexit: the handlers run on the exiting thread: no thread: {e}\n"));
        drain_then(fresh, false);
    }
    let run = STARTED.load(Ordering::Relaxed);
    let back = || lease::current() == lease || FINISHED.load(Ordering::Acquire) >= run;
    // A handler that calls `std::process::exit` on a thread of ours is
    // parked for ever by the standard library (this thread, or another,
    // exits): nothing notifies that, so this thread looks now and then.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    while !lease::CHANGED.wait_until_for(PARK_CHECK, back) {
        go_on_without_a_parked_handler();
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    wait_until(back);
}

/// How often the exiting thread looks whether the handler running on a
/// thread of ours is parked in the standard library's exit.
#[cfg(any(target_os = "linux", target_os = "android"))]
const PARK_CHECK: Duration = Duration::from_millis(250);

/// The handler a thread of ours runs now, for the run, as `lease`: what
/// [`go_on_without_a_parked_handler`] looks at.
struct Running {
    tid: i32,
    lease: u64,
    name: Cow<'static, str>,
}

static RUNNING: Lock<Option<Running>> = Lock::new(None);

/// Runs `f`, the handler `name`, as `lease`: recorded while it runs if
/// this is a thread of ours.
#[inline]
fn running<R>(lease: u64, name: impl FnOnce() -> Cow<'static, str>, f: impl FnOnce() -> R) -> R {
    let Some(tid) = thread::ours() else { return f() };
    let previous = RUNNING.lock().replace(Running { tid, lease, name: name() });
    drop(previous);
    let result = f();
    let mut slot = RUNNING.lock();
    let mine = slot.take_if(|r| r.lease == lease && r.tid == tid);
    drop(slot);
    drop(mine);
    result
}

/// If the handler running for the run on a thread of ours is parked in the
/// standard library's exit, it is named and left behind, and the run goes
/// on from a new thread (or, with none, from this one).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn go_on_without_a_parked_handler() {
    let parked = RUNNING.lock().as_ref().map(|r| (r.tid, r.lease, r.name.clone()));
    let Some((tid, held, name)) = parked else { return };
    if lease::current() != held || !thread::parked_in_exit(tid) {
        return;
    }
    write_stderr_now(&format!(
        "atexit: handler `{name}` called std::process::exit while the process exits, which the standard \
         library answers by parking it for ever; it is left behind and the other handlers run (to end \
         the process from a handler, call atexit::exit)\n"
    ));
    if let Err(e) = move_on(held) {
        write_stderr_now(&format!("atexit: the other handlers run on the exiting thread: no thread: {e}\n"));
        let here = lease::new_lease();
        if lease::pass(held, here) {
            drain_then(here, true);
        }
    }
}

/// The fresh thread of [`hand_over`], and a continuation of [`move_on`].
/// Each holds the lease it was started for: nothing moves the lease between
/// the start and the first handler, so each reads it, rather than be given
/// it in an allocation of the starting thread (see [`thread::Plain`]).
static FRESH: thread::Plain = thread::Plain { name: c"atexit-run", run: || drain_then(lease::current(), false) };
static CONTINUATION: thread::Plain = thread::Plain { name: c"atexit-run", run: || drain_then(lease::current(), true) };

/// Drains as `lease` on this thread, then, if it still holds the lease,
/// does what is next. A continuation (`moved_on`) finishing a run whose
/// starter was left behind ends the process as the exit would have.
fn drain_then(lease: u64, moved_on: bool) {
    lease::hold(lease);
    let run = STARTED.load(Ordering::Relaxed);
    let (last, done) = drain(lease, Place::Here);
    keep_last(run, last);
    if !done {
        return;
    }
    let then = finish_turn(lease);
    let forked = thread::process_id() != RUN_PID.load(Ordering::Relaxed);
    if let Some(Then::Finish { starter_drains, .. }) = then {
        if forked || (moved_on && starter_drains) {
            end_as_the_exit_would();
        }
    }
}

/// The last panic of run number `run`, kept for the thread that waits for it.
fn keep_last(run: u64, last: Option<HandlerPanic>) {
    if let Some(panic) = last {
        if let Some((_, previous)) = STATE.lock().last.replace((run, panic)) {
            drop_quietly(previous);
        }
    }
}

/// No handler is left: the holder of `lease`, if it still holds it, does
/// what is next.
fn finish_turn(lease: u64) -> Option<Then> {
    if lease::current() != lease {
        return None;
    }
    let then = STATE.lock().then.pop();
    // Outside the lock: the lease's change wakes the waiters, which take it.
    match then {
        Some(Then::Return(to)) => lease::set(to),
        Some(Then::Finish { run, .. }) => {
            // Stored before the lease is given up, which notifies.
            FINISHED.store(run, Ordering::Release);
            lease::set(0);
        }
        None => lease::set(0),
    }
    then
}

/// The run has finished on a thread that nobody waits for: the one that
/// started it was left behind in a handler, or this is a `fork()`ed child
/// where it does not exist. The process ends now, as that thread would
/// have ended it. (Not after an explicit run: its caller returns when its
/// handler does.)
fn end_as_the_exit_would() {
    match crate::reason::ending() {
        Some(Ending::Signal(signal)) => crate::last_words::die_of_signal(signal),
        Some(Ending::Status(code)) => crate::last_words::exit_process(code),
        None => {}
    }
}

/// Calls handlers while this thread holds `lease`, until none is left or
/// the run goes on without this thread. Returns the last panic, and
/// whether none is left (rather than the run having gone on elsewhere).
fn drain(lease: u64, place: Place) -> (Option<HandlerPanic>, bool) {
    let mut last = None;
    let mut with_statics = true;
    while lease::current() == lease {
        let Some(callback) = PROCESS.pop(std::mem::take(&mut with_statics)) else {
            return (last, true);
        };
        let result = if watch::watching() {
            let Some(result) = call(callback, lease, place) else { break };
            result
        } else if thread::ours().is_some() {
            let name = callback.name();
            running(lease, || name, || callback.run())
        } else {
            callback.run()
        };
        if let Err(panic) = result {
            record(&mut last, panic);
        }
    }
    (last, false)
}

/// A handler's panic: reported, and the last one kept.
#[cold]
fn record(last: &mut Option<HandlerPanic>, panic: HandlerPanic) {
    if panic.is_exit_request() {
        drop_quietly(panic);
        return;
    }
    panic.report();
    if let Some(previous) = last.replace(panic) {
        drop_quietly(previous);
    }
}

fn ended(result: &Result<(), HandlerPanic>) -> Ended {
    match result {
        Ok(()) => Ended::Ok,
        Err(panic) if panic.is_exit_request() => Ended::CalledExit,
        Err(_) => Ended::Panicked,
    }
}

/// Calls one handler for the run, as `lease`, watched. `None` when the run
/// went on without this thread meanwhile (the handler overran its limit).
#[inline(never)]
fn call(mut callback: Callback, lease: u64, place: Place) -> Option<Result<(), HandlerPanic>> {
    let limit = match place {
        Place::Unwatched => None,
        _ => callback.time_limit().or_else(watch::default_limit),
    };
    if let Some(work) = callback.pending() {
        return call_async(callback.name(), work, limit, lease, place);
    }
    let name = callback.name();
    let ticket = watch::open(|| name.clone(), limit, OnOverrun::MoveOn, move || move_on_or_wait(lease));
    let result = running(lease, || name, || callback.run());
    // Left behind, and the run went on without this thread meanwhile (with
    // no thread to go on from, it waited for this one).
    if watch::close(ticket, ended(&result)) && lease::current() != lease {
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
    let to = lease::new_lease();
    if !lease::pass(from, to) {
        return Ok(());
    }
    thread::spawn(&CONTINUATION).inspect_err(|_| {
        lease::pass(to, from);
    })
}

/// From the watchdog: the holder of `from` overran its limit. With no
/// thread to go on from, the run waits for it to return (the watchdog
/// stays free for the deadline).
fn move_on_or_wait(from: u64) {
    if let Err(e) = move_on(from) {
        write_stderr_now(&format!("atexit: no thread for the other handlers ({e}): they run once it returns\n"));
    }
}

/// Blocks until `done`, which reads the run's state: whatever changes that
/// state notifies [`lease::CHANGED`].
fn wait_until(done: impl FnMut() -> bool) {
    lease::CHANGED.wait_until(done);
}

/// An async handler's future, polled as acting for the run with `lease`
/// (whatever thread polls it), with its panic caught and named, and dropped
/// once its ticket says it overran.
pub(crate) struct Watched {
    /// Dropped by `poll` once it is done, or to be dropped.
    future: Option<Pending>,
    name: Cow<'static, str>,
    ticket: Ticket,
    lease: u64,
}

/// What an async handler's future came to, and how the trace says it.
type Outcome = (Result<(), HandlerPanic>, Ended);

impl Watched {
    /// Drops the future as acting for the run (its destructor may use the
    /// registry), a panic from it caught and named.
    fn drop_future(&mut self) -> Result<(), HandlerPanic> {
        let Some(future) = self.future.take() else { return Ok(()) };
        let previous = lease::hold(self.lease);
        let dropped = panic::catch_unwind(AssertUnwindSafe(move || drop(future)));
        lease::hold(previous);
        dropped.map_err(|payload| HandlerPanic::new(self.name.clone(), payload))
    }
}

impl Future for Watched {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if watch::fate(self.ticket) != Fate::Running {
            return Poll::Ready((self.drop_future(), Ended::Dropped));
        }
        let (ticket, lease) = (self.ticket, self.lease);
        let Some(future) = self.future.as_mut() else { return Poll::Ready((Ok(()), Ended::Ok)) };
        watch::set_waker(ticket, cx.waker());
        let previous = lease::hold(lease);
        let polled = panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)));
        lease::hold(previous);
        let result = match polled {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(())) => self.drop_future(),
            Err(payload) => {
                let panic = HandlerPanic::new(self.name.clone(), payload);
                drop_quietly(self.drop_future());
                Err(panic)
            }
        };
        let how = ended(&result);
        Poll::Ready((result, how))
    }
}

impl Drop for Watched {
    /// Dropped before it was done (its runtime shut down, say): the
    /// future's own panic is reported, not let out.
    fn drop(&mut self) {
        if let Err(panic) = self.drop_future() {
            panic.report();
            drop_quietly(panic);
        }
    }
}

/// An async handler in a run that cannot await: its future runs on a
/// runtime built for it on a thread of its own (the run's thread may be
/// inside a runtime, or past the end of its thread-locals), which holds
/// the lease meanwhile; this thread waits, and gives it up if it overruns.
/// In a shared library being unloaded, it runs here instead.
fn call_async(
    name: Cow<'static, str>,
    work: Pending,
    limit: Option<Duration>,
    lease: u64,
    place: Place,
) -> Option<Result<(), HandlerPanic>> {
    if place == Place::Unwatched {
        let ticket = watch::open(|| name.clone(), None, OnOverrun::Tell, || {});
        let (result, how) = poll_here(Watched { future: Some(work), name, ticket, lease });
        watch::close(ticket, how);
        return Some(result);
    }
    let helper = lease::new_lease();
    // Past its limit and the grace after it, the watchdog gives it up and
    // wakes this thread.
    let ticket = watch::open(|| name.clone(), limit, OnOverrun::Tell, || lease::CHANGED.notify());
    let watched = Watched { future: Some(work), name, ticket, lease: helper };
    let outcome: Arc<Lock<Option<Outcome>>> = Arc::new(Lock::new(None));
    let theirs = Arc::clone(&outcome);
    let pid = thread::process_id();
    lease::set(helper);
    let job = Box::new(move || {
        let name = watched.name.clone();
        let result = running(helper, || name, || block_on(watched));
        if thread::process_id() != pid {
            // A `fork()` in the future: this thread is the child's only
            // one, and goes on with the run there.
            drop(result);
            drain_then(helper, false);
            return;
        }
        *theirs.lock() = Some(result);
        lease::CHANGED.notify();
    });
    if let Err((e, job)) = thread::spawn_job(job) {
        write_stderr_now(&format!("atexit: an async handler runs on the exiting thread: no thread: {e}\n"));
        job();
    }
    wait_until(|| outcome.lock().is_some() || watch::fate(ticket) == Fate::LeftBehind || lease::current() != helper);
    let finished = outcome.lock().take();
    // The lease back, unless the run went on without this thread.
    if !lease::pass(helper, lease) {
        watch::close(ticket, Ended::Ok);
        return None;
    }
    match finished {
        Some((result, how)) => {
            watch::close(ticket, how);
            Some(result)
        }
        None => {
            // Given up by the watchdog, which said so.
            watch::close(ticket, Ended::Dropped);
            Some(Ok(()))
        }
    }
}

/// Polls an async handler to its end on this thread, with no runtime: in a
/// shared library being unloaded, which must leave nothing behind (a
/// runtime's thread-locals would be torn down after the library is gone,
/// running its code then). A future that needs a runtime's timers or
/// sockets panics there, and is reported.
fn poll_here(watched: Watched) -> Outcome {
    struct Woken(AtomicBool, Event);
    impl Wake for Woken {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::Release);
            self.1.notify();
        }
    }
    let woken = Arc::new(Woken(AtomicBool::new(true), Event::new()));
    let waker = Waker::from(Arc::clone(&woken));
    let mut context = Context::from_waker(&waker);
    let mut watched = std::pin::pin!(watched);
    loop {
        woken.1.wait_until(|| woken.0.swap(false, Ordering::AcqRel));
        if let Poll::Ready(outcome) = watched.as_mut().poll(&mut context) {
            return outcome;
        }
    }
}

/// Whether the calling thread runs in a tokio runtime.
fn in_a_runtime() -> bool {
    #[cfg(feature = "tokio")]
    return tokio::runtime::Handle::try_current().is_ok();
    #[cfg(not(feature = "tokio"))]
    false
}

#[cfg(feature = "tokio")]
fn block_on(watched: Watched) -> Outcome {
    match on_a_runtime_built_here(watched) {
        Ok(outcome) => outcome,
        Err((e, watched)) => {
            write_stderr_now(&format!("atexit: async handler `{}` could not run: no runtime: {e}\n", watched.name));
            (Ok(()), Ended::NotRun)
        }
    }
}

/// Runs `future` to its end on a current-thread runtime built for it on
/// this thread, or gives it back with the error. Blocking tasks it started
/// may run on: they are not waited for (the runtime shuts down in the
/// background).
#[cfg(feature = "tokio")]
pub(crate) fn on_a_runtime_built_here<F: Future>(future: F) -> Result<F::Output, (std::io::Error, F)> {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return Err((e, future)),
    };
    let output = runtime.block_on(future);
    runtime.shutdown_background();
    Ok(output)
}

#[cfg(not(feature = "tokio"))]
fn block_on(watched: Watched) -> Outcome {
    // Without the feature no async handler can be registered.
    drop(watched);
    (Ok(()), Ended::Ok)
}

/// The run of `#[atexit::main]` on an async `main`: as [`run`], but an async
/// handler is awaited here, in its place, on the application's runtime; if
/// it overruns its limit it is woken to be dropped, and if it blocks its
/// thread instead, the run goes on from a new thread.
pub(crate) async fn run_async() -> Result<(), HandlerPanic> {
    if lease::acts_for_run() {
        return run(Place::Here);
    }
    watch::settle();
    let (lease, run) = claim(true, Place::Here);
    let previous = lease::hold(lease);
    STALLED.store(false, Ordering::SeqCst);
    AWAITING.store(true, Ordering::SeqCst);
    let mut last = None;
    let mut with_statics = true;
    let mut done = false;
    while lease::current() == lease {
        let Some(mut callback) = PROCESS.pop(std::mem::take(&mut with_statics)) else {
            done = true;
            break;
        };
        let work = if STALLED.load(Ordering::SeqCst) { None } else { callback.pending() };
        let result = match work {
            Some(work) => {
                let name = callback.name();
                let limit = callback.time_limit().or_else(watch::default_limit);
                let ticket = watch::open(|| name.clone(), limit, OnOverrun::Cancel, move || move_on_or_wait(lease));
                let (result, how) = Watched { future: Some(work), name, ticket, lease }.await;
                if watch::close(ticket, how) && lease::current() != lease {
                    break;
                }
                result
            }
            None => match call(callback, lease, Place::Here) {
                Some(result) => result,
                None => break,
            },
        };
        if let Err(panic) = result {
            record(&mut last, panic);
        }
    }
    AWAITING.store(false, Ordering::SeqCst);
    lease::hold(previous);
    keep_last(run, last);
    if done {
        finish_turn(lease);
    }
    outcome(run).map_or(Ok(()), Err)
}

/// The lock `fork()` holds across (see `fork.rs`).
#[cfg_attr(any(not(unix), miri), allow(dead_code))] // fork: Unix only, not under Miri
pub(crate) fn fork_lock() -> &'static dyn ForkLock {
    &STATE
}

/// In a `fork()`ed child, whose one thread is the one that forked. If it
/// ran a handler of the run going on (however it held the lease: acting,
/// running an async handler, or left behind), the run goes on from it,
/// and whoever finishes the run ends the child as the exit would have.
/// Otherwise no run goes on there. Returns whether one does.
#[cfg_attr(any(not(unix), miri), allow(dead_code))] // fork: Unix only, not under Miri
pub(crate) fn forked() -> bool {
    let mut state = STATE.lock();
    let held = lease::held();
    let goes_on = lease::current() != 0 && held != 0;
    if goes_on {
        lease::set(held);
        let run = STARTED.load(Ordering::Relaxed);
        state.then.clear();
        state.then.push(Then::Finish { run, starter_drains: true });
    } else {
        lease::set(0);
        state.then.clear();
        FINISHED.store(STARTED.load(Ordering::Relaxed), Ordering::Release);
    }
    goes_on
}
