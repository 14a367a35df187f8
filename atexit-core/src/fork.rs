//! Fork awareness, the one place a `fork()` is seen: a child does not run its parent's handlers unless they were
//! registered to be inherited ([`Registration::inherit_on_fork`](crate::Registration::inherit_on_fork)).
//!
//! The runtime's locks are held across `fork()` (taken in the prepare callback, released in the parent's and the
//! child's), so the child never inherits one half-taken by a thread it does not have. The child's callback then resets
//! what was the parent's: registrations (`process.rs`), the exit state (its run, watchdog and shutdown waiters). The
//! callbacks read only a `const` thread-local without destructor: a handler may fork after its thread's thread-locals
//! are gone. (The signal handler, which may run before the callback, and an async handler's thread tell a child by its
//! process id.)

/// Installs the fork callbacks; `reinstall` registers the process hook again.
pub(crate) fn install(reinstall: fn()) {
    #[cfg(all(unix, not(miri)))]
    atfork::install(reinstall);
    #[cfg(not(all(unix, not(miri))))]
    let _ = reinstall;
}

#[cfg(all(unix, not(miri)))]
mod atfork {
    use crate::exit_state;
    use crate::lock::ForkLock;
    use crate::process::{self, PROCESS};

    /// Taken in this order.
    fn locks() -> [&'static dyn ForkLock; 2] {
        [PROCESS.fork_lock(), exit_state::fork_lock()]
    }

    extern "C" fn prepare() {
        locks().into_iter().for_each(|lock| lock.acquire());
    }

    extern "C" fn parent() {
        release();
    }

    static REINSTALL: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

    extern "C" fn child() {
        release();
        process::forked();
        exit_state::forked();
        #[cfg(feature = "crash")]
        crate::crash::forked();
        // Forked while its parent's C `exit` ran, by a thread that did not act for the run: the child's copy of C's
        // exit functions has the hook already taken out, and the child is not exiting.
        if exit_state::forked_from_an_exit() && !exit_state::run_going_on() {
            if let Some(reinstall) = REINSTALL.get() {
                reinstall();
            }
        }
    }

    fn release() {
        // SAFETY: `prepare` took these locks in this process (or, in the child, in its parent), on this thread, without
        // a guard, before this fork; each is released once.
        locks().into_iter().rev().for_each(|lock| unsafe { lock.release() });
    }

    pub(super) fn install(reinstall: fn()) {
        let _ = REINSTALL.set(reinstall);
        // SAFETY: the callbacks are `extern "C" fn()`s that do not unwind (nothing there panics); `pthread_atfork` only
        // records them.
        if unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) } != 0 {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "atexit: could not install the fork handlers");
        }
    }
}
