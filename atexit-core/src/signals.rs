//! Exit handlers on `SIGINT`, `SIGTERM` and `SIGHUP`, with a true exit status;
//! or, for servers that drain, a shutdown request the program waits for.
//!
//! On Windows the same functions handle console control events: Ctrl-C
//! ([`Signal::Interrupt`]), Ctrl-Break ([`Signal::Quit`]), the console
//! window closing ([`Signal::Hangup`]), system shutdown
//! ([`Signal::Terminate`]); after the handlers the process ends as Windows'
//! own handler ends it, with `STATUS_CONTROL_C_EXIT` (`0xC000013A`). After a
//! close or shutdown event Windows ends the process itself a few seconds
//! later. A logoff is not a shutdown: a service, the only kind of process
//! that receives it, goes on (it is sent whenever any user logs off). What follows about signal numbers, `fork`, PID 1 and
//! other libraries' `sigaction` is Unix's.
//!
//! Without this, a signal with no handler kills the process and no exit
//! handler runs. With [`install`], the signal instead wakes a thread of ours,
//! which runs the exit handlers (never inside the signal handler, where
//! almost nothing is allowed) and then lets the same signal kill the
//! process, so a shell sees `128 + n` and a supervisor's `waitpid` sees
//! "killed by SIGTERM", as if nothing had been installed.
//!
//! Two modes, process-wide; once a program chose graceful mode, it stays
//! (a library that calls [`install`] later adds its signals, nothing else):
//!
//! - [`install`]: the signal runs the handlers at once, on a thread of ours,
//!   and then kills the process, as described below.
//! - [`install_graceful`]: the first signal only **asks** for shutdown. The
//!   program sees it through the [`Shutdown`] it got back (a check, a
//!   blocking wait, or a `Future` that works on any executor: `tokio::select!`
//!   on it, or `.await` it), finishes what it is doing, and ends normally:
//!   the handlers run then, once, and the exit status is the program's (or,
//!   with [`Shutdown::exit_as_requested`], the process dies of the signal
//!   that asked, for a supervisor that reads it). A second signal while it
//!   drains runs the handlers at once and the process dies of that signal;
//!   one while the handlers run ends it at once. A deadline
//!   ([`set_deadline`](crate::set_deadline)) counts from the first signal.
//!   While no [`Shutdown`] is alive (one dropped by mistake), a signal does
//!   not ask: it runs the handlers at once, as in the first mode. The
//!   program asks for the same shutdown with [`Shutdown::request`] (a
//!   health check, an admin endpoint; [`Shutdown::new`] makes a handle
//!   without installing anything, for tests too).
//!
//! ```no_run
//! # extern crate atexit_core as atexit;
//! let shutdown = atexit::signals::install_graceful()?;
//! atexit::register(|| eprintln!("flushed after the drain"));
//! while shutdown.requested().is_none() {
//!     // serve one more request
//! #   break;
//! }
//! // drain, then return from main: the handlers run, status 0
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! - **Once.** If the process is already exiting another way when the signal
//!   comes, the handlers are not run again: that exit finishes. If the exit
//!   races the signal, each handler still runs once.
//! - **A second signal** (of any installed kind) while the first is being
//!   handled ends the process at once, by that signal: the way out of a
//!   hung handler with a second Ctrl-C.
//! - **Status.** If a handler calls [`exit`](crate::exit), its code is the
//!   status instead.
//! - **Others' handlers.** Built on `signal-hook-registry`, so handlers that
//!   other libraries install the same way keep running too. A signal that is
//!   ignored when `install` is called (as `nohup` ignores `SIGHUP`) stays
//!   ignored. A library that sets a raw `sigaction` afterwards (the `ctrlc`
//!   crate does, for `SIGINT` and, with its `termination` feature, `SIGTERM`
//!   and `SIGHUP`) replaces ours for that signal, silently: nothing can
//!   prevent that. Use [`install_graceful`] instead of `ctrlc` (its
//!   [`Shutdown`] is the Ctrl-C notification), or `tokio::signal`, which also
//!   registers through `signal-hook-registry`, and keeps ours.
//! - **Containers.** A process running as PID 1 (the first process of a
//!   container) is not killed by a signal it has no handler for: without
//!   `install`, `docker stop` waits out its grace period and then kills it
//!   with `SIGKILL`, running nothing. With `install`, the handlers run; the
//!   re-raised signal still cannot kill PID 1, so the process then exits
//!   with status `128 + n`.
//! - **Fork.** A `fork()`ed child has no signal thread: an installed signal
//!   kills it by its default action, unless the child calls `install` itself.
//!   The signal handler tells the child from the parent by its process id,
//!   so this holds from the child's first instruction. A child starts
//!   without its parent's shutdown request.
//! - **Descriptors.** The socket that wakes the signal thread is above 2
//!   and closed on `exec`, so a program started with stdout or stderr
//!   closed does not write into it.
//! - **Output.** After the handlers, the process dies without flushing: a
//!   thread blocked writing to a full stdout pipe (holding stdout's lock)
//!   cannot keep it alive. Rust's stdout writes each complete line as it
//!   is printed; text after a handler's last newline is lost unless the
//!   handler flushes it.

