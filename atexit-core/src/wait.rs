//! The runtime's one way to block: on an atomic word until another thread changes it and wakes it (a futex through
//! `atomic-wait` on Linux, Android, FreeBSD, macOS, iOS, Windows). Not std's `Mutex`/`Condvar`: with no lock and no
//! thread-local, it works after C's `exit` destroyed the thread's thread-locals, and a `fork()`ed child inherits no
//! lock held by a vanished thread. Other Unixes and WebAssembly use one process-wide `Mutex` and `Condvar`: a child
//! forked while a parent thread held it (a few instructions) would block at its first wait. Waiters never poll; the
//! only timed waits are `Event::wait_until_for` (Linux and Windows) and the watchdog's park.

use std::sync::atomic::{AtomicU32, Ordering};

/// Threads [`wait_until`](Event::wait_until) a condition holds; whoever changes it calls [`notify`](Event::notify).
pub(crate) struct Event {
    /// Bumped by each notification; a waiter sleeps only while it is unchanged, so no notification is lost.
    changes: AtomicU32,
    /// Number of waiters, so that a notification with none makes no system call.
    waiters: AtomicU32,
}

impl Event {
    pub(crate) const fn new() -> Event {
        Event { changes: AtomicU32::new(0), waiters: AtomicU32::new(0) }
    }

    /// Makes every waiter test its condition again.
    pub(crate) fn notify(&self) {
        self.changes.fetch_add(1, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) != 0 {
            platform::wake_all(&self.changes);
        }
    }

    /// Blocks until `done` returns true; it is called again after each notification, or spuriously.
    pub(crate) fn wait_until(&self, done: impl FnMut() -> bool) {
        self.wait(None, done);
    }

    /// [`wait_until`](Event::wait_until) for at most `timeout`; returns whether `done` held. The timeout holds on Linux
    /// and Windows only (`atomic-wait` has none; these two wait through the system themselves), where the exiting
    /// thread uses it to check on what notifies nobody (`run.rs`).
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

/// Blocks while `word` holds `value`, for at most `timeout`.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn wait_for(word: &AtomicU32, value: u32, timeout: std::time::Duration) {
    let timeout = libc::timespec {
        tv_sec: timeout.as_secs().min(i32::MAX as u64) as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as _,
    };
    // SAFETY: `FUTEX_WAIT` only reads the word and the timeout, both alive for the call.
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
/// Blocks while `word` holds `value`, for at most `timeout` (`WaitOnAddress`, as `atomic-wait` waits, with a timeout).
#[cfg(windows)]
fn wait_for(word: &AtomicU32, value: u32, timeout: std::time::Duration) {
    #[link(name = "api-ms-win-core-synch-l1-2-0", kind = "raw-dylib")]
    unsafe extern "system" {
        fn WaitOnAddress(address: *const u32, compare: *const u32, size: usize, milliseconds: u32) -> i32;
    }
    // Rounded up, so that a wait short of a millisecond does not spin; `u32::MAX` would be `INFINITE`.
    let milliseconds = timeout.as_nanos().div_ceil(1_000_000).min(u128::from(u32::MAX - 1)) as u32;
    // SAFETY: both addresses are live for the call; the word is 4 bytes.
    unsafe { WaitOnAddress(word.as_ptr(), &value, 4, milliseconds) };
}
/// Elsewhere no wait has a timeout (see [`Event::wait_until_for`]).
#[cfg(not(any(target_os = "linux", target_os = "android", windows)))]
fn wait_for(word: &AtomicU32, value: u32, _: std::time::Duration) {
    platform::wait(word, value);
}

// For `lock.rs`: `wait` blocks while a word holds a value (or spuriously); `wake_one` wakes a waiter on it.
pub(crate) use platform::{wait, wake_one};

#[cfg(any(
    target_os = "linux",
    target_os = "android",
    target_os = "freebsd",
    target_os = "macos",
    target_os = "ios",
    windows
))]
use atomic_wait as platform;

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

    pub(crate) fn wait(word: &AtomicU32, value: u32) {
        let guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        // Wakers take the lock, so no wake is lost between this load and the wait.
        if word.load(Ordering::SeqCst) == value {
            drop(CHANGED.wait(guard).unwrap_or_else(PoisonError::into_inner));
        }
    }

    pub(crate) fn wake_all(_: &AtomicU32) {
        let _guard = LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        CHANGED.notify_all();
    }

    // One condition variable serves every word, so waking one means waking all.
    pub(crate) use self::wake_all as wake_one;
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
