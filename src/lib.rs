//! Exit handlers for Rust: Python's [`atexit`] module, brought to Rust and
//! made exact.
//!
//! Register a function and it runs when the process ends normally: once, in
//! last-in, first-out order, however the process ends, without `main` having
//! to cooperate.
//!
//! ```
//! fn save_counter() {
//!     // write state back to disk
//! }
//!
//! atexit::register(save_counter);
//! atexit::register(|| println!("goodbye"));
//! // ... when the process ends, "goodbye" is printed, then save_counter runs.
//! # atexit::clear();
//! ```
//!
//! ```toml
//! [dependencies]
//! atexit = "0.1"                                          # the registry, the macros, the exit hook
//! # atexit = { version = "0.1", features = ["signals"] }  # + signals, graceful shutdown
//! # atexit = { version = "0.1", features = ["tokio"] }    # + async handlers
//! ```
//!
//! # Which to use when
//!
//! | You want | Use |
//! |---|---|
//! | a closure or function to run at exit | [`register(f)`](fn@register); keep the [`Handle`] to remove it or [run](Handle::run) it early |
//! | a function registered before `main`, from any crate | [`#[atexit::register]`](macro@register), with a named [`priority`] for a library's flush |
//! | a function called with arguments, by keyword | [`#[atexit::handler]`](macro@handler) on it, then [`register!`](prelude::register) |
//! | a name, a priority, a time limit | [`Registration`]; `AsyncRegistration` for an async handler (feature `tokio`) |
//! | handlers of your own | [`Registry`] (`new` is `const`: a `static` works) |
//! | cleanup at the end of a scope | a value with `Drop`; it does not run on `std::process::exit` or a signal, a handler does: [`Handle::run`] joins both |
//! | the handlers to see `main`'s thread-locals | [`#[atexit::main]`](macro@main) (or [`exit`]); with `#[tokio::main]`, put it above |
//! | handlers on Ctrl-C or `kill` | [`signals::install`] (feature `signals`) |
//! | a server that drains on SIGTERM | [`signals::install_graceful`] |
//! | a bound on the exit, or on one handler | [`set_deadline`], [`Registration::time_limit`] |
//!
//! # The API at a glance
//!
//! | Python | Rust | |
//! |---|---|---|
//! | `atexit.register(f)` | [`register(f)`](fn@register) | returns a [`Handle`] to this one registration |
//! | `atexit.register(f, *args)` | `register(move \|\| f(a, b))` | arguments are moved in at registration |
//! | `atexit.unregister(f)` | [`unregister(f)`](unregister) | removes every registration of `f`, returns how many |
//! | | [`Handle::unregister`] | removes exactly one registration |
//! | `atexit._ncallbacks()` | [`ncallbacks()`](ncallbacks) | |
//! | `atexit._clear()` | [`clear()`](clear) | |
//! | `atexit._run_exitfuncs()` | [`run_exitfuncs()`](run_exitfuncs) | returns the last panic as [`HandlerPanic`] |
//! | `sys.exit(code)` | [`exit(code)`](exit) | runs the handlers first, thread-locals alive |
//! | | [`is_exiting()`](is_exiting) | whether the process is exiting |
//! | | `register_async(limit, \|\| async {..})` | async handlers (feature `tokio`) |
//! | | [`exit_reason()`](exit_reason) | why: `main` returned, [`exit`], `std::process::exit` and its code, a [`Signal`], a panic, an explicit run |
//! | | [`Registration`] | priority and name |
//! | | [`Registry`] | a registry of your own, same semantics |
//! | `@atexit.register` on a function | [`#[atexit::register]`](macro@register) | static, from any crate, before `main` |
//! | `atexit.register(f, a, key=b)` | [`register!(f, a, key = b)`](prelude::register) | keywords checked at compile time, with [`#[atexit::handler]`](macro@handler) |
//! | | [`#[atexit::main]`](macro@main) | handlers run when `main` returns or panics, thread-locals alive |
//!
//! ```
//! use atexit::prelude::*;
//!
//! #[atexit::register]
//! fn flush_logs() { /* ... */ }
//!
//! #[atexit::handler]
//! fn goodbye(name: &str, adjective: &str) {
//!     println!("Goodbye {name}, it was {adjective} to meet you.");
//! }
//!
//! #[atexit::main]
//! fn main() {
//!     register!(goodbye, adjective = "nice", name = "Donny");
//! }
//! ```
//!
//! # Order
//!
//! Higher priority first (default 0, see [`Registration::priority`]); within a
//! priority, last registered first. Static handlers
//! ([`#[atexit::register]`](macro@register)) count as registered before
//! `main`, so at equal priority they run after the runtime ones; among
//! themselves an application's run before those of the libraries it uses
//! (as Python's import order gives: a library's log flush after the
//! application's handler that logs), then by module and line;
//! [`priority`] has named priorities for library authors. A handler
//! registered while the handlers
//! run also runs, in its place in that order; a pending handler unregistered
//! while they run does not run.
//!
//! # Which exits run the handlers
//!
//! | How the process ends | Handlers run? | Exit status |
//! |---|---|---|
//! | `main` returns | yes, on a fresh thread (`main`'s thread-locals are gone) | `main`'s |
//! | a panic unwinds out of `main` | yes | 101 |
//! | [`atexit::exit(code)`](exit), any thread | yes, on the calling thread, its thread-locals alive | `code` |
//! | [`std::process::exit(code)`](std::process::exit), any thread (Unix) | yes, on a fresh thread (the caller's thread-locals are gone) | `code` |
//! | several threads exit at once | yes, once, on one of them | one of theirs |
//! | `SIGINT`, `SIGTERM`, `SIGHUP` after [`signals::install()`](signals) (Unix) | yes, on a thread of ours | killed by the same signal |
//! | a second such signal while they run | the rest do not: it ends the process at once | killed by it |
//! | a handler outlives [`set_deadline`] | the hung one is named on stderr; the rest do not | 124 |
//! | a `fork()`ed child exits | its own and [inherited](Registration::inherit_on_fork) ones only | the child's |
//! | `std::process::exit` on Windows | **no**: it calls `ExitProcess`, which skips C `atexit` | use [`exit`] |
//! | Ctrl-C, Ctrl-Break, console closed, system shutdown, after [`signals::install()`](signals) (Windows) | yes, on the thread Windows starts for the event | `STATUS_CONTROL_C_EXIT` |
//! | [`std::process::abort`], `panic = "abort"`, `SIGKILL`, `libc::_exit` | **never**: the process ends without running any code | |
//! | a signal with no handler installed (`SIGTERM`, `SIGINT`, ...) | no: the process is killed | |
//! | `wasm32-wasip1`: `main` returns, `std::process::exit`, [`exit`] | yes (WASI's C library runs C `atexit` functions) | the program's |
//! | `wasm32-unknown-unknown` | no: there is no process exit; call [`run_exitfuncs`] | |
//!
//! Like Python, handlers do not run when the process is killed by a signal it
//! does not handle, on a fatal error, or on `_exit`. The README's exit-path
//! table is written by the test that runs each of these paths in a child
//! process.
//!
//! # Signals
//!
//! With the `signals` feature (Unix, and Windows' console events),
//! [`signals::install()`](signals::install)
//! makes `SIGINT`, `SIGTERM` and `SIGHUP` run the handlers, on an ordinary
//! thread, never inside the signal handler, and then die of that same signal,
//! so shells and supervisors see the truth. A server that drains uses
//! [`signals::install_graceful()`](signals::install_graceful) instead: the
//! first signal only asks for shutdown (a check, a blocking wait, or a
//! `Future` for any executor), the program finishes its work and returns,
//! and the handlers run then; a second signal forces the exit. Signals are
//! named by [`Signal`], without `libc`. See [`signals`] for the second
//! signal, ignored signals, other libraries' handlers (`ctrlc`, raw
//! `sigaction`), and PID 1 in containers.
//!
//! # A deadline for the exit
//!
//! [`set_deadline`] (or `ATEXIT_DEADLINE_MS`) bounds the exit: a handler
//! still running when it passes is named on stderr and the process ends at
//! once with status [`DEADLINE_EXIT_STATUS`]. The clock starts when the
//! process starts exiting, before it waits for a run another thread is in,
//! and watches every handler, those of a nested `run_exitfuncs()` too.
//! Ending the process takes no lock and flushes nothing, so a handler that
//! holds stdout's lock or is blocked on a full pipe cannot hold it up.
//! Without a deadline there is no watchdog thread and no cost.
//!
//! # Async handlers
//!
//! With the `tokio` feature, [`register_async`] registers a closure that
//! returns a future (flush a telemetry exporter, close a connection), with a
//! time limit; past it the future is dropped, named on stderr, and the rest
//! run. It keeps its place in the exit order. Under `#[atexit::main]` above
//! `#[tokio::main]` its future runs on the application's runtime as `main`
//! ends; on other exit paths, on a current-thread runtime built for it.
//!
//! # A time limit for one handler
//!
//! A handler that a lock or a peer can hold up gets a time limit of its own
//! ([`Registration::time_limit`]; every handler without one gets
//! [`set_handler_time_limit`]'s, or `ATEXIT_HANDLER_TIME_LIMIT_MS`'s). It
//! runs where the others do (it sees the same thread-locals); if it has not
//! finished in time it is named on stderr and left behind, still running,
//! and the rest of the handlers run from a new thread; the process ends
//! with the status it would have had. The deadline still bounds the whole
//! exit.
//!
//! ```
//! use std::time::Duration;
//!
//! atexit::Registration::new(|| { /* flush a log whose lock may be held */ })
//!     .name("flush log")
//!     .time_limit(Duration::from_millis(200))
//!     .register();
//! # atexit::clear();
//! ```
//!
//! The settings from the environment (`ATEXIT_TRACE`, `ATEXIT_DEADLINE_MS`,
//! `ATEXIT_HANDLER_TIME_LIMIT_MS`) are ignored in a setuid or setgid
//! process (`AT_SECURE` on Linux, `issetugid()` on macOS and the BSDs), as
//! glibc ignores its own there.
//!
//! # Tracing the exit
//!
//! `ATEXIT_TRACE=1` prints each handler's name, outcome and duration on
//! stderr as the run goes:
//!
//! ```text
//! atexit: trace: `my_app::flush_logs` ok in 1.203ms
//! atexit: trace: `close db` panicked in 85.1µs
//! atexit: trace: `upload metrics` left behind in 200.412ms
//! ```
//!
//! # Panics
//!
//! Each handler runs under `catch_unwind`. A panicking handler is reported on
//! stderr with its name and message,
//!
//! ```text
//! atexit: exit handler `my_app::flush_logs` panicked: disk full
//! ```
//!
//! and the other handlers still run. The exit status is left as it was, as
//! Python leaves it. An explicit [`run_exitfuncs`] returns the last panic; use
//! [`HandlerPanic::resume`] to re-raise it. With `panic = "abort"` a panicking
//! handler aborts the process, like any panic.
//!
//! # Ending the process from a handler
//!
//! Inside a handler, call [`exit`]: it ends that handler, records the status,
//! and the remaining handlers still run, however the handler runs. Do
//! **not** call `std::process::exit` inside a handler when `main` returned
//! or `std::process::exit` began the exit: the standard library lets one
//! thread exit and parks any other that calls it for ever, so that handler
//! never returns and its status is lost. On Linux the park is seen within a
//! quarter of a second: the handler is named on stderr and left behind, and
//! the rest run (within 2 s unless a [deadline](set_deadline) is set, since
//! what the parked thread holds may block them); elsewhere its time limit
//! or the deadline ends the wait. During an exit begun by [`exit`],
//! `#[atexit::main]`, a signal or [`run_exitfuncs`], `std::process::exit(n)`
//! in a handler ends the process with `n` once the rest have run.
//!
//! # Thread-locals
//!
//! When `main` returns or `std::process::exit` is called, libc tears the
//! exiting thread's thread-locals down before it calls exit handlers: the
//! handlers then run on a fresh thread, where a `thread_local!` starts
//! afresh (logging through `tracing` works; a value `main` set is not
//! there). [`exit`], `#[atexit::main]` and [`run_exitfuncs`] run them on the
//! calling thread first, while its thread-locals are alive, whatever their
//! time limits:
//!
//! ```no_run
//! use std::cell::RefCell;
//!
//! thread_local! {
//!     static PENDING: RefCell<Vec<String>> = RefCell::new(Vec::new());
//! }
//!
//! fn main() {
//!     atexit::register(|| PENDING.with(|p| println!("flushing {:?}", p.borrow())));
//!     PENDING.with(|p| p.borrow_mut().push("last words".into()));
//!     atexit::exit(0); // prints: flushing ["last words"]
//! }
//! ```
//!
//! # Threads
//!
//! Registration works from any thread at any time. While the process is
//! exiting, a handler registered by a running handler runs next, in its
//! place in the order; one registered by *another* thread is dropped without
//! running (its [`Handle`] is not pending): running every late arrival would
//! let busy threads keep the exit from ever finishing. The registry is
//! guarded by one short lock, never held while a handler runs, so handlers
//! may register, unregister, run and exit freely.
//!
//! The lock is taken with one atomic instruction; a waiter spins briefly,
//! then blocks until it is released (a futex where the system has one).
//! Registering a function item or a closure that captures nothing allocates
//! nothing; a capturing closure is boxed (one allocation).
//!
//! # `fork`
//!
//! A `fork()`ed child does not run the handlers its parent registered (in C
//! and Python it runs them all, a second time), only those it registers
//! itself and those registered with
//! [`Registration::inherit_on_fork`] (or
//! `#[atexit::register(inherit_on_fork)]`). The parent's closures are not
//! dropped in the child either, so their destructors do not run twice.
//!
//! # Plugins
//!
//! A shared library (`cdylib`) built with `atexit` has its own copy of the
//! runtime and its own registry. With glibc, its handlers, static and
//! runtime, run when it is unloaded with `dlclose` (glibc runs a shared
//! object's C `atexit` functions then, and forgets its fork callbacks), or
//! at exit if it is still loaded; the host's registry is not affected. They
//! run on the unloading thread, each waited for: no time limit, no
//! deadline, no thread of the library's left running once `dlclose`
//! returns; an async one is polled there without a runtime; [`exit`]
//! inside one ends that handler and the host goes on. This is tested
//! (`tests/cross_crate.rs`, `a_plugin_runs_its_handlers_at_dlclose`). A
//! plugin's handler must not start a thread-local of its own library (its
//! own `thread_local!`, or `tracing`'s or tokio's inside the plugin): its
//! destructor would run when the unloading thread ends, after the library
//! is gone. Do not call [`signals::install`](signals) from a library that
//! may be unloaded: the signal handler would point into unmapped code.
//!
//! [`atexit`]: https://docs.python.org/3/library/atexit.html