use std::fmt;
use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use crate::exit::{end_from_a_handler, run_exit_handlers};
use crate::exit_state;
use crate::reason::{ExitReason, Signal};
pub use crate::shutdown::{Cause, Requested};
use crate::shutdown::{HANDLES, current, request};

/// The signals [`install`] and [`install_graceful`] handle: `SIGINT`
/// (Ctrl-C), `SIGTERM` (`kill`, orchestrators) and `SIGHUP` (the terminal
/// went away). A server that reloads its configuration on `SIGHUP` leaves
/// it out: `install_graceful_for(&[Signal::Interrupt, Signal::Terminate])`.
pub const DEFAULT_SIGNALS: &[Signal] = &[Signal::Interrupt, Signal::Terminate, Signal::Hangup];

/// How many handled signals arrived.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// The process that chose graceful mode (0: none): a `fork()`ed child
/// chooses for itself.
static GRACEFUL: AtomicU32 = AtomicU32::new(0);

/// Whether this process chose graceful mode. Async-signal-safe.
fn graceful() -> bool {
    GRACEFUL.load(Ordering::SeqCst) == std::process::id()
}

/// Runs the exit handlers on `SIGINT`, `SIGTERM` and `SIGHUP`, then lets the
/// signal end the process. See the [module docs](self).
///
/// Call it early in `main`; calling it again does nothing. After
/// [`install_graceful`] it keeps graceful mode and adds nothing but its
/// signals: a library that calls `install` cannot turn an application's
/// graceful shutdown off.
///
/// # Errors
///
/// As [`install_for`].
///
/// ```no_run
/// # extern crate atexit_core as atexit;
/// atexit::signals::install()?;
/// atexit::register(|| eprintln!("flushed before dying of the signal"));
/// loop { std::thread::park(); }
/// # #[allow(unreachable_code)] Ok::<(), std::io::Error>(())
/// ```
pub fn install() -> io::Result<()> {
    install_for(DEFAULT_SIGNALS)
}

/// [`install`] for the signals you choose, such as
/// `&[Signal::Terminate, Signal::Quit]`.
///
/// # Errors
///
/// `ErrorKind::InvalidInput`, and nothing is installed, for a signal that
/// cannot be handled (`SIGKILL`, `SIGSTOP`), that reports a fault
/// (`SIGSEGV`, `SIGILL`, `SIGFPE`, `SIGBUS`), or whose default action is not
/// to end the process (`SIGCHLD`, `SIGCONT`, `SIGURG`, `SIGWINCH`,
/// `SIGTSTP`, `SIGTTIN`, `SIGTTOU`): handling one of those would end the
/// process on a terminal resize or a child's exit. On Windows, for a
/// [`Signal`] that is no console event. The error of the system otherwise
/// (no thread, no socket).
///
/// ```no_run
/// # extern crate atexit_core as atexit;
/// use atexit::Signal;
///
/// // SIGHUP reloads the configuration here: it is not handled.
/// atexit::signals::install_for(&[Signal::Interrupt, Signal::Terminate])?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn install_for(signals: &[Signal]) -> io::Result<()> {
    register(signals, false)
}

/// The first `SIGINT`, `SIGTERM` or `SIGHUP` asks for shutdown, which the
/// program waits for through the returned [`Shutdown`]; see the
/// [module docs](self).
///
/// # Errors
///
/// As [`install_for`].
#[must_use = "a dropped Shutdown cannot see the request: keep it, or use `install()`"]
pub fn install_graceful() -> io::Result<Shutdown> {
    install_graceful_for(DEFAULT_SIGNALS)
}

/// [`install_graceful`] for the signals you choose.
///
/// # Errors
///
/// As [`install_for`].
#[must_use = "a dropped Shutdown cannot see the request: keep it, or use `install_for()`"]
pub fn install_graceful_for(signals: &[Signal]) -> io::Result<Shutdown> {
    register(signals, true).map(|()| Shutdown::new())
}

fn register(signals: &[Signal], graceful: bool) -> io::Result<()> {
    crate::hook::install();
    platform::register(signals, graceful)
}

