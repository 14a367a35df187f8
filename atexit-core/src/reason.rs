//! Why the handlers are running: the exit reason a handler can read, and the
//! names of the signals that can cause it.

use std::sync::{Mutex, PoisonError};

/// Why the process registry's handlers are running, as [`exit_reason`]
/// tells a handler.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// `main` returned, under `#[atexit::main]`.
    MainReturned,
    /// A panic unwound out of `main`, under `#[atexit::main]` (the process
    /// then exits with status 101).
    MainPanicked,
    /// [`atexit::exit(code)`](crate::exit).
    Exit(i32),
    /// C's `exit`: `main` returned without `#[atexit::main]` (a panic out of
    /// it included, status 101), or [`std::process::exit`] was called. The
    /// status, where the C library passes it to exit hooks (glibc does);
    /// `None` elsewhere.
    ProcessExit(Option<i32>),
    /// A signal handled by `atexit::signals` (the process then dies of it).
    Signal(Signal),
    /// An explicit [`run_exitfuncs`](crate::run_exitfuncs); the process is
    /// not exiting.
    RunExitfuncs,
}

/// A signal, by name, so that no one needs `libc` for its number.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Signal {
    /// `SIGINT`: Ctrl-C.
    Interrupt,
    /// `SIGTERM`: `kill`, orchestrators, `docker stop`.
    Terminate,
    /// `SIGHUP`: the terminal went away.
    Hangup,
    /// `SIGQUIT`: Ctrl-\.
    Quit,
    /// `SIGUSR1`.
    User1,
    /// `SIGUSR2`.
    User2,
    /// Any other signal, by number.
    Other(i32),
}

#[cfg(unix)]
impl Signal {
    /// Its number on this platform.
    pub fn number(self) -> i32 {
        match self {
            Signal::Interrupt => libc::SIGINT,
            Signal::Terminate => libc::SIGTERM,
            Signal::Hangup => libc::SIGHUP,
            Signal::Quit => libc::SIGQUIT,
            Signal::User1 => libc::SIGUSR1,
            Signal::User2 => libc::SIGUSR2,
            Signal::Other(number) => number,
        }
    }

    /// The signal with this number.
    pub fn from_number(number: i32) -> Signal {
        [Signal::Interrupt, Signal::Terminate, Signal::Hangup, Signal::Quit, Signal::User1, Signal::User2]
            .into_iter()
            .find(|s| s.number() == number)
            .unwrap_or(Signal::Other(number))
    }
}

/// The reason of the run going on now: the exit's, once one began (the
/// first exit path wins a race), else an explicit run's while it runs.
static REASON: Mutex<(Option<ExitReason>, Option<ExitReason>)> = Mutex::new((None, None));

/// Why the handlers are running, for a handler to read: `None` when no run
/// is going on.
///
/// ```
/// # extern crate atexit_core as atexit;
/// use atexit::ExitReason;
///
/// atexit::register(|| match atexit::exit_reason() {
///     Some(ExitReason::Signal(signal)) => eprintln!("stopped by {signal:?}"),
///     Some(ExitReason::ProcessExit(Some(code))) if code != 0 => eprintln!("failing with {code}"),
///     _ => {}
/// });
/// # atexit::clear();
/// ```
pub fn exit_reason() -> Option<ExitReason> {
    let reasons = REASON.lock().unwrap_or_else(PoisonError::into_inner);
    reasons.0.or(reasons.1)
}

/// The process is starting to exit, for `reason`; a reason already set by an
/// exit that began first stays.
pub(crate) fn exiting_because(reason: ExitReason) {
    REASON.lock().unwrap_or_else(PoisonError::into_inner).0.get_or_insert(reason);
}

/// An explicit run starts (`Some`) or ends (`None`).
pub(crate) fn explicit_run(reason: Option<ExitReason>) {
    REASON.lock().unwrap_or_else(PoisonError::into_inner).1 = reason;
}
