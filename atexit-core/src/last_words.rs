//! Last words: what the runtime writes while the process exits, and how it ends it. A handler may hang holding the
//! standard streams' locks or block on an unread pipe, so the runtime's messages (reports, trace, overruns, deadline)
//! take no lock. Only [`exit_process`] and [`exit_through_libc`] flush and lock (as `exit` does).

/// Writes `message` to descriptor 2 if it takes it now, else drops it; takes no lock, not stderr's.
#[cfg(all(unix, not(miri)))]
pub(crate) fn write_stderr_now(message: &str) {
    let mut ready = libc::pollfd { fd: 2, events: libc::POLLOUT, revents: 0 };
    // A writable pipe takes up to PIPE_BUF bytes at once; a longer message may be cut, not block.
    let bytes = message.as_bytes();
    // SAFETY: `poll` uses only the one `pollfd` given; `write` reads `bytes.len()` bytes of a live buffer.
    unsafe {
        if libc::poll(&mut ready, 1, 0) == 1 && ready.revents & libc::POLLOUT != 0 {
            libc::write(2, bytes.as_ptr().cast(), bytes.len());
        }
    }
}

/// Elsewhere, and under Miri (no `poll`), through std's stderr.
#[cfg(any(not(unix), miri))]
pub(crate) fn write_stderr_now(message: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(message.as_bytes());
}

/// Ends the process by `signal`'s default action, as if never handled; where that does not end it (PID 1), exits with
/// `128 + signal`, as a shell would report it. Async-signal-safe.
#[cfg(unix)]
pub(crate) fn die_of(signal: i32) -> ! {
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
