//! Watching the handlers of the process registry: the trace
//! (`ATEXIT_TRACE=1`), handlers' time limits and the exit deadline, served
//! by one watchdog thread.
//!
//! The thread that runs a handler opens a [`Ticket`] for it and closes it
//! when the handler returns. With no trace, no time limit and no deadline
//! started, a ticket is nothing. Otherwise the handler is recorded (so the
//! deadline can name the one running), and the watchdog, started the first
//! time a limit or the deadline needs it, wakes when the next limit passes:
//! - a handler over its time limit is named on stderr and given up: one
//!   that blocks the thread its run goes on from is left there, and the run
//!   goes on elsewhere (as its ticket says); an async one is woken to be
//!   dropped, and left behind as well if it does not come back;
//! - when the deadline passes, the handler running is named and the process
//!   ends at once with [`DEADLINE_EXIT_STATUS`].

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::exit_state::{self, Clock};
use crate::last_words::{terminate_now, write_stderr_now};
use crate::lock::{ForkLock, Lock};
use crate::settings::{self, DurationSetting};

/// The status the process ends with when the deadline passes, as `timeout(1)` uses.
pub const DEADLINE_EXIT_STATUS: i32 = 124;

static DEADLINE: DurationSetting = DurationSetting::new("ATEXIT_DEADLINE_MS");
/// The time limit of handlers registered without one.
static HANDLER_LIMIT: DurationSetting = DurationSetting::new("ATEXIT_HANDLER_TIME_LIMIT_MS");

/// How long an async handler over its limit has, once woken to be dropped,
/// to come back before its run goes on without it.
pub(crate) const CANCEL_GRACE: Duration = Duration::from_millis(100);

/// Sets the deadline (see `exit::set_deadline`, the public function), and
/// arms it if the exit has begun.
pub(crate) fn set_deadline(limit: Duration) {
    DEADLINE.set(limit);
    watch_handlers();
    let limit = DEADLINE.get();
    let clock = exit_state::clock();
    arm_deadline(&mut WATCH.lock(), limit, clock);
}

/// Gives every handler registered without a time limit of its own (see
/// [`Registration::time_limit`](crate::Registration::time_limit)) this one;
/// `Duration::ZERO` removes it. Without a call, the environment variable
/// `ATEXIT_HANDLER_TIME_LIMIT_MS` (whole milliseconds) sets it.
///
/// A time limit moves no handler: each still runs where the others do (so
/// it sees the exiting thread's thread-locals where they are alive); only
/// one that overruns is left behind, and the rest run on a new thread.
///
/// ```
/// # extern crate atexit_core as atexit;
/// use std::time::Duration;
///
/// atexit::set_handler_time_limit(Duration::from_secs(2));
/// ```
pub fn set_handler_time_limit(limit: Duration) {
    HANDLER_LIMIT.set(limit);
    watch_handlers();
}

/// If no deadline is set, the rest of the exit has `grace` from now: a
/// deadline counted, as any set during the exit, from its start.
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))] // Linux: parked handlers
pub(crate) fn bound_the_rest(grace: Duration) {
    if DEADLINE.get().is_some() {
        return;
    }
    let Clock::Since(since) = exit_state::clock() else { return };
    set_deadline(since.elapsed().saturating_add(grace));
}

/// The time limit of a handler registered without one.
pub(crate) fn default_limit() -> Option<Duration> {
    HANDLER_LIMIT.get()
}

/// Set once anything may need a run to look at a handler before calling
/// it: a handler with a time limit of its own or async work, the trace, a
/// deadline, a default time limit. Never cleared: once set, runs only take
/// the longer way, which serves every case.
static WATCHING: AtomicBool = AtomicBool::new(false);

/// Runs must look at each handler from now on.
pub(crate) fn watch_handlers() {
    WATCHING.store(true, Ordering::Relaxed);
}

/// At a run's start: the settings from the environment count too.
pub(crate) fn settle() {
    if trace_on() || has_deadline() || default_limit().is_some() {
        watch_handlers();
    }
}

/// Whether a run must look at each handler before calling it (its time
/// limit, its async work) and record it (for the trace, the deadline, the
/// default time limit). A program that uses none of these only calls them.
#[inline]
pub(crate) fn watching() -> bool {
    WATCHING.load(Ordering::Relaxed)
}

fn trace_on() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| settings::var("ATEXIT_TRACE").is_some_and(|v| !v.is_empty() && v != "0"))
}

