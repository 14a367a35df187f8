//! The exit paths: where an exit run starts, [`exit`], [`run_exitfuncs`], and how the process ends once its handlers
//! have run.

use std::time::Duration;

use crate::exit_state;
use crate::panic::drop_quietly;
use crate::reason::{Ending, ExitReason};
use crate::run::{self, Place};
use crate::watch;

/// An exit begins, for `why`, with `status` (where known), and every handler runs (after a run another thread may be
/// in). Panics were reported as they happened.
pub(crate) fn run_at_exit(why: ExitReason, status: Option<i32>, place: Place) {
    begin(why, status, place);
    if let Err(panic) = run::run(place, true) {
        drop_quietly(panic);
    }
}

/// Records the exit and starts the deadline's clock (a shared library being unloaded has no deadline, then or later).
fn begin(why: ExitReason, status: Option<i32>, place: Place) {
    exit_state::begin(why, status, exit_state::acts_for_run());
    if place == Place::Unloading {
        watch::no_deadline();
    } else {
        start_deadline();
    }
}

/// Runs the exit handlers on the calling thread, then ends the process with status `code`.
///
/// Unlike [`std::process::exit`], the handlers run while the calling thread's thread-locals are still alive, and they
/// run on every platform (on Windows, `std::process::exit` skips them).
///
/// Inside a running handler (however it runs: time-limited, async, on any thread) it ends that handler by unwinding
/// (its destructors run), makes `code` the status (later handlers read
/// [`ExitReason::Exit(code)`](crate::ExitReason::Exit)), and the remaining handlers run; the last such call wins. With
/// `panic = "abort"` the remaining handlers run nested inside the caller, which never resumes, and the process ends
/// there, stdout flushed.
///
/// From a thread that does not act for the run going on (a helper thread a handler joins, any other thread), it unwinds
/// that thread (its `join` returns `Err`) rather than wait for a run that may wait for it; `code` becomes the status
/// only where such a racing exit decides it (the exit began with `main` returning under `#[atexit::main]`, a signal, or
/// an explicit `run_exitfuncs`). To set the status from a helper's work, let the handler that joins it call `exit`.
/// With `panic = "abort"` it waits for the run to end instead.
///
/// In a shared library's handlers, run as it is unloaded, it ends the handler and the others run: there is no process
/// to end.
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
    run_before_ending(ExitReason::Exit(code), Some(code));
    // Through libc's `exit` on Unix: its hook runs what was registered since.
    exit_state::exit_process(code)
}

/// The start of an exit its caller then ends (`exit`, `Shutdown::exit_as_requested`): inside a handler, it ends that
/// handler; from a thread that does not act for a run going on (a helper a handler joins), it unwinds that thread,
/// an exit racing that run, rather than wait for a run that may wait for it; otherwise the handlers run here.
pub(crate) fn run_before_ending(why: ExitReason, status: Option<i32>) {
    if exit_state::acts_for_run() {
        end_from_a_handler(why, status)
    }
    #[cfg(panic = "unwind")]
    if exit_state::run_going_on() {
        exit_state::begin(why, status, false);
        start_deadline();
        std::panic::resume_unwind(Box::new(crate::panic::ExitRequest));
    }
    run_exit_handlers(why, status);
}