// docs.rs marks what needs a feature or a platform.
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(all(any(unix, windows), feature = "signals"))]
#[cfg_attr(docsrs, doc(cfg(all(any(unix, windows), feature = "signals"))))]
#[doc(inline)]
pub use atexit_core::signals;

#[cfg(all(any(unix, windows), feature = "crash"))]
#[cfg_attr(docsrs, doc(cfg(all(any(unix, windows), feature = "crash"))))]
#[doc(inline)]
pub use atexit_core::crash;

/// Without the `signals` feature, `atexit::signals::install()` and its kin fail to compile with a message that names
/// the feature (rather than rustc's suggestion of `atexit::Signal`). Never callable.
#[cfg(not(feature = "signals"))]
#[doc(hidden)]
pub mod signals {
    /// Implemented by nothing: a call that needs it names the feature.
    #[diagnostic::on_unimplemented(
        message = "`atexit::signals` needs the `signals` feature",
        label = "needs the `signals` feature of atexit",
        note = "in Cargo.toml: atexit = {{ version = \"0.1\", features = [\"signals\"] }}"
    )]
    pub trait SignalsFeature {}

    /// Needs the `signals` feature.
    pub fn install<'a>() -> std::io::Result<()>
    where
        &'a (): SignalsFeature,
    {
        unreachable!()
    }

    /// Needs the `signals` feature.
    pub fn install_for<'a>(_: &[crate::Signal]) -> std::io::Result<()>
    where
        &'a (): SignalsFeature,
    {
        unreachable!()
    }

    /// Needs the `signals` feature.
    pub fn install_graceful<'a>() -> std::io::Result<()>
    where
        &'a (): SignalsFeature,
    {
        unreachable!()
    }

    /// Needs the `signals` feature.
    pub fn install_graceful_for<'a>(_: &[crate::Signal]) -> std::io::Result<()>
    where
        &'a (): SignalsFeature,
    {
        unreachable!()
    }
}

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[doc(inline)]
pub use atexit_core::{AsyncRegistration, register_async};

