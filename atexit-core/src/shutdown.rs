//! The process's shutdown request (made by a graceful-mode signal or the program) and the futures awaiting it.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use crate::exit_state::{self, Locked};
use crate::reason::Signal;

/// What asked for shutdown.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cause {
    /// A handled signal.
    Signal(Signal),
    /// The program itself, through [`Shutdown::request`](crate::signals::Shutdown::request).
    Program,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Signal(signal) => write!(f, "{signal}"),
            Cause::Program => f.write_str("the program"),
        }
    }
}

/// How many `Shutdown`s and their futures are alive: with none, a signal does not ask (`signals.rs`).
pub(crate) static HANDLES: AtomicUsize = AtomicUsize::new(0);

const NAMED: [Signal; 6] =
    [Signal::Interrupt, Signal::Terminate, Signal::Hangup, Signal::Quit, Signal::User1, Signal::User2];

fn encode(cause: Cause) -> u32 {
    match cause {
        Cause::Program => 1,
        Cause::Signal(Signal::Other(n)) => 8 + n as u32,
        Cause::Signal(signal) => 2 + NAMED.iter().position(|s| *s == signal).unwrap_or(0) as u32,
    }
}

fn decode(code: u32) -> Option<Cause> {
    match code {
        0 => None,
        1 => Some(Cause::Program),
        2..=7 => Some(Cause::Signal(NAMED[code as usize - 2])),
        n => Some(Cause::Signal(Signal::Other((n - 8) as i32))),
    }
}

/// The request made in this process, if any: the exit state's word holds the requesting process (high half; a forked
/// child's signal handler may read it before the fork callback resets it) and the `encode`d cause (low half; 0: none).
pub(crate) fn current() -> Option<Cause> {
    let request = exit_state::shutdown_request().load(Ordering::SeqCst);
    if (request >> 32) as u32 != std::process::id() {
        return None;
    }
    decode(request as u32)
}

/// Makes the request and wakes every waiter, unless this process made one; says whether this call did.
pub(crate) fn request(cause: Cause) -> bool {
    let word = exit_state::shutdown_request();
    let seen = word.load(Ordering::SeqCst);
    let made = u64::from(std::process::id()) << 32 | u64::from(encode(cause));
    let fresh = (seen >> 32) as u32 != std::process::id() || seen as u32 == 0;
    if !fresh || word.compare_exchange(seen, made, Ordering::SeqCst, Ordering::SeqCst).is_err() {
        return false;
    }
    exit_state::CHANGED.notify();
    let wakers = std::mem::take(waiters(&mut exit_state::locked()));
    wakers.into_values().for_each(Waker::wake);
    true
}

/// The waiting futures' wakers, by number; each is removed when its future completes or drops.
fn waiters(state: &mut Locked) -> &mut HashMap<u64, Waker> {
    state.shutdown_waiters.get_or_insert_with(HashMap::new)
}

/// The future of [`Shutdown::requested_async`](crate::signals::Shutdown::requested_async).
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Requested {
    /// Its number among the waiters, once it waits.
    waiting: Option<u64>,
}

impl Requested {
    /// Counts as a handle that can see the request.
    pub(crate) fn new() -> Requested {
        HANDLES.fetch_add(1, Ordering::SeqCst);
        Requested { waiting: None }
    }

    fn forget_waker(&mut self) {
        if let Some(number) = self.waiting.take() {
            let mut state = exit_state::locked();
            let wakers = waiters(&mut state);
            let removed = wakers.remove(&number);
            // Memory for the futures alive, not for the most ever alive.
            if wakers.capacity() > 64 && wakers.len() < wakers.capacity() / 4 {
                wakers.shrink_to(wakers.len() * 2);
            }
            drop(state);
            drop(removed);
        }
    }
}

impl Future for Requested {
    type Output = Cause;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Cause> {
        if let Some(cause) = current() {
            self.forget_waker();
            return Poll::Ready(cause);
        }
        // Cloned, and the one it replaces dropped, outside the lock: a waker's code may use the runtime.
        let waker = cx.waker().clone();
        let mut state = exit_state::locked();
        // Again under the lock that `request` takes the wakers under: no wake-up is lost.
        if let Some(cause) = current() {
            drop(state);
            drop(waker);
            self.forget_waker();
            return Poll::Ready(cause);
        }
        let number = *self.waiting.get_or_insert_with(|| {
            state.last_waiter += 1;
            state.last_waiter
        });
        let replaced = waiters(&mut state).insert(number, waker);
        drop(state);
        drop(replaced);
        Poll::Pending
    }
}

impl Drop for Requested {
    fn drop(&mut self) {
        self.forget_waker();
        HANDLES.fetch_sub(1, Ordering::SeqCst);
    }
}
