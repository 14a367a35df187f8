//! Async exit handlers (feature `tokio`): a future-returning closure, run
//! with a time limit in its place in the exit order.
//!
//! Where its future runs:
//! - under `#[atexit::main]` on an async `main` (with `#[tokio::main]` below
//!   it), on the application's runtime, still running, at the end of
//!   `main`'s future: it can use what belongs to that runtime (its sockets,
//!   its timers);
//! - on any other exit path (C's `exit`, `atexit::exit`, a signal,
//!   `run_exitfuncs`), on a current-thread runtime built for it at exit, on
//!   a thread of its own, while the exit waits for it.

use std::any::type_name;
use std::borrow::Cow;
use std::future::Future;
use std::time::Duration;

use crate::api::register_callback;
use crate::callback::{Callback, Handler, Pending, call};
use crate::diag::write_stderr_now;
use crate::identity::Identity;
use crate::panic::HandlerPanic;
use crate::registry::Handle;
use crate::thread;

/// Registers an async handler: `f` is called at exit and its future run to
/// completion, or for `time_limit` at most; past that it is dropped
/// (cancelled), named on stderr, and the other handlers run. It keeps its
/// place in the exit order, like any handler (last registered first).
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
/// gone. A future that blocks its thread instead of awaiting cannot be
/// ended by its time limit on the application's runtime (nothing preempts
/// it there): the exit [deadline](crate::set_deadline) ends the process,
/// naming it. Requires the `tokio` feature. `unregister(f)` removes it, as for any
/// handler.
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

    fn pending(&mut self) -> Option<Pending> {
        let f = self.f.take()?;
        Some(Box::pin(limited(self.time_limit, f(), self.name())))
    }

    fn run(mut self: Box<Self>) -> Result<(), HandlerPanic> {
        let name = self.name();
        let Some(work) = self.pending() else { return Ok(()) };
        call(|| block_at_exit(work, self.time_limit), || name)
    }
}

/// `future`, given `limit` to finish; past it, dropped and named.
async fn limited(limit: Duration, future: impl Future<Output = ()>, name: Cow<'static, str>) {
    if tokio::time::timeout(limit, future).await.is_err() {
        write_stderr_now(&format!(
            "atexit: async handler `{name}` did not finish within its time limit of {limit:?}; \
             dropped, the other handlers run\n"
        ));
    }
}

/// Runs `work` to its end on a runtime built for it, on a thread of its
/// own: the exiting thread may be inside a runtime (which cannot block), or
/// past the point where libc destroyed its thread-locals, tokio's among
/// them (`std::process::exit` inside `block_on`: tokio then panics with
/// "The Tokio context thread-local variable has been destroyed").
fn block_at_exit(work: Pending, limit: Duration) {
    let no_thread =
        |e| write_stderr_now(&format!("atexit: an async handler runs on the exiting thread: no thread: {e}\n"));
    // Its own time limit ends it; a moment more for the runtime to stop.
    thread::run_within(c"atexit-async", limit + Duration::from_secs(1), move || block_on(work), no_thread);
}

fn block_on(work: Pending) {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime.block_on(work),
        Err(e) => write_stderr_now(&format!("atexit: an async handler could not run: no runtime: {e}\n")),
    }
}