pub use atexit_core::{
    DEADLINE_EXIT_STATUS, Ending, ExitFn, ExitReason, Function, Handle, HandlerOutput, HandlerPanic, Registration,
    Registry, Signal, TimeLimit, Untimed, clear, end_with, ending, exit, exit_reason, is_exiting, ncallbacks, priority,
    register, run_exitfuncs, set_deadline, set_handler_time_limit, unregister,
};

/// Registers a function to run at exit, statically: the decorator form of
/// Python's `@atexit.register`.
///
/// ```
/// #[atexit::register]
/// fn flush_logs() {
///     // runs when the process ends normally
/// }
///
/// #[atexit::register(priority = -10, name = "close the database")]
/// fn close_db() {}
///
/// # fn main() {
/// flush_logs(); // still an ordinary function
/// # atexit::clear();
/// # }
/// ```
///
/// The function is registered before `main` runs, from whichever crate it is
/// in, even in a private module of a library that the binary only links
/// (`use that_library as _;`), and even if the program never calls the
/// runtime. [`unregister(f)`](unregister) removes it; [`ncallbacks`] counts
/// it.
///
/// # Options
///
/// - `priority = N`: an `i32` constant expression; higher runs first
///   (default 0).
/// - `name = "..."`: the name in panic reports and traces (default: the
///   function's path, `my_crate::module::flush_logs`).
/// - `inherit_on_fork`: a `fork()`ed child keeps the handler (see
///   [`Registration::inherit_on_fork`]).
/// - `Self = Type`: the function is an associated function of `Type`, in
///   its `impl` block (below).
/// - `crate = path`: where the `atexit` crate is, for crates that re-export it.
///
/// # In an `impl` block
///
/// An attribute sees the function, not the `impl` block around it, so an
/// associated function names its type with `Self = Type`:
///
/// ```
/// struct Database;
///
/// impl Database {
///     #[atexit::register(Self = Database)]
///     fn close_all() {
///         // runs at exit, named `my_crate::Database::close_all`
///     }
/// }
/// # fn main() {
/// # Database::close_all();
/// assert_eq!(atexit::unregister(Database::close_all), 1);
/// # }
/// ```
///
/// `Type` is a path (for `impl Pool<u8>`, name `Pool<u8>` with a `type`
/// alias), and must be the `impl` block's own type: another is an error on
/// the option, "expected `PhantomData<Database>`, found
/// `PhantomData<Cache>`". In an inherent `impl` only: a trait's `impl`
/// cannot hold the associated constant the handler is defined in. Without
/// the option, rustc's own errors are all there is, since no macro sees
/// where it is: "`const` items in this context need a name" on the
/// attribute and "cannot find value `close_all` in this scope". Add
/// `Self = Type`.
///
/// # Order
///
/// Static handlers count as registered before `main`, so at equal priority
/// they run after every handler registered at runtime. Among themselves, an
/// application's (written in a binary or an example: cargo sets
/// `CARGO_BIN_NAME` there) run before those of the libraries it uses, so a
/// library's flush comes after the application's handler that logs through
/// it; then they are ordered by module (in an order fixed at compile time
/// by a hash of the module's path), then by line, as if registered in that
/// order: within one module the handler written last runs first, and the
/// order is the same for every build of a program, whatever order the
/// linker put them in. A library that
/// must run after (or before) others says so with a named
/// [`priority`]: `#[atexit::register(priority = atexit::priority::LATE)]`.
///
/// # Expansion
///
/// The function unchanged, and a static handler submitted to `inventory`,
/// inside a hidden constant named after the function
/// (`__atexit_register_flush`), so that nothing else it defines can meet a
/// name of yours. This is the snapshot the macro's tests check:
///
/// ```text
#[doc = include_str!("../docs/expansions/register.rs")]
/// ```
///
/// In an `impl` block an item nested in a constant cannot name `Self`, and
/// an attribute cannot see the `impl` it is in: the type is given with
/// `Self = Type` and the handler reaches the function through it. Without
/// it, the error is rustc's "cannot find value `close_all` in this scope"
/// on the function's name: the attribute cannot tell that it is in an
/// `impl`, so it cannot say more.
///
/// ```text
#[doc = include_str!("../docs/expansions/register_associated.rs")]
/// ```
///
/// # Misuse
///
/// Each is a compile error on the offending tokens that says what to do
/// instead. A function with parameters:
///
/// ```compile_fail
/// #[atexit::register] // error: needs a function without parameters; use `register!(goodbye, args...)`
/// fn goodbye(name: &str) {}
/// # fn main() {}
/// ```
///
/// An `async fn`, a generic function, a method taking `self`, an `unsafe fn`,
/// a function returning a value, an item that is not a function, and an
/// unknown or repeated option are rejected the same way.
///
/// ```compile_fail
/// #[atexit::register] // error: cannot run an `async fn` at exit
/// async fn flush() {}
/// # fn main() {}
/// ```
///
/// # `register!(f, args...)` is in the prelude
///
/// To register a function with arguments, as Python's
/// `atexit.register(f, *args, **kwargs)`, use the function-like macro
/// [`atexit::prelude::register!`](prelude::register), brought into scope
/// with `use atexit::prelude::*;`. It cannot be reached as
/// `atexit::register!`: this attribute holds that name in Rust's one
/// namespace for macros, and rustc answers "expected macro, found attribute
/// macro `atexit::register`" before any macro runs:
///
/// ```compile_fail
/// #[atexit::handler]
/// fn goodbye(name: &str) {}
/// # fn main() {
/// atexit::register!(goodbye, "Donny"); // error: expected macro, found attribute macro
/// # }
/// ```
///
/// ```
/// use atexit::prelude::*;
/// # #[atexit::handler]
/// # fn goodbye(name: &str) {}
/// # fn main() {
/// register!(goodbye, "Donny");
/// # atexit::clear();
/// # }
/// ```
#[doc(inline)]
pub use atexit_macros::register;

