//! Watching the handlers: the trace (`ATEXIT_TRACE=1`) and the exit deadline.
//!
//! Every handler the process registry runs goes through [`call`], whichever
//! run it is in (the exit, `run_exitfuncs`, one nested in a handler). With
//! neither the trace nor a deadline on, `call` only runs the handler.
//! Otherwise it records which handler is running, so that the deadline can
//! name it, and traces it.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::callback::Callback;
use crate::diag::{terminate_now, write_stderr_now};
use crate::panic::HandlerPanic;

/// The status the process ends with when the deadline passes, as `timeout(1)` uses.
pub const DEADLINE_EXIT_STATUS: i32 = 124;

const UNSET: u64 = u64::MAX;

/// The deadline in nanoseconds; `UNSET` until `set_deadline` or the first
/// look at `ATEXIT_DEADLINE_MS`; 0 is none.
static DEADLINE_NANOS: AtomicU64 = AtomicU64::new(UNSET);

/// Bounds the exit: if the handlers have not all finished `limit` after
/// the process started exiting, the handler still running is named on stderr
/// and the process ends at once with status [`DEADLINE_EXIT_STATUS`] (124).
///
/// Orchestrators give a process a grace period between `SIGTERM` and
/// `SIGKILL` (10 s to 30 s): a deadline inside it turns a hung handler into a
/// named, diagnosable exit instead of an anonymous kill. `Duration::ZERO`
/// removes the deadline. Without a call, the environment variable
/// `ATEXIT_DEADLINE_MS` (whole milliseconds) sets it.
///
/// The clock starts when the process starts exiting (the exit hook,
/// [`exit`](crate::exit), `#[atexit::main]`, a handled signal), before it
/// waits for a run that another thread is in, and it is not stopped: it
/// bounds the rest of the exit too. An explicit
/// [`run_exitfuncs`](crate::run_exitfuncs) starts no clock, but a handler
/// it runs is named if the deadline passes while it runs. Ending the process
/// takes no lock and flushes nothing, so a handler holding stdout's lock, or
/// blocked on a full pipe, cannot hold it up. Without a deadline there is no
/// thread and no cost; with one, a watchdog thread sleeps from the start of
/// the exit. A child `fork()`ed during the exit has no watchdog.
pub fn set_deadline(limit: Duration) {
    let nanos = u64::try_from(limit.as_nanos()).unwrap_or(UNSET - 1);
    DEADLINE_NANOS.store(nanos, Ordering::SeqCst);
}

fn deadline() -> Option<Duration> {
    let mut nanos = DEADLINE_NANOS.load(Ordering::SeqCst);
    if nanos == UNSET {
        // A `set_deadline` in the meantime wins.
        let _ = DEADLINE_NANOS.compare_exchange(UNSET, deadline_from_env(), Ordering::SeqCst, Ordering::SeqCst);
        nanos = DEADLINE_NANOS.load(Ordering::SeqCst);
    }
    (nanos != 0).then(|| Duration::from_nanos(nanos))
}

fn deadline_from_env() -> u64 {
    let Ok(value) = std::env::var("ATEXIT_DEADLINE_MS") else { return 0 };
    match value.trim().parse::<u64>() {
        Ok(ms) => ms.saturating_mul(1_000_000).min(UNSET - 1),
        Err(_) => {
            let _ = writeln!(
                std::io::stderr(),
                "atexit: ignoring ATEXIT_DEADLINE_MS={value:?}: expected whole milliseconds, such as 10000"
            );
            0
        }
    }
}

fn trace_on() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("ATEXIT_TRACE").is_some_and(|v| !v.is_empty() && v != "0"))
}

