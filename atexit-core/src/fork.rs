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
    use crate::process::{self, PROCESS};
    use crate::{run, watch};

    extern "C" fn prepare() {
        PROCESS.lock_for_fork();
        run::lock_for_fork();
        watch::lock_for_fork();
        #[cfg(feature = "signals")]
        crate::shutdown::lock_for_fork();
    }

    extern "C" fn parent() {
        after_fork(false);
    }

    extern "C" fn child() {
        process::forked();
        after_fork(true);
    }

    fn after_fork(child: bool) {
        // SAFETY: `prepare` took these locks in this process (or, in the
        // child, in its parent, on this thread), once, before this fork.
        unsafe {
            #[cfg(feature = "signals")]
            crate::shutdown::unlock_after_fork();
            watch::unlock_after_fork(child);
            run::unlock_after_fork(child);
            PROCESS.unlock_after_fork();
        }
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
