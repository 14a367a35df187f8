//! A full-screen terminal program whose terminal comes back even when it
//! crashes: a segfault, `abort()`, a stack overflow or a `panic = "abort"`
//! build's panic, where no exit handler runs. Two crash actions, prepared
//! before the terminal is changed, do it: one puts back the mode saved
//! before raw mode, one writes the escape sequences that leave the
//! alternate screen and show the cursor. They run on a normal exit too,
//! after the exit handlers.
//!
//! ```text
//! cargo run --example terminal_crash --features crash -- segv
//! # then: `stty -a` shows echo and icanon back; no `reset` needed
//! ```
//!
//! The argument says how it ends: `return` (the default), `segv` (a write
//! through a null pointer to a field), `abort`, `overflow` (a stack overflow) or `panic`.
//! Standard output must be a terminal.

#[cfg(unix)]
fn main() -> std::io::Result<()> {
    use atexit::crash::{self, Action};
    use std::io::Write;
    use std::os::fd::AsFd;

    let stdout = std::io::stdout();
    // The mode it has now, before raw mode: what the crash puts back.
    crash::register(Action::restore_terminal(stdout.as_fd())?)?;
    enter_raw_mode(&stdout)?;
    let mut out = stdout.lock();
    write!(out, "\x1b[?1049h\x1b[?25l")?; // the alternate screen; the cursor hidden
    // Registered after, so it runs first: leave the screen, then the mode.
    crash::register(Action::write(stdout.as_fd(), crash::LEAVE_FULL_SCREEN)?)?;
    write!(out, "drawing the screen\r\n")?;
    out.flush()?;
    drop(out);

    match std::env::args().nth(1).as_deref() {
        // SAFETY: not safe: the crash this example shows.
        Some("segv") => unsafe { std::ptr::write_volatile(std::ptr::without_provenance_mut::<u8>(16), 1) },
        Some("abort") => std::process::abort(),
        Some("overflow") => {
            std::hint::black_box(recurse(0));
        }
        Some("panic") => panic!("the program panicked"),
        _ => {}
    }
    Ok(())
}

#[cfg(unix)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    let frame = std::hint::black_box([depth; 32]);
    recurse(frame[0] + 1) + frame[31]
}

/// `cfmakeraw` on the terminal's current mode.
#[cfg(unix)]
fn enter_raw_mode(terminal: &impl std::os::fd::AsRawFd) -> std::io::Result<()> {
    let fd = terminal.as_raw_fd();
    // SAFETY: a zeroed `termios` is a valid out-parameter; `fd` is open.
    unsafe {
        let mut mode: libc::termios = std::mem::zeroed();
        if libc::tcgetattr(fd, &mut mode) != 0 {
            return Err(std::io::Error::last_os_error());
        }
        libc::cfmakeraw(&mut mode);
        if libc::tcsetattr(fd, libc::TCSANOW, &mode) != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn main() {
    println!("crash actions are Unix only");
}
