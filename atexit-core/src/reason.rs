//! Why the handlers are running: the exit reason a handler can read, and the
//! names of the signals that can cause it.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::lock::{ForkLock, Guard, Lock};

/// Why the process registry's handlers are running, as [`exit_reason`]
/// tells a handler.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
///
/// ```
/// # extern crate atexit_core as atexit;
/// use atexit::ExitReason;
///
/// assert_eq!(ExitReason::Exit(3).to_string(), "atexit::exit(3)");
/// ```
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
///
/// ```
/// # extern crate atexit_core as atexit;
/// use atexit::Signal;
///
/// assert_eq!(Signal::Terminate.to_string(), "SIGTERM");
/// ```
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
    /// In words: "main returned", "atexit::exit(3)", "killed by SIGTERM"...
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

/// The conventional name of a signal without a variant of its own.
#[cfg(unix)]
fn other_name(number: i32) -> Option<&'static str> {
    let names = [
        (libc::SIGINT, "SIGINT"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGCHLD, "SIGCHLD"),
        (libc::SIGCONT, "SIGCONT"),
        (libc::SIGURG, "SIGURG"),
        (libc::SIGWINCH, "SIGWINCH"),
        (libc::SIGTSTP, "SIGTSTP"),
        (libc::SIGTTIN, "SIGTTIN"),
        (libc::SIGTTOU, "SIGTTOU"),
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGSTOP, "SIGSTOP"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGTRAP, "SIGTRAP"),
        (libc::SIGSYS, "SIGSYS"),
        (libc::SIGXCPU, "SIGXCPU"),
        (libc::SIGXFSZ, "SIGXFSZ"),
        (libc::SIGVTALRM, "SIGVTALRM"),
        (libc::SIGPROF, "SIGPROF"),
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
        [Signal::Interrupt, Signal::Terminate, Signal::Hangup, Signal::Quit, Signal::User1, Signal::User2]
            .into_iter()
            .find(|s| s.number() == number)
            .unwrap_or(Signal::Other(number))
    }
}

/// Its number, on Unix (Windows' console events have none).
#[cfg(unix)]
impl From<Signal> for i32 {
    fn from(signal: Signal) -> i32 {
        signal.number()
    }
}

/// The signal with this number, on Unix: `Err` for a number no signal has
/// (zero, negative, or past the system's last one).
///
/// ```
/// # extern crate atexit_core as atexit;
/// use atexit::Signal;
///
/// assert_eq!(Signal::try_from(15), Ok(Signal::Terminate));
/// assert_eq!(i32::from(Signal::Interrupt), 2);
/// assert!(Signal::try_from(0).is_err());
/// ```
#[cfg(unix)]
impl TryFrom<i32> for Signal {
    type Error = i32;

    fn try_from(number: i32) -> Result<Signal, i32> {
        // Real-time signals end the range on Linux; 64 elsewhere is past
        // every system's last signal too.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let last = libc::SIGRTMAX();
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let last = 64;
        if (1..=last).contains(&number) { Ok(Signal::from_number(number)) } else { Err(number) }
    }
}

/// How the process is exiting, once it is: the first exit decides, until
/// a handler asks for another status (see [`begin`]).
struct Exiting {
    reason: Option<ExitReason>,
    /// The status the process ends with, where known: `None` for a signal
    /// (the process dies of it) and for C's `exit` where libc does not say.
    status: Option<i32>,
    /// The reason of an explicit run going on now.
    explicit: Option<ExitReason>,
}

/// A lock that `fork()` holds across (see `fork.rs`).
static EXITING: Lock<Exiting> = Lock::new(Exiting { reason: None, status: None, explicit: None });

fn exiting() -> Guard<'static, Exiting> {
    EXITING.lock()
}

/// The lock `fork()` holds across (see `fork.rs`).
#[cfg_attr(any(not(unix), miri), allow(dead_code))] // fork: Unix only, not under Miri
pub(crate) fn fork_lock() -> &'static dyn ForkLock {
    &EXITING
}

/// Set in a child `fork()`ed while its parent was exiting.
static FORKED_FROM_AN_EXIT: AtomicBool = AtomicBool::new(false);

/// Whether this process is a child `fork()`ed while its parent was exiting
/// (see `last_words::exit_process`).
pub(crate) fn forked_from_an_exit() -> bool {
    FORKED_FROM_AN_EXIT.load(Ordering::SeqCst)
}

