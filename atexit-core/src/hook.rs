//! The process hook: how handlers run on every normal exit without `main`'s help.
//!
//! One C `atexit` function is installed before `main`, by the constructor
//! below, and again (idempotently) by the first registration, in case the
//! linker dropped the constructor. libc calls it when the process ends
//! through `exit`: `main` returning (also after a panic, with status 101)
//! and `std::process::exit` from any thread. It runs the exit run once; a
//! second caller (another thread exiting at the same moment) waits for the
//! first run, then finds nothing left to run.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::exit::{exit_with_requested_status, run_at_exit};
use crate::fork;
use crate::panic::drop_quietly;
use crate::statics::StaticRef;

// The collection of static handlers is declared here, beside the
// constructor: every `#[atexit::register]` refers to it, so the linker keeps
// this module, and the constructor with it, in any binary that has a
// static handler, even one that never calls the runtime.
inventory::collect!(StaticRef);

#[cfg(not(miri))]
ctor::declarative::ctor! {
    #[ctor(unsafe)]
    fn install_hook_before_main() {
        install();
    }
}

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
        fork::install();
    }
}

#[cfg(not(any(miri, all(target_family = "wasm", target_os = "unknown"))))]
fn install_with_libc() {
    // SAFETY: `at_process_exit` is a plain `extern "C" fn()` that never
    // unwinds; `atexit` only records the pointer.
    if unsafe { libc::atexit(at_process_exit) } != 0 {
        use std::io::Write;
        let _ = writeln!(std::io::stderr(), "atexit: could not install the process exit hook; use atexit::exit");
    }
}

// Miri cannot call libc's `atexit`; its tests drive registries directly.
// `wasm32-unknown-unknown` has no C library and no process exit: nothing
// runs the handlers there but `run_exitfuncs` (or `#[atexit::main]`).
#[cfg(any(miri, all(target_family = "wasm", target_os = "unknown")))]
fn install_with_libc() {}

#[cfg_attr(all(target_family = "wasm", target_os = "unknown"), allow(dead_code))] // no C exit there
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
