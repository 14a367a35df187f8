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
//! # The API at a glance
//!
//! | Python | Rust | |
//! |---|---|---|
//! | `atexit.register(f)` | [`register(f)`](register) | returns a [`Handle`] to this one registration |
//! | `atexit.register(f, *args)` | `register(move \|\| f(a, b))` | arguments are moved in at registration |
//! | `atexit.unregister(f)` | [`unregister(f)`](unregister) | removes every registration of `f`, returns how many |
//! | | [`Handle::unregister`] | removes exactly one registration |
//! | `atexit._ncallbacks()` | [`ncallbacks()`](ncallbacks) | |
//! | `atexit._clear()` | [`clear()`](clear) | |
//! | `atexit._run_exitfuncs()` | [`run_exitfuncs()`](run_exitfuncs) | returns the last panic as [`HandlerPanic`] |
//! | `sys.exit(code)` | [`exit(code)`](exit) | runs the handlers first, thread-locals alive |
//! | | [`is_exiting()`](is_exiting) | whether the handlers are running |
//! | | [`Registration`] | priority and name |
//! | | [`Registry`] | a registry of your own, same semantics |
//!
//! # Order
//!
//! Higher priority first (default 0, see [`Registration::priority`]); within a
//! priority, last registered first. A handler registered while the handlers
//! run also runs, in its place in that order; a pending handler unregistered
//! while they run does not run.
//!
//! # Which exits run the handlers
//!
//! | How the process ends | Handlers run? | Exit status |
//! |---|---|---|
//! | `main` returns | yes, after `main`'s thread-locals are gone | `main`'s |
//! | a panic unwinds out of `main` | yes | 101 |
//! | [`atexit::exit(code)`](exit), any thread | yes, on the calling thread, its thread-locals alive | `code` |
//! | [`std::process::exit(code)`](std::process::exit), any thread (Unix) | yes, on the calling thread, its thread-locals gone | `code` |
//! | several threads exit at once | yes, once, on one of them | one of theirs |
//! | `std::process::exit` on Windows | **no**: it calls `ExitProcess`, which skips C `atexit` | use [`exit`] |
//! | [`std::process::abort`], `panic = "abort"`, `SIGKILL`, `libc::_exit` | **never**: the process ends without running any code | |
//! | a signal with no handler installed (`SIGTERM`, `SIGINT`, ...) | no: the process is killed | |
//!
//! Like Python, handlers do not run when the process is killed by a signal it
//! does not handle, on a fatal error, or on `_exit`.
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
//! and the remaining handlers still run. Do **not** call
//! `std::process::exit` inside a handler that runs at exit: the standard
//! library aborts a re-entrant `exit` ("std::process::exit called
//! re-entrantly").
//!
//! # Thread-locals
//!
//! When `main` returns or `std::process::exit` is called, libc tears the
//! exiting thread's thread-locals down before it calls exit handlers, so a
//! handler that touches a `thread_local!` with a destructor panics (and is
//! reported). [`exit`] runs the handlers first, while they are alive:
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
//! Registration works from any thread at any time, also while the handlers
//! run. A handler registered by another thread after the exit run has
//! finished (the process is then ending) never runs.
//!
//! # `fork`
//!
//! A `fork()`ed child inherits the parent's pending handlers, as it does in C
//! and Python, and runs them if it exits through `exit`. A child that must not
//! run them should end with `libc::_exit`.
//!
//! [`atexit`]: https://docs.python.org/3/library/atexit.html

pub use atexit_core::{
    Function, Handle, HandlerPanic, Registration, Registry, clear, exit, is_exiting, ncallbacks, register,
    run_exitfuncs, unregister,
};

pub use atexit_macros::{handler, main, register};

/// What most programs need in scope: the `register!` macro.
pub mod prelude {
    pub use atexit_macros::register_call as register;
}

/// Not public API. Used by generated code.
#[doc(hidden)]
pub mod __private {
    pub use atexit_core::__private::*;
    pub use atexit_core::Registration;
}
