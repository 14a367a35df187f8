//! The short lock around a registry's state.
//!
//! It is held for a few loads and stores (a push, a pop, a scan), never
//! while a handler runs or a captured value is dropped. It is a word of
//! our own rather than `std::sync::Mutex` for one reason: `fork` must hold
//! the process registry's lock from its prepare callback to its parent and
//! child callbacks, three separate functions with no guard to pass between
//! them, and this lock can be taken and released without a guard. A
//! thread that finds it taken spins a little, then blocks on the word
//! (`wait.rs`) until the holder releases it.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::wait;

/// The lock's word: free, taken, or taken with a thread waiting for it.
const FREE: u32 = 0;
const TAKEN: u32 = 1;
const CONTENDED: u32 = 2;

/// How many times a waiter looks before it blocks.
const SPINS: u32 = 100;

pub(crate) struct Lock<T> {
    state: AtomicU32,
    value: UnsafeCell<T>,
}

// SAFETY: the value is reached only through a `Guard`, and `state` lets
// one guard exist at a time, so sharing the lock hands `T` from thread to
// thread, which `T: Send` allows.
unsafe impl<T: Send> Sync for Lock<T> {}

pub(crate) struct Guard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Lock<T> {
    pub(crate) const fn new(value: T) -> Self {
        Lock { state: AtomicU32::new(FREE), value: UnsafeCell::new(value) }
    }

    #[inline]
    pub(crate) fn lock(&self) -> Guard<'_, T> {
        self.acquire();
        Guard { lock: self }
    }

    /// Takes the lock without a guard; [`ForkLock::release`] gives it back.
    #[inline]
    pub(crate) fn acquire(&self) {
        if self.state.compare_exchange_weak(FREE, TAKEN, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.acquire_slowly();
        }
    }

    /// Waits for the holder. It holds the lock for nanoseconds, so spin a
    /// while first; past that, block until the holder releases it, and
    /// spin again once woken (marking the lock contended only when about
    /// to block, so that a holder wakes someone only when someone sleeps).
    #[cold]
    fn acquire_slowly(&self) {
        let mut state = self.spin();
        if state == FREE {
            match self.state.compare_exchange(FREE, TAKEN, Ordering::Acquire, Ordering::Relaxed) {
                Ok(_) => return,
                Err(now) => state = now,
            }
        }
        loop {
            if state != CONTENDED && self.state.swap(CONTENDED, Ordering::Acquire) == FREE {
                return;
            }
            wait::wait(&self.state, CONTENDED);
            state = self.spin();
        }
    }

    /// Spins while the lock is taken and nobody sleeps on it, a little;
    /// returns what it then holds.
    fn spin(&self) -> u32 {
        for _ in 0..SPINS {
            let state = self.state.load(Ordering::Relaxed);
            if state != TAKEN {
                return state;
            }
            std::hint::spin_loop();
        }
        self.state.load(Ordering::Relaxed)
    }

    /// Releases the lock: for its holder only (a guard, or
    /// [`ForkLock::release`]'s caller).
    fn unlock(&self) {
        if self.state.swap(FREE, Ordering::Release) == CONTENDED {
            wait::wake_one(&self.state);
        }
    }
}

/// A lock that `fork()` holds across (see `fork.rs`), whatever it guards.
#[cfg_attr(any(not(unix), miri), allow(dead_code))] // fork: Unix only, not under Miri
pub(crate) trait ForkLock: Sync {
    fn acquire(&self);

    /// Gives back a lock taken with [`acquire`](ForkLock::acquire).
    ///
    /// # Safety
    /// The caller took the lock with `acquire` and holds no guard of it.
    unsafe fn release(&self);
}

impl<T: Send> ForkLock for Lock<T> {
    fn acquire(&self) {
        Lock::acquire(self);
    }

    unsafe fn release(&self) {
        // As the caller promises, it holds the lock.
        self.unlock();
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock, so no other reference to the value exists.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `&mut self` makes this the only use of the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        // This guard took the lock and is going away.
        self.lock.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::{ForkLock, Lock};

    #[test]
    fn threads_take_turns() {
        let lock = Lock::new(0u64);
        let per_thread = if cfg!(miri) { 50 } else { 100_000 };
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for _ in 0..per_thread {
                        *lock.lock() += 1;
                    }
                });
            }
        });
        assert_eq!(*lock.lock(), 2 * per_thread);
    }

    #[test]
    fn acquire_and_release_without_a_guard() {
        let lock = Lock::new(1);
        lock.acquire();
        // SAFETY: taken just above, without a guard.
        unsafe { lock.release() };
        assert_eq!(*lock.lock(), 1);
    }
}
