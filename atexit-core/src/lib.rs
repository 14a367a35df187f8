//! Implementation detail of the [`atexit`](https://docs.rs/atexit) crate: the LIFO exit-handler runtime. Depend on
//! `atexit`, which re-exports and documents this API.
//!
//! One file per job, in layers; a module uses only those below it (`tests/layers.rs` fails on a cycle):
//!
//! 1. values, locks and last words: `wait`, `lock`, `identity`, `reason`, `settings`, `last_words`, `panic`, `statics`,
//!    `thread`, `runlock`;
//! 2. containers that know nothing of the process: `exit_state` (the one exit state), `callback`, then `registry`;
//! 3. `watch` (the trace, time limits, the deadline) and `process` (the process registry and its rules);
//! 4. `run` (the process registry's run), then `asynchronous` (async handlers);
//! 5. `exit` (the exit paths);
//! 6. platform hooks and the public functions: `hook` (the C `atexit` hook), `fork`, `signals` (with
//!    `signals_windows`), `shutdown`, `entry` (`#[atexit::main]`), `api`.

#![cfg_attr(docsrs, feature(doc_cfg))]

mod api;
#[cfg(feature = "tokio")]
mod asynchronous;
mod callback;
#[cfg(all(any(unix, windows), feature = "crash"))]
#[cfg_attr(docsrs, doc(cfg(all(any(unix, windows), feature = "crash"))))]
pub mod crash;
mod entry;
mod exit;
mod exit_state;
#[cfg(all(unix, not(miri)))]
mod fd_write;
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
pub use crate::callback::{ExitFn, HandlerOutput};
pub use crate::exit::{end_with, exit, run_exitfuncs, set_deadline};
pub use crate::exit_state::{ending, exit_reason, is_exiting};
pub use crate::identity::Function;
pub use crate::panic::HandlerPanic;
pub use crate::reason::{Ending, ExitReason, Signal};
pub use crate::registry::{Handle, Registry};
pub use crate::watch::{DEADLINE_EXIT_STATUS, set_handler_time_limit};

/// Not public API. Used by generated code.
#[doc(hidden)]
pub mod __private {
    pub use crate::entry::{CatchUnwind, run_main, run_main_after_its_runtime};
    pub use crate::exit::run_exit_async;
    pub use crate::identity::Identity;
    pub use crate::statics::StaticHandler;
    pub use inventory;

    /// Arguments of `register!` live until exit, so must be `Send + 'static`; checked here so errors point at them.
    #[inline(always)]
    pub fn argument<T: Send + 'static>(value: T) -> T {
        value
    }

    /// What `#[atexit::handler]` implements on the marker type named after the function, once per number `N` of leading
    /// positional arguments: `Struct` holds the rest, filled by keyword in `register!`.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` has no parameters left to pass by keyword after {N} positional arguments",
        label = "too many positional arguments before the keywords"
    )]
    pub trait Keywords<const N: usize> {
        type Struct<'a>;
    }

    /// A static handler's identity, its type, as a function: `TypeId::of` is not `const` on every supported Rust.
    pub const fn identity_fn<F: 'static>(_: &F) -> fn() -> Identity {
        type_identity::<F>
    }
    fn type_identity<F: 'static>() -> Identity {
        Identity::Type(core::any::TypeId::of::<F>())
    }
}
