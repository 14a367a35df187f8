//! Fork awareness: a `fork()`ed child does not run the handlers its parent
//! registered, unless they were registered to be inherited
//! ([`Registration::inherit_on_fork`](crate::Registration::inherit_on_fork)).
//!
//! The process registry's lock is held across `fork()` (taken in the prepare
//! callback, released in the parent's and the child's), so the child never
//! inherits it half-taken by a thread that does not exist there; the child's
//! callback starts a new generation, whose first use of the registry drops
//! the parent's registrations (`process.rs`). The callbacks use no
//! thread-local: a handler may fork after its thread's thread-locals are gone.

/// Installs the fork callbacks (once, with the process hook).
pub(crate) fn install() {
    #[cfg(all(unix, not(miri)))]
    atfork::install();
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

    extern "C" fn child() {
        release();
        process::forked();
        exit_state::forked();
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

    pub(super) fn install() {
        // SAFETY: the three callbacks are `extern "C" fn()`s that do not
        // unwind (they lock, unlock and count); `pthread_atfork` only
        // records them.
        if unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) } != 0 {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "atexit: could not install the fork handlers");
        }
    }
}
