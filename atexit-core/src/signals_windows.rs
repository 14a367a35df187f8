//! `signals` on Windows, through `SetConsoleCtrlHandler`; the handler runs on a thread Windows starts for the event. A
//! logoff is answered "handled" and nothing more: only services receive it (other programs are ended before), for any
//! user's, and they must go on. Windows ends the process once the handler returns from a close, logoff or shutdown
//! event (or 5 to 20 seconds later), so in graceful mode the handler waits there while the program drains.

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
/// Each console event handled, and the signal it counts as.
const EVENT_SIGNALS: [(u32, Signal); 4] = [
    (CTRL_C_EVENT, Signal::Interrupt),
    (CTRL_BREAK_EVENT, Signal::Quit),
    (CTRL_CLOSE_EVENT, Signal::Hangup),
    (CTRL_SHUTDOWN_EVENT, Signal::Terminate),
];

pub(super) fn register(signals: &[Signal], graceful: bool) -> io::Result<()> {
    let mut events = 0;
    for &signal in signals {
        let Some(&(event, _)) = EVENT_SIGNALS.iter().find(|(_, s)| *s == signal) else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("atexit::signals on Windows handles console events only, not {signal:?}"),
            ));
        };
        events |= 1 << event;
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
    // Never reset: graceful mode, once chosen, stays.
    if graceful {
        GRACEFUL.store(std::process::id(), Ordering::SeqCst);
    }
    Ok(())
}

/// Ends the process as Windows' own handler of console events does.
pub(super) fn die_of(_: Signal) -> ! {
    crate::last_words::crash_actions(crate::last_words::Forced);
    // SAFETY: ends the process; no preconditions.
    unsafe { ExitProcess(STATUS_CONTROL_C_EXIT) }
}

unsafe extern "system" fn on_event(event: u32) -> Bool {
    if event == CTRL_LOGOFF_EVENT {
        // A service goes on when a user logs off (see the module docs).
        return 1;
    }
    let ours =
        EVENT_SIGNALS.iter().find(|(e, _)| *e == event).filter(|_| EVENTS.load(Ordering::SeqCst) & 1 << event != 0);
    let Some(&(_, signal)) = ours else {
        // Not ours: the next handler, or Windows' own, takes it.
        return 0;
    };
    if !may_wake_for_another() || handle(signal) {
        die_of(signal);
    }
    if matches!(event, CTRL_CLOSE_EVENT | CTRL_SHUTDOWN_EVENT) {
        // Windows ends the process on return: the drain (or the exit run) gets the time it allows.
        loop {
            std::thread::park();
        }
    }
    1
}
