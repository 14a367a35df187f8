//! The process registry: the one `atexit::register` fills and the exit runs.
//!
//! A [`Stacks`] of pending handlers, as a [`Registry`](crate::Registry)
//! keeps, with three rules of the process's own:
//! - **Static handlers** (`#[atexit::register]`) are taken in when the
//!   registry is first needed whole (a count, `unregister`, `clear`, a run)
//!   into a list of their own, sorted by their compile-time keys. They count
//!   as registered when the program was loaded, before every runtime
//!   registration: a run takes the next handler from whichever of the two
//!   comes first. Those submitted later (a constructor can need the registry
//!   before every crate's constructors have run; a library loaded later) are
//!   taken in at the next such use and sorted in among the others.
//! - **Fork**: a `fork()`ed child drops the parent's registrations at
//!   once (its fork callback), except those registered to be inherited. They are
//!   leaked, not dropped: a destructor could flush the parent's buffers a
//!   second time. Static handlers count as the parent's.
//! - **Late arrivals**: while the exit runs, a registration from another
//!   thread than the running one is dropped, so that busy threads cannot
//!   keep the exit from ever finishing.

use crate::callback::Callback;
use crate::exit_state;
use crate::identity::Identity;
use crate::lock::{ForkLock, Guard, Lock};
use crate::registry::{Key, Registrations, Stacks, emptied};
use crate::statics::{self, StaticHandler};

/// The process registry.
pub(crate) static PROCESS: Process =
    Process { state: Lock::new(Handlers { registrations: Stacks::new(), statics: Vec::new(), newest_static: None }) };

pub(crate) struct Process {
    state: Lock<Handlers>,
}

/// The pending handlers, and what was done to keep them up to date.
struct Handlers {
    registrations: Stacks,
    /// The static handlers taken in and pending, in registration order
    /// (the last runs first).
    statics: Vec<&'static StaticHandler>,
    /// The newest submission taken in: `inventory` adds new ones in front
    /// of it, so those before it are the ones not taken in yet.
    newest_static: Option<&'static StaticHandler>,
}

impl Process {
    /// The state, with the static handlers taken in when the caller needs
    /// every pending handler (a count, a scan, a run's start).
    #[inline]
    fn state(&self, with_statics: bool) -> Guard<'_, Handlers> {
        let mut state = self.state.lock();
        if with_statics {
            state.take_in_statics();
        }
        state
    }

    /// Registers, unless the exit has begun and the caller does not act
    /// for its run (a late arrival, dropped).
    #[inline]
    pub(crate) fn insert(&self, priority: i32, fingerprint: u64, callback: Callback) -> Key {
        if exit_state::has_begun() && exit_state::run_going_on() && !exit_state::acts_for_run() {
            crate::panic::drop_quietly(callback);
            return Key::nothing(priority);
        }
        self.state(false).registrations.insert(priority, fingerprint, callback)
    }

    pub(crate) fn unregister(&self, identity: Identity) -> usize {
        let mut state = self.state(true);
        let statics = state.statics.len();
        state.statics.retain(|handler| handler.identity() != identity);
        let statics = statics - state.statics.len();
        let taken = state.registrations.take_identity(identity);
        drop(state);
        statics + taken.len()
    }

    pub(crate) fn len(&self) -> usize {
        let state = self.state(true);
        state.registrations.len() + state.statics.len()
    }

    /// Drops every pending handler, static ones included.
    pub(crate) fn clear(&self) {
        let mut state = self.state(true);
        state.statics.clear();
        let taken = state.registrations.take_all();
        // Dropped outside the lock: a captured value's destructor may use
        // the registry.
        drop(state);
        let taken = emptied(taken);
        self.state(false).registrations.keep_memory(taken);
    }

    /// Takes the next handler out, in exit order (`with_statics` at the
    /// start of a run): a static handler when its priority is above every
    /// runtime registration's (at equal priority, it counts as older).
    #[inline]
    pub(crate) fn pop(&self, with_statics: bool) -> Option<Callback> {
        let mut state = self.state(with_statics);
        let Some(next_static) = state.statics.last() else { return state.registrations.pop_next() };
        if state.registrations.has_from(next_static.priority()) {
            state.registrations.pop_next()
        } else {
            state.statics.pop().map(Callback::Static)
        }
    }

    /// The lock `fork()` holds across (see `fork.rs`).
    #[cfg_attr(any(not(unix), miri), allow(dead_code))] // fork: Unix only, not under Miri
    pub(crate) fn fork_lock(&'static self) -> &'static dyn ForkLock {
        &self.state
    }
}

impl Registrations for Process {
    fn take(&self, key: Key) -> Option<Callback> {
        self.state(false).registrations.remove(key)
    }

    /// While the exit's run goes on, it runs the handler: a thread that
    /// does not act for it leaves it there (the exit would not wait for it).
    fn take_to_run(&self, key: Key) -> Option<Callback> {
        if exit_state::has_begun() && exit_state::run_going_on() && !exit_state::acts_for_run() {
            return None;
        }
        self.take(key)
    }

    fn contains(&self, key: Key) -> bool {
        self.state(false).registrations.contains(key)
    }
}

impl Handlers {
    fn forget_parents_registrations(&mut self) {
        // Static handlers count as the parent's: dropped with the parent's
        // others unless registered `inherit_on_fork`.
        self.take_in_statics();
        self.statics.retain(|handler| handler.inherited());
        for callback in self.registrations.take_where(|_, callback| !callback.inherited()) {
            std::mem::forget(callback);
        }
    }

    fn take_in_statics(&mut self) {
        let newest = inventory::iter::<StaticHandler>.into_iter().next();
        if newest.map(|h| h as *const StaticHandler) == self.newest_static.map(|h| h as *const StaticHandler) {
            return;
        }
        let seen = std::mem::replace(&mut self.newest_static, newest);
        let fresh = inventory::iter::<StaticHandler>
            .into_iter()
            .take_while(|h| seen.is_none_or(|seen| !std::ptr::eq(*h, seen)));
        self.statics.extend(fresh);
        statics::sort(&mut self.statics);
    }
}

/// In a `fork()`ed child, before anything else runs there but signal
/// handlers: the parent's registrations are dropped, but those registered
/// to be inherited.
#[cfg_attr(any(not(unix), miri), allow(dead_code))] // fork: Unix only, not under Miri
pub(crate) fn forked() {
    PROCESS.state.lock().forget_parents_registrations();
}