/// Makes the process end so (with a status, or dying of a signal) once it exits normally, without ending anything
/// now: `main` returns (under `#[atexit::main]` or not), the handlers run as usual, async ones on the application's
/// runtime, and then the process ends as asked. It is how a program inside a runtime ends with a status of its choice
/// or dies of the signal that asked for shutdown ([`Shutdown::requested_ending`]): [`exit`] or
/// [`Shutdown::exit_as_requested`] called inside the runtime block the thread that called them, and on a
/// `current_thread` runtime no task of the application runs again while the handlers need it.
///
/// A later call replaces it. It applies to an exit that succeeds: `main` returning `()` or `Ok` (or C's `exit(0)`,
/// which cannot be told from it). A failure stands (a panic out of `main`, its `Err`, `std::process::exit(n)` with
/// `n` not 0), and so does an exit that names its own ending: [`exit(n)`](exit) (from `main` or a handler), a
/// handler's [`exit_as_requested`][`Shutdown::exit_as_requested`], a handled signal. Handlers read it from
/// [`ending`](crate::ending). A signal that would not end the process (one that stops it, as `SIGSTOP`, or is
/// ignored, or a number no signal has) is refused: stderr says so, and nothing changes.
///
/// ```no_run
/// # extern crate atexit_core as atexit;
/// use atexit::Ending;
///
/// fn main() {
///     atexit::register(|| println!("flushed"));
///     atexit::end_with(Ending::Status(3));
/// } // "flushed", then the process exits with 3
/// ```
///
/// [`Shutdown::requested_ending`]: https://docs.rs/atexit/latest/atexit/signals/struct.Shutdown.html#method.requested_ending
/// [`Shutdown::exit_as_requested`]: https://docs.rs/atexit/latest/atexit/signals/struct.Shutdown.html#method.exit_as_requested
pub fn end_with(ending: crate::Ending) {
    #[cfg(unix)]
    if let crate::Ending::Signal(signal) = ending {
        if !signal.ends_the_process() {
            crate::last_words::write_stderr_now(&format!(
                "atexit: end_with({signal}) ignored: dying of it would not end the process (it is no signal, or one \
                 that stops, continues or is ignored)\n"
            ));
            return;
        }
    }
    exit_state::ask(ending);
}

/// A handler decides how the process ends: it is unwound and the rest run (with `panic = "abort"`, nested here, and the
/// process ends at once).
pub(crate) fn end_from_a_handler(why: ExitReason, status: Option<i32>) -> ! {
    exit_state::decide(why, status);
    // Inside an explicit run, this is where the process begins to exit.
    start_deadline();
    #[cfg(panic = "unwind")]
    std::panic::resume_unwind(Box::new(crate::panic::ExitRequest));
    #[cfg(not(panic = "unwind"))]
    {
        let _ = run::run(Place::Here, true);
        // As `std::process::exit` would (it cannot be called here: another thread may be in libc's `exit`).
        crate::last_words::flush_stdout();
        crate::last_words::crash_actions(crate::last_words::Normal);
        exit_state::end_as_decided(crate::last_words::terminate_now, crate::last_words::die_of_signal);
        crate::last_words::terminate_now(0)
    }
}

/// Runs every pending handler now, in exit order, each at most once, and leaves the registry empty, as
/// `atexit._run_exitfuncs()` does in Python. Handlers registered afterwards run at exit as usual. If a handler calls
/// [`exit`], the run finishes and the process exits with that code.
///
/// The handlers run on the calling thread, seeing its thread-locals; one that overruns its time limit is left behind
/// there, the rest run at once on a new thread, and the call returns when the stuck handler does. Called during the
/// exit by a thread that does not act for its run (a helper a handler joins, a task of the application's runtime), it
/// returns `Ok(())` at once: that run runs every handler.
///
/// # Errors
///
/// A panicking handler is reported on stderr by name and the rest still run; the **last** panic is returned
/// ([`HandlerPanic::resume`](crate::HandlerPanic::resume) re-raises it).
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
        return run::run(Place::Here, false);
    }
    // Waiting for the exit's run could wait for a handler waiting for us (and it may not have started yet).
    if exit_state::has_begun() {
        return Ok(());
    }
    exit_state::explicit_run(Some(ExitReason::RunExitfuncs));
    let result = crate::thread::off_the_runtime(false, || run::run(Place::Here, false));
    exit_state::explicit_run(None);
    // A handler called `exit`: the process ends now, as it decided.
    exit_state::end_as_decided(exit, crate::last_words::die_of_signal_flushed);
    result
}

