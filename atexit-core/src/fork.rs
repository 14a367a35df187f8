//! Fork awareness: a `fork()`ed child does not run the handlers its parent
//! registered, unless they were registered to be inherited
//! ([`Registration::inherit_on_fork`](crate::Registration::inherit_on_fork)).
//!
//! This is the one place a `fork()` is seen. The runtime's locks (the
//! process registry's, the exit state's, the watchdog's, the shutdown
//! waiters') are held across it (taken in the prepare callback, released
//! in the parent's and the child's), so the child never inherits one
//! half-taken by a thread that does not exist there. The child's callback
//! then resets what belongs to the parent: its registrations
//! (`process.rs`), its run and exit (`exit_state.rs`), its watchdog and
//! deadline (`watch.rs`), its shutdown waiters (`shutdown.rs`). The
//! callbacks read one `const` thread-local without destructor (which
//! lease the forking thread held): a handler may fork after its thread's
//! thread-locals are gone. Two others tell a child by its process id: the
//! signal handler, which may run in the child before its callback, and an
//! async handler's thread, which finds itself the child's only thread
//! after a `fork()` inside its future.

/// Installs the fork callbacks (once, with the process hook, which
/// `reinstall` registers with the C library again: see `atfork::child`).
pub(crate) fn install(reinstall: fn()) {
    #[cfg(all(unix, not(miri)))]
    atfork::install(reinstall);
    #[cfg(not(all(unix, not(miri))))]
    let _ = reinstall;
}

#[cfg(all(unix, not(miri)))]
mod atfork {
    use crate::lock::ForkLock;
    use crate::process::{self, PROCESS};
    use crate::{exit_state, watch};

    /// The locks held across `fork()`, in the order they are taken.
    fn locks() -> impl DoubleEndedIterator<Item = &'static dyn ForkLock> {
        let shutdown: Option<&'static dyn ForkLock> = {
            #[cfg(feature = "signals")]
            {
                Some(crate::shutdown::fork_lock())
            }
            #[cfg(not(feature = "signals"))]
            {
                None
            }
        };
        [PROCESS.fork_lock(), exit_state::fork_lock(), watch::fork_lock()].into_iter().chain(shutdown)
    }

    extern "C" fn prepare() {
        locks().for_each(|lock| lock.acquire());
    }

    extern "C" fn parent() {
        release();
    }

    /// How to register the process hook with the C library again.
    static REINSTALL: std::sync::OnceLock<fn()> = std::sync::OnceLock::new();

    extern "C" fn child() {
        release();
        process::forked();
        exit_state::forked();
        // Forked while its parent's C `exit` ran, by a thread that did not
        // act for the run: the child's copy of C's exit functions has the
        // hook already taken out, and the child is not exiting.
        if exit_state::forked_from_an_exit() && !exit_state::run_going_on() {
            if let Some(reinstall) = REINSTALL.get() {
                reinstall();
            }
        }
        watch::forked();
        #[cfg(feature = "signals")]
        crate::shutdown::forked();
    }

    fn release() {
        // SAFETY: `prepare` took these locks in this process (or, in the
        // child, in its parent), on this thread, without a guard, before
        // this fork; each is released once.
        locks().rev().for_each(|lock| unsafe { lock.release() });
    }

    pub(super) fn install(reinstall: fn()) {
        let _ = REINSTALL.set(reinstall);
        // SAFETY: the three callbacks are `extern "C" fn()`s that do not
        // unwind (they take and release locks, and reset state, catching
        // nothing because nothing there panics); `pthread_atfork` only
        // records them.
        if unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) } != 0 {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "atexit: could not install the fork handlers");
        }
    }
}