/// In a `fork()`ed child: if it does not go on with its parent's run (it
/// was forked by a thread that did not act for it), it is not exiting:
/// whatever it ends with is its own.
#[cfg_attr(any(not(unix), miri), allow(dead_code))] // fork: Unix only, not under Miri
pub(crate) fn forked(goes_on_with_the_run: bool) {
    if has_begun() {
        FORKED_FROM_AN_EXIT.store(true, Ordering::SeqCst);
    }
    if !goes_on_with_the_run {
        *exiting() = Exiting { reason: None, status: None, explicit: None };
        BEGUN.store(false, Ordering::SeqCst);
    }
}

/// Why the handlers are running, for a handler to read: `None` when no run
/// is going on.
///
/// What it says is how the process will end: once a handler calls
/// [`exit(n)`](crate::exit), later handlers read `Exit(n)`, the status the
/// process then ends with.
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
    let exiting = exiting();
    exiting.reason.or(exiting.explicit)
}

impl ExitReason {
    /// Whether this is a call that names a status (`exit`), rather than
    /// `main` ending or a signal.
    fn is_exit_call(self) -> bool {
        matches!(self, ExitReason::Exit(_) | ExitReason::ProcessExit(_))
    }
}

/// An exit begins, or is asked for during one, for `reason` and with
/// `status`. The first one decides how the process ends, with two
/// exceptions: a handler of the run (`by_handler`) that calls an exit
/// asks for its status, and an exit call made while `main`'s end or a
/// signal runs the handlers decides the status, as a call that cannot be
/// refused. Another exit racing the first changes nothing: the handlers
/// read what the process ends with.
pub(crate) fn begin(reason: ExitReason, status: Option<i32>, by_handler: bool) {
    BEGUN.store(true, Ordering::SeqCst);
    let mut exiting = exiting();
    let replaces = match exiting.reason {
        None => true,
        Some(first) => reason.is_exit_call() && (by_handler || !first.is_exit_call()),
    };
    if replaces {
        exiting.reason = Some(reason);
        exiting.status = status;
    }
}

/// A handler decides how the process ends (`exit(n)`, or dying of the
/// signal that asked for shutdown): the last such call wins.
pub(crate) fn decide(reason: ExitReason, status: Option<i32>) {
    BEGUN.store(true, Ordering::SeqCst);
    let mut exiting = exiting();
    exiting.reason = Some(reason);
    exiting.status = status;
}

/// Set when the exit begins, for what must be cheap to ask: a registration
/// from a thread that does not act for the run is turned away from then on.
static BEGUN: AtomicBool = AtomicBool::new(false);

/// Whether the process has begun to exit.
#[inline]
pub(crate) fn has_begun() -> bool {
    BEGUN.load(Ordering::SeqCst)
}

/// Whether the process is exiting: from the moment an exit begins (`main`
/// returning, `std::process::exit`, [`exit`](crate::exit), a handled signal,
/// a handler's `exit` inside an explicit run) to its end. An explicit
/// [`run_exitfuncs`](crate::run_exitfuncs) is no exit: while it runs, this
/// is `false` (a handler tells the two apart with
/// [`exit_reason`], which says `RunExitfuncs` there).
///
/// ```
/// # extern crate atexit_core as atexit;
/// atexit::register(|| println!("exiting: {}", atexit::is_exiting()));
/// assert!(!atexit::is_exiting());
/// atexit::run_exitfuncs()?; // prints "exiting: false"
/// # Ok::<(), atexit::HandlerPanic>(())
/// ```
pub fn is_exiting() -> bool {
    has_begun()
}

/// How the process ends, once an exit began: with a status, or dying of a
/// signal.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Ending {
    Status(i32),
    Signal(Signal),
}

/// How the process ends, as the exit decided (`None` before one began, or
/// for C's `exit` where libc does not say its status).
pub(crate) fn ending() -> Option<Ending> {
    let exiting = exiting();
    match (exiting.reason?, exiting.status) {
        (ExitReason::Signal(signal), _) => Some(Ending::Signal(signal)),
        (_, Some(code)) => Some(Ending::Status(code)),
        (_, None) => None,
    }
}

/// An explicit run starts (`Some`) or ends (`None`).
pub(crate) fn explicit_run(reason: Option<ExitReason>) {
    exiting().explicit = reason;
}
