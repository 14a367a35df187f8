//! How async handlers run (feature `tokio`): awaited in their place by `#[atexit::main]`'s async run on the
//! application's runtime; where a run cannot await (it is not async, or that runtime stalled), each on a runtime of its
//! own on a thread that acts for the run meanwhile; in a shared library being unloaded, polled where it stands.

use std::borrow::Cow;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use crate::callback::{AsyncHandler, Handler, Options, Pending, call};
use crate::exit_state::{self as state, Ender};
use crate::identity::Identity;
use crate::last_words::write_stderr_now;
use crate::lock::Lock;
use crate::panic::{HandlerPanic, drop_quietly};
use crate::run::{self, Drained, Place, ended};
use crate::thread;
use crate::wait::Event;
use crate::watch::{self, Ended, Fate, OnOverrun, Ticket};

/// An async handler: `f` makes its future.
pub(crate) struct AsyncFn<F> {
    pub(crate) f: F,
    pub(crate) options: Options,
    pub(crate) identity: Identity,
}

impl<F, Fut> Handler for AsyncFn<F>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn name(&self) -> Cow<'static, str> {
        self.options.name_or::<F>()
    }

    fn identity(&self) -> Identity {
        self.identity
    }

    fn inherited(&self) -> bool {
        self.options.inherited
    }

    fn time_limit(&self) -> Option<Duration> {
        self.options.time_limit
    }

    /// Outside a run ([`Handle::run`](crate::Handle::run)): on a runtime built here (inside another runtime that
    /// panics, reported).
    fn run(self: Box<Self>) -> Result<(), HandlerPanic> {
        let name = self.name();
        match on_a_runtime_built_here(self.future()) {
            Ok(()) => Ok(()),
            Err((e, work)) => {
                drop(work);
                call(|| panic!("no runtime to run it on: {e}"), || name)
            }
        }
    }

    fn into_async(self: Box<Self>) -> Result<Box<dyn AsyncHandler>, Box<dyn Handler>> {
        Ok(self)
    }
}

impl<F, Fut> AsyncHandler for AsyncFn<F>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn future(self: Box<Self>) -> Pending {
        Box::pin((self.f)())
    }

    fn run_in(self: Box<Self>, lease: u64, unloading: bool) -> Option<Result<(), HandlerPanic>> {
        let limit = self.options.time_limit.or_else(watch::default_limit);
        run_in_a_run(self.name(), self.future(), limit, lease, unloading)
    }
}

/// An async handler's future, polled as acting for the run with `lease` (on any thread), its panic caught and named,
/// dropped once its ticket says so.
pub(crate) struct WatchedFuture {
    future: Option<Pending>,
    name: Cow<'static, str>,
    ticket: Ticket,
    lease: u64,
}

type Outcome = (Result<(), HandlerPanic>, Ended);

impl WatchedFuture {
    /// Drops the future as acting for the run (its destructor may register), a panic from it caught and named.
    fn drop_future(&mut self) -> Result<(), HandlerPanic> {
        let Some(future) = self.future.take() else { return Ok(()) };
        let previous = state::hold_lease(self.lease);
        let dropped = panic::catch_unwind(AssertUnwindSafe(move || drop(future)));
        state::hold_lease(previous);
        dropped.map_err(|payload| HandlerPanic::new(self.name.clone(), payload))
    }
}

impl Future for WatchedFuture {
    type Output = Outcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if watch::fate(self.ticket) != Fate::Running {
            return Poll::Ready((self.drop_future(), Ended::Dropped));
        }
        let (ticket, lease) = (self.ticket, self.lease);
        let Some(future) = self.future.as_mut() else { return Poll::Ready((Ok(()), Ended::Ok)) };
        watch::set_waker(ticket, cx.waker());
        let previous = state::hold_lease(lease);
        let polled = panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)));
        state::hold_lease(previous);
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

impl Drop for WatchedFuture {
    /// Dropped before it was done (its runtime shut down): a panic is reported.
    fn drop(&mut self) {
        if let Err(panic) = self.drop_future() {
            panic.report();
            drop_quietly(panic);
        }
    }
}

