//! Writing where nothing may block for long nor die of the write: the runtime's messages at exit (`last_words.rs`) and
//! crash actions (`crash.rs`). Async-signal-safe: `poll`, `write` and the signal-mask calls, no lock, no allocation.

use std::time::Instant;

/// Writes `bytes` to `fd`, waiting for it to take them no later than `until`; true if all were written. A writable
/// pipe takes `PIPE_BUF` bytes without blocking: no write is larger. A reader that closed its end does not kill the
/// process with `SIGPIPE` (left at its default action by many programs): it is blocked on this thread for each write,
/// and taken back if the write raised it; one already pending is the program's, and stays.
pub(crate) fn write_until(fd: libc::c_int, mut bytes: &[u8], until: Instant) -> bool {
    while !bytes.is_empty() {
        let wait = until.saturating_duration_since(Instant::now()).as_millis().min(i32::MAX as u128) as i32;
        let mut ready = libc::pollfd { fd, events: libc::POLLOUT, revents: 0 };
        let chunk = &bytes[..bytes.len().min(libc::PIPE_BUF)];
        // SAFETY: `poll` uses only the one `pollfd` given; `write` reads `chunk.len()` bytes of a live buffer; the
        // signal sets are zeroed locals, initialised by `sigemptyset`.
        let written = unsafe {
            match libc::poll(&mut ready, 1, wait) {
                1 if ready.revents & libc::POLLOUT != 0 => {
                    let (mut pipe, mut mask, mut pending): (libc::sigset_t, libc::sigset_t, libc::sigset_t) =
                        std::mem::zeroed();
                    libc::sigemptyset(&mut pipe);
                    libc::sigaddset(&mut pipe, libc::SIGPIPE);
                    libc::pthread_sigmask(libc::SIG_BLOCK, &pipe, &mut mask);
                    libc::sigpending(&mut pending);
                    let the_programs = libc::sigismember(&pending, libc::SIGPIPE) == 1;
                    let written = libc::write(fd, chunk.as_ptr().cast(), chunk.len());
                    let broken = written < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EPIPE);
                    if broken && !the_programs {
                        let mut taken = 0;
                        libc::sigwait(&pipe, &mut taken);
                    }
                    libc::pthread_sigmask(libc::SIG_SETMASK, &mask, std::ptr::null_mut());
                    written
                }
                -1 if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => 0,
                _ => return false,
            }
        };
        if written < 0 {
            match std::io::Error::last_os_error().kind() {
                std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock => continue,
                _ => return false,
            }
        }
        bytes = &bytes[written as usize..];
    }
    true
}