/// Marks a function with parameters so that [`register!`](prelude::register)
/// can pass them by keyword, checked at compile time.
///
/// ```
/// use atexit::prelude::*;
///
/// #[atexit::handler]
/// fn goodbye(name: &str, adjective: &str) {
///     println!("Goodbye {name}, it was {adjective} to meet you.");
/// }
///
/// # fn main() {
/// register!(goodbye, "Donny", "nice");
/// register!(goodbye, adjective = "nice", name = "Walter");
/// register!(goodbye, "Maude", adjective = "nice");
/// assert_eq!(atexit::unregister(goodbye), 3);
/// # }
/// ```
///
/// The function is unchanged. Parameters must be plain names with concrete
/// types (no `impl Trait`, no type parameters). The arguments are evaluated
/// when `register!` runs and kept until exit, as Python keeps them:
/// - a parameter `&T` (`&str`, `&[u8]`, `&Path`; any lifetime but
///   `'static`) takes a borrowed argument, cloned into a `T::Owned`
///   (`String`, `Vec<u8>`, `PathBuf`) at registration; the handler gets a
///   `&T` to that copy. So `register!(goodbye, name = &runtime_string)`
///   works, and later changes to `runtime_string` do not show.
/// - a parameter `&'static T` keeps the reference itself (a `static`'s
///   `Mutex`, say), and any other type is moved in; every lifetime inside it
///   is `'static`.
///
/// Borrowed arguments are cloned when they are passed by keyword, or
/// positionally before a keyword. A call with positional arguments only
/// (`register!(goodbye, "Donny", "nice")`) calls the function as written,
/// so any function works there, and its arguments must be `'static`.
///
/// A handler named through a re-export needs `crate = path` (as
/// [`#[atexit::register]`](macro@register) does), since its expansion names
/// the runtime's `Keywords` trait.
///
/// # Expansion
///
/// The function unchanged; a type of the same name (a braced struct, which
/// `register!` names); and for each number `N` of leading positional
/// arguments, a struct with the remaining parameters as fields, reached
/// only as `<goodbye as Keywords<N>>::Struct`. Its `bind` stores the
/// arguments and returns the closure that is registered. The other names
/// it defines, inside `const _` (a type alias, `bind`'s type parameter),
/// start with `__atexit_`, so that your own types (a `Handler`, an `F`)
/// keep their meaning in the parameters' types. The snapshot the tests
/// check:
///
/// ```text
#[doc = include_str!("../docs/expansions/handler.rs")]
/// ```
///
/// The errors name only the function and its parameters. A misspelt keyword
/// is "struct `_::_::goodbye<'_>` has no field named `adjectiv`" with the
/// right name suggested; a missing one "missing field `adjective`"; a wrong
/// type "expected `u32`, found `&str`" on the value; too many positional
/// arguments before the keywords "`goodbye` has no parameters left to pass
/// by keyword after 2 positional arguments". A function without this
/// attribute, called with keywords, is "expected type, found function
/// `goodbye`": add `#[atexit::handler]` to it. (Stable Rust gives a macro no
/// way to reword an error about a name that does not resolve.)
///
/// # The type shares the function's name
///
/// The function is in the value namespace and its type in the type
/// namespace, beside modules, structs, enums, traits and type aliases. So a
/// module (or any of those) of the same name in the same module clashes
/// with the type: "the name `cleanup` is defined multiple times", with
/// "`cleanup` redefined here" on `#[atexit::handler]`. `register!` finds
/// the type under the name and path of the function (through `use` and
/// re-exports too), so no other namespace can hold it. Rename the module or
/// the function, or move one of them into another module:
///
/// ```compile_fail
/// mod cleanup {}
///
/// #[atexit::handler] // error: the name `cleanup` is defined multiple times
/// fn cleanup(path: &str) {}
/// # fn main() {}
/// ```
///
/// An attribute in an `impl` block sees only the function, and a type
/// cannot be defined there: put the handler in a module, as a free
/// function.
#[doc(inline)]
pub use atexit_macros::handler;

