//! Exit handlers on `SIGINT`, `SIGTERM` and `SIGHUP` with a true exit status, or a shutdown request servers drain on.
//!
//! Unhandled, such a signal kills the process, running no exit handler. After [`install`] it wakes a thread of ours,
//! which runs the handlers (never in the signal handler, where almost nothing is allowed), then lets the same signal
//! kill the process: a shell still sees `128 + n`, a supervisor's `waitpid` "killed by SIGTERM". After
//! [`install_graceful`] (process-wide, for good) the first signal only **asks** for shutdown, which the program sees
//! through a [`Shutdown`]: it drains and ends normally, running the handlers then.
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
//! - **Once.** The handlers run once, whichever of the signal and an exit racing it starts them. A handler that calls
//!   [`exit`](crate::exit) sets the status.
//! - **A signal while an exit is under way** (begun by a first signal, `main` returning, an `exit` call) ends the process
//!   at once, by that signal: the handlers left do not run (crash actions do). A second Ctrl-C gets out of a hung
//!   handler, and so does a supervisor's one `SIGTERM` (`timeout`, systemd, Kubernetes send one, then `SIGKILL`).
//! - **Others' handlers** registered through `signal-hook-registry` (`tokio::signal`'s too) still run; a signal ignored
//!   at `install` (`SIGHUP` under `nohup`) stays ignored. A raw `sigaction` set later silently replaces ours, as
//!   `ctrlc`'s does for `SIGINT` (and `SIGTERM`, `SIGHUP` with its `termination` feature); use [`install_graceful`].
//! - **Containers.** PID 1 is not killed by a signal it does not handle: without `install`, `docker stop` waits out its
//!   grace period, then `SIGKILL`s it, running nothing; with it, the handlers run, then it exits with `128 + n`.
//! - **Fork.** A `fork()`ed child has no signal thread, nor its parent's shutdown request: from its first instruction,
//!   an installed signal kills it by its default action, until it calls `install` itself.
//! - **Descriptors.** The socket that wakes the signal thread is above 2 and closed on `exec`, out of reach of a
//!   program started with stdout or stderr closed.
//! - **Output.** After the handlers the process dies unflushed, so a thread blocked on a full stdout pipe (holding its
//!   lock) cannot keep it alive. Rust's stdout writes each complete line; a handler must flush a partial last one.
//!
//! **Windows** has console events: Ctrl-C ([`Signal::Interrupt`]), Ctrl-Break ([`Signal::Quit`]), the console closing
//! ([`Signal::Hangup`]), system shutdown ([`Signal::Terminate`]). After the handlers the process exits with
//! `STATUS_CONTROL_C_EXIT` (`0xC000013A`), as under Windows' own handler; Windows ends it anyway seconds after a close
//! or shutdown. Logoff (only services get it, for any user's) ends nothing. Signal numbers, `fork`, PID 1 and
//! `sigaction` are Unix matters.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use crate::exit::{run_before_ending, run_exit_handlers};
use crate::exit_state;
use crate::reason::{ExitReason, Signal};
pub use crate::shutdown::{Cause, Requested};
use crate::shutdown::{HANDLES, current, request};

/// The signals [`install`] and [`install_graceful`] handle: `SIGINT` (Ctrl-C), `SIGTERM` (`kill`, orchestrators),
/// `SIGHUP` (the terminal went away; a server that reloads on it leaves it out, see [`install_for`]).
pub const DEFAULT_SIGNALS: &[Signal] = &[Signal::Interrupt, Signal::Terminate, Signal::Hangup];

static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// The process that chose graceful mode (0: none), so that a `fork()`ed child chooses for itself.
static GRACEFUL: AtomicU32 = AtomicU32::new(0);

/// Runs the exit handlers on `SIGINT`, `SIGTERM` and `SIGHUP`, then lets the signal end the process (see the [module
/// docs](self)). Call it early in `main`; calling it again does nothing.
///
/// # Errors
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

