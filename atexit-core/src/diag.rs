//! Last words: writing to stderr where the process must not block, and
//! ending the process at once.
//!
//! The deadline's watchdog uses these when a handler has hung. That handler
//! may hold the standard streams' locks, or be blocked writing to a pipe
//! that nobody reads: so nothing here takes a lock or flushes a stream.

/// Writes `message` to file descriptor 2 if it can take it now; otherwise
/// drops it. Takes no lock (not even stderr's).
#[cfg(unix)]
pub(crate) fn write_stderr_now(message: &str) {
    let mut ready = libc::pollfd { fd: 2, events: libc::POLLOUT, revents: 0 };
    // SAFETY: `poll` reads and writes the one `pollfd` it is given.
    if unsafe { libc::poll(&mut ready, 1, 0) } != 1 || ready.revents & libc::POLLOUT == 0 {
        return;
    }
    // A pipe that polls writable takes a write of up to PIPE_BUF bytes at
    // once; a longer message may be cut short rather than block.
    let bytes = message.as_bytes();
    // SAFETY: writes from a live buffer of `bytes.len()` bytes.
    unsafe { libc::write(2, bytes.as_ptr().cast(), bytes.len()) };
}

#[cfg(not(unix))]
pub(crate) fn write_stderr_now(message: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(message.as_bytes());
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