/// Runs the exit handlers when `main` returns or panics, on the main thread,
/// while its thread-locals are still alive.
///
/// ```
/// use std::cell::RefCell;
///
/// thread_local! {
///     static PENDING: RefCell<Vec<String>> = RefCell::new(Vec::new());
/// }
///
/// #[atexit::main]
/// fn main() {
///     // Without #[atexit::main], this handler would run after PENDING is
///     // destroyed, and panic.
///     atexit::register(|| PENDING.with(|p| println!("flushing {:?}", p.borrow())));
///     PENDING.with(|p| p.borrow_mut().push("last words".into()));
/// }
/// ```
///
/// `main` may return anything `main` can (`()`, `Result<(), E>`,
/// `ExitCode`). Its result is reported first (an `Err` is printed as usual),
/// then the handlers run, then the process exits with the status it would
/// have had; after a panic, the handlers run and the panic continues, so the
/// status is 101. A handler calling [`exit`] sets the status. The only option
/// is `crate = path`.
///
/// With an async runtime, put it **above** the runtime's attribute: that
/// attribute moves to the inner function, and the exit run is awaited at
/// the end of `main`'s future (or as a panic unwinds out of it), on the
/// application's runtime, still running: async handlers ([`register_async`],
/// feature `tokio`) run there, in their place in the order, and can use
/// what belongs to that runtime (its connections, its spawned tasks); the
/// others are called on the thread that polls `main`. Below it, both
/// compile and the plain handlers run as usual, but the runtime writes a
/// plain `fn main` that keeps `#[atexit::main]`, so the handlers run after
/// the runtime has shut down: async ones on a runtime built for them, where
/// the application's connections and tasks are gone.
///
/// ```text
/// #[atexit::main]
/// #[tokio::main]
/// async fn main() { ... }
/// ```
///
/// # Expansion
///
/// The snapshot the macro's tests check:
///
/// ```text
#[doc = include_str!("../docs/expansions/main.rs")]
/// ```
///
/// ```compile_fail
/// #[atexit::main] // error: needs a `main` without parameters
/// fn main(args: Vec<String>) {}
/// ```
#[doc(inline)]
pub use atexit_macros::main;

