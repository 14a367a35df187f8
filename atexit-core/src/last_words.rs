//! Last words: what the runtime writes while the process exits, and the
//! ways it ends the process.
//!
//! A handler may hang holding the standard streams' locks, or be blocked
//! writing to a pipe that nobody reads; the runtime's own messages (reports,
//! the trace, overruns, the deadline) must not wait for it: they take no
//! lock. Of the ways to end the process, those through `exit`
//! ([`exit_process`], [`exit_through_libc`]) flush and take locks, as
//! `exit` does; [`die_of`] and [`terminate_now`] take none.

/// Writes `message` to file descriptor 2 if it can take it now; otherwise
/// drops it. Takes no lock (not even stderr's).
#[cfg(all(unix, not(miri)))]
pub(crate) fn write_stderr_now(message: &str) {
    let mut ready = libc::pollfd { fd: 2, events: libc::POLLOUT, revents: 0 };
    // A pipe that polls writable takes a write of up to PIPE_BUF bytes at
    // once; a longer message may be cut short rather than block.
    let bytes = message.as_bytes();
    // SAFETY: `poll` reads and writes the one `pollfd` it is given; `write`
    // reads a live buffer of `bytes.len()` bytes.
    unsafe {
        if libc::poll(&mut ready, 1, 0) == 1 && ready.revents & libc::POLLOUT != 0 {
            libc::write(2, bytes.as_ptr().cast(), bytes.len());
        }
    }
}

/// Elsewhere (and under Miri, which has no `poll`), through std's stderr.
#[cfg(any(not(unix), miri))]
pub(crate) fn write_stderr_now(message: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(message.as_bytes());
}

/// Ends the process by `signal`'s default action, as if never handled; if
/// that does not end it (PID 1), exits with `128 + signal` as a shell would
/// report it. Async-signal-safe.
#[cfg(unix)]
pub(crate) fn die_of(signal: i32) -> ! {
    // SAFETY: `sigaction`, `sigemptyset`, `sigaddset`, `pthread_sigmask`,
    // `raise` and `_exit` are async-signal-safe; the action and the set are
    // locals, zeroed (an empty mask, no flags, the default action) before
    // use. Inside a handler for `signal` the signal is blocked, so it is
    // unblocked for `raise` to take effect.
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

/// Ends the process by `signal`, as if it had not been handled; where there
/// are no signals (Windows' console events), with the status Windows' own
/// handler of them gives.
#[cfg(unix)]
pub(crate) fn die_of_signal(signal: crate::reason::Signal) -> ! {
    die_of(signal.number())
}

#[cfg(not(unix))]
pub(crate) fn die_of_signal(_: crate::reason::Signal) -> ! {
    // STATUS_CONTROL_C_EXIT
    terminate_now(0xC000_013A_u32 as i32)
}

/// Ends the process through C's `exit`: for a `fork()`ed child of a process
/// that was exiting (see [`exit_process`]).
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
pub(crate) fn exit_through_libc(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: `exit` runs the C exit handlers left (this runtime's has run)
    // and ends the process. It is not thread-safe (the standard library's
    // guard, which this bypasses, is there for that): here it is called
    // only in a `fork()`ed child, whose one thread this is, unless it
    // started others since.
    unsafe { libc::exit(code) }
}

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
pub(crate) fn exit_through_libc(code: i32) -> ! {
    terminate_now(code)
}

/// Ends the process with `code` through `exit` (C's exit handlers left
/// run): the standard library's, unless this is a child `fork()`ed while
/// its parent exited (`forked_from_an_exit`), whose copy of the standard
/// library's exit state (another thread is exiting) would park the caller
/// for ever: C's then.
pub(crate) fn exit_process(code: i32, forked_from_an_exit: bool) -> ! {
    if forked_from_an_exit {
        exit_through_libc(code)
    }
    std::process::exit(code)
}

/// Ends the process now with `code`: no exit handler, no flush.
#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
pub(crate) fn terminate_now(code: i32) -> ! {
    // SAFETY: `_exit` ends the process; no preconditions.
    unsafe { libc::_exit(code) }
}

/// `wasm32-unknown-unknown` has no process and no C library: a trap is the
/// only way to stop now.
#[cfg(all(target_family = "wasm", target_os = "unknown"))]
pub(crate) fn terminate_now(_code: i32) -> ! {
    std::process::abort()
}
