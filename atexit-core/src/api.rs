//! The process registry's public functions, and the builders for registrations with options, sync and async.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

#[cfg(feature = "tokio")]
use crate::asynchronous::AsyncFn;
use crate::callback::{self, Callback, Configured, ExitFn, Options};
use crate::hook;
use crate::identity::{Function, Identity};
use crate::process::PROCESS;
use crate::registry::{Handle, Key, Registry};

macro_rules! options_setters {
    () => {
        /// Sets the priority (default 0): higher runs first; equal priorities run last registered first.
        pub fn priority(mut self, priority: i32) -> Self {
            self.options.priority = priority;
            self
        }
        /// Names it in panic reports, overrun messages and traces (default: the function's path, `my_app::flush_logs`).
        pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
            self.options.name = Some(name.into());
            self
        }
        /// Makes `unregister(g)` remove this registration as if `g` itself had been registered, e.g. a closure calling
        /// `goodbye("Donny")` as `goodbye` (what `register!(goodbye, "Donny")` does).
        pub fn identity_of<G: Function<Args>, Args>(mut self, g: &G) -> Self {
            self.options.identity = Some(Identity::of(g));
            self
        }
        /// Keeps this registration in a `fork()`ed child, so it runs when the child exits too (and in the parent). By
        /// default a child drops every registration made before the fork and runs only its own. Unix only.
        pub fn inherit_on_fork(mut self) -> Self {
            self.options.inherited = true;
            self
        }
    };
}

/// Registers `f` to run once when the process ends normally; returns a [`Handle`] to this one registration.
///
/// Within a priority ([`Registration`]), the last registered runs first; a function registered n times runs n times.
/// `f` may capture state: it is moved into the registry and dropped after it runs or is unregistered.
///
/// ```
/// # extern crate atexit_core as atexit;
/// atexit::register(|| println!("goodbye"));
/// ```
#[inline]
#[track_caller]
pub fn register<F: ExitFn>(f: F) -> Handle {
    register_callback(0, Identity::of(&f).fingerprint(), callback::plain(f))
}

/// Puts a handler in the process registry, hook installed. Inlined: a caller that drops the handle makes none.
#[inline]
pub(crate) fn register_callback(priority: i32, fingerprint: u64, callback: Callback) -> Handle {
    Handle::in_process(&PROCESS, Key::from_place(priority, insert(priority, fingerprint, callback)))
}

fn insert(priority: i32, fingerprint: u64, callback: Callback) -> (u64, u32) {
    hook::install();
    PROCESS.insert(priority, fingerprint, callback).place()
}

/// Removes every pending registration of the function `f` and returns how many there were (0 is no error).
///
/// "The same function" follows Python's `==` as far as Rust allows:
/// - a function item (`unregister(flush_logs)`) matches every registration of it, whatever arguments `register!` bound;
/// - a closure matches registrations of the same closure expression (its type): pass a copy (closures are `Copy` when
///   their captures are);
/// - a function pointer (`Rust` or `C` ABI, `'static` parameter types) matches by address, other values by type. Two
///   casts of one function may differ (across codegen units): unregister with the pointer you registered, or the item.
///
/// ```
/// # extern crate atexit_core as atexit;
/// fn flush() {}
/// atexit::register(flush);
/// atexit::register(flush);
/// assert_eq!(atexit::unregister(flush), 2);
/// assert_eq!(atexit::unregister(flush), 0);
/// ```
pub fn unregister<F: Function<Args>, Args>(f: F) -> usize {
    PROCESS.unregister(Identity::of(&f))
}

/// How many handlers are pending in the process registry, static ones included.
///
/// ```
/// # extern crate atexit_core as atexit;
/// # atexit::clear();
/// atexit::register(|| {});
/// assert_eq!(atexit::ncallbacks(), 1);
/// # atexit::clear();
/// ```
pub fn ncallbacks() -> usize {
    PROCESS.len()
}

/// Drops every pending handler without running it: every crate's, static ones included, as Python's `atexit._clear()`
/// does. To remove only your own, use [`unregister`] or [`Handle::unregister`].
///
/// ```
/// # extern crate atexit_core as atexit;
/// atexit::register(|| println!("never printed"));
/// atexit::clear();
/// assert_eq!(atexit::ncallbacks(), 0);
/// ```
pub fn clear() {
    PROCESS.clear()
}