/// [`install`] for the signals you choose, such as `&[Signal::Terminate, Signal::Quit]`.
///
/// # Errors
/// `ErrorKind::InvalidInput`, installing nothing, for a signal that cannot be handled (`SIGKILL`, `SIGSTOP`), reports a
/// fault (`SIGSEGV`, `SIGILL`, `SIGFPE`, `SIGBUS`), or does not end the process by default (`SIGCHLD`, `SIGCONT`,
/// `SIGURG`, `SIGWINCH`, `SIGTSTP`, `SIGTTIN`, `SIGTTOU`: handling one would end it on a terminal resize or a child's
/// exit); on Windows, for a [`Signal`] with no console event. Otherwise the system's error (no thread, no socket).
///
/// ```no_run
/// # extern crate atexit_core as atexit;
/// use atexit::Signal;
/// // SIGHUP reloads the configuration here: it is not handled.
/// atexit::signals::install_for(&[Signal::Interrupt, Signal::Terminate])?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn install_for(signals: &[Signal]) -> io::Result<()> {
    register(signals, false)
}

/// [`install`], but the first signal only asks for shutdown. The program sees it through the returned [`Shutdown`] (a
/// check, a blocking wait, or a `Future` for any executor), drains, and ends normally: the handlers run then, once,
/// with the program's status (see also [`Shutdown::exit_as_requested`]). A second signal during the drain runs them at
/// once and the process dies of it; a [deadline](crate::set_deadline) counts from the first. A later [`install`] (a
/// library's, say) keeps graceful mode and only adds its signals.
///
/// # Errors
/// As [`install_for`].
#[must_use = "a dropped Shutdown cannot see the request: keep it, or use `install()`"]
pub fn install_graceful() -> io::Result<Shutdown> {
    install_graceful_for(DEFAULT_SIGNALS)
}

/// [`install_graceful`] for the signals you choose.
///
/// # Errors
/// As [`install_for`].
#[must_use = "a dropped Shutdown cannot see the request: keep it, or use `install_for()`"]
pub fn install_graceful_for(signals: &[Signal]) -> io::Result<Shutdown> {
    register(signals, true).map(|()| Shutdown::new())
}

/// What asked for shutdown in this process, if anything has: [`Shutdown::requested`] without a handle, for an exit
/// handler (a library's holds none). After a drain the exit's [reason](crate::exit_reason) is `main` returning, and its
/// [ending](crate::ending) the program's status; this says which signal asked.
pub fn requested() -> Option<Cause> {
    current()
}

fn register(signals: &[Signal], graceful: bool) -> io::Result<()> {
    crate::hook::install();
    platform::register(signals, graceful)
}

/// A first signal only asks in this process's graceful mode, given a live [`Shutdown`] or a request. Async-signal-safe.
fn first_only_asks() -> bool {
    GRACEFUL.load(Ordering::SeqCst) == std::process::id() && (HANDLES.load(Ordering::SeqCst) > 0 || current().is_some())
}

/// Counts a signal; may it wake the signal thread (or must the process end now)? One may, two if the first only asks,
/// none once an exit has begun (whatever began it). Async-signal-safe.
fn may_wake_for_another() -> bool {
    let nth = RECEIVED.fetch_add(1, Ordering::SeqCst) + 1;
    let allowed = if first_only_asks() { 2 } else { 1 };
    nth <= allowed && !exit_state::has_begun()
}

/// Requests shutdown for a first signal that only asks, else runs the handlers unless an exit does; true: die of it.
fn handle(signal: Signal) -> bool {
    if first_only_asks() && RECEIVED.load(Ordering::SeqCst) < 2 {
        // The deadline, the orchestrator's clock, counts from the first signal, even after the program's request;
        // started first, so that whoever the request wakes sees it.
        crate::exit::start_deadline();
        request(Cause::Signal(signal));
        return false;
    }
    if exit_state::has_begun() {
        // An exit under way (begun since the signal was counted): the signal ends it, as a second one would.
        return true;
    }
    run_exit_handlers(ExitReason::Signal(signal), None);
    true
}