/// Whether the first signal only asks for shutdown: graceful mode, and
/// someone to see the request (a [`Shutdown`] alive), or a request already
/// made (by the program, or by a signal before its `Shutdown` went away).
/// Async-signal-safe: atomics and `getpid` only.
fn first_only_asks() -> bool {
    graceful() && (HANDLES.load(Ordering::SeqCst) > 0 || current().is_some())
}

/// Counts a signal that just arrived, and says whether it may wake the
/// signal thread; if not, it ends the process at once. A first signal that
/// only asks for shutdown may be followed by one that forces it; one more,
/// or one while the handlers already run after an earlier one, ends the
/// process. Async-signal-safe.
fn may_wake_for_another() -> bool {
    let nth = RECEIVED.fetch_add(1, Ordering::SeqCst) + 1;
    let allowed = if first_only_asks() { 2 } else { 1 };
    nth <= allowed && !(nth > 1 && exit_state::has_begun())
}

/// What the signal thread does with a signal: the first, in graceful mode,
/// asks for shutdown (nothing more if the program asked already); any
/// other runs the handlers, unless an exit already runs them. Returns
/// whether the process must now end by the signal.
fn handle(signal: Signal) -> bool {
    if first_only_asks() && RECEIVED.load(Ordering::SeqCst) < 2 {
        if request(Cause::Signal(signal)) {
            // The deadline, the orchestrator's clock, counts from here.
            crate::exit::start_deadline();
        }
        return false;
    }
    if exit_state::has_begun() {
        // The process is already exiting another way, which runs the
        // handlers and sets the status; a second signal still ends it at once.
        return false;
    }
    run_exit_handlers(ExitReason::Signal(signal), None);
    true
}

/// The process's shutdown request, which a handled signal (in graceful
/// mode) or the program makes, and which every `Shutdown` sees.
///
/// From [`install_graceful`], or [`Shutdown::new`] for code that asks for
/// shutdown itself (a health check, an admin endpoint) or waits for it
/// without installing anything (a test). Cheap to clone; every clone sees
/// the same request. While no `Shutdown` is alive, a signal does not ask:
/// it runs the handlers at once, as with [`install`] (a `Shutdown` dropped
/// by mistake must not swallow the one `SIGTERM` an orchestrator sends).
///
/// The exit handlers can ask a `Shutdown` why the program stopped: after a
/// drain the exit's [reason](crate::exit_reason) is `main` returning, and
/// [`requested`](Shutdown::requested) says which signal asked.
///
/// ```no_run
/// # extern crate atexit_core as atexit;
/// # async fn serve() {}
/// # async fn example() -> std::io::Result<()> {
/// let shutdown = atexit::signals::install_graceful()?;
/// // With tokio: tokio::select! { _ = serve() => {}, cause = shutdown.requested_async() => { /* drain */ } }
/// let cause = shutdown.requested_async().await;
/// eprintln!("{cause}: draining");
/// # Ok(())
/// # }
/// ```
#[must_use = "a dropped Shutdown cannot see the request"]
pub struct Shutdown {
    _private: (),
}

impl Shutdown {
    /// A handle on the process's shutdown request, installing nothing: for
    /// code that requests shutdown or waits for it, and for tests.
    pub fn new() -> Shutdown {
        HANDLES.fetch_add(1, Ordering::SeqCst);
        Shutdown { _private: () }
    }

    /// What asked for shutdown, if anything has: does not block.
    ///
    /// ```
    /// # extern crate atexit_core as atexit;
    /// use atexit::signals::{Cause, Shutdown};
    ///
    /// let shutdown = Shutdown::new();
    /// shutdown.request();
    /// assert_eq!(shutdown.requested(), Some(Cause::Program));
    /// ```
    pub fn requested(&self) -> Option<Cause> {
        current()
    }

    /// Asks for shutdown from the program itself, as a signal would in
    /// graceful mode: every waiter wakes, and [`requested`](Shutdown::requested)
    /// says [`Cause::Program`]. Nothing happens if something asked before.
    pub fn request(&self) {
        request(Cause::Program);
    }