/// A registration with options (priority, name, time limit, identity, `fork()` inheritance); setters give defaults.
///
/// ```
/// # extern crate atexit_core as atexit;
/// let handle = atexit::Registration::new(|| println!("flushed"))
///     .priority(10)
///     .name("flush logs")
///     .register();
/// assert!(handle.is_pending());
/// # handle.unregister();
/// ```
#[must_use = "a Registration does nothing until `.register()` is called"]
pub struct Registration<F, Limit = ()> {
    f: F,
    options: Options,
    time_limit: Limit,
}

/// A registration a local [`Registry`] takes: one without a time limit. Time limits are the process registry's (its
/// watchdog gives up an overrunning handler so the exit goes on); a local registry's run is the caller's own, so a
/// limit there is a compile error rather than silently ignored.
#[diagnostic::on_unimplemented(
    message = "a registration with a time limit cannot go in a local `Registry`",
    label = "this registration has a `.time_limit(..)`",
    note = "time limits apply to the process registry: register it with `.register()`, or remove `.time_limit(..)`"
)]
pub trait Untimed: TimeLimit {}

impl Untimed for () {}

/// What a [`Registration`] knows of its time limit: `()` (none given) or a `Duration`. Sealed.
pub trait TimeLimit: sealed::Sealed + Copy {
    #[doc(hidden)]
    fn get(self) -> Option<Duration>;
}

impl TimeLimit for () {
    fn get(self) -> Option<Duration> {
        None
    }
}

impl TimeLimit for Duration {
    fn get(self) -> Option<Duration> {
        Some(self).filter(|limit| !limit.is_zero())
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for () {}
    impl Sealed for std::time::Duration {}
}

impl<F: ExitFn> Registration<F> {
    /// A registration of `f` at priority 0, named after its path (a closure: after where this is called).
    #[track_caller]
    pub fn new(f: F) -> Self {
        Registration { f, options: Options::here(), time_limit: () }
    }

    /// Gives the handler a time limit, for one a lock or a network peer can hold up (a flush needing a lock the exiting
    /// thread holds). If it has not finished `limit` after it started, it is named on stderr and left behind, still
    /// running; the remaining handlers run from a new thread, and the process ends with the status it would have had.
    /// One that returns before that thread took over (just past its limit) goes on as if within it: the run stays on
    /// its thread and only the trace's time tells; with no thread to be had, stderr says so and the run waits for it.
    /// One that runs the rest itself ([`run_exitfuncs`](crate::run_exitfuncs) inside it) is left behind only between
    /// the handlers it runs, each of which has a limit of its own (and with one of them left behind, it is too, named);
    /// its `run_exitfuncs` then returns the last panic of those it ran (with no thread to be had, once the rest ran
    /// there).
    /// The exit [deadline](crate::set_deadline) still bounds the whole exit. `Duration::ZERO` means no limit;
    /// [`set_handler_time_limit`](crate::set_handler_time_limit) gives one to every handler without one.
    ///
    /// The handler runs where and as it would without a limit: it sees the exiting thread's thread-locals where alive,
    /// and [`exit`](crate::exit) and `register` in it count until it is left behind. It cannot go in a local
    /// [`Registry`] ([`Untimed`]).
    ///
    /// ```
    /// # extern crate atexit_core as atexit;
    /// use std::time::Duration;
    ///
    /// atexit::Registration::new(|| { /* flush through a lock */ })
    ///     .name("flush logs")
    ///     .time_limit(Duration::from_secs(2))
    ///     .register();
    /// # atexit::clear();
    /// ```
    pub fn time_limit(self, limit: Duration) -> Registration<F, Duration> {
        Registration { f: self.f, options: self.options, time_limit: limit }
    }
}

impl<F: ExitFn, Limit: TimeLimit> Registration<F, Limit> {
    options_setters!();

    /// Registers in the process registry, to run at exit.
    pub fn register(self) -> Handle {
        if self.time_limit.get().is_some() {
            crate::watch::watch_handlers();
        }
        let (priority, fingerprint, callback) = self.into_parts();
        register_callback(priority, fingerprint, callback)
    }

    /// Registers in `registry`; not with a time limit (see [`Untimed`]).
    pub fn register_in(self, registry: &Registry) -> Handle
    where
        Limit: Untimed,
    {
        let (priority, fingerprint, callback) = self.into_parts();
        registry.insert(priority, fingerprint, callback)
    }

    fn into_parts(self) -> (i32, u64, Callback) {
        let Registration { f, mut options, time_limit } = self;
        let identity = options.identity.unwrap_or_else(|| Identity::of(&f));
        options.time_limit = time_limit.get();
        let priority = options.priority;
        (priority, identity.fingerprint(), Callback::Boxed(Box::new(Configured { f, options, identity })))
    }
}

impl<F, Limit> fmt::Debug for Registration<F, Limit> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("priority", &self.options.priority)
            .field("name", &self.options.name)
            .finish_non_exhaustive()
    }
}

