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
    pub const fn new(
        f: fn(),
        identity: fn() -> Identity,
        module: &'static str,
        name: &'static str,
        line: u32,
        priority: i32,
        inherited: bool,
    ) -> Self {
        StaticHandler { f, identity, module, name, line, priority, inherited, taken: AtomicBool::new(false) }
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

/// Puts `handlers` in registration order: priority, module path, line, name.
///
/// A comparison sort of 1,000 handlers cost about 300 instructions per
/// handler here (measured with `scripts/instructions.sh`), three times what
/// `inventory` itself costs per handler: so each handler gets one number,
/// its place by (priority, module path, line) with priorities and module
/// paths replaced by their rank among the few distinct ones, and a radix
/// sort orders the numbers. Ties (handlers on one line of one module, made
/// by a macro) are ordered by name.
pub(crate) fn sort(handlers: &mut Vec<&'static StaticHandler>) {
    let priorities = ranks(handlers.iter().map(|h| h.priority).collect());
    let mut modules: Vec<&str> = handlers.iter().map(|h| h.module).collect();
    modules.dedup_by(|a, b| same_text(a, b));
    let modules = ranks(modules);
    let lines = u64::from(handlers.iter().map(|h| h.line).max().unwrap_or(0)) + 1;
    let fits = (priorities.len() as u64).checked_mul(modules.len() as u64).and_then(|n| n.checked_mul(lines));
    if fits.is_none() {
        // Over 2^64 places: more handlers than any program has. Compare.
        handlers.sort_unstable_by(|a, b| {
            (a.priority, a.module, a.line, a.name).cmp(&(b.priority, b.module, b.line, b.name))
        });
        return;
    }
    let mut last_module = ("", 0);
    let mut keyed: Vec<(u64, &'static StaticHandler)> = handlers
        .iter()
        .map(|&h| {
            if !same_text(h.module, last_module.0) {
                last_module = (h.module, modules.binary_search(&h.module).unwrap_or_default() as u64);
            }
            let priority = priorities.binary_search(&h.priority).unwrap_or_default() as u64;
            ((priority * modules.len() as u64 + last_module.1) * lines + u64::from(h.line), h)
        })
        .collect();
    radix_sort(&mut keyed);
    for same in keyed.chunk_by_mut(|a, b| a.0 == b.0).filter(|same| same.len() > 1) {
        same.sort_unstable_by_key(|(_, h)| h.name);
    }
    handlers.clear();
    handlers.extend(keyed.into_iter().map(|(_, h)| h));
}

/// `a == b`, at once when they are one string (one module's paths mostly are).
fn same_text(a: &str, b: &str) -> bool {
    std::ptr::eq(a, b) || a == b
}

/// The distinct values, sorted: a value's rank is its place among them.
fn ranks<T: Ord>(mut values: Vec<T>) -> Vec<T> {
    // Neighbours are mostly equal (one module's handlers come together).
    values.dedup();
    values.sort_unstable();
    values.dedup();
    values
}

/// Sorts by key, a byte at a time from the lowest, skipping the bytes in
/// which no two keys differ (most of them: the keys are small).
fn radix_sort<T: Copy>(items: &mut Vec<(u64, T)>) {
    let varying = items.iter().fold(0, |bits, (key, _)| bits | (key ^ items[0].0));
    let mut spare = items.clone();
    for shift in (0..64).step_by(8).filter(|shift| (varying >> shift) & 0xff != 0) {
        let mut starts = [0usize; 257];
        for (key, _) in items.iter() {
            starts[((key >> shift) & 0xff) as usize + 1] += 1;
        }
        for digit in 0..256 {
            starts[digit + 1] += starts[digit];
        }
        for &item in items.iter() {
            let digit = ((item.0 >> shift) & 0xff) as usize;
            spare[starts[digit]] = item;
            starts[digit] += 1;
        }
        std::mem::swap(items, &mut spare);
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
    fn radix_sort_is_stable_and_agrees_with_sort() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for n in [0usize, 1, 2, 50, 300] {
            let mut items: Vec<(u64, usize)> = (0..n)
                .map(|i| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (if i % 2 == 0 { seed % 8 } else { seed }, i)
                })
                .collect();
            let mut expected = items.clone();
            expected.sort_by_key(|&(key, _)| key);
            radix_sort(&mut items);
            assert_eq!(items, expected);
        }
    }

    #[test]
    fn sorted_by_priority_module_line_then_name() {
        static HANDLERS: [StaticHandler; 7] = [
            StaticHandler::new(noop, identity, "a", "a::x", 9, -1, false),
            StaticHandler::new(noop, identity, "b", "b::x", 1, -1, false),
            StaticHandler::new(noop, identity, "a", "a::x", 2, 0, false),
            StaticHandler::new(noop, identity, "a", "a::y", 2, 0, false),
            StaticHandler::new(noop, identity, "a", "a::x", 300, 0, false),
            StaticHandler::new(noop, identity, "c", "c::x", 1, 0, false),
            StaticHandler::new(noop, identity, "a", "a::x", 1, 7, false),
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
