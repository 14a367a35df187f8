//! The trace (`ATEXIT_TRACE=1`), handlers' time limits and the exit deadline, served by one watchdog thread (its body
//! is `run.rs`'s).
//!
//! The thread that runs a handler opens a [`Ticket`] for it and closes it when the handler returns. With no trace, no
//! limit and no deadline a ticket is nothing; otherwise the handler is recorded in the exit state, and [`look`] says
//! what is due: a handler over its limit is named and given up (an async one is first woken to be dropped), and when
//! the deadline passes the process ends with [`DEADLINE_EXIT_STATUS`].

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::exit_state::{Clock, Locked, Watchdog, Watched, locked};
pub(crate) use crate::exit_state::{Fate, OnOverrun};
use crate::last_words::{terminate_now, write_stderr_now, write_stderr_until};
use crate::settings::{self, DurationSetting};

/// The status the process ends with when the deadline passes, as `timeout(1)` uses.
pub const DEADLINE_EXIT_STATUS: i32 = 124;

static DEADLINE: DurationSetting = DurationSetting::new("ATEXIT_DEADLINE_MS");
/// The time limit of handlers registered without one.
static HANDLER_LIMIT: DurationSetting = DurationSetting::new("ATEXIT_HANDLER_TIME_LIMIT_MS");

/// How long an async handler woken to be dropped has to come back before its run goes on without it.
pub(crate) const CANCEL_GRACE: Duration = Duration::from_millis(100);

/// Sets the deadline (`exit::set_deadline` is the public function).
pub(crate) fn set_deadline(limit: Duration) {
    set_deadline_as(limit, false);
}

/// Set when the deadline is the bound [`bound_the_rest`] gave the exit, not the program's.
static ONLY_A_BOUND: AtomicBool = AtomicBool::new(false);

fn set_deadline_as(limit: Duration, only_a_bound: bool) {
    ONLY_A_BOUND.store(only_a_bound, Ordering::Relaxed);
    DEADLINE.set(limit);
    watch_handlers();
    let limit = DEADLINE.get();
    wake_for_the_deadline(&mut locked(), limit);
}

/// Gives every handler registered without a time limit of its own (see
/// [`Registration::time_limit`](crate::Registration::time_limit)) this one; `Duration::ZERO` removes it. Without a
/// call, the environment variable `ATEXIT_HANDLER_TIME_LIMIT_MS` (whole milliseconds) sets it.
///
/// A time limit moves no handler: each still runs where the others do (so it sees the exiting thread's thread-locals
/// where they are alive); only one that overruns is left behind, and the rest run on a new thread.
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

/// If no deadline is set, the rest of the exit has `grace` from now.
pub(crate) fn bound_the_rest(grace: Duration) {
    if DEADLINE.get().is_some() {
        return;
    }
    let Clock::Since(since) = locked().clock else { return };
    set_deadline_as(since.elapsed().saturating_add(grace), true);
}

/// The time limit of a handler registered without one.
pub(crate) fn default_limit() -> Option<Duration> {
    HANDLER_LIMIT.get()
}

/// Set once anything may need a run to look at a handler before calling it (a time limit, async work, the trace, a
/// deadline). Never cleared: the longer way serves every case.
static WATCHING: AtomicBool = AtomicBool::new(false);

pub(crate) fn watch_handlers() {
    WATCHING.store(true, Ordering::Relaxed);
}

/// At a run's start: the settings from the environment count too.
pub(crate) fn settle() {
    if trace_on() || DEADLINE.get().is_some() || default_limit().is_some() {
        watch_handlers();
    }
}

/// Whether a run must look at each handler before calling it. A program that uses none of the above only calls them.
#[inline]
pub(crate) fn watching() -> bool {
    WATCHING.load(Ordering::Relaxed)
}

fn trace_on() -> bool {
    static TRACE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *TRACE.get_or_init(|| settings::var("ATEXIT_TRACE").is_some_and(|v| !v.is_empty() && v != "0"))
}

