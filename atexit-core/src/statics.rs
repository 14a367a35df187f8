//! Handlers registered statically with `#[atexit::register]`, from any crate.
//!
//! Each annotated function becomes an `inventory` submission of a
//! [`StaticHandler`]. The process registry takes them in once, when it is
//! first needed whole (a run, `unregister`, `ncallbacks`, `clear`; at the
//! latest at exit), numbered below every runtime registration: so they count
//! as registered at load time, and at equal priority they run after every
//! runtime handler, even one registered from a constructor before them.
//!
//! Among themselves, static handlers of one priority are taken in sorted by
//! module path, then line, then name, so that within one module the one
//! written last runs first (LIFO, as if registered in source order) and the
//! order is the same on every build and platform, whatever order the linker
//! laid them out in.

use std::borrow::Cow;
use std::collections::BTreeMap;

use crate::callback::{Callback, call};
use crate::identity::Identity;
use crate::panic::HandlerPanic;

/// One `#[atexit::register]` function. Not public API: built by generated code.
///
/// Three words: every pointer in a static is relocated when the program is
/// loaded, and every page holding one is copied on write, for each of
/// possibly thousands of handlers; so all the rest is in a [`StaticMeta`],
/// which holds no pointer, stays in read-only data and is first read when
/// the handlers are taken in, at exit at the latest.
#[doc(hidden)]
pub struct StaticHandler {
    f: fn(),
    meta: &'static StaticMeta<[u8]>,
}

/// What a static handler's registration knows besides its function. Not
/// public API: built by generated code.
#[doc(hidden)]
pub struct StaticMeta<Text: ?Sized> {
    identity: Identity,
    line: u32,
    priority: i32,
    module_len: u32,
    /// Where the handler's name starts in `text`.
    name_start: u32,
    /// UTF-8: the module path, then either `::` and the function's name (the
    /// handler's name is all of it) or the name given to the macro.
    text: Text,
}

impl<const N: usize> StaticMeta<[u8; N]> {
    /// `text` is `N` bytes long; a shorter or longer one is a compile-time
    /// error in generated code (a panic in a constant).
    #[doc(hidden)]
    pub const fn new(
        identity: Identity,
        text: &str,
        module_len: usize,
        name_start: usize,
        line: u32,
        priority: i32,
    ) -> Self {
        assert!(text.len() == N && module_len <= N && name_start <= N && N <= u32::MAX as usize);
        let mut bytes = [0; N];
        let mut i = 0;
        while i < N {
            bytes[i] = text.as_bytes()[i];
            i += 1;
        }
        StaticMeta {
            identity,
            line,
            priority,
            module_len: module_len as u32,
            name_start: name_start as u32,
            text: bytes,
        }
    }
}

impl StaticHandler {
    #[doc(hidden)]
    pub const fn new(f: fn(), meta: &'static StaticMeta<[u8]>) -> Self {
        StaticHandler { f, meta }
    }

    pub(crate) fn priority(&self) -> i32 {
        self.meta.priority
    }

    fn line(&self) -> u32 {
        self.meta.line
    }

    fn text(&self) -> &'static str {
        // SAFETY: `StaticMeta::new`, its only constructor, copied these
        // bytes from a `&str`.
        unsafe { std::str::from_utf8_unchecked(&self.meta.text) }
    }

    fn module(&self) -> &'static str {
        let text = self.text();
        text.get(..self.meta.module_len as usize).unwrap_or(text)
    }

    fn name(&self) -> &'static str {
        let text = self.text();
        text.get(self.meta.name_start as usize..).unwrap_or(text)
    }
}

inventory::collect!(StaticHandler);

// The constructor that installs the process hook lives beside the inventory
// registry that every `#[atexit::register]` submission refers to, so the
// linker keeps it in any binary that has a static handler, even one that
// never calls the runtime.
#[cfg(not(miri))]
ctor::declarative::ctor! {
    #[ctor(unsafe)]
    fn install_hook_before_main() {
        crate::hook::install();
    }
}

/// Every static handler, grouped by priority (ascending), and within one
/// priority in registration order.
///
/// This runs once, at exit at the latest, in a process that may have
/// touched little memory yet: each fresh page costs a page fault, so it
/// allocates little. The linker lays the submissions out in no useful order
/// (rustc assigns items to codegen units by hash), and a comparison sort of
/// 1,000 handlers costs tens of microseconds, so each handler gets a numeric
/// key, (priority, module rank, line) packed in 64 bits, and a radix sort
/// orders them. Each module path gets its rank among the distinct paths,
/// which are few.
///
/// Each comes with its sort key, which means nothing to the caller: the
/// pairs are what the sort produced, handed over without another copy.
pub(crate) fn collected() -> Vec<(u64, &'static StaticHandler)> {
    // Counted first (a walk of a short list), so that the one vector is
    // allocated once, at its size.
    let count = inventory::iter::<StaticHandler>.into_iter().count();
    in_order(inventory::iter::<StaticHandler>.into_iter(), count)
}

