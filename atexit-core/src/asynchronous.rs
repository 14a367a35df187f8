//! Async exit handlers (feature `tokio`): a future-returning closure, run
//! with a time limit in its place in the exit order. Where its future runs
//! is the run's business (`run.rs`).

use std::any::type_name;
use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use crate::api::register_callback;
use crate::callback::{Callback, Handler, Pending, call};
use crate::identity::{Function, Identity};
use crate::panic::HandlerPanic;
use crate::registry::Handle;
use crate::run::on_a_runtime_built_here;

/// Registers an async handler: `f` is called at exit and its future run to
/// completion, or for `time_limit` at most; past that it is dropped
/// (cancelled), named on stderr, and the other handlers run. It keeps its
/// place in the exit order, like any handler (last registered first).
/// `Duration::ZERO` means no limit, as everywhere else; so does a limit too
/// long to pass (`Duration::MAX`). For a name, a priority or an identity,
/// use [`AsyncRegistration`].
///
/// Inside the future, as in any handler, [`exit`](crate::exit) sets the
/// status, [`register`](crate::register) adds a handler that runs next, and
/// a panic is reported with the handler's name, whichever thread polls it.
///
/// ```no_run
/// # extern crate atexit_core as atexit;
/// # async fn flush_telemetry() {}
/// use std::time::Duration;
///
/// // In `main`, under `#[atexit::main]` placed above `#[tokio::main]`, so
/// // that the future runs on the application's runtime:
/// atexit::register_async(Duration::from_secs(2), || async {
///     flush_telemetry().await;
/// });
/// ```
///
/// Under `#[atexit::main]` (above `#[tokio::main]`) the future runs on the
/// application's runtime as `main` ends, or unwinds from a panic; on other
/// exit paths, on a runtime built at exit, where what belonged to the
/// application's runtime may be gone (a bare `#[tokio::main]` is such a
/// case: its runtime is gone when C's exit runs the handlers). A future
/// that blocks its thread instead of awaiting cannot be dropped: past its
/// limit it is left behind there and the other handlers run on a new
/// thread. If a thread of the application's runtime exits (`std::process::exit`
/// in a task) while the exit run awaits an async handler there, that thread
/// stops the runtime: the handler is dropped, named, and the async handlers
/// left run on a runtime built at exit (a thread that calls
/// `std::process::exit` cannot be told from the runtime's, so any does
/// that; [`exit`](crate::exit) from a thread outside the runtime does not).
/// Requires the `tokio` feature. `unregister(f)` removes it, as for any
/// handler.
pub fn register_async<F, Fut>(time_limit: Duration, f: F) -> Handle
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    AsyncRegistration::new(f).time_limit(time_limit).register()
}

/// An async handler with the options a [`Registration`](crate::Registration)
/// has: a name, a priority, a time limit, the identity of another function.
///
/// ```
/// # extern crate atexit_core as atexit;
/// use std::time::Duration;
///
/// let handle = atexit::AsyncRegistration::new(|| async { /* flush spans */ })
///     .name("flush spans")
///     .priority(10)
///     .time_limit(Duration::from_secs(2))
///     .register();
/// # handle.unregister();
/// ```
#[must_use = "an AsyncRegistration does nothing until `.register()` is called"]
pub struct AsyncRegistration<F> {
    f: F,
    priority: i32,
    name: Option<Cow<'static, str>>,
    identity: Option<Identity>,
    time_limit: Duration,
}

impl<F, Fut> AsyncRegistration<F>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    /// An async handler at priority 0, named after its type, with no time
    /// limit of its own (the one [`set_handler_time_limit`](crate::set_handler_time_limit)
    /// gives, if any).
    pub fn new(f: F) -> Self {
        AsyncRegistration { f, priority: 0, name: None, identity: None, time_limit: Duration::ZERO }
    }

    /// Sets the priority: higher runs first.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the name shown in panic reports, overrun messages and traces.
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Makes `unregister(g)` remove this registration.
    pub fn identity_of<G: Function<Args>, Args>(mut self, g: &G) -> Self {
        self.identity = Some(Identity::of(g));
        self
    }

    /// How long its future may run; past that it is dropped, or left
    /// behind if it blocks its thread. `Duration::ZERO`: no limit.
    pub fn time_limit(mut self, limit: Duration) -> Self {
        self.time_limit = limit;
        self
    }

    /// Registers in the process registry, to run at exit.
    pub fn register(self) -> Handle {
        let AsyncRegistration { f, priority, name, identity, time_limit } = self;
        let identity = identity.unwrap_or_else(|| Identity::of(&f));
        let handler = AsyncHandler { f: Some(f), time_limit, identity, name };
        crate::watch::watch_handlers();
        register_callback(priority, identity.fingerprint(), Callback::Boxed(Box::new(handler)))
    }
}

impl<F> std::fmt::Debug for AsyncRegistration<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncRegistration")
            .field("priority", &self.priority)
            .field("name", &self.name)
            .field("time_limit", &self.time_limit)
            .finish_non_exhaustive()
    }
}

struct AsyncHandler<F> {
    /// Taken when it runs.
    f: Option<F>,
    time_limit: Duration,
    identity: Identity,
    name: Option<Cow<'static, str>>,
}

impl<F, Fut> Handler for AsyncHandler<F>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn name(&self) -> Cow<'static, str> {
        self.name.clone().unwrap_or(Cow::Borrowed(type_name::<F>()))
    }

    fn identity(&self) -> Identity {
        self.identity
    }

    fn inherited(&self) -> bool {
        false
    }

    fn time_limit(&self) -> Option<Duration> {
        Some(self.time_limit).filter(|limit| !limit.is_zero())
    }

    fn pending(&mut self) -> Option<Pending> {
        let f = self.f.take()?;
        Some(Box::pin(f()))
    }

    /// Outside a run ([`Handle::run`]): the future runs to its end on a
    /// runtime built here (inside another runtime that panics, reported).
    fn run(mut self: Box<Self>) -> Result<(), HandlerPanic> {
        let name = self.name();
        let Some(work) = self.pending() else { return Ok(()) };
        match on_a_runtime_built_here(work) {
            Ok(()) => Ok(()),
            Err((e, work)) => {
                drop(work);
                call(|| panic!("no runtime to run it on: {e}"), || name)
            }
        }
    }
}