    /// Blocks until shutdown is requested, and says what asked.
    ///
    /// ```no_run
    /// # extern crate atexit_core as atexit;
    /// let shutdown = atexit::signals::install_graceful()?;
    /// std::thread::spawn(|| { /* serve */ });
    /// let cause = shutdown.wait();
    /// eprintln!("{cause}: draining");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn wait(&self) -> Cause {
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut context = Context::from_waker(&waker);
        let mut requested = std::pin::pin!(self.requested_async());
        loop {
            if let Poll::Ready(cause) = requested.as_mut().poll(&mut context) {
                return cause;
            }
            std::thread::park();
        }
    }

    /// A future that completes when shutdown is requested, on any executor
    /// (it needs no runtime: the request wakes it).
    ///
    /// ```
    /// # extern crate atexit_core as atexit;
    /// # async fn example() {
    /// let shutdown = atexit::signals::Shutdown::new();
    /// shutdown.request();
    /// let cause = shutdown.requested_async().await;
    /// assert_eq!(cause, atexit::signals::Cause::Program);
    /// # }
    /// ```
    pub fn requested_async(&self) -> Requested {
        Requested::new()
    }

    /// Ends the process as the request asked, once the program has drained:
    /// the exit handlers run, then the process dies of the signal that
    /// asked, as [`install`] would have ended it (a supervisor's `waitpid`
    /// sees "killed by SIGTERM", a shell `128 + n`); after a request of the
    /// program's, or none, it exits with status 0. A handler's
    /// [`exit`](crate::exit) sets the status instead.
    ///
    /// Use it where the one who sent the signal reads the status (an init
    /// system, a shell script, a test harness); return from `main` where a
    /// drained shutdown counts as success (Kubernetes counts either as a
    /// normal end of a pod asked to stop).
    ///
    /// ```no_run
    /// # extern crate atexit_core as atexit;
    /// let shutdown = atexit::signals::install_graceful()?;
    /// shutdown.wait();
    /// // ... drain ...
    /// shutdown.exit_as_requested() // dies of the SIGTERM that asked
    /// # ; #[allow(unreachable_code)] Ok::<(), std::io::Error>(())
    /// ```
    ///
    /// Inside an exit handler it decides how the process ends, as
    /// [`exit`](crate::exit) does there: that handler ends, the rest run,
    /// and the process then dies of the signal (or exits 0).
    pub fn exit_as_requested(&self) -> ! {
        let signal = match current() {
            Some(Cause::Signal(signal)) => signal,
            _ => crate::exit(0),
        };
        if crate::exit_state::acts_for_run() {
            end_from_a_handler(ExitReason::Signal(signal), None)
        }
        run_exit_handlers(ExitReason::Signal(signal), None);
        platform::die_of(signal)
    }
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Clone for Shutdown {
    fn clone(&self) -> Self {
        Shutdown::new()
    }
}

impl Drop for Shutdown {
    fn drop(&mut self) {
        HANDLES.fetch_sub(1, Ordering::SeqCst);
    }
}

impl fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shutdown").field("requested", &self.requested()).finish()
    }
}

/// Unix: signal handlers registered through `signal-hook-registry` wake a
/// thread of ours through a pipe; the process dies by re-raising.
#[cfg(unix)]
mod platform {
    use std::io::{self, Read};
    use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::sync::{Mutex, PoisonError};

    use libc::c_int;

    use super::{GRACEFUL, RECEIVED, Signal, handle, may_wake_for_another};

    /// The write end of the pipe that wakes the signal thread; -1 before `install`.
    static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
    /// The process the signal thread lives in (0 before `install`); another
    /// process (a `fork()`ed child) has no thread.
    static THREAD_PID: AtomicI32 = AtomicI32::new(0);
    /// Signals whose action is registered (it survives `fork`).
    static REGISTERED: Mutex<Vec<c_int>> = Mutex::new(Vec::new());

    pub(super) fn register(signals: &[Signal], graceful: bool) -> io::Result<()> {
        // Every signal is checked before anything is installed.
        let numbers: Vec<c_int> = signals.iter().map(|s| s.number()).collect();
        for &number in &numbers {
            let why = if Signal::try_from(number).is_err() {
                "no signal has that number"
            } else if NOT_ENDING.contains(&number) {
                "its default action is not to end the process"
            } else if FORBIDDEN.contains(&number) {
                "it cannot be caught or reports a fault"
            } else {
                continue;
            };
            let name = Signal::from_number(number).to_string();
            let which = if name.starts_with("SIG") { format!("{name} (signal {number})") } else { name };
            let message = format!("atexit::signals cannot handle {which}: {why}");
            return Err(io::Error::new(io::ErrorKind::InvalidInput, message));
        }
        let mut registered = REGISTERED.lock().unwrap_or_else(PoisonError::into_inner);
        start_thread()?;
        for signal in numbers {
            if registered.contains(&signal) || is_ignored(signal) {
                continue;
            }
            // SAFETY: `on_signal` only loads and stores atomics and calls
            // `getpid`, `write`, `sigaction`, `raise` and `_exit`, which are
            // async-signal-safe.
            unsafe { signal_hook_registry::register(signal, move || on_signal(signal)) }?;
            registered.push(signal);
        }
        // Graceful mode, once chosen, stays: a later `install` adds signals.
        if graceful {
            GRACEFUL.store(std::process::id(), Ordering::SeqCst);
        }
        Ok(())
    }

