//! Implementation detail of the [`atexit`](https://docs.rs/atexit) crate: the
//! LIFO exit-handler runtime. Depend on `atexit`, not on this crate; its
//! API is re-exported there and documented there.
//!
//! One file per idea: [`identity`](crate::Function) (what `unregister`
//! compares), `callback` (a type-erased handler), `registry` (order and
//! runs), `runlock` (one run at a time), `registration` (handles and
//! options), `global` (the process registry), `hook` (the C `atexit` hook
//! installed before `main`) and `exit`.

mod callback;
mod exit;
mod global;
mod hook;
mod identity;
mod panic;
mod registration;
mod registry;
mod runlock;

pub use crate::exit::exit;
pub use crate::global::{clear, is_exiting, ncallbacks, register, run_exitfuncs, unregister};
pub use crate::identity::Function;
pub use crate::panic::HandlerPanic;
pub use crate::registration::{Handle, Registration};
pub use crate::registry::Registry;