/// The handler the process registry is running now, and since when, while
/// the trace or a deadline is on. Runs are one at a time (nested ones on
/// the same thread), so one place is enough.
static CURRENT: Mutex<Option<(Cow<'static, str>, Instant)>> = Mutex::new(None);

fn set_current(current: Option<(Cow<'static, str>, Instant)>) -> Option<(Cow<'static, str>, Instant)> {
    std::mem::replace(&mut *CURRENT.lock().unwrap_or_else(PoisonError::into_inner), current)
}

/// Runs one handler of the process registry, watched.
pub(crate) fn call(callback: Callback) -> Result<(), HandlerPanic> {
    let trace = trace_on();
    if !trace && deadline().is_none() {
        return callback.run();
    }
    let name = callback.name();
    let started = Instant::now();
    let outer = set_current(Some((name.clone(), started)));
    let result = callback.run();
    set_current(outer);
    if trace {
        let outcome = match &result {
            Ok(()) => "ok",
            Err(panic) if panic.is_exit_request() => "called exit",
            Err(_) => "panicked",
        };
        let _ = writeln!(std::io::stderr(), "{}", trace_line(&name, outcome, started.elapsed()));
    }
    result
}

fn trace_line(name: &str, outcome: &str, elapsed: Duration) -> String {
    format!("atexit: trace: `{name}` {outcome} in {elapsed:?}")
}

/// Starts the deadline's clock, once, if there is a deadline: the process
/// is beginning to exit.
pub(crate) fn start_deadline() {
    static STARTED: AtomicBool = AtomicBool::new(false);
    let Some(limit) = deadline() else { return };
    if STARTED.swap(true, Ordering::SeqCst) {
        return;
    }
    if let Err(e) = spawn_watchdog(limit) {
        let _ = writeln!(std::io::stderr(), "atexit: no exit deadline: could not start its thread: {e}");
    }
}

fn watch(limit: Duration) -> ! {
    std::thread::sleep(limit);
    deadline_passed(limit)
}

/// Starts the thread that ends the process when `limit` has passed.
///
/// On Unix it is a plain `pthread`, not a `std::thread`: the exit hook runs
/// after libc has destroyed the exiting thread's thread-locals, and
/// `std::thread::spawn` of Rust 1.85 reads one of them (its spawn hooks)
/// and panics there, so the deadline was silently lost (the test
/// `deadline_while_the_exit_waits_for_another_threads_run` on 1.85). The
/// watchdog needs nothing of `std::thread`: it sleeps, writes and exits.
#[cfg(unix)]
fn spawn_watchdog(limit: Duration) -> std::io::Result<()> {
    static LIMIT_NANOS: AtomicU64 = AtomicU64::new(0);
    extern "C" fn run(_: *mut libc::c_void) -> *mut libc::c_void {
        watch(Duration::from_nanos(LIMIT_NANOS.load(Ordering::SeqCst)))
    }
    LIMIT_NANOS.store(u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX), Ordering::SeqCst);
    // SAFETY: a zeroed `pthread_t` is a valid place for `pthread_create` to
    // write to; `run` has the signature it calls, never unwinds (it ends
    // the process) and uses no argument; default attributes.
    let created = unsafe {
        let mut thread: libc::pthread_t = std::mem::zeroed();
        let rc = libc::pthread_create(&mut thread, std::ptr::null(), run, std::ptr::null_mut());
        if rc == 0 {
            #[cfg(target_os = "linux")]
            libc::pthread_setname_np(thread, c"atexit-deadline".as_ptr());
            libc::pthread_detach(thread);
        }
        rc
    };
    match created {
        0 => Ok(()),
        rc => Err(std::io::Error::from_raw_os_error(rc)),
    }
}

#[cfg(not(unix))]
fn spawn_watchdog(limit: Duration) -> std::io::Result<()> {
    std::thread::Builder::new().name("atexit-deadline".into()).spawn(move || watch(limit)).map(drop)
}

fn deadline_passed(limit: Duration) -> ! {
    // The running thread holds the lock only to swap the name: wait a
    // little for it, never for long.
    let mut current = None;
    for _ in 0..100 {
        match CURRENT.try_lock() {
            Ok(guard) => {
                current = guard.clone();
                break;
            }
            Err(std::sync::TryLockError::Poisoned(guard)) => {
                current = guard.into_inner().clone();
                break;
            }
            Err(std::sync::TryLockError::WouldBlock) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    let mut message = String::new();
    if let Some((name, since)) = &current {
        if trace_on() {
            let _ = writeln!(message, "{}", trace_line(name, "timed out", since.elapsed()));
        }
        let _ = write!(message, "atexit: exit deadline of {limit:?} passed while handler `{name}` was running");
    } else {
        let _ = write!(message, "atexit: exit deadline of {limit:?} passed");
    }
    let _ = writeln!(message, "; ending the process with status {DEADLINE_EXIT_STATUS}");
    write_stderr_now(&message);
    terminate_now(DEADLINE_EXIT_STATUS)
}
