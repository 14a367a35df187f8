//! The short lock around a registry's state, never held while a handler runs or a value drops. Not `std::sync::Mutex`,
//! which only its guard releases: `fork` holds the process registry's lock from its prepare callback to its parent and
//! child callbacks, with no guard to pass between them. Waiters spin, then block on the word (`wait.rs`).

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::wait;

// The lock's word; `CONTENDED`: taken, and a thread may be blocked on it.
const FREE: u32 = 0;
const TAKEN: u32 = 1;
const CONTENDED: u32 = 2;
/// How many times a waiter looks before it blocks.
const SPINS: u32 = 100;

pub(crate) struct Lock<T> {
    state: AtomicU32,
    value: UnsafeCell<T>,
}
// SAFETY: the value is reached only via a `Guard`, one at a time, so sharing the lock only sends `T` across threads.
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

    /// Holders keep the lock for nanoseconds: spin first, block after, spin again once woken. The word is marked
    /// contended only just before blocking, so that an unlock makes a wake call only when someone may sleep.
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

    /// Spins briefly while the lock is taken uncontended; returns the word's last value.
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

    /// For the holder only: a guard, or the caller of [`ForkLock::release`].
    fn unlock(&self) {
        if self.state.swap(FREE, Ordering::Release) == CONTENDED {
            wait::wake_one(&self.state);
        }
    }
}

/// A lock, whatever it guards, that `fork()` holds across its callbacks (`fork.rs`).
#[cfg_attr(any(not(unix), miri), allow(dead_code))] // fork: Unix only, not under Miri
pub(crate) trait ForkLock: Sync {
    fn acquire(&self);
    /// Gives back a lock taken with [`acquire`](ForkLock::acquire).
    /// # Safety
    /// The caller took the lock with `acquire` and holds no guard of it.
    unsafe fn release(&self);
}

impl<T: Send> ForkLock for Lock<T> {
    fn acquire(&self) {
        Lock::acquire(self);
    }

    unsafe fn release(&self) {
        self.unlock(); // the caller holds it, as promised
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
        // SAFETY: as in `deref`; `&mut self` makes this the guard's only use.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        self.lock.unlock(); // this guard holds it
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
