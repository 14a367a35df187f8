//! The lock that makes a registry's runs one at a time, in order.
//!
//! A run pops and calls handlers one by one, releasing the data lock around
//! each call so handlers may register, unregister or inspect the registry.
//! Two runs on two threads would interleave and break the order, so runs are
//! serialised by this lock. It is re-entrant: a handler that starts a nested
//! run (`run_exitfuncs()` or `exit()` inside a handler) continues the same
//! run on the same thread instead of deadlocking on itself.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};

thread_local! {
    // Its address is this thread's token. A `const` thread-local with no
    // destructor stays usable during thread-local teardown, when the process
    // hook may run.
    static TOKEN: Cell<u8> = const { Cell::new(0) };
}

/// A non-zero number unique to the calling thread while it lives.
pub(crate) fn thread_token() -> usize {
    TOKEN.with(|t| t as *const Cell<u8> as usize)
}

pub(crate) struct RunLock {
    /// (owner token or 0, depth)
    state: Mutex<(usize, usize)>,
    released: Condvar,
    /// The owner, readable without the mutex.
    owner: AtomicUsize,
}

pub(crate) struct RunGuard<'a> {
    lock: &'a RunLock,
    outermost: bool,
}

impl RunLock {
    pub(crate) const fn new() -> Self {
        RunLock { state: Mutex::new((0, 0)), released: Condvar::new(), owner: AtomicUsize::new(0) }
    }

    /// Waits until no other thread is running, then holds the lock.
    pub(crate) fn acquire(&self) -> RunGuard<'_> {
        let me = thread_token();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.0 != 0 && state.0 != me {
            state = self.released.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        state.0 = me;
        state.1 += 1;
        self.owner.store(me, Ordering::SeqCst);
        RunGuard { lock: self, outermost: state.1 == 1 }
    }

    #[cfg(all(unix, not(miri)))]
    /// Holds the lock's mutex across `fork()`, so the child gets it unlocked
    /// and consistent; see `fork.rs`.
    pub(crate) fn lock_for_fork(&self) -> std::sync::MutexGuard<'_, (usize, usize)> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    #[cfg(all(unix, not(miri)))]
    /// In a `fork()`ed child: a run that another thread of the parent was
    /// in will never finish here, so it no longer holds the lock. A run of
    /// the thread that forked goes on in the child and keeps it.
    pub(crate) fn forget_other_threads(&self, state: &mut (usize, usize)) {
        if state.0 != 0 && state.0 != thread_token() {
            *state = (0, 0);
            self.owner.store(0, Ordering::SeqCst);
        }
    }

    /// Whether any thread is in a run.
    pub(crate) fn is_held(&self) -> bool {
        self.owner.load(Ordering::SeqCst) != 0
    }

    /// Whether the calling thread is in a run.
    pub(crate) fn is_held_by_current_thread(&self) -> bool {
        self.owner.load(Ordering::SeqCst) == thread_token()
    }
}

impl RunGuard<'_> {
    /// Whether this is the run itself rather than a run nested in one of its handlers.
    pub(crate) fn is_outermost(&self) -> bool {
        self.outermost
    }
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        let mut state = self.lock.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.1 -= 1;
        if state.1 == 0 {
            state.0 = 0;
            self.lock.owner.store(0, Ordering::SeqCst);
            self.lock.released.notify_all();
        }
    }
}
