//! The exit paths: where an exit run starts, `exit`, `run_exitfuncs`, and
//! the status a handler asks for.

use std::sync::atomic::{AtomicI64, Ordering};

use crate::diag::terminate_now;
use crate::observe;
use crate::panic::{HandlerPanic, drop_quietly};
use crate::process::{self, PROCESS};
use crate::reason::{self, ExitReason};

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

/// The exit run, the one place where one starts: the process is marked as
/// exiting, the deadline's clock starts, and then (after waiting for a run
/// that another thread may be in) every handler runs. Panics were reported
/// as they happened; nothing is left to return them to.
pub(crate) fn run_at_exit(why: ExitReason) {
    begin(why);
    if let Err(panic) = PROCESS.run() {
        drop_quietly(panic);
    }
}

/// The process starts to exit, for `why`: marked as exiting, and the
/// deadline's clock started.
fn begin(why: ExitReason) {
    reason::exiting_because(why);
    process::begin_exit();
    observe::start_deadline();
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
    if PROCESS.run_lock.is_held_by_current_thread() {
        REQUESTED.store(i64::from(code), Ordering::SeqCst);
        #[cfg(panic = "unwind")]
        std::panic::resume_unwind(Box::new(crate::panic::ExitRequest));
        #[cfg(not(panic = "unwind"))]
        {
            run_at_exit(ExitReason::Exit(code));
            terminate_now(take_requested().unwrap_or(code))
        }
    }
    run_at_exit(ExitReason::Exit(code));
    // On Unix this goes through libc's `exit`, whose hook runs whatever was
    // registered after the run above finished.
    std::process::exit(take_requested().unwrap_or(code))
}

/// Runs every pending handler now, in exit order, each at most once, and
/// leaves the registry empty, as `atexit._run_exitfuncs()` does in Python.
///
/// A panicking handler is reported on stderr with its name, and the rest still
/// run; the **last** panic is returned (use [`HandlerPanic::resume`] to
/// re-raise it). Handlers registered afterwards run at exit as usual. If a
/// handler calls [`exit`], the run finishes and then the process
/// exits with that code.
pub fn run_exitfuncs() -> Result<(), HandlerPanic> {
    let nested = PROCESS.run_lock.is_held_by_current_thread();
    if !nested {
        reason::explicit_run(Some(ExitReason::RunExitfuncs));
    }
    let result = PROCESS.run();
    if !nested {
        reason::explicit_run(None);
    }
    apply_requested_exit();
    result
}

/// After a run that was not itself inside a run: if a handler called
/// `exit`, exit now with its code.
fn apply_requested_exit() {
    if PROCESS.run_lock.is_held_by_current_thread() {
        return;
    }
    if let Some(code) = take_requested() {
        exit(code)
    }
}

/// The exit run of `#[atexit::main]` on an async `main`, awaited at the end
/// of `main`'s future, on its runtime: async handlers are awaited there, in
/// their place in the order; the others are called as usual, on the thread
/// that polls `main` (the main thread, under `#[tokio::main]`). Not public
/// API: called by `#[atexit::main]`.
#[doc(hidden)]
pub async fn run_exit_async() {
    begin(ExitReason::MainReturned);
    let mut run = PROCESS.start_run();
    while let Some(mut callback) = run.next() {
        let result = match callback.pending() {
            Some(handler) => observe::call_async(callback.name(), handler).await,
            None => run.call(callback),
        };
        run.record(result);
    }
    if let Err(panic) = run.finish() {
        drop_quietly(panic);
    }
}

/// The exit run of `#[atexit::main]` and of the signal thread: every
/// handler, then, if one called `exit`, the end of the process with its code.
pub(crate) fn run_exit_handlers(why: ExitReason) {
    run_at_exit(why);
    apply_requested_exit();
}

/// The end of the process hook: a handler asked for another status than the
/// one libc is exiting with. Calling `exit` again from inside libc's `exit`
/// is undefined, so write out C's streams as `exit` would and leave with
/// `_exit`. (Rust's stdout was flushed and made unbuffered before libc's
/// `exit` began.)
#[cfg_attr(all(target_family = "wasm", target_os = "unknown"), allow(dead_code))] // no C exit there
pub(crate) fn exit_with_requested_status() {
    if let Some(code) = take_requested() {
        // SAFETY: `fflush(NULL)` flushes every C stream; no preconditions.
        #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
        unsafe {
            libc::fflush(std::ptr::null_mut())
        };
        terminate_now(code)
    }
}
