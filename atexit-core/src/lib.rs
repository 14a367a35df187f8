//! Implementation detail of the [`atexit`](https://docs.rs/atexit) crate: the
//! LIFO exit-handler runtime. Depend on `atexit`, not on this crate; its
//! API is re-exported there and documented there.
//!
//! One file per idea: [`identity`](crate::Function) (what `unregister`
//! compares), `callback` (a type-erased handler), `registry` (order and
//! runs), `runlock` (one run at a time), `statics` (`#[atexit::register]`
//! handlers), `entry` (`#[atexit::main]`), `registration` (handles and
//! options), `global` (the process registry), `hook` (the C `atexit` hook
//! installed before `main`) and `exit`.

mod callback;
mod entry;
mod exit;
mod fork;
mod global;
mod hook;
mod identity;
mod lock;
mod observe;
mod panic;
mod registration;
mod registry;
mod runlock;
#[cfg(all(unix, feature = "signals"))]
pub mod signals;
mod statics;

pub use crate::exit::exit;
pub use crate::global::{clear, is_exiting, ncallbacks, register, run_exitfuncs, unregister};
pub use crate::identity::Function;
pub use crate::observe::{DEADLINE_EXIT_STATUS, set_deadline};
pub use crate::panic::HandlerPanic;
pub use crate::registration::{Handle, Registration};
pub use crate::registry::Registry;

/// Not public API. Used by generated code.
#[doc(hidden)]
pub mod __private {
    pub use crate::entry::run_main;
    pub use crate::identity::Identity;
    pub use crate::statics::{StaticHandler, StaticMeta};
    pub use inventory;

    /// A `register!` argument: it is stored until exit, so it must be
    /// `Send + 'static`; checked here so the error points at the argument.
    #[inline(always)]
    pub fn argument<T: Send + 'static>(value: T) -> T {
        value
    }

    /// The identity `unregister(f)` will compare against.
    pub fn identity<F: crate::Function<Args>, Args>(f: &F) -> Identity {
        Identity::of(f)
    }

    /// The identity of a function item: its type. What [`identity`] gives
    /// for one, with less code to generate per `#[atexit::register]`.
    pub const fn item_identity<F: 'static>(_: &F) -> Identity {
        Identity::Type(core::any::TypeId::of::<F>())
    }
}