/// What becomes of a handler, and of its run, when it overruns its limit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnOverrun {
    /// It blocks the thread its run goes on from: left there, and the run
    /// goes on elsewhere at once.
    MoveOn,
    /// An async handler its run awaits: woken to be dropped; if it is not
    /// back within [`CANCEL_GRACE`], as `MoveOn`.
    CancelOrMoveOn,
    /// Its run waits for it from another thread: woken to be dropped; if
    /// it is not back within [`CANCEL_GRACE`], given up, and the waiting
    /// thread is told (it waits on the exit state's `CHANGED`).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    CancelOrTellTheWaiter,
}

/// Where a watched handler stands.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Fate {
    Running,
    /// Over its time limit, since then.
    Overran(Instant),
    /// Given up: its run went on without it.
    LeftBehind,
    /// An async handler to be dropped for another reason than its time
    /// limit (said when it was given up).
    Dropped,
}

/// A handler being watched: 0 when it is not.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket(u64);

struct Watched {
    ticket: u64,
    name: Cow<'static, str>,
    started: Instant,
    limit: Duration,
    /// When its limit passes; `None` without one (or one too long to pass).
    until: Option<Instant>,
    on_overrun: OnOverrun,
    fate: Fate,
    waker: Option<Waker>,
    /// The lease it runs as: the run goes on from another once it is given
    /// up (see `run.rs`, whose watchdog acts on what [`look`] finds).
    lease: u64,
}

struct Watch {
    /// Innermost last: a nested run's handler runs inside another's.
    handlers: Vec<Watched>,
    /// When the deadline passes, and its length.
    deadline: Option<(Instant, Duration)>,
    last_ticket: u64,
    watchdog: Watchdog,
}

/// The watchdog of this process (a `fork()`ed child has none). Its thread
/// is `run.rs`'s: it acts on what [`look`] finds.
enum Watchdog {
    None,
    /// Needed: the next [`watchdog_to_start`] starts it.
    Wanted,
    /// Started, not yet looking: it looks at everything when it does, so
    /// none other is started meanwhile.
    Starting,
    /// Looking: woken when there is something new to watch.
    Running(std::thread::Thread),
}

/// Held for a few steps at a time; `fork()` holds it across (see `fork.rs`).
static WATCH: Lock<Watch> =
    Lock::new(Watch { handlers: Vec::new(), deadline: None, last_ticket: 0, watchdog: Watchdog::None });

/// Opens the ticket of a handler about to run as `lease`, with its time
/// limit (zero: none) and what becomes of it if it overruns.
pub(crate) fn open(
    name: impl FnOnce() -> Cow<'static, str>,
    limit: Option<Duration>,
    on_overrun: OnOverrun,
    lease: u64,
) -> Ticket {
    let limit = limit.filter(|l| !l.is_zero());
    // An awaited async handler is always recorded: it may have to be
    // dropped for another reason than a limit (see `drop_awaited`).
    if limit.is_none() && on_overrun != OnOverrun::CancelOrMoveOn && !trace_on() && !has_deadline() {
        return Ticket(0);
    }
    let started = Instant::now();
    let mut watch = WATCH.lock();
    watch.last_ticket += 1;
    let ticket = watch.last_ticket;
    watch.handlers.push(Watched {
        ticket,
        name: name(),
        started,
        limit: limit.unwrap_or_default(),
        until: limit.and_then(|l| started.checked_add(l)),
        on_overrun,
        fate: Fate::Running,
        waker: None,
        lease,
    });
    if limit.is_some() {
        wake_watchdog(&mut watch);
    }
    Ticket(ticket)
}

/// Whether a deadline is set: a handler that an explicit run calls then is
/// watched too, in case the deadline passes while it runs.
fn has_deadline() -> bool {
    DEADLINE.get().is_some()
}

/// Where the handler stands now.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) fn fate(ticket: Ticket) -> Fate {
    if ticket.0 == 0 {
        return Fate::Running;
    }
    let watch = WATCH.lock();
    watch.handlers.iter().find(|w| w.ticket == ticket.0).map_or(Fate::Running, |w| w.fate)
}

/// What wakes an async handler when it is to be dropped.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) fn set_waker(ticket: Ticket, waker: &Waker) {
    if ticket.0 == 0 {
        return;
    }
    let mut watch = WATCH.lock();
    if let Some(watched) = watch.handlers.iter_mut().find(|w| w.ticket == ticket.0) {
        if !watched.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
            watched.waker = Some(waker.clone());
        }
    }
}

/// How a handler ended, as the trace says it.
pub(crate) enum Ended {
    Ok,
    Panicked,
    CalledExit,
    /// An async handler dropped at its limit.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    Dropped,
    /// Its run went on without it for another reason than its limit (it is
    /// parked in the standard library's exit), which was said then.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    Abandoned,
    /// An async handler that could not start (no runtime could be built).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    NotRun,
}