/// What most programs need in scope: the [`register!`](prelude::register) macro.
///
/// It cannot live at `atexit::register`, which is the function and the
/// attribute ([`#[atexit::register]`](macro@crate::register)): Rust has one
/// namespace for macros, shared by attributes and function-like macros, so
/// `atexit::register!(..)` is rustc's "expected macro, found attribute
/// macro". Import this one: `use atexit::prelude::*;`.
pub mod prelude {
    /// Registers a function with arguments, positional or by keyword, as
    /// Python's `atexit.register(func, *args, **kwargs)`; returns a
    /// [`Handle`](crate::Handle).
    ///
    /// ```
    /// use atexit::prelude::*;
    ///
    /// #[atexit::handler]
    /// fn goodbye(name: &str, adjective: &str) {
    ///     println!("Goodbye {name}, it was {adjective} to meet you.");
    /// }
    ///
    /// # fn main() {
    /// register!(goodbye, "Donny", "nice");                    // positional
    /// register!(goodbye, adjective = "nice", name = "Donny"); // keywords, any order
    /// let handle = register!(goodbye, "Donny", adjective = "nice"); // positional, then keywords
    /// handle.unregister();                                    // just this one
    /// atexit::unregister(goodbye);                            // every other
    /// # }
    /// ```
    ///
    /// - `register!(f)` registers `f` itself; `register!(f, a, b)` registers a
    ///   call `f(a, b)`. Positional arguments work with any function, closure
    ///   or function pointer; keywords need a function marked
    ///   [`#[atexit::handler]`](crate::handler).
    /// - `f` and the arguments are evaluated once, when `register!` runs, in
    ///   the order written, and kept until exit: they must be `Send`, and
    ///   `'static`, except borrowed arguments of a handler's `&T` parameters,
    ///   which are cloned (see [`#[atexit::handler]`](crate::handler)).
    /// - [`atexit::unregister(f)`](crate::unregister) removes every
    ///   registration of `f`, whatever its arguments.
    /// - Panic reports and `ATEXIT_TRACE` name the handler after `f`, by its
    ///   path (`my_app::goodbye`), as they name `atexit::register(f)`.
    /// - Not to be confused with the attribute
    ///   [`#[atexit::register]`](macro@crate::register), for a function
    ///   without parameters, registered before `main`. This macro is only
    ///   here: `atexit::register!(..)` is an error ("expected macro, found
    ///   attribute macro"), since the attribute holds that name.
    /// - Compile errors land on the offending tokens: the argument of the
    ///   wrong type, the unknown keyword, the extra argument.
    ///
    /// ```compile_fail
    /// use atexit::prelude::*;
    /// #[atexit::handler]
    /// fn goodbye(name: &str, adjective: &str) {}
    /// # fn main() {
    /// register!(goodbye, name = "Donny", adjectiv = "nice"); // error: no field named `adjectiv`
    /// # }
    /// ```
    ///
    /// ```compile_fail
    /// use atexit::prelude::*;
    /// #[atexit::handler]
    /// fn goodbye(name: &str, adjective: &str) {}
    /// # fn main() {
    /// register!(goodbye, name = "Donny"); // error: missing field `adjective`
    /// # }
    /// ```
    ///
    /// ```compile_fail
    /// use atexit::prelude::*;
    /// #[atexit::handler]
    /// fn goodbye(name: &str, adjective: &str) {}
    /// # fn main() {
    /// register!(goodbye, name = "Donny", "nice"); // error: positional argument after a keyword argument
    /// # }
    /// ```
    ///
    /// # Expansion
    ///
    /// `macro_rules!` parses each argument as an expression, then the
    /// procedural macro writes the call. The locals (`f`, `arg0`, `handler`)
    /// are hygienic: no name of yours can meet them; the one item, the
    /// alias `__atexit_Keywords`, has a name no user writes, so the
    /// arguments mean what they mean where you write them. With positional
    /// arguments only, the function is called as written:
    ///
    /// ```text
    #[doc = include_str!("../docs/expansions/register_call_positional.rs")]
    /// ```
    ///
    /// With keywords, through the structs of
    /// [`#[atexit::handler]`](crate::handler):
    ///
    /// ```text
    #[doc = include_str!("../docs/expansions/register_call_keywords.rs")]
    /// ```
    #[doc(inline)]
    pub use crate::__register as register;
}

