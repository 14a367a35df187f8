//! The lock that makes a local [`Registry`](crate::Registry)'s runs one at
//! a time, in order. (The process registry's run is the exit state's:
//! whoever holds its lease, see `run.rs`.)
//!
//! A run pops and calls handlers one by one, releasing the state's lock
//! around each call so that handlers may register, unregister or inspect
//! the registry. Two runs on two threads would interleave and break the
//! order, so runs take this lock. It is re-entrant: a handler that runs its
//! own registry again (`registry.run()` inside one of its handlers)
//! continues the same run on the same thread instead of deadlocking.
//!
//! Made of atomics and no `Mutex`, so a thread whose thread-locals are
//! gone can take it; a waiter blocks until the run it waits for ends
//! (`wait.rs`).

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::wait::Event;

thread_local! {
    // Its address is this thread's token. A `const` thread-local without a
    // destructor stays usable while the thread's thread-locals are torn
    // down, when the process hook may run.
    static TOKEN: Cell<u8> = const { Cell::new(0) };
}

/// A non-zero number unique to the calling thread while it lives.
fn thread_token() -> usize {
    TOKEN.with(|t| t as *const Cell<u8> as usize)
}

pub(crate) struct RunLock {
    /// The running thread's token, 0 when no run is going on.
    owner: AtomicUsize,
    /// How deeply the owner's runs are nested; only the owner touches it.
    depth: AtomicUsize,
    /// Notified when the lock is released.
    released: Event,
}

pub(crate) struct RunGuard<'a> {
    lock: &'a RunLock,
}

impl RunLock {
    pub(crate) const fn new() -> Self {
        RunLock { owner: AtomicUsize::new(0), depth: AtomicUsize::new(0), released: Event::new() }
    }

    /// Waits until no other thread is running, then holds the lock.
    ///
    /// A waiter waits for a whole run, which can take seconds: it blocks
    /// until the run is released.
    pub(crate) fn acquire(&self) -> RunGuard<'_> {
        let me = thread_token();
        if self.owner.load(Ordering::Acquire) != me {
            self.released
                .wait_until(|| self.owner.compare_exchange(0, me, Ordering::Acquire, Ordering::Relaxed).is_ok());
        }
        self.depth.fetch_add(1, Ordering::Relaxed);
        RunGuard { lock: self }
    }
}

impl Drop for RunGuard<'_> {
    fn drop(&mut self) {
        if self.lock.depth.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.lock.owner.store(0, Ordering::Release);
            self.lock.released.notify();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RunLock;

    #[test]
    fn reentrant_on_one_thread_exclusive_across_threads() {
        let lock = RunLock::new();
        let outer = lock.acquire();
        let inner = lock.acquire();
        let other = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let _run = lock.acquire();
                other.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            std::thread::sleep(std::time::Duration::from_millis(20));
            assert!(!other.load(std::sync::atomic::Ordering::SeqCst), "another thread entered a held run");
            drop(inner);
            drop(outer);
        });
        assert!(other.load(std::sync::atomic::Ordering::SeqCst));
    }
}
