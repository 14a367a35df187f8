//! Exit handlers on `SIGINT`, `SIGTERM` and `SIGHUP`, with a true exit status.
//!
//! Without this, a signal with no handler kills the process and no exit
//! handler runs. With [`install`], the signal instead wakes a thread of ours,
//! which runs the exit handlers (never inside the signal handler, where
//! almost nothing is allowed) and then lets the same signal kill the
//! process, so a shell sees `128 + n` and a supervisor's `waitpid` sees
//! "killed by SIGTERM", as if nothing had been installed.
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
//!   ignored.
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

use std::fs::File;
use std::io::{self, Read};
use std::os::fd::FromRawFd;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, PoisonError};

use libc::c_int;

use crate::exit::run_exit_handlers;
use crate::process::exit_has_begun;
use crate::reason::{ExitReason, Signal};

/// The signals [`install`] handles: `SIGINT` (Ctrl-C), `SIGTERM` (`kill`,
/// orchestrators) and `SIGHUP` (the terminal went away).
pub const DEFAULT_SIGNALS: &[c_int] = &[libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

/// The write end of the pipe that wakes the signal thread; -1 before `install`.
static WAKE_FD: AtomicI32 = AtomicI32::new(-1);
/// The process the signal thread lives in (0 before `install`); another
/// process (a `fork()`ed child) has no thread.
static THREAD_PID: AtomicI32 = AtomicI32::new(0);
/// The first signal received, 0 before one.
static RECEIVED: AtomicI32 = AtomicI32::new(0);
/// Signals whose action is registered (it survives `fork`).
static REGISTERED: Mutex<Vec<c_int>> = Mutex::new(Vec::new());

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

/// [`install`] for the signals you choose, such as `&[libc::SIGTERM]` or
/// `&[libc::SIGTERM, libc::SIGUSR1]`.
///
/// Signals that cannot be handled (`SIGKILL`, `SIGSTOP`) or that report
/// faults (`SIGSEGV`, `SIGILL`, `SIGFPE`) are refused with
/// `ErrorKind::InvalidInput`, and nothing is installed.
pub fn install_for(signals: &[c_int]) -> io::Result<()> {
    if let Some(bad) = signals.iter().find(|s| **s <= 0 || FORBIDDEN.contains(s)) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("atexit::signals cannot handle signal {bad}: it cannot be caught or reports a fault"),
        ));
    }
    crate::hook::install();
    let mut registered = REGISTERED.lock().unwrap_or_else(PoisonError::into_inner);
    start_thread()?;
    for &signal in signals {
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
const FORBIDDEN: &[c_int] = &[libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, libc::SIGILL, libc::SIGFPE, libc::SIGBUS];

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
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` has room for the two descriptors `pipe` writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let [read_fd, write_fd] = fds;
    // SAFETY: `fcntl` on descriptors this function just created: not
    // inherited by `exec`, and writes never block the signal handler.
    unsafe {
        libc::fcntl(read_fd, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(write_fd, libc::F_SETFD, libc::FD_CLOEXEC);
        libc::fcntl(write_fd, libc::F_SETFL, libc::O_NONBLOCK);
    }
    // SAFETY: `read_fd` is open and owned by nothing else.
    let reader = unsafe { File::from_raw_fd(read_fd) };
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
    let second = RECEIVED.compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst).is_err();
    if no_thread_here || second {
        die_of(signal);
    }
    let byte = signal as u8;
    // SAFETY: writing one byte from a live local to the pipe's write end;
    // a full pipe (impossible: one byte per process) would just fail.
    unsafe { libc::write(WAKE_FD.load(Ordering::SeqCst), (&byte as *const u8).cast(), 1) };
}

/// Ends the process by `signal`'s default action, as if never handled; if
/// that does not end it (PID 1), exits with `128 + signal` as a shell would
/// report it. Async-signal-safe.
fn die_of(signal: c_int) -> ! {
    // SAFETY: `signal`, `sigemptyset`, `sigaddset`, `pthread_sigmask`,
    // `raise` and `_exit` are async-signal-safe; the set is a local that
    // `sigemptyset` initialises. Inside a handler for `signal` the signal is
    // blocked, so it is unblocked for `raise` to take effect.
    unsafe {
        libc::signal(signal, libc::SIG_DFL);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
        libc::_exit(128 + signal)
    }
}

fn wait_for_signals(mut reader: File) {
    let mut byte = [0u8];
    loop {
        match reader.read(&mut byte) {
            Ok(1) => handle(c_int::from(byte[0])),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            _ => return,
        }
    }
}

fn handle(signal: c_int) {
    if exit_has_begun() {
        // The process is already exiting another way, which runs the
        // handlers and sets the status; a second signal still ends it at once.
        return;
    }
    run_exit_handlers(ExitReason::Signal(Signal::from_number(signal)));
    die_of(signal)
}
