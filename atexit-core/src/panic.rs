//! What a panicking handler leaves behind, and how it is reported.

use std::any::Any;
use std::borrow::Cow;
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Mutex, PoisonError};

use crate::last_words::write_stderr_now;

/// A panic raised by an exit handler and caught by the runtime.
///
/// Every panicking handler is reported on stderr as it happens, and the other handlers still run. An explicit run
/// ([`run_exitfuncs`](crate::run_exitfuncs), [`Registry::run`](crate::Registry::run)) returns the **last** panic, as
/// Python's `atexit._run_exitfuncs` re-raises the last exception; [`resume`](HandlerPanic::resume) re-raises it. It is
/// `Send + Sync`, so `run_exitfuncs()?` goes into `anyhow::Error` or a `Box<dyn Error + Send + Sync>`:
///
/// ```
/// # extern crate atexit_core as atexit;
/// fn flush_now() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
///     atexit::run_exitfuncs()?;
///     Ok(())
/// }
/// # flush_now().unwrap();
/// ```
pub struct HandlerPanic {
    /// Boxed, so that a handler's `Result<(), HandlerPanic>` is one word.
    caught: Box<Caught>,
}

struct Caught {
    name: Cow<'static, str>,
    message: Cow<'static, str>,
    /// Behind a lock only so that the panic is `Sync`: taken out whole.
    payload: Mutex<Box<dyn Any + Send>>,
}

/// The unwind payload `exit` ends a running handler with: no failure, so a run neither reports nor returns it.
pub(crate) struct ExitRequest;

impl HandlerPanic {
    pub(crate) fn new(name: Cow<'static, str>, payload: Box<dyn Any + Send>) -> Self {
        let message = if let Some(s) = payload.downcast_ref::<&'static str>() {
            Cow::Borrowed(*s)
        } else if let Some(s) = payload.downcast_ref::<String>() {
            Cow::Owned(s.clone())
        } else {
            Cow::Borrowed("Box<dyn Any>")
        };
        HandlerPanic { caught: Box::new(Caught { name, message, payload: Mutex::new(payload) }) }
    }

    /// The handler's name: as registered, else the function's path (`my_app::flush_logs`), a closure's with where it was
    /// registered (`my_app::main::{closure@src/main.rs:12:5}`).
    pub fn name(&self) -> &str {
        &self.caught.name
    }
    /// The panic message if the payload is a string (as from `panic!`), else `"Box<dyn Any>"`, as std prints it.
    pub fn message(&self) -> &str {
        &self.caught.message
    }
    /// Takes the payload out, to inspect or re-raise it later.
    pub fn into_payload(self) -> Box<dyn Any + Send> {
        self.caught.payload.into_inner().unwrap_or_else(PoisonError::into_inner)
    }
    /// Re-raises the panic on the current thread, with its original payload.
    pub fn resume(self) -> ! {
        panic::resume_unwind(self.into_payload())
    }
    pub(crate) fn is_exit_request(&self) -> bool {
        self.caught.payload.lock().unwrap_or_else(PoisonError::into_inner).is::<ExitRequest>()
    }
    /// Writes a caught panic's one-line report on stderr, ignoring errors: a closed stderr must not cause a panic.
    pub(crate) fn report(&self) {
        write_stderr_now(&format!("atexit: {self}\n"));
    }
}

impl fmt::Display for HandlerPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exit handler `{}` panicked: {}", self.name(), self.message())
    }
}

impl fmt::Debug for HandlerPanic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HandlerPanic")
            .field("name", &self.name())
            .field("message", &self.message())
            .finish_non_exhaustive()
    }
}

impl std::error::Error for HandlerPanic {}

/// Drops `value`, swallowing a panic from its destructor (as a panic payload's may): no unwinding out of an exit run.
pub(crate) fn drop_quietly<T>(value: T) {
    if let Err(nested) = panic::catch_unwind(AssertUnwindSafe(move || drop(value))) {
        // Dropping this one could panic again; leaking it is the safe choice.
        std::mem::forget(nested);
    }
}
