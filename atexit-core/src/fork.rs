//! Fork awareness: a `fork()`ed child does not run the handlers its parent
//! registered, unless they were registered to be inherited
//! ([`Registration::inherit_on_fork`](crate::Registration::inherit_on_fork)).
//!
//! `pthread_atfork` gives each fork a new epoch; the process registry drops
//! the registrations of an older epoch at its first use in the child. The
//! registry's locks are held across the fork, so the child never inherits
//! them half-taken by a thread that does not exist there.

use std::sync::atomic::{AtomicU64, Ordering};

static EPOCH: AtomicU64 = AtomicU64::new(0);

/// The number of forks between the first process and this one.
pub(crate) fn epoch() -> u64 {
    EPOCH.load(Ordering::Relaxed)
}

#[cfg(all(unix, not(miri)))]
mod atfork {
    use std::cell::RefCell;
    use std::sync::MutexGuard;

    use crate::global::GLOBAL_INNER;
    use crate::lock::Guard;
    use crate::registry::State;

    type Held = (Guard<'static, State>, MutexGuard<'static, (usize, usize)>);

    thread_local! {
        // Only the forking thread runs the three handlers, in order.
        static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
    }

    extern "C" fn prepare() {
        let held = (GLOBAL_INNER.lock_for_fork(), GLOBAL_INNER.run_lock.lock_for_fork());
        HELD.with(|h| *h.borrow_mut() = Some(held));
    }

    extern "C" fn parent() {
        HELD.with(|h| drop(h.borrow_mut().take()));
    }

    extern "C" fn child() {
        super::EPOCH.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        HELD.with(|h| {
            if let Some((state, mut run)) = h.borrow_mut().take() {
                GLOBAL_INNER.run_lock.forget_other_threads(&mut run);
                drop((state, run));
            }
        });
    }

    pub(crate) fn install() {
        // SAFETY: the three handlers are `extern "C" fn()`s that do not
        // unwind (they only lock, unlock and count); `pthread_atfork` only
        // records them.
        let failed = unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) } != 0;
        if failed {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "atexit: could not install the fork handlers");
        }
    }
}

/// Installs the fork handlers (once, with the process hook).
pub(crate) fn install() {
    #[cfg(all(unix, not(miri)))]
    atfork::install();
}
