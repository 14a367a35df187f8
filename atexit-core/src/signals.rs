//! Exit handlers on `SIGINT`, `SIGTERM` and `SIGHUP`, with a true exit status;
//! or, for servers that drain, a shutdown request the program waits for.
//!
//! On Windows the same functions handle console control events: Ctrl-C
//! ([`Signal::Interrupt`]), Ctrl-Break ([`Signal::Quit`]), the console
//! window closing ([`Signal::Hangup`]), logoff and shutdown
//! ([`Signal::Terminate`]); after the handlers the process ends as Windows'
//! own handler ends it, with `STATUS_CONTROL_C_EXIT` (`0xC000013A`). After a
//! close, logoff or shutdown event Windows ends the process itself a few
//! seconds later. What follows about signal numbers, `fork`, PID 1 and
//! other libraries' `sigaction` is Unix's.
//!
//! Without this, a signal with no handler kills the process and no exit
//! handler runs. With [`install`], the signal instead wakes a thread of ours,
//! which runs the exit handlers (never inside the signal handler, where
//! almost nothing is allowed) and then lets the same signal kill the
//! process, so a shell sees `128 + n` and a supervisor's `waitpid` sees
//! "killed by SIGTERM", as if nothing had been installed.
//!
//! Two modes, process-wide (the last call chooses):
//!
//! - [`install`]: the signal runs the handlers at once, on a thread of ours,
//!   and then kills the process, as described below.
//! - [`install_graceful`]: the first signal only **asks** for shutdown. The
//!   program sees it through the [`Shutdown`] it got back (a check, a
//!   blocking wait, or a `Future` that works on any executor: `tokio::select!`
//!   on it, or `.await` it), finishes what it is doing, and ends normally:
//!   the handlers run then, once, and the exit status is the program's. A
//!   second signal while it drains runs the handlers at once and the process
//!   dies of that signal; one while the handlers run ends it at once. A
//!   deadline ([`set_deadline`](crate::set_deadline)) counts from the first
//!   signal.
//!
//! ```no_run
//! # extern crate atexit_core as atexit;
//! let shutdown = atexit::signals::install_graceful().expect("signal handlers");
//! atexit::register(|| eprintln!("flushed after the drain"));
//! while shutdown.requested().is_none() {
//!     // serve one more request
//! #   break;
//! }
//! // drain, then return from main: the handlers run, status 0
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
//!   so this holds from the child's first instruction.
//! - **Output.** After the handlers, the process dies without flushing: a
//!   thread blocked writing to a full stdout pipe (holding stdout's lock)
//!   cannot keep it alive. Rust's stdout writes each complete line as it
//!   is printed; text after a handler's last newline is lost unless the
//!   handler flushes it.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};

use crate::exit::run_exit_handlers;
use crate::reason::{self, ExitReason, Signal};
use crate::watch;

/// The signals [`install`] and [`install_graceful`] handle: `SIGINT`
/// (Ctrl-C), `SIGTERM` (`kill`, orchestrators) and `SIGHUP` (the terminal
/// went away).
pub const DEFAULT_SIGNALS: &[Signal] = &[Signal::Interrupt, Signal::Terminate, Signal::Hangup];

/// How many handled signals arrived.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// Whether the first signal only asks for shutdown.
static GRACEFUL: AtomicBool = AtomicBool::new(false);

/// Runs the exit handlers on `SIGINT`, `SIGTERM` and `SIGHUP`, then lets the
/// signal end the process. See the [module docs](self).
///
/// Call it early in `main`; calling it again does nothing.
///
/// ```no_run
/// # extern crate atexit_core as atexit;
/// atexit::signals::install().expect("signal handlers");
/// atexit::register(|| eprintln!("flushed before dying of the signal"));
/// loop { std::thread::park(); }
/// ```
pub fn install() -> io::Result<()> {
    install_for(DEFAULT_SIGNALS)
}

