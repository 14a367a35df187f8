//! `exit`: end the process after running the handlers on the calling thread.

use std::io::Write;
use std::sync::atomic::{AtomicI64, Ordering};

use crate::global::{GLOBAL_INNER, run_at_exit};

const NO_REQUEST: i64 = i64::MIN;

/// The status a handler asked for by calling `exit` inside a run.
static REQUESTED: AtomicI64 = AtomicI64::new(NO_REQUEST);

/// The status a handler asked for with `exit`, if any, taken once.
fn take_requested() -> Option<i32> {
    match REQUESTED.swap(NO_REQUEST, Ordering::SeqCst) {
        NO_REQUEST => None,
        code => Some(code as i32),
    }
}

/// Runs the exit handlers on the calling thread, then ends the process with
/// status `code`.
///
/// Unlike [`std::process::exit`], the handlers run while the calling thread's
/// thread-locals are still alive, and they run on every platform (on Windows,
/// `std::process::exit` skips them).
///
/// Called from inside a running handler, it ends that handler (unwinding it,
/// so its destructors run), records `code` as the final status, and lets the
/// remaining handlers run; the process then exits with `code`. The last such
/// call wins. With `panic = "abort"` there is no unwinding: the remaining
/// handlers run nested inside the calling handler, which never resumes.
pub fn exit(code: i32) -> ! {
    if GLOBAL_INNER.run_lock.is_held_by_current_thread() {
        REQUESTED.store(i64::from(code), Ordering::SeqCst);
        #[cfg(panic = "unwind")]
        std::panic::resume_unwind(Box::new(crate::panic::ExitRequest));
        #[cfg(not(panic = "unwind"))]
        {
            run_at_exit();
            terminate_now(take_requested().unwrap_or(code))
        }
    }
    run_at_exit();
    // On Unix this goes through libc's `exit`, whose hook runs whatever was
    // registered after the run above finished.
    std::process::exit(take_requested().unwrap_or(code))
}

/// After a run that was not itself inside a run: if a handler called `exit`,
/// exit now with its code.
pub(crate) fn apply_requested_exit() {
    if !GLOBAL_INNER.run_lock.is_held_by_current_thread()
        && let Some(code) = take_requested()
    {
        exit(code)
    }
}

/// The end of the process hook: a handler asked for another status than the
/// one libc is exiting with. Calling `exit` again from inside libc's `exit`
/// is undefined, so flush what libc would have flushed and leave with `_exit`.
pub(crate) fn exit_with_requested_status() {
    if let Some(code) = take_requested() {
        terminate_now(code)
    }
}

/// The exit run of `#[atexit::main]` and of the signal thread: every
/// handler, then, if one called `exit`, the end of the process with its code.
pub(crate) fn run_exit_handlers() {
    run_at_exit();
    apply_requested_exit();
}

/// Writes out what Rust's and C's standard streams hold, before the process
/// ends without `exit` (which would have).
pub(crate) fn flush_output() {
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `fflush(NULL)` flushes every C stream; no preconditions. (This
    // never runs in a signal handler, where `fflush` would not be allowed.)
    unsafe { libc::fflush(std::ptr::null_mut()) };
}

/// Ends the process now, with what is buffered written out.
pub(crate) fn terminate_now(code: i32) -> ! {
    flush_output();
    // SAFETY: `_exit` ends the process; no preconditions.
    unsafe { libc::_exit(code) }
}
