//! Handlers registered with `#[atexit::register]`, from any crate: each is a [`StaticHandler`] submitted to
//! `inventory`, kept apart from runtime registrations and merged with them as a run goes (`process.rs`). Their order is
//! the same on every build and platform, whatever the linker's layout ([`order_key`], [`sort`]).

use crate::identity::Identity;

/// One `#[atexit::register]` function. Not public API: built by generated code.
#[doc(hidden)]
pub struct StaticHandler {
    f: fn(),
    identity: fn() -> Identity,
    module: &'static str,
    name: &'static str,
    /// Registration order (see [`order_key`]): the greatest runs first.
    key: u128,
    priority: i32,
    /// Whether a `fork()`ed child keeps it (`inherit_on_fork`).
    inherited: bool,
}

impl StaticHandler {
    /// `application`: written in a binary or example (cargo sets `CARGO_BIN_NAME`), not a library.
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
        let key = order_key(priority, application, module, line);
        StaticHandler { f, identity, module, name, key, priority, inherited }
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
}

/// The order static handlers count as registered in (the last runs first), as one number: by priority; then libraries'
/// before the application's, so at equal priority the application's run first (a library's flush after the application
/// handler logging through it), as Python's import order gives; then by module, by its path's hash; then by line (the
/// last written runs first). [`sort`] breaks ties (two handlers on one line, a hash collision) by path, then name.
const fn order_key(priority: i32, application: bool, module: &str, line: u32) -> u128 {
    // Flipping the sign bit orders an `i32` as an unsigned number.
    let priority = (priority as u32 ^ 0x8000_0000) as u128;
    let line = if line > 0x7fff_ffff { 0x7fff_ffff } else { line };
    (priority << 96) | ((application as u128) << 95) | ((hash32(module) as u128) << 63) | ((line as u128) << 32)
}

/// FNV-1a, 32 bits.
const fn hash32(text: &str) -> u32 {
    let bytes = text.as_bytes();
    let mut hash: u32 = 0x811c_9dc5;
    let mut i = 0;
    while i < bytes.len() {
        hash = (hash ^ bytes[i] as u32).wrapping_mul(0x0100_0193);
        i += 1;
    }
    hash
}

/// Puts `handlers` in registration order: the last runs first.
pub(crate) fn sort(handlers: &mut [&'static StaticHandler]) {
    handlers.sort_unstable_by_key(|handler| handler.key);
    // Modules whose paths hash alike, or handlers on one line, the key cannot tell apart: order by path, line, name.
    for group in handlers.chunk_by_mut(|a, b| a.key >> 63 == b.key >> 63) {
        let untold = |pair: &[&StaticHandler]| pair[0].key == pair[1].key || pair[0].module != pair[1].module;
        if group.windows(2).any(untold) {
            group.sort_unstable_by_key(|handler| (handler.module, handler.key, handler.name));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noop() {}
    fn identity() -> Identity {
        Identity::Address(0)
    }

    #[test]
    fn sorted_by_priority_application_module_then_line_whatever_the_input_order() {
        static HANDLERS: [StaticHandler; 10] = [
            StaticHandler::new(noop, identity, "a", "a::x", 9, -1, false, false),
            StaticHandler::new(noop, identity, "b", "b::x", 1, -1, false, false),
            StaticHandler::new(noop, identity, "z", "z::x", 1, -1, false, true),
            StaticHandler::new(noop, identity, "a", "a::x", 2, 0, false, false),
            StaticHandler::new(noop, identity, "a", "a::y", 2, 0, false, false),
            StaticHandler::new(noop, identity, "a", "a::x", 300, 0, false, false),
            StaticHandler::new(noop, identity, "c", "c::x", 1, 0, false, false),
            StaticHandler::new(noop, identity, "c", "c::x", 70_000, 0, false, false),
            StaticHandler::new(noop, identity, "b", "b::app", 1, 0, false, true),
            StaticHandler::new(noop, identity, "a", "a::x", 1, 7, false, false),
        ];
        let all: Vec<&'static StaticHandler> = HANDLERS.iter().collect();
        let mut first = all.clone();
        sort(&mut first);
        let line = |h: &StaticHandler| (h.key >> 32) as u32 & 0x7fff_ffff;
        let application = |h: &StaticHandler| h.key >> 95 & 1 == 1;
        for pair in first.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            assert!(a.priority <= b.priority, "priority first");
            if a.priority == b.priority {
                assert!(application(a) <= application(b), "libraries' before the application's");
                if application(a) == application(b) && a.module == b.module {
                    assert!(line(a) <= line(b), "in a module, by line: {} {}", line(a), line(b));
                }
            }
        }
        // Modules are not interleaved, and the input order never decides.
        let modules: Vec<_> = first.iter().filter(|h| h.priority == 0 && !application(h)).map(|h| h.module).collect();
        let mut runs = modules.clone();
        runs.dedup();
        let mut distinct = runs.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(runs.len(), distinct.len(), "{modules:?}");
        for rotation in 0..all.len() {
            let mut shuffled = all.clone();
            shuffled.rotate_left(rotation);
            shuffled.swap(0, all.len() - 1);
            sort(&mut shuffled);
            let places = |v: &[&StaticHandler]| v.iter().map(|h| (h.name, line(h))).collect::<Vec<_>>();
            assert_eq!(places(&shuffled), places(&first), "rotation {rotation}");
        }
    }

    #[test]
    fn modules_whose_paths_hash_alike_do_not_interleave() {
        // Two paths with one 32-bit FNV-1a hash (found by a search).
        const A: &str = "fnvc::m_cimsbtfr";
        const B: &str = "fnvc::m_citnaouk";
        assert_eq!(hash32(A), hash32(B));
        static HANDLERS: [StaticHandler; 4] = [
            StaticHandler::new(noop, identity, A, "a1", 10, 0, false, true),
            StaticHandler::new(noop, identity, B, "b1", 20, 0, false, true),
            StaticHandler::new(noop, identity, A, "a2", 30, 0, false, true),
            StaticHandler::new(noop, identity, B, "b2", 40, 0, false, true),
        ];
        for rotation in 0..HANDLERS.len() {
            let mut handlers: Vec<&'static StaticHandler> = HANDLERS.iter().collect();
            handlers.rotate_left(rotation);
            sort(&mut handlers);
            let names: Vec<_> = handlers.iter().map(|h| h.name).collect();
            assert_eq!(names, ["a1", "a2", "b1", "b2"], "rotation {rotation}");
        }
    }

    #[test]
    fn the_key_is_made_at_compile_time_and_ties_are_broken_by_path() {
        const ONE: u128 = order_key(0, false, "m", 5);
        assert_eq!(ONE, order_key(0, false, "m", 5));
        assert!(order_key(-1, true, "m", 5) < order_key(0, false, "m", 5));
        assert!(order_key(0, false, "m", 5) < order_key(0, true, "m", 1));
        assert!(order_key(0, false, "m", 5) < order_key(0, false, "m", 6));
        assert!(order_key(i32::MAX, false, "m", u32::MAX) > order_key(i32::MIN, true, "m", 0));
        // One line, two handlers (a macro wrote both): by name.
        static TIED: [StaticHandler; 2] = [
            StaticHandler::new(noop, identity, "m", "m::b", 3, 0, false, false),
            StaticHandler::new(noop, identity, "m", "m::a", 3, 0, false, false),
        ];
        let mut tied: Vec<&'static StaticHandler> = TIED.iter().collect();
        sort(&mut tied);
        assert_eq!(tied.iter().map(|h| h.name).collect::<Vec<_>>(), ["m::a", "m::b"]);
    }
}