/// [`install`] for the signals you choose, such as
/// `&[Signal::Terminate, Signal::Quit]`.
///
/// Signals that cannot be handled (`SIGKILL`, `SIGSTOP`) or that report
/// faults (`SIGSEGV`, `SIGILL`, `SIGFPE`, `SIGBUS`) are refused with
/// `ErrorKind::InvalidInput`, and nothing is installed.
pub fn install_for(signals: &[Signal]) -> io::Result<()> {
    register(signals, false)
}

/// The first `SIGINT`, `SIGTERM` or `SIGHUP` asks for shutdown, which the
/// program waits for through the returned [`Shutdown`]; see the
/// [module docs](self).
pub fn install_graceful() -> io::Result<Shutdown> {
    install_graceful_for(DEFAULT_SIGNALS)
}

/// [`install_graceful`] for the signals you choose.
pub fn install_graceful_for(signals: &[Signal]) -> io::Result<Shutdown> {
    register(signals, true).map(|()| Shutdown { _private: () })
}

fn register(signals: &[Signal], graceful: bool) -> io::Result<()> {
    crate::hook::install();
    platform::register(signals, graceful)
}

/// Counts a signal that just arrived, and says whether it may wake the
/// signal thread; if not, it ends the process at once. In graceful mode the
/// first asks for shutdown and the second forces it; otherwise the first
/// forces it; one more, or one while the handlers already run after an
/// earlier one, ends the process. Async-signal-safe: atomics only.
fn may_wake_for_another() -> bool {
    let nth = RECEIVED.fetch_add(1, Ordering::SeqCst) + 1;
    let allowed = if GRACEFUL.load(Ordering::SeqCst) { 2 } else { 1 };
    nth <= allowed && !(nth > 1 && reason::has_begun())
}

/// What the signal thread does with a signal: ask for shutdown (the first,
/// in graceful mode), or run the handlers, unless an exit already runs them.
/// Returns whether the process must now end by the signal.
fn handle(signal: Signal) -> bool {
    if GRACEFUL.load(Ordering::SeqCst) && REQUESTED.lock().unwrap_or_else(PoisonError::into_inner).is_none() {
        request_shutdown(signal);
        return false;
    }
    if reason::has_begun() {
        // The process is already exiting another way, which runs the
        // handlers and sets the status; a second signal still ends it at once.
        return false;
    }
    run_exit_handlers(ExitReason::Signal(signal), None);
    true
}

/// A shutdown request from [`install_graceful`]: the first handled signal.
///
/// Cheap to clone; every clone sees the same request.
///
/// ```no_run
/// # extern crate atexit_core as atexit;
/// # async fn serve() {}
/// # async fn example() {
/// let shutdown = atexit::signals::install_graceful().expect("signal handlers");
/// // With tokio: tokio::select! { _ = serve() => {}, signal = shutdown.requested_async() => { /* drain */ } }
/// let signal = shutdown.requested_async().await;
/// eprintln!("{signal:?}: draining");
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Shutdown {
    _private: (),
}

/// The signal that asked for shutdown.
static REQUESTED: Mutex<Option<Signal>> = Mutex::new(None);
/// The futures waiting for it; the lock the blocking waiters wait on.
static REQUEST_LOCK: Mutex<Vec<Waker>> = Mutex::new(Vec::new());
static REQUEST_MADE: Condvar = Condvar::new();

