//! The process registry: the one `atexit::register` fills and the exit runs.
//!
//! A [`Registry`](crate::Registry) with three rules of the process's own,
//! given to it as its [`Policy`]:
//! - **Static handlers** (`#[atexit::register]`) are taken in when the
//!   registry is first needed whole (a count, `unregister`, `clear`, a run),
//!   below every runtime registration, so that they count as registered when
//!   the program was loaded. Those submitted later (a constructor can need
//!   the registry before every crate's constructors have run) are taken in
//!   at the next such use and sorted in among the others.
//! - **Fork**: in a `fork()`ed child, the first use drops the parent's
//!   registrations, except those registered to be inherited. They are
//!   leaked, not dropped: a destructor could flush the parent's buffers a
//!   second time. Static handlers count as the parent's.
//! - **Late arrivals**: while the exit runs, a registration from another
//!   thread than the running one is dropped, so that busy threads cannot
//!   keep the exit from ever finishing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::callback::Callback;
use crate::lease;
use crate::registry::{Inner, Policy, State};
use crate::statics::{self, StaticHandler, StaticRef};

pub(crate) static PROCESS: Inner = Inner::new(Some(&POLICY));

static POLICY: Policy = Policy { epoch: &GENERATION, settle, closing: &EXIT_BEGUN, admits };

/// How many `fork()`s lie between the first process and this one.
static GENERATION: AtomicU64 = AtomicU64::new(0);
/// Whether static handlers were taken in before (read and written only
/// under `PROCESS`'s lock).
static STATICS_TAKEN: AtomicBool = AtomicBool::new(false);

static EXIT_BEGUN: AtomicBool = AtomicBool::new(false);

fn settle(state: &mut State, new_generation: bool, whole: bool) {
    if new_generation {
        forget_parents_registrations(state);
    }
    if whole {
        take_in_statics(state);
    }
}

/// The static handlers not taken in yet, each marked taken now.
fn untaken_statics() -> Vec<&'static StaticHandler> {
    inventory::iter::<StaticRef>.into_iter().map(|r| r.0).filter(|handler| handler.take()).collect()
}

fn forget_parents_registrations(state: &mut State) {
    // Static handlers count as the parent's: taken in, then dropped with
    // the parent's others unless registered `inherit_on_fork`.
    take_in_statics(state);
    for callback in state.take_where(|_, callback| !callback.inherited()) {
        std::mem::forget(callback);
    }
}

fn take_in_statics(state: &mut State) {
    let mut handlers = untaken_statics();
    if handlers.is_empty() {
        return;
    }
    if STATICS_TAKEN.swap(true, Ordering::Relaxed) {
        for callback in state.take_where(|_, callback| matches!(callback, Callback::Static(_))) {
            if let Callback::Static(handler) = callback {
                handlers.push(handler);
            }
        }
    }
    statics::sort(&mut handlers);
    state.insert_oldest(handlers.into_iter().map(|h| (h.priority(), h.identity().fingerprint(), Callback::Static(h))));
}

/// Once the exit has begun (checked by the registry first): a registration
/// is kept when no run is going on, or when the thread acts for the run.
fn admits() -> bool {
    !lease::is_exiting() || lease::acts_for_run()
}

/// In a `fork()`ed child, before anything else runs there but signal
/// handlers: this is a new generation, and no other thread's run goes on.
#[cfg_attr(not(unix), allow(dead_code))] // fork is Unix only
pub(crate) fn forked() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// The process is on its way out: an exit run is starting.
pub(crate) fn begin_exit() {
    EXIT_BEGUN.store(true, Ordering::SeqCst);
}

/// Whether an exit run has started.
#[cfg(all(any(unix, windows), feature = "signals"))]
pub(crate) fn exit_has_begun() -> bool {
    EXIT_BEGUN.load(Ordering::SeqCst)
}
