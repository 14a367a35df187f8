//! Handlers registered statically with `#[atexit::register]`, from any crate.
//!
//! Each annotated function becomes a `static` [`StaticHandler`] and an
//! `inventory` submission of a [`StaticRef`] to it. The process registry
//! takes them in (see `process.rs`); this module knows what one is and the
//! order they are taken in: by priority, then module path, then line, then
//! name, so that within one module the one written last runs first (as if
//! registered in source order, last in, first out) and the order is the
//! same on every build and platform, whatever order the linker laid them
//! out in.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::identity::Identity;

/// One `#[atexit::register]` function. Not public API: built by generated code.
#[doc(hidden)]
pub struct StaticHandler {
    f: fn(),
    identity: fn() -> Identity,
    module: &'static str,
    name: &'static str,
    line: u32,
    priority: i32,
    /// Whether a `fork()`ed child keeps it (`inherit_on_fork`).
    inherited: bool,
    /// Whether it is the application's (written in a binary or an example,
    /// which cargo builds with `CARGO_BIN_NAME` set) rather than a library's.
    application: bool,
    /// Whether the process registry has taken it in (changed only under
    /// the registry's lock).
    taken: AtomicBool,
}

/// What generated code submits to `inventory`: the handler is a `static`
/// of its own, because a value submitted to `inventory` cannot hold an
/// atomic.
#[doc(hidden)]
pub struct StaticRef(pub &'static StaticHandler);

impl StaticHandler {
    #[doc(hidden)]
    #[allow(clippy::too_many_arguments)] // called by generated code only, one field each
    pub const fn new(
        f: fn(),
        identity: fn() -> Identity,
        module: &'static str,
        name: &'static str,
        line: u32,
        priority: i32,
        inherited: bool,
        application: bool,
    ) -> Self {
        StaticHandler {
            f,
            identity,
            module,
            name,
            line,
            priority,
            inherited,
            application,
            taken: AtomicBool::new(false),
        }
    }

    pub(crate) fn function(&self) -> fn() {
        self.f
    }

    pub(crate) fn identity(&self) -> Identity {
        (self.identity)()
    }

    pub(crate) fn name(&self) -> &'static str {
        self.name
    }

    pub(crate) fn priority(&self) -> i32 {
        self.priority
    }

    pub(crate) fn inherited(&self) -> bool {
        self.inherited
    }

    /// Marks it taken; true if it was not before. Called under the process
    /// registry's lock, so a load and a store are enough.
    pub(crate) fn take(&self) -> bool {
        let fresh = !self.taken.load(Ordering::Relaxed);
        self.taken.store(true, Ordering::Relaxed);
        fresh
    }
}

/// Puts `handlers` in registration order (the last runs first): priority;
/// then the libraries' before the application's, so that at equal priority
/// an application's handlers run before those of the libraries it uses (a
/// library's flush after the application's handler that logs through it),
/// as Python's import order gives; then module path, line and name.
pub(crate) fn sort(handlers: &mut [&'static StaticHandler]) {
    let key = |h: &&StaticHandler| (h.priority, h.application, h.module, h.line, h.name);
    handlers.sort_unstable_by(|a, b| key(a).cmp(&key(b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop() {}
    fn identity() -> Identity {
        Identity::Address(0)
    }

    #[test]
    fn sorted_by_priority_module_line_then_name() {
        static HANDLERS: [StaticHandler; 9] = [
            StaticHandler::new(noop, identity, "a", "a::x", 9, -1, false, false),
            StaticHandler::new(noop, identity, "b", "b::x", 1, -1, false, false),
            StaticHandler::new(noop, identity, "z", "z::x", 1, -1, false, true),
            StaticHandler::new(noop, identity, "a", "a::x", 2, 0, false, false),
            StaticHandler::new(noop, identity, "a", "a::y", 2, 0, false, false),
            StaticHandler::new(noop, identity, "a", "a::x", 300, 0, false, false),
            StaticHandler::new(noop, identity, "c", "c::x", 1, 0, false, false),
            StaticHandler::new(noop, identity, "b", "b::app", 1, 0, false, true),
            StaticHandler::new(noop, identity, "a", "a::x", 1, 7, false, false),
        ];
        let expected: Vec<&'static StaticHandler> = HANDLERS.iter().collect();
        for rotation in 0..expected.len() {
            let mut shuffled: Vec<_> = expected.clone();
            shuffled.rotate_left(rotation);
            shuffled.swap(0, expected.len() - 1);
            sort(&mut shuffled);
            let places = |v: &[&StaticHandler]| v.iter().map(|h| (h.name, h.line)).collect::<Vec<_>>();
            assert_eq!(places(&shuffled), places(&expected), "rotation {rotation}");
        }
    }
}
