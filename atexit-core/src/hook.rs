//! The process hook: how handlers run on every normal exit without `main`'s help.
//!
//! One C `atexit` function is installed before `main`, by a constructor in
//! this crate (in `statics.rs`), and again (idempotently) by the first
//! registration, in case the linker dropped the constructor. libc calls it
//! when the process ends through `exit`: `main` returning (also after a
//! panic, with status 101) and `std::process::exit` from any thread. It drains the process registry once;
//! a second caller (another thread exiting at the same moment) waits for the
//! first run, then finds nothing left to run.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::exit::exit_with_requested_status;
use crate::global::run_at_exit;
use crate::panic::drop_quietly;

static INSTALLED: AtomicBool = AtomicBool::new(false);

/// Installs the hook once.
#[inline]
pub(crate) fn install() {
    if !INSTALLED.load(Ordering::Acquire) {
        install_once();
    }
}

#[cold]
fn install_once() {
    if !INSTALLED.swap(true, Ordering::AcqRel) {
        install_with_libc();
    }
}

#[cfg(not(miri))]
fn install_with_libc() {
    // SAFETY: `at_process_exit` is a plain `extern "C" fn()` that never
    // unwinds; `atexit` only records the pointer.
    let failed = unsafe { libc::atexit(at_process_exit) } != 0;
    crate::fork::install();
    crate::lock::prepare();
    if failed {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "atexit: could not install the process exit hook; use atexit::exit");
    }
}

// Miri cannot call libc's `atexit`; its tests drive registries directly.
#[cfg(miri)]
fn install_with_libc() {}

extern "C" fn at_process_exit() {
    // No panic may unwind into libc.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        run_at_exit();
        exit_with_requested_status();
    }));
    if let Err(panic) = outcome {
        drop_quietly(panic);
    }
}