/// Closes the ticket: the handler returned (`how`), or was given up while
/// it ran. Returns whether its run went on without it.
pub(crate) fn close(ticket: Ticket, how: Ended) -> bool {
    if ticket.0 == 0 {
        return false;
    }
    let watched = {
        let mut watch = WATCH.lock();
        let Some(at) = watch.handlers.iter().position(|w| w.ticket == ticket.0) else { return false };
        watch.handlers.remove(at)
    };
    let said = match (watched.fate, how) {
        (Fate::LeftBehind, _) | (_, Ended::Abandoned) => return true,
        (Fate::Dropped, _) => "dropped",
        (Fate::Overran(_), _) | (_, Ended::Dropped) => {
            overran(&watched, "dropped");
            "dropped"
        }
        (_, Ended::Ok) => "ok",
        (_, Ended::Panicked) => "panicked",
        (_, Ended::CalledExit) => "called exit",
        (_, Ended::NotRun) => "not run",
    };
    trace(&watched.name, said, watched.started.elapsed());
    false
}

/// The handlers running as `lease` were given up for another reason than
/// a limit (parked in the standard library's exit), which was said: the
/// watchdog does not give them up again.
#[cfg_attr(not(any(target_os = "linux", target_os = "android")), allow(dead_code))] // Linux: parked handlers
pub(crate) fn abandon(lease: u64) {
    let mut watch = WATCH.lock();
    for watched in watch.handlers.iter_mut().filter(|w| w.lease == lease) {
        watched.fate = Fate::LeftBehind;
    }
}

/// An overrunning handler is given up: named, and traced.
pub(crate) fn left_behind(name: &str, limit: Duration, started: Instant) {
    say_overran(name, limit, "left behind (it blocks its thread)");
    trace(name, "left behind", started.elapsed());
}

fn overran(watched: &Watched, what: &str) {
    say_overran(&watched.name, watched.limit, what);
}

fn say_overran(name: &str, limit: Duration, what: &str) {
    write_stderr_now(&format!(
        "atexit: handler `{name}` did not finish within its time limit of {limit:?}; {what}, the other handlers run\n"
    ));
}

/// Gives up the async handlers that their runs await, at once, for `why`:
/// their futures will not be polled again.
pub(crate) fn drop_awaited(why: &str) {
    let mut watch = WATCH.lock();
    let mut wakers = Vec::new();
    for watched in &mut watch.handlers {
        if watched.on_overrun == OnOverrun::CancelOrMoveOn && watched.fate == Fate::Running {
            watched.fate = Fate::Dropped;
            wakers.extend(watched.waker.take());
            write_stderr_now(&format!(
                "atexit: async handler `{}` dropped: {why}; the other handlers run\n",
                watched.name
            ));
        }
    }
    drop(watch);
    wakers.into_iter().for_each(Waker::wake);
}

pub(crate) fn trace(name: &str, said: &str, elapsed: Duration) {
    if trace_on() {
        write_stderr_now(&trace_line(name, said, elapsed));
    }
}

fn trace_line(name: &str, said: &str, elapsed: Duration) -> String {
    format!("atexit: trace: `{name}` {said} in {elapsed:?}\n")
}

/// The process is beginning to exit: the deadline's clock starts, once,
/// for a deadline set now or later in the exit.
pub(crate) fn start_deadline() {
    if let Some(clock) = exit_state::start_clock() {
        let limit = DEADLINE.get();
        arm_deadline(&mut WATCH.lock(), limit, clock);
    }
}

/// This copy of the runtime never has a deadline: a shared library's, whose
/// handlers run as it unloads (no thread of it may outlive the unloading).
pub(crate) fn no_deadline() {
    exit_state::stop_clock();
    WATCH.lock().deadline = None;
}

/// Sets when the deadline passes, counted from the start of the exit (if
/// it has started, as `clock` says), and wakes the watchdog for it. (The
/// clock is read before this lock is taken: the exit state's lock is never
/// taken inside it, which would order the two against `fork()`'s.)
fn arm_deadline(watch: &mut Watch, limit: Option<Duration>, clock: Clock) {
    let Clock::Since(since) = clock else { return };
    watch.deadline = limit.and_then(|limit| since.checked_add(limit).map(|at| (at, limit)));
    if watch.deadline.is_some() {
        wake_watchdog(watch);
    }
}

