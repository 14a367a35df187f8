//! The exit paths: where an exit run starts, [`exit`], [`run_exitfuncs`],
//! and how the process ends once its handlers have run.

use std::time::Duration;

use crate::exit_state;
use crate::panic::drop_quietly;
use crate::reason::{Ending, ExitReason};
use crate::run::{self, Place};
use crate::watch;

/// An exit begins, for `why`, with `status` (where known): the process is
/// marked as exiting, the deadline's clock starts (unless the handlers are a
/// shared library's, run as it is unloaded), and then, after waiting for a
/// run that another thread may be in, every handler runs. Panics were
/// reported as they happened; nothing is left to return them to.
pub(crate) fn run_at_exit(why: ExitReason, status: Option<i32>, place: Place) {
    begin(why, status, place);
    if let Err(panic) = run::run(place) {
        drop_quietly(panic);
    }
}

/// The process is exiting, for `why`: recorded, and the deadline's clock
/// started (a shared library's copy of the runtime, run as it unloads, has
/// no deadline, then or later).
fn begin(why: ExitReason, status: Option<i32>, place: Place) {
    exit_state::begin(why, status, exit_state::acts_for_run());
    if place == Place::Unloading {
        watch::no_deadline();
    } else {
        start_deadline();
    }
}

/// Runs the exit handlers on the calling thread, then ends the process with
/// status `code`.
///
/// Unlike [`std::process::exit`], the handlers run while the calling thread's
/// thread-locals are still alive, and they run on every platform (on Windows,
/// `std::process::exit` skips them).
///
/// Called from inside a running handler (however it runs: with a time
/// limit, async, on whichever thread), it ends that handler (unwinding it,
/// so its destructors run), makes `code` the status the process ends with
/// (later handlers read [`ExitReason::Exit(code)`](crate::ExitReason::Exit)),
/// and lets the remaining handlers run. The last such call wins. With
/// `panic = "abort"` there is no unwinding: the remaining handlers run
/// nested inside the calling handler, which never resumes.
///
/// Called from a thread that does not act for a run going on (a thread a
/// handler started and joins, or any other thread while the handlers run),
/// it ends that thread by unwinding (its `JoinHandle::join` returns `Err`)
/// rather than make it wait for a run that may be waiting for it. It is an
/// exit racing the one going on: `code` becomes the status only where such
/// a call decides it (the exit began with `main` returning under
/// `#[atexit::main]`, a signal, or an explicit `run_exitfuncs`), so that
/// the handlers read what the process ends with. To set the status from a
/// helper thread's work, let the handler that joins it call `exit`. With
/// `panic = "abort"` it waits for that run to end instead.
///
/// In a shared library's handlers, run as it is unloaded, the status has no
/// process to end: the call ends the handler and the others run.
///
/// ```no_run
/// # extern crate atexit_core as atexit;
/// atexit::register(|| println!("flushed"));
/// if std::env::args().count() > 3 {
///     eprintln!("too many arguments");
///     atexit::exit(2); // "flushed" is printed, then the process ends with 2
/// }
/// ```
pub fn exit(code: i32) -> ! {
    if exit_state::acts_for_run() {
        end_from_a_handler(ExitReason::Exit(code), Some(code))
    }
    // From a thread that does not act for a run going on (a helper thread
    // of a handler, say): waiting for the run could wait for a handler that
    // waits for this thread. It is an exit racing the one going on.
    #[cfg(panic = "unwind")]
    if exit_state::run_going_on() {
        exit_state::begin(ExitReason::Exit(code), Some(code), false);
        start_deadline();
        std::panic::resume_unwind(Box::new(crate::panic::ExitRequest));
    }
    run_exit_handlers(ExitReason::Exit(code), Some(code));
    // On Unix this goes through libc's `exit`, whose hook runs whatever was
    // registered after the run above finished.
    crate::last_words::exit_process(code, exit_state::forked_from_an_exit())
}