/// A handler being watched: 0 when it is not.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ticket(u64);

/// Opens the ticket of a handler about to run as `lease`, with its time limit and what becomes of it if it overruns.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) fn open(
    name: impl FnOnce() -> Cow<'static, str>,
    limit: Option<Duration>,
    on_overrun: OnOverrun,
    lease: u64,
) -> Ticket {
    let limit = limit.filter(|l| !l.is_zero());
    // An awaited async handler is always recorded: it may be dropped for another reason than a limit (see
    // `drop_awaited`).
    if limit.is_none() && on_overrun != OnOverrun::CancelOrMoveOn && !trace_on() && DEADLINE.get().is_none() {
        return Ticket(0);
    }
    let mut state = locked();
    let ticket = push(&mut state, name(), on_overrun, lease);
    arm_locked(&mut state, ticket, limit);
    ticket
}

/// A new ticket, running and with no limit yet.
fn push(state: &mut Locked, name: Cow<'static, str>, on_overrun: OnOverrun, lease: u64) -> Ticket {
    state.last_ticket += 1;
    let ticket = state.last_ticket;
    state.watched.push(Watched {
        ticket,
        name,
        started: Instant::now(),
        limit: Duration::ZERO,
        until: None,
        on_overrun,
        fate: Fate::Running,
        waker: None,
        lease,
    });
    Ticket(ticket)
}

/// Starts the ticket's clock against `limit` (`None`: none).
fn arm_locked(state: &mut Locked, ticket: Ticket, limit: Option<Duration>) {
    let Some(watched) = find(state, ticket) else { return };
    watched.started = Instant::now();
    watched.limit = limit.unwrap_or_default();
    watched.until = limit.and_then(|l| watched.started.checked_add(l));
    if limit.is_some() {
        wake_watchdog(state);
    }
}

/// What a thread running a watched run's handlers may do before it takes the next one.
pub(crate) enum Next {
    /// Take it, and run it under this ticket once [`arm`]ed (or [`close_unused`] it).
    Take(Ticket),
    /// Nothing: the run went on without this thread.
    Moved,
    /// Nothing: the handler it runs the rest from (through `run_exitfuncs`) is over its limit. Now that it runs nothing
    /// else, the run was given up here, to a continuation to start.
    GiveUp(GivenUp),
}

/// Asked before each handler of a run that watches, as `lease`. Decided under the lock that [`take_over`] decides
/// under, and the ticket is the thread's innermost from then on: a continuation never takes the run from a thread
/// between its look and the handler it takes.
pub(crate) fn next(lease: u64) -> Next {
    let mut state = locked();
    if crate::exit_state::lease() != lease {
        return Next::Moved;
    }
    if innermost(&mut state, lease).is_some_and(|w| w.fate == Fate::GivingUp) {
        return give_up(&mut state, lease).map_or(Next::Moved, Next::GiveUp);
    }
    Next::Take(push(&mut state, Cow::Borrowed(""), OnOverrun::MoveOn, lease))
}

/// Names the handler taken under `ticket` and starts its clock against its `limit`.
pub(crate) fn arm(ticket: Ticket, name: Cow<'static, str>, limit: Option<Duration>) {
    let mut state = locked();
    if let Some(watched) = find(&mut state, ticket) {
        watched.name = name;
    }
    arm_locked(&mut state, ticket, limit.filter(|l| !l.is_zero()));
}

/// Closes a ticket of [`next`]'s that ran no handler of its own (none was left, or an async handler has one of its
/// own).
pub(crate) fn close_unused(ticket: Ticket) {
    let mut state = locked();
    if let Some(at) = state.watched.iter().position(|w| w.ticket == ticket.0) {
        drop(state.watched.remove(at));
    }
}

/// The ticket of what the thread acting as `lease` runs now.
fn innermost(state: &mut Locked, lease: u64) -> Option<&mut Watched> {
    state.watched.iter_mut().rev().find(|w| w.lease == lease)
}

