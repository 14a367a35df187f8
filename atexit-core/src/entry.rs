//! `#[atexit::main]`: run the handlers when `main` returns or panics, on the
//! main thread, before its thread-locals are torn down.

use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::process::{ExitCode, Termination};
use std::task::{Context, Poll};

use crate::exit::{run_exit_handlers, status_of};
use crate::hook;
use crate::reason::ExitReason;

/// Runs `main`, then the exit handlers, and gives back the status `main`
/// would have had. Not public API: called by `#[atexit::main]`.
///
/// `main`'s result is reported first (an `Err` is printed as `main` returning
/// it would print it), then the handlers run; a panic is re-raised after
/// them, so the status is 101 as without the attribute. A handler that calls
/// `atexit::exit` sets the status.
#[doc(hidden)]
pub fn run_main<T: Termination>(main: fn() -> T) -> ExitCode {
    hook::install();
    match panic::catch_unwind(main) {
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

/// `main`'s future under `#[atexit::main]` on an async `main`, with a panic
/// out of it caught, so that the exit run is awaited on the application's
/// runtime on a panic too, before the panic goes on. Not public API.
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
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(value)) => Poll::Ready(Ok(value)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}