impl Shutdown {
    /// The signal that asked for shutdown, if one has: does not block.
    pub fn requested(&self) -> Option<Signal> {
        *REQUESTED.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Blocks until a signal asks for shutdown, and returns it.
    pub fn wait(&self) -> Signal {
        let mut wakers = REQUEST_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if let Some(signal) = self.requested() {
                return signal;
            }
            wakers = REQUEST_MADE.wait(wakers).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A future that completes when a signal asks for shutdown, on any
    /// executor (it needs no runtime; the signal thread wakes it).
    pub fn requested_async(&self) -> Requested {
        Requested { _private: () }
    }
}

/// The future of [`Shutdown::requested_async`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Requested {
    _private: (),
}

impl Future for Requested {
    type Output = Signal;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Signal> {
        let shutdown = Shutdown { _private: () };
        if let Some(signal) = shutdown.requested() {
            return Poll::Ready(signal);
        }
        let mut wakers = REQUEST_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        // Looked at again under the lock the signal thread takes to wake.
        if let Some(signal) = shutdown.requested() {
            return Poll::Ready(signal);
        }
        if !wakers.iter().any(|w| w.will_wake(cx.waker())) {
            wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}

/// The signal thread: the first signal in graceful mode.
fn request_shutdown(signal: Signal) {
    let wakers = {
        let mut wakers = REQUEST_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        *REQUESTED.lock().unwrap_or_else(PoisonError::into_inner) = Some(signal);
        REQUEST_MADE.notify_all();
        std::mem::take(&mut *wakers)
    };
    wakers.into_iter().for_each(Waker::wake);
    // The deadline bounds the drain too.
    watch::start_deadline();
}

/// Unix: signal handlers registered through `signal-hook-registry` wake a
/// thread of ours through a pipe; the process dies by re-raising.
#[cfg(unix)]
mod platform {
    use std::io::{self, Read};
    use std::os::fd::IntoRawFd;
    use std::os::unix::net::UnixStream;
    use std::sync::atomic::{AtomicI32, Ordering};
    use std::sync::{Mutex, PoisonError};

    use libc::c_int;

    use super::{GRACEFUL, RECEIVED, Signal, handle, may_wake_for_another};
    use crate::last_words::die_of;

    /// The write end of the pipe that wakes the signal thread; -1 before `install`.
    static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
    /// The process the signal thread lives in (0 before `install`); another
    /// process (a `fork()`ed child) has no thread.
    static THREAD_PID: AtomicI32 = AtomicI32::new(0);
    /// Signals whose action is registered (it survives `fork`).
    static REGISTERED: Mutex<Vec<c_int>> = Mutex::new(Vec::new());

    pub(super) fn register(signals: &[Signal], graceful: bool) -> io::Result<()> {
        let numbers: Vec<c_int> = signals.iter().map(|s| s.number()).collect();
        if let Some(bad) = numbers.iter().find(|s| **s <= 0 || FORBIDDEN.contains(s)) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("atexit::signals cannot handle signal {bad}: it cannot be caught or reports a fault"),
            ));
        }
        let mut registered = REGISTERED.lock().unwrap_or_else(PoisonError::into_inner);
        start_thread()?;
        GRACEFUL.store(graceful, Ordering::SeqCst);
        for signal in numbers {
            if registered.contains(&signal) || is_ignored(signal) {
                continue;
            }
            // SAFETY: `on_signal` only loads and stores atomics and calls
            // `getpid`, `write`, `signal`, `raise` and `_exit`, which are
            // async-signal-safe.
            unsafe { signal_hook_registry::register(signal, move || on_signal(signal)) }?;
            registered.push(signal);
        }
        Ok(())
    }

    /// Signals that cannot be caught, and faults, whose handler must not return.
    const FORBIDDEN: &[c_int] =
        &[libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, libc::SIGILL, libc::SIGFPE, libc::SIGBUS];

    fn is_ignored(signal: c_int) -> bool {
        // SAFETY: a zeroed `sigaction` is a valid out-parameter, and a null new
        // action makes `sigaction` only read the current one.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            libc::sigaction(signal, std::ptr::null(), &mut current) == 0 && current.sa_sigaction == libc::SIG_IGN
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
        // SAFETY: `getpid` is async-signal-safe and has no preconditions.
        let no_thread_here = THREAD_PID.load(Ordering::SeqCst) != unsafe { libc::getpid() };
        if no_thread_here || !may_wake_for_another() {
            die_of(signal);
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
                        die_of(signal)
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