// `register!`, forwarding `$crate` so that generated code finds this crate
// under whatever name the caller reached it by (a re-exporting crate, say).
// No doc comment: it would be appended to `prelude::register!`'s page.
#[allow(missing_docs)]
#[doc(hidden)]
#[macro_export]
macro_rules! __register {
    () => {
        ::core::compile_error!("`register!` needs a function: `register!(f)` or `register!(f, args...)`")
    };
    // Each argument is parsed here, as an expression, and passed on as one
    // token: `(value)` or `(= key value)`.
    ($f:expr $(, $($rest:tt)*)?) => {
        $crate::__register!(@args ($f) [] $($($rest)*)?)
    };
    (@args $f:tt [$($done:tt)*]) => {
        $crate::__private::register_call!($crate; $f $($done)*)
    };
    (@args $f:tt [$($done:tt)*] $key:ident = $value:expr $(, $($rest:tt)*)?) => {
        $crate::__register!(@args $f [$($done)* (= $key $value)] $($($rest)*)?)
    };
    (@args $f:tt [$($done:tt)*] $value:expr $(, $($rest:tt)*)?) => {
        $crate::__register!(@args $f [$($done)* ($value)] $($($rest)*)?)
    };
}

#[cfg(all(feature = "tokio", feature = "signals", any(unix, windows)))]
#[doc = include_str!("../docs/tokio-service.md")]
pub mod tokio_service {}

/// Not public API. Used by generated code.
#[doc(hidden)]
pub mod __private {
    pub use atexit_core::__private::*;
    pub use atexit_core::Registration;
    pub use atexit_macros::register_call;
}

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
