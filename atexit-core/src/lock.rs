//! The registry's lock: a spin lock that yields.
//!
//! Every critical section of the registry is a few dozen instructions (push
//! a slot, pop a slot), shorter than parking and waking a thread. A
//! `std::sync::Mutex` spends an atomic read-modify-write on both lock and
//! unlock and parks waiters in the kernel; this lock unlocks with a plain
//! store and lets a waiter spin briefly, then yield its time slice, so that
//! registering from several threads at once stays fast, and a waiter whose
//! holder was preempted does not burn its core. Never held across user code.

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) struct Lock<T> {
    locked: Flag,
    value: UnsafeCell<T>,
}

/// The lock word, alone on its cache lines: waiters spin on it, and must not
/// keep stealing the line that holds the data the holder is writing.
#[repr(align(128))]
struct Flag(AtomicBool);

// SAFETY: the lock hands out access to `value` to one thread at a time
// (acquire on lock, release on unlock), so sharing it only needs `T: Send`,
// as for `std::sync::Mutex`.
unsafe impl<T: Send> Sync for Lock<T> {}

pub(crate) struct Guard<'a, T> {
    lock: &'a Lock<T>,
}

impl<T> Lock<T> {
    pub(crate) const fn new(value: T) -> Self {
        Lock { locked: Flag(AtomicBool::new(false)), value: UnsafeCell::new(value) }
    }

    pub(crate) fn lock(&self) -> Guard<'_, T> {
        if self.locked.0.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.lock_contended();
        }
        Guard { lock: self }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut spins = 0u32;
        loop {
            while self.locked.0.load(Ordering::Relaxed) {
                if spins < 100 {
                    spins += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            if self.locked.0.compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed).is_ok() {
                return;
            }
        }
    }
}

impl<T> Deref for Guard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: this guard holds the lock, so no other reference to the
        // value exists until it is dropped.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for Guard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as for `deref`, and `&mut self` makes this the only
        // reference through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::Lock;
    use std::sync::Arc;

    #[test]
    fn excludes_across_threads() {
        let lock = Arc::new(Lock::new(0u64));
        let per_thread = if cfg!(miri) { 50 } else { 100_000 };
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let lock = Arc::clone(&lock);
                std::thread::spawn(move || {
                    for _ in 0..per_thread {
                        *lock.lock() += 1;
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(*lock.lock(), 4 * per_thread);
    }
}
