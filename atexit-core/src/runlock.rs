//! Serializes a local [`Registry`](crate::Registry)'s runs (the exit state's lease serializes the process registry's,
//! `run.rs`): a run releases the state's lock around each handler, which may use the registry, so concurrent runs would
//! interleave and break the order. Re-entrant: `registry.run()` in one of its handlers continues the same run instead
//! of deadlocking. Built of atomics, not std's locks, so that a thread whose thread-locals are gone can take it;
//! waiters block until the run ends (`wait.rs`).

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::wait::Event;

thread_local! {
    // Its address is the thread's token; `const`, no destructor: usable in thread-local teardown, when the hook runs.
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

    /// Blocks (a whole run can take seconds) until no other thread runs, then holds the lock.
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
