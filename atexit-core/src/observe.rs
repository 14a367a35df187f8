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
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use crate::callback::{Callback, Caught};
use crate::diag::{terminate_now, write_stderr_now};
use crate::panic::HandlerPanic;
use crate::settings::{self, Millis};
use crate::thread;

/// The status the process ends with when the deadline passes, as `timeout(1)` uses.
pub const DEADLINE_EXIT_STATUS: i32 = 124;

static DEADLINE: Millis = Millis::new("ATEXIT_DEADLINE_MS");
/// The time limit of handlers registered without one.
static HANDLER_LIMIT: Millis = Millis::new("ATEXIT_HANDLER_TIME_LIMIT_MS");

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
    DEADLINE.set(limit);
}

fn deadline() -> Option<Duration> {
    DEADLINE.get()
}

fn trace_on() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| settings::var("ATEXIT_TRACE").is_some_and(|v| !v.is_empty() && v != "0"))
}

/// Gives every handler registered without a time limit of its own (see
/// [`Registration::time_limit`](crate::Registration::time_limit)) this one;
/// `Duration::ZERO` removes it. Without a call, the environment variable
/// `ATEXIT_HANDLER_TIME_LIMIT_MS` (whole milliseconds) sets it.
pub fn set_handler_time_limit(limit: Duration) {
    HANDLER_LIMIT.set(limit);
}

fn default_handler_limit() -> Option<Duration> {
    HANDLER_LIMIT.get()
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
    let limit = callback.time_limit().or_else(default_handler_limit);
    if !trace_on() && limit.is_none() && deadline().is_none() {
        return callback.run();
    }
    let watched = Watched::start(callback.name());
    let outcome = match limit {
        Some(limit) => run_limited(callback, limit, &watched.name),
        None => Finished(callback.run()),
    };
    watched.finish(outcome)
}

/// Awaits an async handler of the process registry, watched as
/// [`call`] watches the others (its time limit is inside it).
pub(crate) async fn call_async(name: Cow<'static, str>, handler: Caught) -> Result<(), HandlerPanic> {
    let watched = Watched::start(name);
    let result = handler.await;
    watched.finish(Finished(result))
}

/// A handler while it runs: named for the deadline, timed for the trace.
struct Watched {
    name: Cow<'static, str>,
    started: Instant,
    /// The handler whose nested run this one is in.
    outer: Option<(Cow<'static, str>, Instant)>,
}

impl Watched {
    fn start(name: Cow<'static, str>) -> Watched {
        let started = Instant::now();
        let outer = set_current(Some((name.clone(), started)));
        Watched { name, started, outer }
    }

    /// The handler has returned, or been left behind: traced, if on.
    fn finish(self, outcome: Outcome) -> Result<(), HandlerPanic> {
        set_current(self.outer);
        let (result, said) = match outcome {
            Finished(result) => {
                let said = match &result {
                    Ok(()) => "ok",
                    Err(panic) if panic.is_exit_request() => "called exit",
                    Err(_) => "panicked",
                };
                (result, said)
            }
            LeftBehind => (Ok(()), "left behind"),
        };
        if trace_on() {
            let _ = writeln!(std::io::stderr(), "{}", trace_line(&self.name, said, self.started.elapsed()));
        }
        result
    }
}

enum Outcome {
    Finished(Result<(), HandlerPanic>),
    LeftBehind,
}
use Outcome::{Finished, LeftBehind};

/// Runs `callback` on a thread of its own and waits for it at most `limit`;
/// past that, names it on stderr and leaves it running there.
fn run_limited(callback: Callback, limit: Duration, name: &str) -> Outcome {
    let no_thread = |e| {
        let _ = writeln!(std::io::stderr(), "atexit: no time limit for `{name}`: could not start its thread: {e}");
    };
    match thread::run_within(c"atexit-handler", limit, move || callback.run(), no_thread) {
        Some(result) => Finished(result),
        None => {
            write_stderr_now(&format!(
                "atexit: handler `{name}` did not finish within its time limit of {limit:?}; \
                 left behind, the other handlers run\n"
            ));
            LeftBehind
        }
    }
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
fn spawn_watchdog(limit: Duration) -> std::io::Result<()> {
    thread::spawn_detached(c"atexit-deadline", Box::new(move || watch(limit))).map_err(|(e, _)| e)
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
