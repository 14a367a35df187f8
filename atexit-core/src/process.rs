//! The process registry (`atexit::register` fills it, the exit runs it): [`Stacks`] of pending handlers, as a
//! [`Registry`](crate::Registry) keeps, with three rules of its own.
//! - **Static handlers** (`#[atexit::register]`), sorted by compile-time key, count as registered at load, before any
//!   runtime registration. They are taken in when the whole registry is first needed (a count, `unregister`, `clear`, a
//!   run); later submissions (before every constructor ran, or from a library loaded later), at the next such use.
//! - **Fork**: a child's fork callback leaks (a destructor could flush the parent's buffers again) the parent's
//!   registrations, static ones included, but those registered to be inherited.
//! - **Late arrivals**: during the exit, registrations from threads other than the running one are dropped, so busy
//!   threads cannot keep the exit from ever finishing.

use crate::callback::Callback;
use crate::exit_state;
use crate::identity::Identity;
use crate::lock::{ForkLock, Guard, Lock};
use crate::registry::{Key, Registrations, Stacks, emptied};
use crate::statics::{self, StaticHandler};

pub(crate) static PROCESS: Process =
    Process { state: Lock::new(Handlers { registrations: Stacks::new(), statics: Vec::new(), newest_static: None }) };

pub(crate) struct Process {
    state: Lock<Handlers>,
}

struct Handlers {
    registrations: Stacks,
    /// Static handlers taken in and pending, in registration order (the last runs first).
    statics: Vec<&'static StaticHandler>,
    /// The newest submission taken in: `inventory` adds new ones in front of it.
    newest_static: Option<&'static StaticHandler>,
}

impl Process {
    /// The state, static handlers taken in if the caller needs them all (a count, a scan, a run's start).
    #[inline]
    fn state(&self, with_statics: bool) -> Guard<'_, Handlers> {
        let mut state = self.state.lock();
        if with_statics {
            state.take_in_statics();
        }
        state
    }

    /// Registers, unless a late arrival: the exit has begun and the caller does not act for its run.
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
        // Dropped outside the lock: a captured value's destructor may use the registry.
        drop(state);
        let taken = emptied(taken);
        self.state(false).registrations.keep_memory(taken);
    }

    /// The next handler in exit order (`with_statics` at a run's start); statics count as older at equal priority.
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

    /// Once the exit began, only a thread acting for its run takes a handler out: the run runs it (and would not wait
    /// for another thread).
    fn take_to_run(&self, key: Key) -> Option<Callback> {
        // Not only while the exit's run is going on: also between the exit's start and its run's.
        if exit_state::has_begun() && !exit_state::acts_for_run() {
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
        // Static handlers count as the parent's too.
        self.take_in_statics();
        self.statics.retain(|handler| handler.inherited());
        self.registrations.take_where(|_, callback| !callback.inherited()).into_iter().for_each(std::mem::forget);
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

/// In a `fork()`ed child, before anything but signal handlers runs there (see the module docs).
#[cfg_attr(any(not(unix), miri), allow(dead_code))] // fork: Unix only, not under Miri
pub(crate) fn forked() {
    PROCESS.state.lock().forget_parents_registrations();
}