fn in_order(
    handlers: impl Iterator<Item = &'static StaticHandler>,
    count: usize,
) -> Vec<(u64, &'static StaticHandler)> {
    let mut seen: BTreeMap<&'static str, u32> = BTreeMap::new();
    let mut last: Option<(&'static str, u32)> = None;
    let mut longest = 0;
    let mut items: Vec<(u64, &'static StaticHandler)> = Vec::with_capacity(count);
    items.extend(handlers.map(|handler| {
        let module = StaticHandler::module(handler);
        let index = match last {
            Some((path, index)) if path == module => index,
            _ => {
                let next = seen.len() as u32;
                let index = *seen.entry(module).or_insert(next);
                last = Some((module, index));
                index
            }
        };
        longest = longest.max(handler.line());
        (u64::from(index), handler)
    }));
    // Ranks in path order: `seen` iterates sorted.
    let mut rank = vec![0u32; seen.len()];
    for (r, index) in (0..).zip(seen.values()) {
        rank[*index as usize] = r;
    }
    let priority = |handler: &StaticHandler| u64::from((handler.priority() as u32) ^ (1 << 31));
    if seen.len() <= 1 << 16 && longest < 1 << 16 {
        for (key, handler) in &mut items {
            *key = (priority(handler) << 32) | (u64::from(rank[*key as usize]) << 16) | u64::from(handler.line());
        }
        radix_sort_by(&mut items, |&(key, _)| key);
    } else {
        // Files of over 65,535 lines, or as many modules: compare.
        for (key, _) in &mut items {
            *key = u64::from(rank[*key as usize]);
        }
        items.sort_by_key(|&(module, handler)| (priority(handler), module, handler.line()));
    }
    // Equal keys: handlers on one line of one module (generated by a
    // macro), ordered by name.
    let same_place = |(a, x): &(u64, &StaticHandler), (b, y): &(u64, &StaticHandler)| {
        a == b && x.line() == y.line() && x.priority() == y.priority()
    };
    for same in items.chunk_by_mut(same_place).filter(|run| run.len() > 1) {
        same.sort_by(|(_, a), (_, b)| StaticHandler::name(a).cmp(StaticHandler::name(b)));
    }
    items
}

/// Sorts `items` by `key`, stably, a byte at a time from the least
/// significant, skipping the bytes that all keys share (most of them:
/// one priority, one module, short line numbers).
fn radix_sort_by<T: Copy>(items: &mut Vec<T>, key: impl Fn(&T) -> u64) {
    let mut counts = [[0u32; 256]; 8];
    for item in items.iter() {
        let k = key(item);
        for (digit, count) in counts.iter_mut().enumerate() {
            count[((k >> (8 * digit)) & 0xff) as usize] += 1;
        }
    }
    let mut spare = Vec::new();
    for (digit, count) in counts.iter_mut().enumerate() {
        if count.iter().any(|&c| c as usize == items.len()) {
            continue;
        }
        let mut start = 0;
        for c in count.iter_mut() {
            (*c, start) = (start, start + *c);
        }
        spare.clear();
        spare.resize(items.len(), items[0]);
        for item in items.iter() {
            let d = ((key(item) >> (8 * digit)) & 0xff) as usize;
            spare[count[d] as usize] = *item;
            count[d] += 1;
        }
        std::mem::swap(items, &mut spare);
    }
}

impl Callback for &'static StaticHandler {
    fn identity(&self) -> Identity {
        self.meta.identity
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(StaticHandler::name(self))
    }

    fn run(self) -> Result<(), HandlerPanic> {
        call(self.f, || Cow::Borrowed(StaticHandler::name(self)))
    }
}

#[cfg(test)]
mod tests {
    use super::{StaticHandler, StaticMeta, in_order, radix_sort_by};
    use crate::identity::Identity;

    fn noop() {}

    /// One static handler, as generated code makes it, in module `a`, `b`
    /// or `c` (one byte), named `x` or `y`.
    macro_rules! handler {
        ($text:literal, $line:expr, $priority:expr) => {{
            static META: StaticMeta<[u8; 4]> =
                StaticMeta::new(Identity::Address($line as usize), $text, 1, 0, $line, $priority);
            StaticHandler::new(noop, &META)
        }};
    }

    /// In the order they must come out in, for files of a few lines and of
    /// over 65,535 lines.
    macro_rules! in_exit_order {
        ($line:expr) => {
            [
                handler!("a::x", $line + 9, -1),
                handler!("b::x", $line + 1, -1),
                handler!("a::x", $line + 2, 0),
                handler!("a::y", $line + 2, 0),
                handler!("a::x", $line + 300, 0),
                handler!("c::x", $line + 1, 0),
                handler!("c::y", $line, 1),
                handler!("a::x", $line, 7),
            ]
        };
    }
    static SHORT: [StaticHandler; 8] = in_exit_order!(1);
    static LONG: [StaticHandler; 8] = in_exit_order!(70_000);

    #[test]
    fn handlers_are_ordered_by_priority_module_line_then_name() {
        // Packed keys, and compared keys.
        for (line_base, handlers) in [(1, &SHORT), (70_000, &LONG)] {
            let expected: Vec<&'static StaticHandler> = handlers.iter().collect();
            for rotation in 0..expected.len() {
                let mut shuffled = expected.clone();
                shuffled.rotate_left(rotation);
                shuffled.swap(0, expected.len() - 1);
                let ordered: Vec<_> = in_order(shuffled.into_iter(), 0).into_iter().map(|(_, h)| h).collect();
                let names = |v: &[&StaticHandler]| v.iter().map(|h| (h.text(), h.line())).collect::<Vec<_>>();
                assert_eq!(names(&ordered), names(&expected), "line base {line_base}, rotation {rotation}");
            }
        }
    }

    #[test]
    fn radix_sort_sorts_stably_like_sort() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for n in [0usize, 1, 2, 50, 300] {
            let mut items: Vec<(u64, usize)> = (0..n)
                .map(|i| {
                    let key = match i % 3 {
                        0 => next() % 8,
                        1 => next() % 3000,
                        _ => next(),
                    };
                    (key, i)
                })
                .collect();
            let mut expected = items.clone();
            expected.sort_by_key(|&(key, _)| key);
            radix_sort_by(&mut items, |&(key, _)| key);
            // Stable: equal keys keep their original order, as `sort_by_key` does.
            assert_eq!(items, expected);
        }
    }
}
