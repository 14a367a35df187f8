//! Last words: what the runtime writes while the process exits, and how it ends it. A handler may hang holding the
//! standard streams' locks, so the runtime's messages (reports, trace, overruns, deadline) take no lock; a reader of
//! stderr that pauses loses none of them, and one that stopped reading holds the exit up for [`PATIENCE`] once at most.
//! Only [`exit_process`] and [`exit_through_libc`] flush and lock (as `exit` does); [`flush_stdout`] flushes from a
//! thread of its own, and gives up after [`PATIENCE`].

#[cfg(all(unix, not(miri)))]
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long a message waits for stderr to take it. Once one was not taken in that time, stderr counts as stuck (a
/// reader that stopped) and later ones are written only if it takes them at once.
#[cfg_attr(any(not(unix), miri), allow(dead_code))] // elsewhere std's stderr waits as it will
pub(crate) const PATIENCE: Duration = Duration::from_millis(500);

/// Writes `message` to descriptor 2, waiting for it as [`PATIENCE`] says; takes no lock, not stderr's.
pub(crate) fn write_stderr_now(message: &str) {
    write_stderr_until(message, None);
}

/// [`write_stderr_now`], waiting no later than `until` either (the deadline, for the watchdog's messages).
#[cfg(all(unix, not(miri)))]
pub(crate) fn write_stderr_until(message: &str, until: Option<Instant>) {
    static STUCK: AtomicBool = AtomicBool::new(false);
    let patient = !STUCK.load(Ordering::Relaxed);
    let now = Instant::now();
    let until = if patient { until.map_or(now + PATIENCE, |at| at.min(now + PATIENCE)) } else { now };
    if !crate::fd_write::write_until(2, message.as_bytes(), until) {
        STUCK.fetch_or(patient, Ordering::Relaxed);
    }
}

/// Flushes Rust's stdout, as `std::process::exit` does before it ends the process, but gives up after [`PATIENCE`]: a
/// thread left behind holding stdout's lock must not keep the process alive (std only tries the lock, which `Stdout`
/// does not offer), so a thread of its own flushes.
pub(crate) fn flush_stdout() {
    let (done, flushed) = std::sync::mpsc::channel();
    let flusher = std::thread::Builder::new().name("atexit-flush".into()).spawn(move || {
        let _ = std::io::Write::flush(&mut std::io::stdout());
        let _ = done.send(());
    });
    match flusher {
        Ok(_) => drop(flushed.recv_timeout(PATIENCE)),
        // No thread to be had (a sandbox, a process limit): here, then.
        Err(_) => drop(std::io::Write::flush(&mut std::io::stdout())),
    }
}

/// [`die_of_signal`] for an exit that would have flushed stdout (`main` returning, a handler's decision): it is
/// flushed first, as [`flush_stdout`] does.
pub(crate) fn die_of_signal_flushed(signal: crate::reason::Signal) -> ! {
    flush_stdout();
    die_of_signal(signal)
}

/// Elsewhere, and under Miri (no `poll`), through std's stderr.
#[cfg(any(not(unix), miri))]
pub(crate) fn write_stderr_until(message: &str, _: Option<Instant>) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(message.as_bytes());
}

/// Ends the process by `signal`'s default action, as if never handled; where that does not end it (PID 1), exits with
/// `128 + signal`, as a shell would report it. Async-signal-safe.
#[cfg(unix)]
pub(crate) fn die_of(signal: i32) -> ! {
    crash_actions(Forced);
    // SAFETY: all these calls are async-signal-safe; the action and the set are zeroed locals (empty mask, no flags,
    // default action). `signal` is blocked in its own handler: unblocked for `raise`.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        libc::sigaction(signal, &default, std::ptr::null_mut());
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, signal);
        libc::pthread_sigmask(libc::SIG_UNBLOCK, &set, std::ptr::null_mut());
        libc::raise(signal);
        libc::_exit(128 + signal)
    }
}

/// As [`die_of`]; without signals (Windows' console events), exits with the status Windows' own handler gives.
#[cfg(unix)]
pub(crate) fn die_of_signal(signal: crate::reason::Signal) -> ! {
    die_of(signal.number())
}

#[cfg(not(unix))]
pub(crate) fn die_of_signal(_: crate::reason::Signal) -> ! {
    crash_actions(Forced);
    terminate_now(0xC000_013A_u32 as i32) // STATUS_CONTROL_C_EXIT
}

/// Ends the process through C's `exit`, in a `fork()`ed child of an exiting process ([`exit_process`]).
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
pub(crate) fn exit_through_libc(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: `exit` runs the C exit handlers left (ours has run). It is not thread-safe (std's guard, bypassed here,
    // is for that), but runs only in a `fork()`ed child's one thread (unless it started others since).
    unsafe { libc::exit(code) }
}

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
pub(crate) fn exit_through_libc(code: i32) -> ! {
    terminate_now(code)
}

/// Exits with `code` through std's `exit` (C's exit handlers left run), or C's in a child forked while its parent
/// exited: there, std's copied exit state (another thread exiting) would park the caller for ever.
pub(crate) fn exit_process(code: i32, forked_from_an_exit: bool) -> ! {
    if forked_from_an_exit {
        exit_through_libc(code)
    }
    // Windows' `ExitProcess` skips C's exit functions, the hook among them, which runs a normal exit's crash actions.
    #[cfg(windows)]
    crash_actions(Normal);
    std::process::exit(code)
}

/// Ends the process now with `code`: no exit handler, no flush.
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
pub(crate) fn terminate_now(code: i32) -> ! {
    // SAFETY: `_exit` ends the process; no preconditions.
    unsafe { libc::_exit(code) }
}

/// `wasm32-unknown-unknown` has no process and no C library: only a trap stops now.
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
pub(crate) fn terminate_now(_code: i32) -> ! {
    std::process::abort()
}

/// Runs the crash actions due at this ending, once (feature `crash`). Async-signal-safe.
#[cfg(all(any(unix, windows), feature = "crash"))]
pub(crate) use crate::crash::{Ending::Forced, Ending::Normal, run_actions as crash_actions};

#[cfg(not(all(any(unix, windows), feature = "crash")))]
pub(crate) fn crash_actions(_: CrashEnding) {}
#[cfg(not(all(any(unix, windows), feature = "crash")))]
pub(crate) use CrashEnding::{Forced, Normal};
#[cfg(not(all(any(unix, windows), feature = "crash")))]
#[allow(dead_code)]
pub(crate) enum CrashEnding {
    Normal,
    Forced,
}