/// The process's shutdown request, made by a handled signal in graceful mode or by the program.
///
/// From [`install_graceful`], or [`Shutdown::new`] to request shutdown (a health check, an admin endpoint) or wait for
/// it without installing (a test); clones share the request. With no `Shutdown` alive, a signal runs the handlers at
/// once as with [`install`]: one dropped by mistake must not swallow an orchestrator's only `SIGTERM`. After a drain
/// the exit's [reason](crate::exit_reason) is `main` returning; [`requested`](Shutdown::requested) says what asked.
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
    /// A handle on the process's shutdown request that installs nothing.
    pub fn new() -> Shutdown {
        HANDLES.fetch_add(1, Ordering::SeqCst);
        Shutdown { _private: () }
    }

    /// What asked for shutdown, if anything has, without blocking.
    ///
    /// ```
    /// # extern crate atexit_core as atexit;
    /// use atexit::signals::{Cause, Shutdown};
    /// let shutdown = Shutdown::new();
    /// shutdown.request();
    /// assert_eq!(shutdown.requested(), Some(Cause::Program));
    /// ```
    pub fn requested(&self) -> Option<Cause> {
        current()
    }

    /// Asks for shutdown like a graceful-mode signal, with [`Cause::Program`], waking every waiter; the first ask wins.
    pub fn request(&self) {
        request(Cause::Program);
    }

    /// Blocks until shutdown is requested; returns what asked.
    pub fn wait(&self) -> Cause {
        let mut cause = None;
        exit_state::CHANGED.wait_until(|| {
            cause = current();
            cause.is_some()
        });
        cause.unwrap_or(Cause::Program)
    }

    /// A future of the request, for any executor: it needs no runtime, the request wakes it.
    pub fn requested_async(&self) -> Requested {
        Requested::new()
    }

    /// When to stop draining so that the exit handlers keep their share of the [deadline](crate::set_deadline): a
    /// quarter of it, before it passes. `None` without a deadline, or until a signal asks for shutdown (the deadline
    /// counts from the first signal; a request of the program's starts no clock).
    ///
    /// Bound the drain with it (`tokio::time::timeout_at(deadline.into(), drain)`): if the deadline passes while the
    /// program still drains, no handler runs, and the process ends with status 124 all the same.
    ///
    /// ```no_run
    /// # extern crate atexit_core as atexit;
    /// # fn drain_one_more() -> bool { false }
    /// atexit::set_deadline(std::time::Duration::from_secs(20));
    /// let shutdown = atexit::signals::install_graceful()?;
    /// shutdown.wait();
    /// let stop = shutdown.drain_deadline().expect("a signal asked, and a deadline is set");
    /// while std::time::Instant::now() < stop && drain_one_more() {}
    /// // return from main: the handlers have 5 s of the 20
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn drain_deadline(&self) -> Option<std::time::Instant> {
        let (at, limit) = crate::watch::deadline()?;
        at.checked_sub(limit / 4)
    }

    /// [`requested_async`](Shutdown::requested_async) as a `Future<Output = ()> + Send + 'static`: what servers take
    /// to drain on, such as `axum::serve(..).with_graceful_shutdown(shutdown.notified())`. While it waits, it counts as
    /// a live `Shutdown`.
    ///
    /// ```
    /// # extern crate atexit_core as atexit;
    /// # async fn example() {
    /// let shutdown = atexit::signals::Shutdown::new();
    /// let notified = shutdown.notified();
    /// shutdown.request();
    /// notified.await; // a server stops accepting here, then drains
    /// # }
    /// ```
    pub fn notified(&self) -> impl Future<Output = ()> + Send + 'static {
        let requested = self.requested_async();
        async move {
            requested.await;
        }
    }

    /// How the request asks the process to end: dying of the signal that asked, or status 0 after the program's
    /// request (or none). [`end_with`](crate::end_with) it and return from `main`: the handlers run first, async ones
    /// on the application's runtime, which [`exit_as_requested`](Shutdown::exit_as_requested) called inside it would
    /// stop.
    ///
    /// ```no_run
    /// # extern crate atexit_core as atexit;
    /// let shutdown = atexit::signals::install_graceful()?;
    /// shutdown.wait();
    /// // ... drain ...
    /// atexit::end_with(shutdown.requested_ending()); // dies of the SIGTERM that asked, once main returns
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn requested_ending(&self) -> crate::Ending {
        match current() {
            Some(Cause::Signal(signal)) => crate::Ending::Signal(signal),
            _ => crate::Ending::Status(0),
        }
    }

    /// Ends the process as the request asked, once drained: the exit handlers run, then the process dies of the signal
    /// that asked, as under [`install`] (after the program's request, or none, it exits 0); a handler's
    /// [`exit`](crate::exit) sets the status instead. In an exit handler it acts as `exit` does there. Use it where the
    /// signal's sender reads the status (an init system, a script, a test harness); return from `main` where a drained
    /// shutdown is a success (Kubernetes takes either as a normal end of a pod asked to stop).
    ///
    /// ```no_run
    /// # extern crate atexit_core as atexit;
    /// let shutdown = atexit::signals::install_graceful()?;
    /// shutdown.wait();
    /// // ... drain ...
    /// shutdown.exit_as_requested() // dies of the SIGTERM that asked
    /// # ; #[allow(unreachable_code)] Ok::<(), std::io::Error>(())
    /// ```
    pub fn exit_as_requested(&self) -> ! {
        let signal = match current() {
            Some(Cause::Signal(signal)) => signal,
            _ => crate::exit(0),
        };
        run_before_ending(ExitReason::Signal(signal), None);
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

/// Unix: `signal-hook-registry` handlers wake a thread of ours via a socket; the process dies by re-raising.
#[cfg(unix)]
mod platform {
    use std::io::{self, Read};
    use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd};
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::sync::{Mutex, PoisonError};

    use libc::c_int;

    use super::{GRACEFUL, RECEIVED, Signal, handle, may_wake_for_another};

    /// The socket's write end that wakes the signal thread; -1 before `install`.
    static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
    /// The process the signal thread lives in (0: none); a `fork()`ed child has none.
    static THREAD_PID: AtomicI32 = AtomicI32::new(0);
    /// Signals whose action is registered (that survives `fork`).
    static REGISTERED: Mutex<Vec<c_int>> = Mutex::new(Vec::new());

    pub(super) fn register(signals: &[Signal], graceful: bool) -> io::Result<()> {
        // Every signal is checked before anything is installed.
        let numbers: Vec<c_int> = signals.iter().map(|s| s.number()).collect();
        for &number in &numbers {
            let why = if Signal::try_from(number).is_err() {
                "no signal has that number"
            } else if !Signal::from_number(number).ends_the_process() {
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
            // SAFETY: `on_signal` uses only atomics and async-signal-safe calls (`getpid`, `write`, `die_of`'s).
            unsafe { signal_hook_registry::register(signal, move || on_signal(signal)) }?;
            registered.push(signal);
        }
        // Never reset: graceful mode, once chosen, stays.
        if graceful {
            GRACEFUL.store(std::process::id(), Ordering::SeqCst);
        }
        Ok(())
    }

    /// Signals that cannot be caught, and faults, whose handler must not return.
    const FORBIDDEN: &[c_int] =
        &[libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, libc::SIGILL, libc::SIGFPE, libc::SIGBUS];

    pub(super) fn die_of(signal: Signal) -> ! {
        crate::last_words::die_of(signal.number())
    }

    fn is_ignored(signal: c_int) -> bool {
        // SAFETY: a zeroed `sigaction` is a valid out-parameter; a null new action makes the call only read.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            libc::sigaction(signal, std::ptr::null(), &mut current) == 0 && current.sa_sigaction == libc::SIG_IGN
        }
    }

    /// `socket` above 2, closed on `exec`: with stdout or stderr closed it could be 1 or 2, catching handlers' output.
    fn above_stdio(socket: UnixStream) -> io::Result<UnixStream> {
        if socket.as_raw_fd() > 2 {
            return Ok(socket);
        }
        // SAFETY: `F_DUPFD_CLOEXEC` duplicates the open `socket`; only the new `UnixStream` owns the copy.
        unsafe {
            match libc::fcntl(socket.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) {
                -1 => Err(io::Error::last_os_error()),
                fd => Ok(UnixStream::from_raw_fd(fd)),
            }
        }
    }

    fn start_thread() -> io::Result<()> {
        let pid = std::process::id() as i32;
        if THREAD_PID.load(Ordering::SeqCst) == pid {
            return Ok(());
        }
        // Both ends close on `exec`; writes never block the signal handler; the write end is never closed.
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

    /// The signal handler proper: wakes the thread, or dies at once.
    fn on_signal(signal: c_int) {
        // `std::process::id` is `getpid`, which is async-signal-safe.
        let no_thread_here = THREAD_PID.load(Ordering::SeqCst) != std::process::id() as i32;
        if no_thread_here || !may_wake_for_another() {
            crate::last_words::die_of(signal);
        }
        let byte = signal as u8;
        // SAFETY: one byte from a live local; a full socket (impossible: two bytes per process at most) fails it.
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

/// Windows: console control events, through `SetConsoleCtrlHandler`.
#[cfg(windows)]
#[path = "signals_windows.rs"]
mod platform;
