//! The process registry and the free functions that act on it.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::exit;
use crate::hook;
use crate::identity::Function;
use crate::observe::RunKind;
use crate::panic::{HandlerPanic, drop_quietly};
use crate::registration::Handle;
use crate::registry::{Inner, Registry};

pub(crate) static GLOBAL_INNER: Inner = Inner::process();
pub(crate) static GLOBAL: Registry = Registry::process();

/// Registers `f` to run once when the process ends normally, and returns a
/// [`Handle`] to that one registration.
///
/// Handlers run last registered first (within a priority; see
/// [`Registration`](crate::Registration) for priorities and names). The same
/// function may be registered many times and then runs as many times.
/// `f` may capture state; it is moved into the registry and dropped after it
/// runs (or when unregistered).
///
/// ```
/// # extern crate atexit_core as atexit;
/// atexit::register(|| println!("goodbye"));
/// ```
pub fn register<F: FnOnce() + Send + 'static>(f: F) -> Handle {
    hook::install();
    GLOBAL.register(f)
}

/// Removes every pending registration of the function `f`, and returns how
/// many there were; 0, and no error, if there were none.
///
/// "The same function" is decided as Python decides it with `==`, as far as
/// Rust allows:
/// - a function item (`unregister(flush_logs)`) matches every registration of
///   that function, whatever arguments `register!` bound to it;
/// - a closure matches registrations of the same closure expression (its
///   type), so pass a copy of it (closures are `Copy` when their captures are);
/// - a function pointer matches by address. Pointers with `'static`
///   parameter types and the `Rust` or `C` ABI are recognised; any other
///   value is identified by its type. Rust does not promise that two casts
///   of one function to a pointer give the same address (across codegen
///   units they may differ), so unregister with the pointer value you
///   registered, or with the function item itself.
///
/// ```
/// # extern crate atexit_core as atexit;
/// fn flush() {}
/// atexit::register(flush);
/// atexit::register(flush);
/// assert_eq!(atexit::unregister(flush), 2);
/// assert_eq!(atexit::unregister(flush), 0);
/// ```
pub fn unregister<F: Function<Args>, Args>(f: F) -> usize {
    GLOBAL.unregister(f)
}

/// How many handlers are pending in the process registry.
pub fn ncallbacks() -> usize {
    GLOBAL.len()
}

/// Drops every pending handler without running it.
pub fn clear() {
    GLOBAL.clear()
}

/// Runs every pending handler now, in exit order, each at most once, and
/// leaves the registry empty, as `atexit._run_exitfuncs()` does in Python.
///
/// A panicking handler is reported on stderr with its name, and the rest still
/// run; the **last** panic is returned (use [`HandlerPanic::resume`] to
/// re-raise it). Handlers registered afterwards run at exit as usual. If a
/// handler calls [`exit`](crate::exit), the run finishes and then the process
/// exits with that code.
pub fn run_exitfuncs() -> Result<(), HandlerPanic> {
    let result = GLOBAL_INNER.run(RunKind::Explicit);
    exit::apply_requested_exit();
    result
}

/// Whether the process registry's handlers are running now (at exit or in
/// [`run_exitfuncs`]), on any thread.
pub fn is_exiting() -> bool {
    GLOBAL_INNER.run_lock.is_held()
}

static EXIT_HAS_BEGUN: AtomicBool = AtomicBool::new(false);

/// Whether an exit run has started: the process is on its way out.
pub(crate) fn exit_has_begun() -> bool {
    EXIT_HAS_BEGUN.load(Ordering::SeqCst)
}

/// The exit run: every handler, watched by the trace and the deadline. Panics
/// were reported as they happened; nothing is left to return them to.
pub(crate) fn run_at_exit() {
    EXIT_HAS_BEGUN.store(true, Ordering::SeqCst);
    if let Err(panic) = GLOBAL_INNER.run(RunKind::Exit) {
        drop_quietly(panic);
    }
}
