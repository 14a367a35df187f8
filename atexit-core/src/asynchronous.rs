//! Async exit handlers (feature `tokio`): a future-returning closure, run
//! with a time limit in its place in the exit order. Where its future runs
//! is the run's business (`run.rs`).

use std::any::type_name;
use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use crate::api::register_callback;
use crate::callback::{Callback, Handler, Pending};
use crate::identity::Identity;
use crate::panic::HandlerPanic;
use crate::registry::Handle;

/// Registers an async handler: `f` is called at exit and its future run to
/// completion, or for `time_limit` at most; past that it is dropped
/// (cancelled), named on stderr, and the other handlers run. It keeps its
/// place in the exit order, like any handler (last registered first).
/// `Duration::ZERO` means no limit, as everywhere else; so does a limit too
/// long to pass (`Duration::MAX`).
///
/// Inside the future, as in any handler, [`exit`](crate::exit) sets the
/// status, [`register`](crate::register) adds a handler that runs next, and
/// a panic is reported with the handler's name, whichever thread polls it.
///
/// ```no_run
/// # extern crate atexit_core as atexit;
/// # async fn flush_telemetry() {}
/// use std::time::Duration;
///
/// #[tokio::main]
/// async fn main() {
///     atexit::register_async(Duration::from_secs(2), || async {
///         flush_telemetry().await;
///     });
/// }
/// ```
///
/// Under `#[atexit::main]` (above `#[tokio::main]`) the future runs on the
/// application's runtime as `main` ends; on other exit paths, on a runtime
/// built at exit, where what belonged to the application's runtime may be
/// gone (the example's bare `#[tokio::main]` is such a case). A future
/// that blocks its thread instead of awaiting cannot be dropped: past its
/// limit it is left behind there and the other handlers run on a new
/// thread. Requires the `tokio` feature. `unregister(f)` removes it, as for
/// any handler.
pub fn register_async<F, Fut>(time_limit: Duration, f: F) -> Handle
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let identity = Identity::of(&f);
    let handler = AsyncHandler { f: Some(f), time_limit, identity };
    register_callback(0, identity.fingerprint(), Callback::Boxed(Box::new(handler)))
}

struct AsyncHandler<F> {
    /// Taken when it runs.
    f: Option<F>,
    time_limit: Duration,
    identity: Identity,
}

impl<F, Fut> Handler for AsyncHandler<F>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(type_name::<F>())
    }

    fn identity(&self) -> Identity {
        self.identity
    }

    fn inherited(&self) -> bool {
        false
    }

    fn time_limit(&self) -> Option<Duration> {
        Some(self.time_limit).filter(|limit| !limit.is_zero())
    }

    fn pending(&mut self) -> Option<Pending> {
        let f = self.f.take()?;
        Some(Box::pin(f()))
    }

    fn run(self: Box<Self>) -> Result<(), HandlerPanic> {
        // Its work is its future, which every run of the process registry
        // (the only one `register_async` registers in) takes with
        // `pending` and awaits; nothing is left to run here.
        Ok(())
    }
}
