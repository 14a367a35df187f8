//! The one way the runtime waits: on an atomic word, until another thread
//! changes it and wakes the waiters (a futex, through `atomic-wait`, where
//! the system has one: Linux, Android, FreeBSD, macOS, iOS, Windows).
//!
//! It is safe at exit and across `fork()`: it takes no lock and uses no
//! thread-local, so a thread whose thread-locals are gone (C's `exit`) can
//! wait, and a `fork()`ed child, whose other threads are gone, never
//! inherits a lock held by one of them. Elsewhere (other Unixes,
//! WebAssembly) one process-wide `Mutex` and `Condvar` stand in; there a
//! child forked while a thread of its parent was between taking and
//! releasing that mutex (a few instructions) would block at its first wait.
//!
//! Nothing here sleeps for a while and looks again: a waiter blocks until
//! it is woken. Only the watchdog waits with a timeout, parked (`watch.rs`).

use std::sync::atomic::{AtomicU32, Ordering};

/// Something threads wait for: [`wait_until`](Event::wait_until) a
/// condition holds, which whoever changes what it reads makes known with
/// [`notify`](Event::notify).
pub(crate) struct Event {
    /// Changes on every notification: a waiter that saw one value sleeps
    /// only while it is still that value, so no notification is lost.
    changes: AtomicU32,
    /// How many threads wait: a notification with none makes no system call.
    waiters: AtomicU32,
}

impl Event {
    pub(crate) const fn new() -> Event {
        Event { changes: AtomicU32::new(0), waiters: AtomicU32::new(0) }
    }

    /// Something a waiter may be waiting for has changed: every waiter
    /// looks again.
    pub(crate) fn notify(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) != 0 {
            platform::wake_all(&self.changes);
        }
    }

    /// Blocks until `done` says so; it is asked again after each
    /// notification (and may be asked spuriously).
    pub(crate) fn wait_until(&self, done: impl FnMut() -> bool) {
        self.wait(None, done);
    }

    /// [`wait_until`](Event::wait_until) for `timeout` at most: whether
    /// `done` said so. Linux only (`atomic-wait` has no timeout); only the
    /// exiting thread uses it, to look at what notifies nobody (see `run.rs`).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub(crate) fn wait_until_for(&self, timeout: std::time::Duration, done: impl FnMut() -> bool) -> bool {
        self.wait(Some(std::time::Instant::now() + timeout), done)
    }

    fn wait(&self, until: Option<std::time::Instant>, mut done: impl FnMut() -> bool) -> bool {
        loop {
            let seen = self.changes.load(Ordering::SeqCst);
            if done() {
                return true;
            }
            let left = until.map(|until| until.saturating_duration_since(std::time::Instant::now()));
            if left.is_some_and(|left| left.is_zero()) {
                return false;
            }
            self.waiters.fetch_add(1, Ordering::SeqCst);
            // A change after `seen` was read makes this return at once.
            if self.changes.load(Ordering::SeqCst) == seen {
                match left {
                    None => platform::wait(&self.changes, seen),
                    Some(left) => wait_for(&self.changes, seen, left),
                }
            }
            self.waiters.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Blocks while `word` holds `value`, for `timeout` at most.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn wait_for(word: &AtomicU32, value: u32, timeout: std::time::Duration) {
    let timeout = libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as _,
    };
    // SAFETY: `FUTEX_WAIT` reads the word and the timeout, both alive for
    // the call, and blocks while the word is `value`.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word as *const AtomicU32,
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            value,
            &timeout as *const libc::timespec,
        )
    };
}

/// Elsewhere no wait has a timeout (see [`Event::wait_until_for`]).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn wait_for(word: &AtomicU32, value: u32, _: std::time::Duration) {
    platform::wait(word, value);
}

/// Blocks while `word` holds `value` (it may return spuriously).
pub(crate) fn wait(word: &AtomicU32, value: u32) {
    platform::wait(word, value);
}

/// Wakes one thread blocked in [`wait`] on `word`.
pub(crate) fn wake_one(word: &AtomicU32) {
    platform::wake_one(word);
}

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "macos",
    target_os = "ios",
    windows
))]
mod platform {
    pub(super) use atomic_wait::{wait, wake_all, wake_one};
}

#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "macos",
    target_os = "ios",
    windows
)))]
mod platform {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::{Condvar, Mutex, PoisonError};

    static LOCK: Mutex<()> = Mutex::new(());
    static CHANGED: Condvar = Condvar::new();

    pub(super) fn wait(word: &AtomicU32, value: u32) {
        let guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        // Whoever changes the word wakes under the lock: no wake is lost
        // between this look and the wait.
        if word.load(Ordering::SeqCst) == value {
            drop(CHANGED.wait(guard).unwrap_or_else(PoisonError::into_inner));
        }
    }

    pub(super) fn wake_all(_: &AtomicU32) {
        let _guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        CHANGED.notify_all();
    }

    pub(super) fn wake_one(word: &AtomicU32) {
        // One condition variable serves every word: wake them all.
        wake_all(word);
    }
}

#[cfg(test)]
mod tests {
    use super::Event;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[test]
    fn a_waiter_sees_the_change_it_waits_for() {
        static EVENT: Event = Event::new();
        static READY: AtomicBool = AtomicBool::new(false);
        std::thread::scope(|s| {
            let waiter = s.spawn(|| EVENT.wait_until(|| READY.load(Ordering::SeqCst)));
            s.spawn(|| {
                READY.store(true, Ordering::SeqCst);
                EVENT.notify();
            });
            waiter.join().unwrap();
        });
        assert_eq!(EVENT.waiters.load(Ordering::SeqCst), 0);
    }
}