/// A handler decides how the process ends: it is ended (unwound, so its
/// destructors run) and the remaining handlers run; the process then ends
/// so. With `panic = "abort"` there is no unwinding: the rest run nested
/// here, and the process ends at once.
pub(crate) fn end_from_a_handler(why: ExitReason, status: Option<i32>) -> ! {
    exit_state::decide(why, status);
    // Inside an explicit run, this is where the process begins to exit.
    start_deadline();
    #[cfg(panic = "unwind")]
    std::panic::resume_unwind(Box::new(crate::panic::ExitRequest));
    #[cfg(not(panic = "unwind"))]
    {
        let _ = run::run(Place::Here);
        match exit_state::ending() {
            Some(Ending::Signal(signal)) => crate::last_words::die_of_signal(signal),
            ending => crate::last_words::terminate_now(match ending {
                Some(Ending::Status(code)) => code,
                _ => 0,
            }),
        }
    }
}

/// Runs every pending handler now, in exit order, each at most once, and
/// leaves the registry empty, as `atexit._run_exitfuncs()` does in Python.
///
/// # Errors
///
/// A panicking handler is reported on stderr with its name, and the rest still
/// run; the **last** panic is returned (use [`HandlerPanic::resume`](crate::HandlerPanic::resume) to
/// re-raise it). Handlers registered afterwards run at exit as usual. If a
/// handler calls [`exit`], the run finishes and then the process
/// exits with that code.
///
/// Called while the process exits, by a thread that does not act for the
/// exit's run (a helper thread a handler joins, a task of the
/// application's runtime), it returns `Ok(())` at once: that run runs every
/// pending handler.
///
/// The handlers run on the calling thread (so they see its thread-locals),
/// time-limited ones too: one that overruns its limit is left behind there,
/// and the rest run at once on a new thread; the call returns when the
/// handler it is stuck in does.
///
/// ```
/// # extern crate atexit_core as atexit;
/// atexit::register(|| println!("flushed now"));
/// atexit::run_exitfuncs()?;
/// assert_eq!(atexit::ncallbacks(), 0);
/// # Ok::<(), atexit::HandlerPanic>(())
/// ```
pub fn run_exitfuncs() -> Result<(), crate::HandlerPanic> {
    if exit_state::acts_for_run() {
        return run::run_explicitly();
    }
    // The exit's run, going on, runs them all: waiting for it could wait
    // for a handler that waits for this thread.
    if exit_state::has_begun() && exit_state::run_going_on() {
        return Ok(());
    }
    exit_state::explicit_run(Some(ExitReason::RunExitfuncs));
    let result = run::run_explicitly();
    exit_state::explicit_run(None);
    // A handler called `exit`: the process ends now, as it decided.
    match exit_state::ending() {
        Some(Ending::Status(code)) => exit(code),
        Some(Ending::Signal(signal)) => crate::last_words::die_of_signal(signal),
        None => result,
    }
}

/// The exit run of `#[atexit::main]` on an async `main`, awaited at the end
/// of `main`'s future, on its runtime, once `main`'s value has given its
/// status (`None`: a panic unwound out of it, and goes on once the handlers
/// ran): async handlers are awaited there, in their place in the order; the
/// others are called as usual, on the thread that polls `main` (the main
/// thread, under `#[tokio::main]`). Not public API: called by
/// `#[atexit::main]`.
#[doc(hidden)]
pub async fn run_exit_async(status: Option<std::process::ExitCode>) {
    let (why, status) = match status {
        Some(code) => (ExitReason::MainReturned, status_of(code)),
        None => (ExitReason::MainPanicked, 101),
    };
    begin(why, Some(status), Place::Here);
    #[cfg(feature = "tokio")]
    let result = crate::asynchronous::run_async().await;
    // Without the feature there is no async handler to await.
    #[cfg(not(feature = "tokio"))]
    let result = run::run(Place::Here);
    if let Err(panic) = result {
        drop_quietly(panic);
    }
}

/// The number an `ExitCode` stands for (`ExitCode` does not say; those
/// made from a `u8` are found again by comparing).
pub(crate) fn status_of(code: std::process::ExitCode) -> i32 {
    (0..=u8::MAX).find(|&n| std::process::ExitCode::from(n) == code).map_or(1, i32::from)
}

/// The exit run of [`exit`], `#[atexit::main]`, the signal thread and
/// `exit_as_requested`, which end the process themselves, with `status`
/// unless a handler or a racing exit gave it another: then the process
/// ends here, with that one.
pub(crate) fn run_exit_handlers(why: ExitReason, status: Option<i32>) {
    run_at_exit(why, status, Place::Here);
    end_if_changed(status);
}

