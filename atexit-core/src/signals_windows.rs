//! The Windows side of `signals`: console control events, through
//! `SetConsoleCtrlHandler`. Windows calls the handler on a thread it starts
//! for the event; the handlers run there, and the process then ends as
//! Windows' own handler ends it, with `STATUS_CONTROL_C_EXIT`.
//!
//! Which event counts as which [`Signal`]: Ctrl-C is `Interrupt`,
//! Ctrl-Break is `Quit`, the console window closing is `Hangup`, system
//! shutdown is `Terminate`. Logoff is no shutdown: Windows sends
//! `CTRL_LOGOFF_EVENT` only to services (an interactive program has been
//! ended before), and to a service whenever any user logs off, when it must
//! go on; so it is answered "handled" and nothing else happens. After a close, logoff or shutdown event
//! Windows ends the process when the handler returns (or 5 to 20 seconds
//! later): in graceful mode the handler waits there, so the program can
//! drain in that time.

use std::io;
use std::sync::atomic::{AtomicU32, Ordering};

use super::{GRACEFUL, Signal, handle, may_wake_for_another};

type Bool = i32;

#[link(name = "kernel32")]
unsafe extern "system" {
    fn SetConsoleCtrlHandler(handler: Option<unsafe extern "system" fn(u32) -> Bool>, add: Bool) -> Bool;
    fn ExitProcess(code: u32) -> !;
}

const CTRL_C_EVENT: u32 = 0;
const CTRL_BREAK_EVENT: u32 = 1;
const CTRL_CLOSE_EVENT: u32 = 2;
const CTRL_LOGOFF_EVENT: u32 = 5;
const CTRL_SHUTDOWN_EVENT: u32 = 6;
/// The status Windows' default handler ends a process with.
const STATUS_CONTROL_C_EXIT: u32 = 0xC000_013A;

/// The events handled, one bit each; 0 before `install`.
static EVENTS: AtomicU32 = AtomicU32::new(0);

fn events_of(signal: Signal) -> Option<&'static [u32]> {
    match signal {
        Signal::Interrupt => Some(&[CTRL_C_EVENT]),
        Signal::Quit => Some(&[CTRL_BREAK_EVENT]),
        Signal::Hangup => Some(&[CTRL_CLOSE_EVENT]),
        Signal::Terminate => Some(&[CTRL_SHUTDOWN_EVENT]),
        _ => None,
    }
}

fn signal_of(event: u32) -> Option<Signal> {
    match event {
        CTRL_C_EVENT => Some(Signal::Interrupt),
        CTRL_BREAK_EVENT => Some(Signal::Quit),
        CTRL_CLOSE_EVENT => Some(Signal::Hangup),
        CTRL_SHUTDOWN_EVENT => Some(Signal::Terminate),
        _ => None,
    }
}

pub(super) fn register(signals: &[Signal], graceful: bool) -> io::Result<()> {
    let mut events = 0;
    for &signal in signals {
        let Some(these) = events_of(signal) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("atexit::signals on Windows handles console events only, not {signal:?}"),
            ));
        };
        events |= these.iter().fold(0, |bits, event| bits | 1 << event);
    }
    static HANDLER_INSTALLED: std::sync::Mutex<bool> = std::sync::Mutex::new(false);
    let mut installed = HANDLER_INSTALLED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // SAFETY: `on_event` has the signature Windows calls.
    if !*installed && unsafe { SetConsoleCtrlHandler(Some(on_event), 1) } == 0 {
        // Nothing recorded: a later call tries again.
        return Err(io::Error::last_os_error());
    }
    *installed = true;
    EVENTS.fetch_or(events, Ordering::SeqCst);
    // Graceful mode, once chosen, stays: a later `install` adds events.
    if graceful {
        GRACEFUL.store(std::process::id(), Ordering::SeqCst);
    }
    Ok(())
}

/// Ends the process as Windows' own handler of console events does.
pub(super) fn die_of(_: Signal) -> ! {
    // SAFETY: ends the process; no preconditions.
    unsafe { ExitProcess(STATUS_CONTROL_C_EXIT) }
}

unsafe extern "system" fn on_event(event: u32) -> Bool {
    if event == CTRL_LOGOFF_EVENT {
        // A service goes on when a user logs off (see the module docs).
        return 1;
    }
    let Some(signal) = signal_of(event).filter(|_| EVENTS.load(Ordering::SeqCst) & 1 << event != 0) else {
        // Not ours: the next handler, or Windows' own, takes it.
        return 0;
    };
    let end_now = || die_of(signal);
    if !may_wake_for_another() {
        end_now();
    }
    if handle(signal) {
        end_now();
    }
    if matches!(event, CTRL_CLOSE_EVENT | CTRL_SHUTDOWN_EVENT) {
        // Windows ends the process when this returns: let the program drain
        // (or its exit run finish) in the time Windows gives.
        loop {
            std::thread::park();
        }
    }
    1
}