/// Wakes the watchdog, or asks for one if this process has none.
fn wake_watchdog(watch: &mut Watch) {
    match &watch.watchdog {
        Watchdog::Running(thread) => thread.unpark(),
        Watchdog::None => watch.watchdog = Watchdog::Wanted,
        Watchdog::Wanted | Watchdog::Starting => {}
    }
}

/// Whether the caller must start the watchdog now (it is needed and none
/// runs); it then counts as starting.
pub(crate) fn watchdog_to_start() -> bool {
    let mut watch = WATCH.lock();
    let wanted = matches!(watch.watchdog, Watchdog::Wanted);
    if wanted {
        watch.watchdog = Watchdog::Starting;
    }
    wanted
}

/// The watchdog could not be started (no thread).
pub(crate) fn watchdog_not_started() {
    WATCH.lock().watchdog = Watchdog::None;
}

/// What the watchdog does, outside the lock, after a look.
pub(crate) enum Act {
    /// Wake an async handler to be dropped.
    Wake(Waker),
    /// Give up a handler, named (see [`left_behind`]), as its `on_overrun`
    /// says: the run goes on without the holder of `lease`.
    GiveUp { name: Cow<'static, str>, limit: Duration, started: Instant, on_overrun: OnOverrun, lease: u64 },
}

/// The watchdog's look, from its thread `me`: what is due now, and when it
/// must look again (`None`: when woken). When the deadline has passed, the
/// process ends here.
pub(crate) fn look(me: &std::thread::Thread) -> (Vec<Act>, Option<Instant>) {
    let now = Instant::now();
    let mut acts = Vec::new();
    let mut next: Option<Instant> = None;
    let mut watch = WATCH.lock();
    if !matches!(watch.watchdog, Watchdog::Running(_)) {
        watch.watchdog = Watchdog::Running(me.clone());
    }
    if let Some((at, limit)) = watch.deadline {
        if now >= at {
            let running = watch.handlers.last().map(|w| (w.name.clone(), w.started));
            drop(watch);
            deadline_passed(limit, running);
        }
        next = Some(at);
    }
    for watched in &mut watch.handlers {
        let Some(until) = watched.until else { continue };
        if watched.fate == Fate::Running {
            if now < until {
                next = Some(next.map_or(until, |n| n.min(until)));
                continue;
            }
            watched.fate = Fate::Overran(now);
            acts.extend(watched.waker.take().map(Act::Wake));
        }
        let Fate::Overran(since) = watched.fate else { continue };
        let gives_up_at = match watched.on_overrun {
            OnOverrun::MoveOn => since,
            OnOverrun::CancelOrMoveOn | OnOverrun::CancelOrTellTheWaiter => since + CANCEL_GRACE,
        };
        if now < gives_up_at {
            next = Some(next.map_or(gives_up_at, |n| n.min(gives_up_at)));
        } else {
            watched.fate = Fate::LeftBehind;
            let (name, limit, started) = (watched.name.clone(), watched.limit, watched.started);
            acts.push(Act::GiveUp { name, limit, started, on_overrun: watched.on_overrun, lease: watched.lease });
        }
    }
    (acts, next)
}

fn deadline_passed(limit: Duration, running: Option<(Cow<'static, str>, Instant)>) -> ! {
    let mut message = String::new();
    if let Some((name, since)) = &running {
        if trace_on() {
            message.push_str(&trace_line(name, "timed out", since.elapsed()));
        }
        message.push_str(&format!("atexit: exit deadline of {limit:?} passed while handler `{name}` was running"));
    } else {
        message.push_str(&format!("atexit: exit deadline of {limit:?} passed"));
    }
    message.push_str(&format!("; ending the process with status {DEADLINE_EXIT_STATUS}\n"));
    write_stderr_now(&message);
    terminate_now(DEADLINE_EXIT_STATUS)
}

/// The lock `fork()` holds across (see `fork.rs`).
#[cfg_attr(any(not(unix), miri), allow(dead_code))] // fork: Unix only, not under Miri
pub(crate) fn fork_lock() -> &'static dyn ForkLock {
    &WATCH
}

/// In a `fork()`ed child: no watchdog, no deadline; the handler that forked
/// goes on unwatched (the run goes on from it: see `run.rs`).
#[cfg_attr(any(not(unix), miri), allow(dead_code))] // fork: Unix only, not under Miri
pub(crate) fn forked() {
    let mut watch = WATCH.lock();
    std::mem::forget(std::mem::replace(&mut watch.watchdog, Watchdog::None));
    watch.deadline = None;
    std::mem::forget(std::mem::take(&mut watch.handlers));
}
