//! Watching a run: the trace (`ATEXIT_TRACE=1`) and the exit deadline.
//!
//! Both are read when a run starts. With neither on, a run does not look at
//! the clock or start a thread: the only cost is reading two settings once.

use std::borrow::Cow;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::callback::ErasedCallback;
use crate::exit::terminate_now;
use crate::panic::HandlerPanic;

/// The status the process ends with when the deadline passes, as `timeout(1)` uses.
pub const DEADLINE_EXIT_STATUS: i32 = 124;

const UNSET: u64 = u64::MAX;

/// The deadline in nanoseconds; `UNSET` defers to `ATEXIT_DEADLINE_MS`; 0 is none.
static DEADLINE_NANOS: AtomicU64 = AtomicU64::new(UNSET);

/// Bounds the exit run: if the handlers have not all finished `limit` after
/// the process started exiting, the handler still running is named on stderr
/// and the process ends at once with status [`DEADLINE_EXIT_STATUS`] (124).
///
/// Orchestrators give a process a grace period between `SIGTERM` and
/// `SIGKILL` (10 s to 30 s): a deadline inside it turns a hung handler into a
/// named, diagnosable exit instead of an anonymous kill. `Duration::ZERO`
/// removes the deadline. Without a call, the environment variable
/// `ATEXIT_DEADLINE_MS` (whole milliseconds) sets it.
///
/// The deadline covers exit runs (the process exiting, [`exit`](crate::exit),
/// `#[atexit::main]`, a handled signal), not an explicit
/// [`run_exitfuncs`](crate::run_exitfuncs). It costs nothing until then; during
/// the run it is one watchdog thread.
pub fn set_deadline(limit: Duration) {
    let nanos = u64::try_from(limit.as_nanos()).unwrap_or(UNSET - 1);
    DEADLINE_NANOS.store(nanos, Ordering::SeqCst);
}

fn deadline() -> Option<Duration> {
    match DEADLINE_NANOS.load(Ordering::SeqCst) {
        UNSET => deadline_from_env(),
        0 => None,
        nanos => Some(Duration::from_nanos(nanos)),
    }
}

fn deadline_from_env() -> Option<Duration> {
    let value = std::env::var("ATEXIT_DEADLINE_MS").ok()?;
    match value.trim().parse::<u64>() {
        Ok(0) => None,
        Ok(ms) => Some(Duration::from_millis(ms)),
        Err(_) => {
            let _ = writeln!(
                std::io::stderr(),
                "atexit: ignoring ATEXIT_DEADLINE_MS={value:?}: expected whole milliseconds, such as 10000"
            );
            None
        }
    }
}

fn trace_enabled() -> bool {
    std::env::var_os("ATEXIT_TRACE").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Which run is starting, for what to watch.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum RunKind {
    /// A registry of the user's: nothing is watched.
    Local,
    /// `run_exitfuncs`: the trace only.
    Explicit,
    /// The process is exiting: the trace and the deadline.
    Exit,
}

/// What a watched run reports about each handler.
pub(crate) struct Watch {
    trace: bool,
    watchdog: Option<Watchdog>,
}

impl Watch {
    /// `None` when there is nothing to watch, so the run takes its fast path.
    pub(crate) fn start(kind: RunKind) -> Option<Watch> {
        if kind == RunKind::Local {
            return None;
        }
        let trace = trace_enabled();
        let watchdog =
            if kind == RunKind::Exit { deadline().and_then(|limit| Watchdog::start(limit, trace)) } else { None };
        (trace || watchdog.is_some()).then_some(Watch { trace, watchdog })
    }

    pub(crate) fn run(&self, callback: ErasedCallback) -> Result<(), HandlerPanic> {
        let name = callback.name();
        let started = Instant::now();
        if let Some(watchdog) = &self.watchdog {
            watchdog.set_current(Some((name.clone(), started)));
        }
        let result = callback.run();
        if let Some(watchdog) = &self.watchdog {
            watchdog.set_current(None);
        }
        if self.trace {
            let outcome = match &result {
                Ok(()) => Outcome::Ok,
                Err(panic) if panic.is_exit_request() => Outcome::CalledExit,
                Err(_) => Outcome::Panicked,
            };
            trace(&name, outcome, started.elapsed());
        }
        result
    }
}

#[derive(Clone, Copy)]
enum Outcome {
    Ok,
    Panicked,
    CalledExit,
    TimedOut,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Ok => "ok",
            Outcome::Panicked => "panicked",
            Outcome::CalledExit => "called exit",
            Outcome::TimedOut => "timed out",
        })
    }
}

fn trace(name: &str, outcome: Outcome, elapsed: Duration) {
    let _ = writeln!(std::io::stderr(), "atexit: trace: `{name}` {outcome} in {elapsed:?}");
}

type Current = Option<(Cow<'static, str>, Instant)>;

struct Shared {
    /// The handler running now and since when; `finished` once the run is over.
    state: Mutex<(Current, bool)>,
    wake: Condvar,
}

/// The thread that ends the process if the run outlives the deadline.
struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    fn start(limit: Duration, trace: bool) -> Option<Watchdog> {
        let shared = Arc::new(Shared { state: Mutex::new((None, false)), wake: Condvar::new() });
        let ends = Instant::now() + limit;
        let watched = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name("atexit-deadline".into())
            .spawn(move || watch_until(&watched, ends, limit, trace));
        match spawned {
            Ok(thread) => Some(Watchdog { shared, thread: Some(thread) }),
            Err(e) => {
                let _ = writeln!(std::io::stderr(), "atexit: no exit deadline: could not start its thread: {e}");
                None
            }
        }
    }

    fn set_current(&self, current: Current) {
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner).0 = current;
    }
}

fn watch_until(shared: &Shared, ends: Instant, limit: Duration, trace_on: bool) {
    let mut state = shared.state.lock().unwrap_or_else(PoisonError::into_inner);
    loop {
        if state.1 {
            return;
        }
        let now = Instant::now();
        if now >= ends {
            let mut err = std::io::stderr().lock();
            match &state.0 {
                Some((name, since)) => {
                    if trace_on {
                        trace(name, Outcome::TimedOut, since.elapsed());
                    }
                    let _ = writeln!(
                        err,
                        "atexit: exit deadline of {limit:?} passed while handler `{name}` was running; \
                         ending the process with status {DEADLINE_EXIT_STATUS}"
                    );
                }
                None => {
                    let _ = writeln!(
                        err,
                        "atexit: exit deadline of {limit:?} passed; ending the process with status {DEADLINE_EXIT_STATUS}"
                    );
                }
            }
            drop(err);
            terminate_now(DEADLINE_EXIT_STATUS);
        }
        state = shared.wake.wait_timeout(state, ends - now).unwrap_or_else(PoisonError::into_inner).0;
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.shared.state.lock().unwrap_or_else(PoisonError::into_inner).1 = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