fn find(state: &mut Locked, ticket: Ticket) -> Option<&mut Watched> {
    state.watched.iter_mut().find(|w| w.ticket == ticket.0)
}

/// Where the handler stands now.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) fn fate(ticket: Ticket) -> Fate {
    if ticket.0 == 0 {
        return Fate::Running;
    }
    find(&mut locked(), ticket).map_or(Fate::Running, |w| w.fate)
}

/// What wakes an async handler when it is to be dropped.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) fn set_waker(ticket: Ticket, waker: &Waker) {
    if ticket.0 == 0 {
        return;
    }
    // Cloned, and the one it replaces dropped, outside the lock: a waker's code may use the runtime.
    let waker = waker.clone();
    let replaced = match find(&mut locked(), ticket) {
        Some(watched) => watched.waker.replace(waker),
        None => Some(waker),
    };
    drop(replaced);
}

/// How a handler ended, as the trace says it.
pub(crate) enum Ended {
    Ok,
    Panicked,
    CalledExit,
    /// An async handler dropped at its limit.
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    Dropped,
    /// Its run went on without it for another reason than its limit (which was said then).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    Abandoned,
    /// An async handler that could not start (no runtime could be built).
    #[cfg_attr(not(feature = "tokio"), allow(dead_code))]
    NotRun,
}