    /// Signals that cannot be caught, faults, whose handler must not return,
    /// and the signals of [`NOT_ENDING`].
    const FORBIDDEN: &[c_int] = &[
        libc::SIGKILL,
        libc::SIGSTOP,
        libc::SIGSEGV,
        libc::SIGILL,
        libc::SIGFPE,
        libc::SIGBUS,
        libc::SIGCHLD,
        libc::SIGCONT,
        libc::SIGURG,
        libc::SIGWINCH,
        libc::SIGTSTP,
        libc::SIGTTIN,
        libc::SIGTTOU,
    ];

    /// Signals whose default action is to be ignored, or to stop or go on:
    /// dying of one of them would not end the process.
    const NOT_ENDING: &[c_int] =
        &[libc::SIGCHLD, libc::SIGCONT, libc::SIGURG, libc::SIGWINCH, libc::SIGTSTP, libc::SIGTTIN, libc::SIGTTOU];

    /// Ends the process by `signal`, as if it had not been handled.
    pub(super) fn die_of(signal: Signal) -> ! {
        crate::last_words::die_of(signal.number())
    }

    fn is_ignored(signal: c_int) -> bool {
        // SAFETY: a zeroed `sigaction` is a valid out-parameter, and a null new
        // action makes `sigaction` only read the current one.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            libc::sigaction(signal, std::ptr::null(), &mut current) == 0 && current.sa_sigaction == libc::SIG_IGN
        }
    }

    /// The same socket on a descriptor of 3 or more, closed on `exec`: with
    /// stdout or stderr closed, a new descriptor would take 1 or 2, and a
    /// handler's `eprintln!` would write into the signal thread's socket.
    fn above_stdio(socket: UnixStream) -> io::Result<UnixStream> {
        if socket.as_raw_fd() > 2 {
            return Ok(socket);
        }
        // SAFETY: `F_DUPFD_CLOEXEC` makes a new descriptor of the open
        // `socket`, owned by nothing else but the `UnixStream` made from it.
        unsafe {
            match libc::fcntl(socket.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) {
                -1 => Err(io::Error::last_os_error()),
                fd => Ok(UnixStream::from_raw_fd(fd)),
            }
        }
    }

    /// Starts the signal thread and its pipe, unless this process has them.
    fn start_thread() -> io::Result<()> {
        let pid = std::process::id() as i32;
        if THREAD_PID.load(Ordering::SeqCst) == pid {
            return Ok(());
        }
        // Both ends close on `exec`; writes never block the signal handler.
        // The write end stays open for the life of the process.
        let (reader, writer) = UnixStream::pair()?;
        let (reader, writer) = (above_stdio(reader)?, above_stdio(writer)?);
        writer.set_nonblocking(true)?;
        let write_fd = writer.into_raw_fd();
        std::thread::Builder::new().name("atexit-signals".into()).spawn(move || wait_for_signals(reader))?;
        RECEIVED.store(0, Ordering::SeqCst);
        WAKE_FD.store(write_fd, Ordering::SeqCst);
        THREAD_PID.store(pid, Ordering::SeqCst);
        Ok(())
    }

    /// The signal handler proper: wake the thread, or die at once.
    fn on_signal(signal: c_int) {
        // `std::process::id` is `getpid`, which is async-signal-safe.
        let no_thread_here = THREAD_PID.load(Ordering::SeqCst) != std::process::id() as i32;
        if no_thread_here || !may_wake_for_another() {
            crate::last_words::die_of(signal);
        }
        let byte = signal as u8;
        // SAFETY: writing one byte from a live local to the pipe's write end;
        // a full pipe (impossible: two bytes at most per process) would just fail.
        unsafe { libc::write(WAKE_FD.load(Ordering::SeqCst), (&byte as *const u8).cast(), 1) };
    }

    fn wait_for_signals(mut reader: UnixStream) {
        let mut byte = [0u8];
        loop {
            match reader.read(&mut byte) {
                Ok(1) => {
                    let signal = c_int::from(byte[0]);
                    if handle(Signal::from_number(signal)) {
                        crate::last_words::die_of(signal)
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                _ => return,
            }
        }
    }
}

/// Windows: console control events (Ctrl-C, Ctrl-Break, the console closed,
/// logoff, shutdown), through `SetConsoleCtrlHandler`.
#[cfg(windows)]
#[path = "signals_windows.rs"]
mod platform;