/// An async handler in a run that cannot await: it runs on a runtime built on a thread of its own (this one may be
/// inside a runtime, or past its thread-locals), which holds the lease meanwhile; this thread waits, and gives it up if
/// it overruns. In a library being unloaded, it runs here.
fn run_in_a_run(
    name: Cow<'static, str>,
    work: Pending,
    limit: Option<Duration>,
    lease: u64,
    unloading: bool,
) -> Option<Result<(), HandlerPanic>> {
    if unloading {
        let ticket = run::open(|| name.clone(), None, OnOverrun::CancelOrTellTheWaiter, lease);
        let (result, how) = poll_here(WatchedFuture { future: Some(work), name, ticket, lease });
        watch::close(ticket, how);
        return Some(result);
    }
    if state::runtime_gone_unsaid() {
        write_stderr_now(&format!(
            "atexit: async handler `{name}` runs on a runtime built at exit: the one `main` blocked on is gone \
             (`#[tokio::main]` is above `#[atexit::main]`); put `#[atexit::main]` above it to run async handlers there\n"
        ));
    }
    let helper = state::new_lease();
    // Past its limit and grace, the watchdog gives it up and wakes us.
    let ticket = run::open(|| name.clone(), limit, OnOverrun::CancelOrTellTheWaiter, helper);
    let watched = WatchedFuture { future: Some(work), name, ticket, lease: helper };
    let outcome: Arc<Lock<Option<Outcome>>> = Arc::new(Lock::new(None));
    let theirs = Arc::clone(&outcome);
    let pid = thread::process_id();
    state::set_lease(helper);
    let job = Box::new(move || {
        let name = watched.name.clone();
        let result = run::running(helper, || name, || block_on(watched));
        if thread::process_id() != pid {
            // Forked in the future: the child's one thread goes on with the run.
            drop(result);
            run::drain_then(helper, false);
            return;
        }
        *theirs.lock() = Some(result);
        state::CHANGED.notify();
    });
    if let Err((e, job)) = thread::spawn_job(job) {
        write_stderr_now(&format!("atexit: an async handler runs on the exiting thread: no thread: {e}\n"));
        job();
    }
    run::wait_until(|| outcome.lock().is_some() || watch::fate(ticket) == Fate::LeftBehind || state::lease() != helper);
    let finished = outcome.lock().take();
    if !state::pass_lease(helper, lease) {
        watch::close(ticket, Ended::Abandoned);
        return None;
    }
    match finished {
        Some((result, how)) => {
            watch::close(ticket, how);
            Some(result)
        }
        None => {
            watch::close(ticket, Ended::Dropped);
            Some(Ok(()))
        }
    }
}

/// Polls an async handler to its end here, with no runtime: a library being unloaded must leave nothing behind (a
/// runtime's thread-locals would be torn down after it is gone). A future that needs a runtime panics, reported.
fn poll_here(watched: WatchedFuture) -> Outcome {
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

fn block_on(watched: WatchedFuture) -> Outcome {
    match on_a_runtime_built_here(watched) {
        Ok(outcome) => outcome,
        Err((e, watched)) => {
            write_stderr_now(&format!("atexit: async handler `{}` could not run: no runtime: {e}\n", watched.name));
            (Ok(()), Ended::NotRun)
        }
    }
}

/// Runs `future` on a current-thread runtime built here, or gives it back with the error. Blocking tasks it started are
/// not waited for.
fn on_a_runtime_built_here<F: Future>(future: F) -> Result<F::Output, (std::io::Error, F)> {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => return Err((e, future)),
    };
    let output = runtime.block_on(future);
    runtime.shutdown_background();
    Ok(output)
}

/// `#[atexit::main]`'s run on an async `main`: as [`run::run`], but async handlers are awaited here on the
/// application's runtime; one that overruns is woken to be dropped, and if it blocks its thread instead, the run goes
/// on from a new thread.
pub(crate) async fn run_async() -> Result<(), HandlerPanic> {
    if state::acts_for_run() {
        return run::run(Place::Here, true);
    }
    watch::settle();
    let (lease, run) = run::claim(Ender::StarterOrItsContinuation, Place::Here);
    let previous = state::hold_lease(lease);
    state::set_awaiting(true);
    let mut last = None;
    let done = loop {
        let (drained_last, drained) = thread::off_the_runtime(true, || run::drain(lease, Place::Here, true));
        if let Some(panic) = drained_last {
            drop_quietly(last.replace(panic));
        }
        let handler = match drained {
            Drained::Done => break true,
            Drained::Moved => break false,
            Drained::Async(handler) => handler,
        };
        let name = handler.name();
        let limit = handler.time_limit().or_else(watch::default_limit);
        let ticket = run::open(|| name.clone(), limit, OnOverrun::CancelOrMoveOn, lease);
        let (result, how) = WatchedFuture { future: Some(handler.future()), name, ticket, lease }.await;
        let moved = watch::close(ticket, how) && state::lease() != lease;
        if let Err(panic) = result {
            let mut theirs = None;
            run::record(if moved { &mut theirs } else { &mut last }, panic);
        }
        if moved {
            break false;
        }
    };
    state::set_awaiting(false);
    state::hold_lease(previous);
    state::keep_last(run, last);
    if done {
        run::finish(lease, false);
    }
    run::outcome(run).map_or(Ok(()), Err)
}
