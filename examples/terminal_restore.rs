//! A full-screen terminal program that always gives the terminal back: it
//! puts the terminal in raw mode (termios, through `libc`) and switches to
//! the alternate screen, and one restore function undoes both whichever
//! way the program ends.
//!
//! Two things call the restore function, so it does its work only the
//! first time:
//! - an exit handler, for `main` returning, `std::process::exit`,
//!   `atexit::exit` and SIGTERM (after `atexit::signals::install()`);
//! - a panic hook, installed around the default one, which restores the
//!   terminal *before* the default hook prints the panic message. An exit
//!   handler alone would run after the message was printed on the
//!   alternate screen, which leaving it wipes from view; and in raw mode
//!   the message's newlines would not return the cursor to the left.
//!
//! ```text
//! cargo run --example terminal_restore
//! # a key: `p` panics, `x` calls atexit::exit(3), any other returns
//! ```
//!
//! Options: `--exit HOW` chooses without reading a key: `return`, `panic`,
//! `exit` (atexit::exit(3)) or `wait` (until a signal). When standard input
//! is not a terminal (a pipe, `/dev/null`), raw mode is skipped, and said
//! so, and everything else is done.

#[cfg(unix)]
mod terminal {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, PoisonError};

    pub const ENTER_ALTERNATE_SCREEN: &str = "\x1b[?1049h";
    pub const LEAVE_ALTERNATE_SCREEN: &str = "\x1b[?1049l";

    /// Whether the terminal is in our hands: set by `enter`, cleared by the
    /// first `restore`.
    static ACTIVE: AtomicBool = AtomicBool::new(false);
    /// The terminal's settings before raw mode; `None` when stdin is not a
    /// terminal.
    static SAVED: Mutex<Option<libc::termios>> = Mutex::new(None);

    /// Raw mode (if stdin is a terminal), then the alternate screen.
    pub fn enter() {
        // SAFETY: `isatty` only inspects the descriptor.
        if unsafe { libc::isatty(libc::STDIN_FILENO) } == 1 {
            // SAFETY: `termios` is plain data; `tcgetattr` fills it in.
            let mut settings: libc::termios = unsafe { std::mem::zeroed() };
            // SAFETY: a valid descriptor and a valid pointer.
            if unsafe { libc::tcgetattr(libc::STDIN_FILENO, &mut settings) } == 0 {
                *SAVED.lock().unwrap_or_else(PoisonError::into_inner) = Some(settings);
                let mut raw = settings;
                // SAFETY: `raw` is a valid `termios`.
                unsafe { libc::cfmakeraw(&mut raw) };
                // SAFETY: a valid descriptor and settings.
                unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSAFLUSH, &raw) };
            }
        } else {
            eprintln!("stdin is not a terminal: raw mode skipped");
        }
        ACTIVE.store(true, Ordering::SeqCst);
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{ENTER_ALTERNATE_SCREEN}");
        let _ = out.flush();
    }

    /// Leaves the alternate screen and restores the saved settings. Only
    /// the first call after `enter` does anything, so the panic hook and
    /// the exit handler can both call it.
    pub fn restore() {
        if !ACTIVE.swap(false, Ordering::SeqCst) {
            return;
        }
        let mut out = std::io::stdout().lock();
        let _ = write!(out, "{LEAVE_ALTERNATE_SCREEN}");
        // Stdout holds a line until its newline: flush, or the sequence
        // would reach the terminal after the panic message.
        let _ = out.flush();
        drop(out);
        if let Some(settings) = SAVED.lock().unwrap_or_else(PoisonError::into_inner).take() {
            // SAFETY: a valid descriptor and the settings it had.
            unsafe { libc::tcsetattr(libc::STDIN_FILENO, libc::TCSAFLUSH, &settings) };
        }
        eprintln!("terminal restored");
    }

    /// One byte from stdin; raw mode makes `read` return at the first key.
    pub fn read_key() -> u8 {
        let mut key = 0u8;
        // SAFETY: reads at most one byte into `key`.
        let read = unsafe { libc::read(libc::STDIN_FILENO, (&raw mut key).cast(), 1) };
        if read == 1 { key } else { b'q' }
    }
}

#[cfg(unix)]
fn main() {
    use std::io::Write;

    let how = std::env::args().skip_while(|a| a != "--exit").nth(1);

    // The hook first, then the handler, then the terminal: from the moment
    // the terminal is taken, every ending gives it back.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        terminal::restore();
        default_hook(info);
    }));
    atexit::Registration::new(terminal::restore).name("restore the terminal").register();
    atexit::signals::install().expect("signal handlers");
    terminal::enter();

    // In raw mode a newline only moves down: "\r\n" starts the next line.
    let mut out = std::io::stdout().lock();
    let _ = write!(out, "full-screen program\r\n`p` panics, `x` calls atexit::exit(3), any other key returns\r\n");
    let _ = out.flush();
    drop(out);

    let how = how.unwrap_or_else(|| match terminal::read_key() {
        b'p' => "panic".to_owned(),
        b'x' => "exit".to_owned(),
        _ => "return".to_owned(),
    });
    match how.as_str() {
        "return" => {}
        "panic" => panic!("the program failed in raw mode"),
        "exit" => atexit::exit(3),
        "wait" => loop {
            std::thread::park();
        },
        other => panic!("unknown exit {other}"),
    }
}

#[cfg(not(unix))]
fn main() {
    eprintln!("this example uses termios: Unix only");
}
