//! Implementation detail of the [`atexit`](https://docs.rs/atexit) crate: the
//! LIFO exit-handler runtime. Depend on `atexit`, not on this crate; its
//! API is re-exported there and documented there.
//!
//! One file per job, in layers; a module uses only those below it (a test,
//! `tests/layers.rs`, fails on a cycle):
//!
//! 1. values, locks and last words: `wait` (the one way a thread waits: on
//!    an atomic word), `lock` (the lock of every state here, which `fork`
//!    can hold across), `identity` (what `unregister` compares), `reason`
//!    (why and how the process exits, as a handler reads it), `settings`
//!    (the environment, ignored when setuid), `last_words` (writes that
//!    cannot block, the ways to end the process), `panic` (a caught
//!    panic), `statics` (what a `#[atexit::register]` handler is),
//!    `thread` (the threads started at exit), `runlock` (a local
//!    registry's runs, one at a time);
//! 2. `exit_state` (the one exit state: who acts for the run, the runs,
//!    the reason and status, the fork and shutdown flags, and what waits
//!    for them); `callback` (a pending handler: static, closure or async,
//!    with its options), then `registry` (order, `Handle`, `Registry`):
//!    containers that know nothing of the process;
//! 3. `watch` (the records of running handlers: the trace, time limits and
//!    the deadline, and what is due) and `process` (the process registry
//!    and its rules: static handlers, fork, late arrivals);
//! 4. `run` (the process registry's run: where each handler runs, the
//!    lease handed from thread to thread, the watchdog acting on what is
//!    due), then `asynchronous` (how async handlers run: awaited in place,
//!    or on a runtime of their own);
//! 5. `exit` (the exit paths: where an exit run starts, how it ends, the
//!    deadline);
//! 6. platform hooks and the public functions: `hook` (the C `atexit` hook
//!    and the constructor), `fork` (the one place a fork is seen),
//!    `signals` (with `signals_windows`) and `shutdown`, `entry`
//!    (`#[atexit::main]`), `api` (`register`, `Registration`,
//!    `register_async`, ...).

#![cfg_attr(docsrs, feature(doc_cfg))]

mod api;
#[cfg(feature = "tokio")]
mod asynchronous;
mod callback;
mod entry;
mod exit;
mod exit_state;
mod fork;
mod hook;
mod identity;
mod last_words;
mod lock;
mod panic;
mod process;
mod reason;
mod registry;
mod run;
mod runlock;
mod settings;
#[cfg(all(any(unix, windows), feature = "signals"))]
mod shutdown;
#[cfg(all(any(unix, windows), feature = "signals"))]
#[cfg_attr(docsrs, doc(cfg(all(any(unix, windows), feature = "signals"))))]
pub mod signals;
mod statics;
mod thread;
mod wait;
mod watch;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use crate::api::{AsyncRegistration, register_async};
pub use crate::api::{Registration, TimeLimit, Untimed, clear, ncallbacks, priority, register, unregister};
pub use crate::exit::{exit, run_exitfuncs, set_deadline};
pub use crate::exit_state::{exit_reason, is_exiting};
pub use crate::identity::Function;
pub use crate::panic::HandlerPanic;
pub use crate::reason::{ExitReason, Signal};
pub use crate::registry::{Handle, Registry};
pub use crate::watch::{DEADLINE_EXIT_STATUS, set_handler_time_limit};

/// Not public API. Used by generated code.
#[doc(hidden)]
pub mod __private {
    pub use crate::entry::{CatchUnwind, run_main};
    pub use crate::exit::run_exit_async;
    pub use crate::identity::Identity;
    pub use crate::statics::StaticHandler;
    pub use inventory;

    /// A `register!` argument: it is stored until exit, so it must be
    /// `Send + 'static`; checked here so the error points at the argument.
    #[inline(always)]
    pub fn argument<T: Send + 'static>(value: T) -> T {
        value
    }

    /// What `#[atexit::handler]` implements on the marker type named after
    /// the function, once for each number `N` of leading positional
    /// arguments: `Struct` holds the rest, filled by keyword in `register!`.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` has no parameters left to pass by keyword after {N} positional arguments",
        label = "too many positional arguments before the keywords"
    )]
    pub trait Keywords<const N: usize> {
        type Struct<'a>;
    }

    /// The function that gives a function item's identity (its type), for
    /// a static handler: a function, since `TypeId::of` is not `const` on
    /// every supported Rust.
    pub const fn identity_fn<F: 'static>(_: &F) -> fn() -> Identity {
        type_identity::<F>
    }

    fn type_identity<F: 'static>() -> Identity {
        Identity::Type(core::any::TypeId::of::<F>())
    }
}