/// If the exit is to end otherwise than `status` (`None`: by the caller's
/// signal), ends the process so: with another status, or dying of a signal
/// (a handler asked for it with `Shutdown::exit_as_requested`).
pub(crate) fn end_if_changed(status: Option<i32>) {
    match exit_state::ending() {
        Some(Ending::Status(code)) if Some(code) != status => {
            crate::last_words::exit_process(code, exit_state::forked_from_an_exit())
        }
        Some(Ending::Signal(signal)) if status.is_some() => crate::last_words::die_of_signal(signal),
        _ => {}
    }
}

/// The end of the process hook: the exit has another status than the one
/// libc is exiting with. Calling `exit` again from inside libc's `exit` is
/// undefined, so write out C's streams as `exit` would and leave with
/// `_exit`. (Rust's stdout was flushed and made unbuffered before libc's
/// `exit` began.)
#[cfg_attr(any(miri, all(target_family = "wasm", target_os = "unknown")), allow(dead_code))] // no C exit there
pub(crate) fn end_with_status_if_changed(status: Option<i32>) {
    let ending = exit_state::ending();
    if ending.is_none() || ending == status.map(Ending::Status) {
        return;
    }
    // SAFETY: `fflush(NULL)` flushes every C stream; no preconditions.
    #[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
    unsafe {
        libc::fflush(std::ptr::null_mut())
    };
    match ending {
        Some(Ending::Signal(signal)) => crate::last_words::die_of_signal(signal),
        Some(Ending::Status(code)) => crate::last_words::terminate_now(code),
        None => {}
    }
}

/// Bounds the exit: if the handlers have not all finished `limit` after
/// the process started exiting, the handler still running is named on stderr
/// and the process ends at once with status [`DEADLINE_EXIT_STATUS`](crate::DEADLINE_EXIT_STATUS) (124).
///
/// Orchestrators give a process a grace period between `SIGTERM` and
/// `SIGKILL` (10 s to 30 s): a deadline inside it turns a hung handler into a
/// named, diagnosable exit instead of an anonymous kill. `Duration::ZERO`
/// removes the deadline; a duration too long to matter (`Duration::MAX`) is
/// a deadline that never passes. Without a call, the environment variable
/// `ATEXIT_DEADLINE_MS` (whole milliseconds) sets it.
///
/// The clock starts when the process starts exiting (the exit hook,
/// [`exit`](crate::exit), `#[atexit::main]`, a handled signal), before it
/// waits for a run that another thread is in, and it is not stopped: it
/// bounds the rest of the exit too. An explicit
/// [`run_exitfuncs`](crate::run_exitfuncs) starts no clock until one of
/// its handlers calls [`exit`](crate::exit), but a handler it runs is named
/// if the deadline passes while it runs. Ending the process
/// takes no lock and flushes nothing, so a handler holding stdout's lock, or
/// blocked on a full pipe, cannot hold it up. Without a deadline there is no
/// thread and no cost; with one, a watchdog thread sleeps from the start of
/// the exit (if no thread can be started then, a sandbox or a limit on
/// processes, neither the deadline nor a time limit applies, and stderr
/// says so). Set, changed or removed by a handler while the process exits,
/// the deadline counts from the start of the exit all the same (and if that
/// is already past, it passes at once). A handler that was already running
/// when such a deadline was set (the one that set it, one waiting for a
/// nested run, one running while another thread set it) is not named if
/// it is still running when the deadline passes, unless it has a time
/// limit of its own or the trace is on; the status is 124 all the same.
/// A child `fork()`ed during the exit by a handler (it goes on with the
/// exit's run) has no deadline; one forked by another thread is not
/// exiting, and its clock starts when it exits. A shared library's
/// handlers, run when it is unloaded, have no deadline either.
///
/// ```
/// # extern crate atexit_core as atexit;
/// use std::time::Duration;
///
/// // Inside Kubernetes' default 30 s grace period, with room to spare.
/// atexit::set_deadline(Duration::from_secs(20));
/// ```
pub fn set_deadline(limit: Duration) {
    watch::set_deadline(limit);
    run::start_watchdog_if_wanted();
}

/// The process is beginning to exit: the deadline's clock starts, once,
/// for a deadline set now or later in the exit.
pub(crate) fn start_deadline() {
    watch::start_deadline();
    run::start_watchdog_if_wanted();
}