/// The exit run of `#[atexit::main]` on an async `main`, awaited at the end of `main`'s future with its status (`None`:
/// `main` panicked): async handlers are awaited there in their place, the others called on the thread polling `main`.
/// Not public API: used by `#[atexit::main]`.
#[doc(hidden)]
pub async fn run_exit_async(status: Option<std::process::ExitCode>) {
    let (why, status) = match status {
        Some(code) => (ExitReason::MainReturned, status_of(code)),
        None => (ExitReason::MainPanicked, 101),
    };
    begin(why, Some(status), Place::Here);
    #[cfg(feature = "tokio")]
    let result = crate::asynchronous::run_async().await;
    #[cfg(not(feature = "tokio"))]
    let result = run::run(Place::Here, true);
    if let Err(panic) = result {
        drop_quietly(panic);
    }
}

/// The number an `ExitCode` stands for (found by comparing: it does not say).
pub(crate) fn status_of(code: std::process::ExitCode) -> i32 {
    (0..=u8::MAX).find(|&n| std::process::ExitCode::from(n) == code).map_or(1, i32::from)
}

/// The exit run of callers that end the process themselves with `status` ([`exit`], `#[atexit::main]`, the signal
/// thread): if a handler or a racing exit decided otherwise, the process ends here, so.
pub(crate) fn run_exit_handlers(why: ExitReason, status: Option<i32>) {
    crate::thread::off_the_runtime(false, || run_at_exit(why, status, Place::Here));
    end_if_changed(status);
}

/// Ends the process as the exit decided, if not with `status` (`None`: the caller's signal).
pub(crate) fn end_if_changed(status: Option<i32>) {
    match exit_state::ending() {
        Some(Ending::Status(code)) if Some(code) != status => exit_state::exit_process(code),
        // What `main` printed without a newline, as the exit it replaces would have flushed it.
        Some(Ending::Signal(signal)) if status.is_some() => crate::last_words::die_of_signal_flushed(signal),
        _ => {}
    }
}

/// The process hook's end, if the exit decided otherwise than libc's `status`: `exit` again inside `exit` is undefined,
/// so flush C's streams as `exit` would and `_exit` (Rust's stdout was flushed before).
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
    // Rust's stdout was flushed, and left unbuffered, before libc's `exit` began.
    exit_state::end_as_decided(crate::last_words::terminate_now, crate::last_words::die_of_signal);
}

/// Bounds the exit: if the handlers have not all finished `limit` after the process started exiting, the handler still
/// running is named on stderr and the process ends at once with status
/// [`DEADLINE_EXIT_STATUS`](crate::DEADLINE_EXIT_STATUS) (124): inside an orchestrator's grace period between `SIGTERM`
/// and `SIGKILL`, a hung handler becomes a named exit instead of an anonymous kill. `Duration::ZERO` removes it;
/// `Duration::MAX` never passes. Without a call, `ATEXIT_DEADLINE_MS` (whole milliseconds) sets it.
///
/// - **Clock.** It starts when the process starts exiting (the exit hook, [`exit`](crate::exit), `#[atexit::main]`, a
///   handled signal), before waiting for another thread's run, and bounds the rest of the exit. An explicit
///   [`run_exitfuncs`](crate::run_exitfuncs) starts none until a handler calls `exit`, but its handler is named if the
///   deadline passes. Set or changed during the exit, it still counts from the exit's start (if that is past, it passes
///   at once); a handler already running then is named only if it has a time limit of its own or the trace is on.
/// - **Ending** takes no lock and flushes nothing: a handler holding stdout's lock or blocked on a full pipe cannot
///   hold it up. The runtime's messages wait for a paused reader of stderr up to half a second, the watchdog's no
///   later than the deadline; the deadline's own does not wait.
/// - **Cost.** None without a deadline; with one, a watchdog thread sleeps from the exit's start. If no thread can
///   start (a sandbox, a process limit), neither the deadline nor time limits apply, and stderr says so.
/// - **No deadline** in a child `fork()`ed during the exit by a handler (one forked by another thread is not exiting:
///   its clock starts when it exits), nor for a shared library's handlers run as it is unloaded.
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

/// The process begins to exit: the deadline's clock starts, once.
pub(crate) fn start_deadline() {
    watch::start_deadline();
    run::start_watchdog_if_wanted();
}