/// Closes the ticket: the handler returned (`how`), or was given up while it ran. Returns whether its run went on
/// without it: decided under the lock that [`take_over`] decides under, so that the run goes on from this thread or from
/// the continuation, never both.
pub(crate) fn close(ticket: Ticket, how: Ended) -> bool {
    if ticket.0 == 0 {
        return false;
    }
    let watched = {
        let mut state = locked();
        let Some(at) = state.watched.iter().position(|w| w.ticket == ticket.0) else { return false };
        state.watched.remove(at)
    };
    let said = match (watched.fate, how) {
        (Fate::LeftBehind, _) | (_, Ended::Abandoned) => return true,
        (Fate::Dropped, _) => "dropped",
        // Woken to be dropped, it may have come back done: only the trace's time tells then.
        (_, Ended::Dropped) => {
            say_overran(&watched.name, watched.limit, "dropped");
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

/// The run moves from `from` to a new lease (returned), if `from` still holds it; the handlers running as `from` were
/// given up for another reason than a limit (parked in std's exit), which was said: not again.
pub(crate) fn give_up_quietly(from: u64) -> Option<u64> {
    give_up(&mut locked(), from).map(|given_up| given_up.to)
}

/// On a continuation's thread: takes the run from the handler being given up that holds it (see [`Fate::GivingUp`]),
/// unless it came back first or runs another handler; then names and traces what was left behind. The lease this thread
/// now holds, if it took the run.
pub(crate) fn take_over() -> Option<u64> {
    let mut state = locked();
    let from = crate::exit_state::lease();
    // Not while its thread runs another handler (see `next`), which then gives the run up itself.
    innermost(&mut state, from).filter(|w| w.fate == Fate::GivingUp)?;
    let given_up = give_up(&mut state, from)?;
    drop(state);
    given_up.say();
    Some(given_up.to)
}

/// The run moved to lease `to`, and the handlers that ran as the lease it left were left behind.
pub(crate) struct GivenUp {
    pub(crate) to: u64,
    /// The one over its limit first, then those running it through `run_exitfuncs`.
    left: Vec<(Cow<'static, str>, Duration, Instant)>,
}

/// Under the lock: moves the run from `from` to a new lease, if `from` still holds it, and leaves behind every handler
/// running as `from` (a thread runs them one inside another).
fn give_up(state: &mut Locked, from: u64) -> Option<GivenUp> {
    let to = crate::exit_state::new_lease();
    if !crate::exit_state::pass_lease(from, to) {
        return None;
    }
    let mut left = Vec::new();
    for watched in state.watched.iter_mut().rev().filter(|w| w.lease == from && w.fate != Fate::LeftBehind) {
        watched.fate = Fate::LeftBehind;
        // (A ticket of `next`'s is nameless until its handler is taken.)
        if !watched.name.is_empty() {
            left.push((watched.name.clone(), watched.limit, watched.started));
        }
    }
    Some(GivenUp { to, left })
}

impl GivenUp {
    /// Names on stderr, and traces, each handler left behind.
    pub(crate) fn say(&self) {
        let Some(((first, limit, started), running_it)) = self.left.split_first() else { return };
        left_behind(first, *limit, *started);
        for (name, _, started) in running_it {
            say(&format!("atexit: handler `{name}` is left behind too: it runs `{first}` (through run_exitfuncs)\n"));
            trace(name, "left behind", started.elapsed());
        }
    }
}

/// An overrunning handler is given up: named, and traced.
pub(crate) fn left_behind(name: &str, limit: Duration, started: Instant) {
    say_overran(name, limit, "left behind (it blocks its thread)");
    trace(name, "left behind", started.elapsed());
}

fn say_overran(name: &str, limit: Duration, what: &str) {
    say(&format!(
        "atexit: handler `{name}` did not finish within its time limit of {limit:?}; {what}, the other handlers run\n"
    ));
}

/// Writes a message that may come from the watchdog: it waits for stderr no later than the deadline.
pub(crate) fn say(message: &str) {
    write_stderr_until(message, deadline().map(|(at, _)| at));
}

/// When the deadline passes, and its length: `None` without one, or before its clock started.
pub(crate) fn deadline() -> Option<(Instant, Duration)> {
    let limit = DEADLINE.get();
    passes_at(locked().clock, limit)
}

/// When a deadline of `limit` passes on `clock`, and its length: `None` without one, before the exit began, or for
/// one too long to pass (`Duration::MAX`).
fn passes_at(clock: Clock, limit: Option<Duration>) -> Option<(Instant, Duration)> {
    let (Clock::Since(since), Some(limit)) = (clock, limit) else { return None };
    Some((since.checked_add(limit)?, limit))
}

/// Gives up the async handlers that their runs await, at once, for `why`.
pub(crate) fn drop_awaited(why: &str) {
    let (mut wakers, mut said) = (Vec::new(), String::new());
    for watched in &mut locked().watched {
        if watched.on_overrun == OnOverrun::CancelOrMoveOn && watched.fate == Fate::Running {
            watched.fate = Fate::Dropped;
            wakers.extend(watched.waker.take());
            said.push_str(&format!(
                "atexit: async handler `{}` dropped: {why}; the other handlers run\n",
                watched.name
            ));
        }
    }
    if !said.is_empty() {
        write_stderr_now(&said);
    }
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

/// The process begins to exit: the deadline's clock starts, once, for a deadline set now or later.
pub(crate) fn start_deadline() {
    let limit = DEADLINE.get();
    let mut state = locked();
    if let Clock::NotStarted = state.clock {
        state.clock = Clock::Since(Instant::now());
        wake_for_the_deadline(&mut state, limit);
    }
}

/// This copy of the runtime never has a deadline: a shared library's, whose handlers run as it unloads (no thread of it
/// may outlive that).
pub(crate) fn no_deadline() {
    locked().clock = Clock::Off;
}

/// The deadline (`limit`) counts from the start of the exit, if it has started: the watchdog is woken for it.
fn wake_for_the_deadline(state: &mut Locked, limit: Option<Duration>) {
    if limit.is_some() && matches!(state.clock, Clock::Since(_)) {
        wake_watchdog(state);
    }
}

/// Wakes the watchdog, or asks for one if this process has none.
fn wake_watchdog(state: &mut Locked) {
    match &state.watchdog {
        Watchdog::Running(thread) => thread.unpark(),
        Watchdog::None => state.watchdog = Watchdog::Wanted,
        Watchdog::Wanted | Watchdog::Starting => {}
    }
}

/// Whether the caller must start the watchdog now; it then counts as starting.
pub(crate) fn watchdog_to_start() -> bool {
    let mut state = locked();
    let wanted = matches!(state.watchdog, Watchdog::Wanted);
    if wanted {
        state.watchdog = Watchdog::Starting;
    }
    wanted
}

/// The watchdog could not be started (no thread).
pub(crate) fn watchdog_not_started() {
    locked().watchdog = Watchdog::None;
}

/// What the watchdog does, outside the lock, after a look.
pub(crate) enum Act {
    /// Wake an async handler to be dropped.
    Wake(Waker),
    /// Give up a handler as its `on_overrun` says: its waiter is told (once it was named, see [`left_behind`]), or a
    /// continuation is started to [`take_over`] the run.
    GiveUp { name: Cow<'static, str>, limit: Duration, started: Instant, on_overrun: OnOverrun },
}

/// The watchdog's look, from its thread `me`: what is due now, and when to look again (`None`: when woken). When the
/// deadline has passed, the process ends here.
pub(crate) fn look(me: &std::thread::Thread) -> (Vec<Act>, Option<Instant>) {
    let limit = DEADLINE.get();
    let now = Instant::now();
    let mut acts = Vec::new();
    let mut next: Option<Instant> = None;
    let mut state = locked();
    if !matches!(state.watchdog, Watchdog::Running(_)) {
        state.watchdog = Watchdog::Running(me.clone());
    }
    if let Some((at, limit)) = passes_at(state.clock, limit) {
        if now >= at {
            // (A ticket of `next`'s is nameless until its handler is taken.)
            let running = state.watched.iter().rev().find(|w| !w.name.is_empty()).map(|w| (w.name.clone(), w.started));
            drop(state);
            deadline_passed(limit, running);
        }
        next = Some(at);
    }
    for watched in &mut state.watched {
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
        let gives_up_at = if watched.on_overrun == OnOverrun::MoveOn { since } else { since + CANCEL_GRACE };
        if now < gives_up_at {
            next = Some(next.map_or(gives_up_at, |n| n.min(gives_up_at)));
        } else {
            watched.fate = match watched.on_overrun {
                OnOverrun::CancelOrTellTheWaiter => Fate::LeftBehind,
                OnOverrun::MoveOn | OnOverrun::CancelOrMoveOn => Fate::GivingUp,
            };
            let (name, limit, started) = (watched.name.clone(), watched.limit, watched.started);
            acts.push(Act::GiveUp { name, limit, started, on_overrun: watched.on_overrun });
        }
    }
    (acts, next)
}

fn deadline_passed(limit: Duration, running: Option<(Cow<'static, str>, Instant)>) -> ! {
    let deadline = match ONLY_A_BOUND.load(Ordering::Relaxed) {
        true => format!("bound of {limit:?} on the exit (no deadline was set; a handler parked in std's exit)"),
        false => format!("deadline of {limit:?}"),
    };
    let mut message = String::new();
    if let Some((name, since)) = &running {
        if trace_on() {
            message.push_str(&trace_line(name, "timed out", since.elapsed()));
        }
        message.push_str(&format!("atexit: exit {deadline} passed while handler `{name}` was running"));
    } else if !crate::exit_state::has_begun() {
        message.push_str(&format!(
            "atexit: exit {deadline} passed while the program was still draining, before any handler ran \
             (stop draining at Shutdown::drain_deadline() to leave the handlers their share)"
        ));
    } else {
        message.push_str(&format!("atexit: exit {deadline} passed"));
    }
    message.push_str(&format!("; ending the process with status {DEADLINE_EXIT_STATUS}\n"));
    write_stderr_until(&message, Some(Instant::now()));
    crate::last_words::crash_actions(crate::last_words::Forced);
    terminate_now(DEADLINE_EXIT_STATUS)
}
