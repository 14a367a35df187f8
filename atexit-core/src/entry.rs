//! `#[atexit::main]`: the handlers run on the main thread as `main` returns or panics, before its thread-locals die.

use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::process::{ExitCode, Termination};
use std::task::{Context, Poll};

use crate::exit::{run_exit_handlers, status_of};
use crate::hook;
use crate::reason::ExitReason;

/// Runs `main` for `#[atexit::main]`, reports its result as `main` would, runs the exit handlers, then returns its
/// status or re-raises its panic (status 101, as without the attribute). `atexit::exit` in a handler sets the status.
#[doc(hidden)]
pub fn run_main<T: Termination>(main: fn() -> T) -> ExitCode {
    run_main_then(main, false)
}

/// [`run_main`] for a `main` that blocks on a runtime of its own (`#[tokio::main]` above `#[atexit::main]`): gone when
/// the handlers run, which an async handler is told.
#[doc(hidden)]
pub fn run_main_after_its_runtime<T: Termination>(main: fn() -> T) -> ExitCode {
    run_main_then(main, true)
}

fn run_main_then<T: Termination>(main: fn() -> T, its_runtime_is_gone: bool) -> ExitCode {
    hook::install();
    let outcome = panic::catch_unwind(main);
    crate::exit_state::set_runtime_gone(its_runtime_is_gone);
    match outcome {
        Ok(value) => {
            let code = value.report();
            run_exit_handlers(ExitReason::MainReturned, Some(status_of(code)));
            code
        }
        Err(payload) => {
            // The status a panic out of `main` gives.
            run_exit_handlers(ExitReason::MainPanicked, Some(101));
            panic::resume_unwind(payload)
        }
    }
}

/// An async `main`'s future, its panic caught so that `#[atexit::main]` awaits the exit run on its runtime first.
#[doc(hidden)]
pub struct CatchUnwind<F> {
    future: Pin<Box<F>>,
}

impl<F: Future> CatchUnwind<F> {
    #[doc(hidden)]
    pub fn new(future: F) -> Self {
        CatchUnwind { future: Box::pin(future) }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match panic::catch_unwind(AssertUnwindSafe(|| self.future.as_mut().poll(cx))) {
            Ok(poll) => poll.map(Ok),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}
