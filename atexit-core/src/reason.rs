//! Why the handlers run, as a handler reads it, signals' names, and how the process ends (`exit_state.rs` holds them).

use std::fmt;

/// Why the process registry's handlers are running, as [`exit_reason`](crate::exit_reason) says.
///
/// ```
/// # extern crate atexit_core as atexit;
/// use atexit::{ExitReason, Signal};
/// assert_eq!(ExitReason::Exit(3).to_string(), "atexit::exit(3)");
/// assert_eq!(ExitReason::Signal(Signal::Terminate).to_string(), "SIGTERM");
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExitReason {
    /// `main` returned, under `#[atexit::main]`.
    MainReturned,
    /// A panic unwound out of `main`, under `#[atexit::main]` (status 101).
    MainPanicked,
    /// [`atexit::exit(code)`](crate::exit).
    Exit(i32),
    /// C's `exit`: `main` returned without `#[atexit::main]` (or panicked, status 101), or [`std::process::exit`] was
    /// called. The status where the C library gives it to exit hooks (glibc does), else `None`.
    ProcessExit(Option<i32>),
    /// A signal handled by `atexit::signals` (the process then dies of it).
    Signal(Signal),
    /// An explicit [`run_exitfuncs`](crate::run_exitfuncs); the process is not exiting.
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
    /// `SIGQUIT`: `Ctrl-\`.
    Quit,
    /// `SIGUSR1`.
    User1,
    /// `SIGUSR2`.
    User2,
    /// Any other signal, by number.
    Other(i32),
}

impl fmt::Display for ExitReason {
    /// In words: "main returned", "atexit::exit(3)", "SIGTERM"...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::MainReturned => f.write_str("main returned"),
            ExitReason::MainPanicked => f.write_str("main panicked"),
            ExitReason::Exit(code) => write!(f, "atexit::exit({code})"),
            ExitReason::ProcessExit(Some(code)) => write!(f, "exit({code})"),
            ExitReason::ProcessExit(None) => f.write_str("exit"),
            ExitReason::Signal(signal) => write!(f, "{signal}"),
            ExitReason::RunExitfuncs => f.write_str("run_exitfuncs()"),
        }
    }
}

/// The conventional name of an `Other` signal (the named variants' numbers included).
#[cfg(unix)]
fn other_name(number: i32) -> Option<&'static str> {
    macro_rules! names {
        ($($name:ident),*) => { [$((libc::$name, stringify!($name))),*] };
    }
    let names = names![
        SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGALRM, SIGPIPE, SIGCHLD, SIGCONT, SIGURG, SIGWINCH,
        SIGTSTP, SIGTTIN, SIGTTOU, SIGKILL, SIGSTOP, SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGABRT, SIGTRAP, SIGSYS,
        SIGXCPU, SIGXFSZ, SIGVTALRM, SIGPROF
    ];
    names.iter().find(|(n, _)| *n == number).map(|(_, name)| *name)
}

#[cfg(not(unix))]
fn other_name(_: i32) -> Option<&'static str> {
    None
}

impl fmt::Display for Signal {
    /// Its conventional name (`SIGTERM`, also for `Other(15)`), or `signal N`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
            Signal::Hangup => "SIGHUP",
            Signal::Quit => "SIGQUIT",
            Signal::User1 => "SIGUSR1",
            Signal::User2 => "SIGUSR2",
            Signal::Other(number) => match other_name(*number) {
                Some(name) => name,
                None => return write!(f, "signal {number}"),
            },
        };
        f.write_str(name)
    }
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

    /// The signal with this number (`Other(number)` when it has no name here).
    pub fn from_number(number: i32) -> Signal {
        let named = [Signal::Interrupt, Signal::Terminate, Signal::Hangup, Signal::Quit, Signal::User1, Signal::User2];
        named.into_iter().find(|s| s.number() == number).unwrap_or(Signal::Other(number))
    }

    /// Whether dying of it ends the process: a signal this system has, whose default action is not to be ignored, to
    /// stop, or to continue.
    pub(crate) fn ends_the_process(self) -> bool {
        const NOT_ENDING: &[i32] = &[
            libc::SIGCHLD,
            libc::SIGCONT,
            libc::SIGURG,
            libc::SIGWINCH,
            libc::SIGSTOP,
            libc::SIGTSTP,
            libc::SIGTTIN,
            libc::SIGTTOU,
        ];
        Signal::try_from(self.number()).is_ok() && !NOT_ENDING.contains(&self.number())
    }
}

/// Its number, on Unix (Windows' console events have none).
#[cfg(unix)]
impl From<Signal> for i32 {
    fn from(signal: Signal) -> i32 {
        signal.number()
    }
}

/// The signal with this number, on Unix; `Err` for a number no signal has (zero, negative, past the system's last).
///
/// ```
/// # extern crate atexit_core as atexit;
/// use atexit::Signal;
/// assert_eq!(Signal::try_from(15), Ok(Signal::Terminate));
/// assert_eq!(i32::from(Signal::Interrupt), 2);
/// assert!(Signal::try_from(0).is_err());
/// ```
#[cfg(unix)]
impl TryFrom<i32> for Signal {
    type Error = i32;

    fn try_from(number: i32) -> Result<Signal, i32> {
        // Linux's range ends with its real-time signals; 64 is past every other system's last.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let last = libc::SIGRTMAX();
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let last = 64;
        if (1..=last).contains(&number) { Ok(Signal::from_number(number)) } else { Err(number) }
    }
}

/// How the process ends: with an exit status, or dying of a signal (see [`ending`](crate::ending)).
///
/// ```
/// # extern crate atexit_core as atexit;
/// use atexit::{Ending, Signal};
/// assert_eq!(Ending::Status(1).to_string(), "status 1");
/// assert_eq!(Ending::Signal(Signal::Terminate).to_string(), "SIGTERM");
/// ```
#[non_exhaustive]
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Ending {
    /// It exits with this status.
    Status(i32),
    /// It dies of this signal, as a handled signal or [`exit_as_requested`] ends it (a shell then reports `128 + n`).
    /// On Windows: a console event, and the status `STATUS_CONTROL_C_EXIT`.
    ///
    /// [`exit_as_requested`]: https://docs.rs/atexit/latest/atexit/signals/struct.Shutdown.html#method.exit_as_requested
    Signal(Signal),
}

impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Status(code) => write!(f, "status {code}"),
            Ending::Signal(signal) => write!(f, "{signal}"),
        }
    }
}