/// Registers an async handler: at exit `f` is called and its future run to completion, or for `time_limit` at most;
/// past that it is dropped (cancelled), named on stderr, and the other handlers run. It keeps its place in the exit
/// order like any handler, and `unregister(f)` removes it. `Duration::ZERO`, or a limit too long to pass
/// (`Duration::MAX`), means no limit. For other options, use [`AsyncRegistration`]. Requires the `tokio` feature.
///
/// Inside the future, as in any handler, [`exit`](crate::exit) sets the status, [`register`](crate::register) adds a
/// handler that runs next, and a panic is reported with the handler's name, whichever thread polls it.
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
/// Under `#[atexit::main]` the future runs on the application's runtime as `main` ends or unwinds from a panic; on
/// other exit paths, on a runtime built at exit, where what belonged to the application's runtime may be gone (under a
/// bare `#[tokio::main]`, that runtime is gone when C's exit runs the handlers). A future that blocks its thread cannot
/// be dropped: past its limit it is left behind and the other handlers run on a new thread. If any thread calls
/// `std::process::exit` (in a task, say) while the exit run awaits an async handler on the application's runtime, that
/// runtime stops (its threads cannot be told from others): the handler is dropped and named, and the remaining async
/// handlers run on a runtime built at exit. [`exit`](crate::exit) from a thread outside the runtime does not do this.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[track_caller]
pub fn register_async<F, Fut>(time_limit: Duration, f: F) -> Handle
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    AsyncRegistration::new(f).time_limit(time_limit).register()
}

/// An async handler with a [`Registration`]'s options (name, priority, time limit, identity, `fork()` inheritance).
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
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[must_use = "an AsyncRegistration does nothing until `.register()` is called"]
pub struct AsyncRegistration<F> {
    f: F,
    options: Options,
}

#[cfg(feature = "tokio")]
impl<F, Fut> AsyncRegistration<F>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    /// An async handler at priority 0, named after its path (a closure: after where this is called), with no time limit
    /// of its own (only [`set_handler_time_limit`](crate::set_handler_time_limit)'s, if any).
    #[track_caller]
    pub fn new(f: F) -> Self {
        AsyncRegistration { f, options: Options::here() }
    }

    options_setters!();

    /// How long its future may run before being dropped (left behind if it blocks its thread); `Duration::ZERO`: none.
    pub fn time_limit(mut self, limit: Duration) -> Self {
        self.options.time_limit = Some(limit).filter(|limit| !limit.is_zero());
        self
    }

    /// Registers in the process registry, to run at exit.
    pub fn register(self) -> Handle {
        let AsyncRegistration { f, options } = self;
        let identity = options.identity.unwrap_or_else(|| Identity::of(&f));
        let priority = options.priority;
        crate::watch::watch_handlers();
        register_callback(priority, identity.fingerprint(), Callback::Boxed(Box::new(AsyncFn { f, options, identity })))
    }
}

#[cfg(feature = "tokio")]
impl<F> std::fmt::Debug for AsyncRegistration<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncRegistration")
            .field("priority", &self.options.priority)
            .field("name", &self.options.name)
            .field("time_limit", &self.options.time_limit)
            .finish_non_exhaustive()
    }
}

/// Named priorities, above all for library authors: higher runs first; at equal priority an application's static
/// handlers run before its libraries' (see [`Registration::priority`]). A static handler takes one as
/// `#[atexit::register(priority = atexit::priority::LATE)]`.
///
/// ```
/// # extern crate atexit_core as atexit;
/// // A logging library flushes after everyone else has logged:
/// atexit::Registration::new(|| { /* flush the log */ })
///     .priority(atexit::priority::LATE)
///     .register();
/// # atexit::clear();
/// ```
pub mod priority {
    /// Stops what feeds the others (a server accepting work, a scheduler starting jobs) before anyone flushes.
    pub const EARLY: i32 = 1000;
    /// The default: an application's cleanup, most libraries'.
    pub const NORMAL: i32 = 0;
    /// Flushes what the others write that may still log: metrics, traces, telemetry exporters.
    pub const LATE: i32 = -1000;
    /// Flushes logs, after `LATE`: a telemetry library's flush at `LATE` can still log through a log library that
    /// flushes here, whatever the two crates are called.
    pub const LOGGING: i32 = -1500;
    /// Releases what nothing may use afterwards, after every flush: a lock file, a PID file, a connection pool.
    pub const LAST: i32 = -2000;
}
