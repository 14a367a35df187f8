//! The registry: pending handlers in exit order, and the run that drains them.
//!
//! Order: higher priority first; within one priority, last registered first.
//! Each priority has its own stack of slots, pushed in registration order, so
//! the next handler to run is always the top of the highest stack. Removing a
//! handler from the middle (`unregister`, `Handle::unregister`) empties its
//! slot rather than shifting the stack; a stack is compacted when more than
//! half of it is empty. Slots carry their sequence number, which only grows
//! along a stack, so a slot is found by binary search however the stack was
//! compacted. An index from identity to keys, brought up to date by
//! `unregister` itself, makes `unregister(f)` touch only `f`'s
//! registrations and those made since the last `unregister`, never the whole
//! registry, while `register` and runs do no index work at all.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Weak};

use crate::callback::{ErasedCallback, Plain, VTable, Word};
use crate::fork;
use crate::global::{GLOBAL_INNER, exit_has_begun};
use crate::identity::{Function, Identity};
use crate::lock::{Guard, Lock};
use crate::observe::{RunKind, Watch};
use crate::panic::{HandlerPanic, drop_quietly};
use crate::registration::Handle;
use crate::runlock::RunLock;
use crate::statics;

/// Where a registration sits: enough to find it again. Two words, so that
/// it comes back from `register` in two registers rather than through
/// memory.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Key {
    pub(crate) seq: u64,
    /// The priority (high half) and the position hint (low half).
    place: u64,
}

impl Key {
    pub(crate) fn new(seq: u64, priority: i32, hint: u32) -> Key {
        Key { seq, place: (u64::from(priority as u32) << 32) | u64::from(hint) }
    }

    pub(crate) fn priority(self) -> i32 {
        (self.place >> 32) as u32 as i32
    }

    /// Where the slot was when last seen, counted from the stack's `base`:
    /// it is there unless the stack was compacted in the middle since.
    fn hint(self) -> u32 {
        self.place as u32
    }
}

/// A registration in its stack: an `Option<ErasedCallback>` with the
/// sequence number, kept as separate words so that a registration writes
/// them straight from registers (see `Inner::insert`).
struct Slot {
    seq: u64,
    /// `None` once the callback was taken out.
    vtable: Option<&'static VTable>,
    word: Word,
}

// SAFETY: a slot owns an `ErasedCallback` (or nothing), which is `Send`.
unsafe impl Send for Slot {}

impl Slot {
    fn new(seq: u64, callback: ErasedCallback) -> Slot {
        let (word, vtable) = callback.into_parts();
        Slot { seq, vtable: Some(vtable), word }
    }

    fn is_empty(&self) -> bool {
        self.vtable.is_none()
    }

    fn take(&mut self) -> Option<ErasedCallback> {
        // SAFETY: `word` and `vtable` are the halves of one callback, and
        // taking `vtable` makes this the only use of them.
        self.vtable.take().map(|vtable| unsafe { ErasedCallback::from_parts(self.word, vtable) })
    }

    fn put(&mut self, callback: ErasedCallback) {
        *self = Slot::new(self.seq, callback);
    }

    /// The identity of the callback it holds, if any.
    fn identity(&self) -> Option<Identity> {
        // SAFETY: the halves of the callback this slot still owns.
        self.vtable.map(|vtable| unsafe { ErasedCallback::identity_in(&self.word, vtable) })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        drop(self.take());
    }
}

#[derive(Default)]
#[repr(C)]
struct Stack {
    slots: Vec<Slot>,
    /// Slots whose callback was taken out of the middle.
    empty: u32,
    /// The position of `slots[0]` as keys count positions: it grows when
    /// empty slots are cut off the bottom, so keys of the slots above stay
    /// exact. Wraps; a key's `seq` confirms every guess.
    base: u32,
}

impl Stack {
    /// Where a key's position hint says the slot is now.
    fn hint(&self, key: Key) -> usize {
        key.hint().wrapping_sub(self.base) as usize
    }

    /// The hint a key gets for the slot at `index`.
    fn key_hint(&self, index: usize) -> u32 {
        self.base.wrapping_add(index as u32)
    }

    fn position(&self, key: Key) -> Option<usize> {
        let hint = self.hint(key);
        match self.slots.get(hint) {
            Some(slot) if slot.seq == key.seq => Some(hint),
            _ => self.slots.binary_search_by_key(&key.seq, |s| s.seq).ok(),
        }
    }

    /// Takes the callback at `seq`, keeping the stack's invariants: no empty
    /// slot on top, at most half the slots empty.
    fn take(&mut self, key: Key) -> Option<ErasedCallback> {
        let i = self.position(key)?;
        let callback = self.slots[i].take()?;
        self.empty += 1;
        self.trim();
        if self.empty > 16 && self.empty as usize * 2 > self.slots.len() {
            self.compact();
        }
        Some(callback)
    }

    /// Drops the empty slots. When most of them are at the bottom (the
    /// oldest registrations removed first), those are cut off and `base`
    /// moves up, so every key stays exact; otherwise every slot moves down
    /// and keys fall back on binary search.
    #[cold]
    fn compact(&mut self) {
        let bottom = self.slots.iter().take_while(|s| s.is_empty()).count();
        if bottom * 2 >= self.empty as usize {
            self.slots.drain(..bottom);
            self.base = self.base.wrapping_add(bottom as u32);
            self.empty -= bottom as u32;
        } else {
            self.slots.retain(|s| !s.is_empty());
            self.empty = 0;
        }
    }

    fn pop(&mut self) -> Option<ErasedCallback> {
        let mut slot = self.slots.pop()?;
        self.trim();
        // The top slot is never empty (see `trim`).
        slot.take()
    }

    fn trim(&mut self) {
        while self.slots.last().is_some_and(Slot::is_empty) {
            self.slots.pop();
            self.empty -= 1;
        }
    }
}

/// The stacks by priority. Priority 0, by far the most used, has its own
/// stack outside the map, so most registrations and runs skip the map.
#[derive(Default)]
#[repr(C)]
struct Stacks {
    default: Stack,
    /// Every other priority with a non-empty stack, highest first.
    others: BTreeMap<Reverse<i32>, Stack>,
}

impl Stacks {
    fn get_or_insert(&mut self, priority: i32) -> &mut Stack {
        if priority == 0 { &mut self.default } else { self.others.entry(Reverse(priority)).or_default() }
    }

    fn get(&self, priority: i32) -> Option<&Stack> {
        if priority == 0 { Some(&self.default) } else { self.others.get(&Reverse(priority)) }
    }

    fn get_mut(&mut self, priority: i32) -> Option<&mut Stack> {
        if priority == 0 { Some(&mut self.default) } else { self.others.get_mut(&Reverse(priority)) }
    }

    /// Forgets the stack of `priority` if it is empty.
    fn prune(&mut self, priority: i32) {
        if priority != 0 && self.others.get(&Reverse(priority)).is_some_and(|s| s.slots.is_empty()) {
            self.others.remove(&Reverse(priority));
        }
    }

    /// The highest-priority stack that is not empty.
    fn next(&mut self) -> Option<(i32, &mut Stack)> {
        let above_default = self.others.first_key_value().is_some_and(|(Reverse(p), _)| *p > 0);
        if !above_default && !self.default.slots.is_empty() {
            return Some((0, &mut self.default));
        }
        self.others.iter_mut().next().map(|(Reverse(p), stack)| (*p, stack))
    }

    fn iter(&self) -> impl Iterator<Item = (i32, &Stack)> {
        std::iter::once((0, &self.default)).chain(self.others.iter().map(|(Reverse(p), s)| (*p, s)))
    }

    fn iter_mut(&mut self) -> impl Iterator<Item = &mut Stack> {
        std::iter::once(&mut self.default).chain(self.others.values_mut())
    }
}

/// Laid out in order, so that what every registration and run writes (the
/// fields up to the priority-0 stack: 48 bytes) fits in one cache line; the
/// lock puts the state at the start of one.
#[repr(C)]
pub(crate) struct State {
    next_seq: u64,
    len: usize,
    stacks: Stacks,
    /// The `fork()` generation these registrations belong to.
    fork_epoch: u64,
    statics_loaded: bool,
    /// Where each identity's registrations are, for `unregister(f)`. Built
    /// by `unregister` itself, not by `register`, so registering and running
    /// never pay for it: it covers the registrations below `indexed_to`, and
    /// may still list some that have since run or been removed.
    index: BTreeMap<Identity, Vec<Key>>,
    indexed_to: u64,
    index_entries: usize,
}

impl State {
    /// Adds a registration, given as the two halves of its
    /// `ErasedCallback`; see `Inner::insert`.
    fn insert(&mut self, priority: i32, word: Word, vtable: &'static VTable) -> Key {
        let seq = self.next_seq;
        self.next_seq += 1;
        let stack = self.stacks.get_or_insert(priority);
        let hint = stack.key_hint(stack.slots.len());
        stack.slots.push(Slot { seq, vtable: Some(vtable), word });
        self.len += 1;
        Key::new(seq, priority, hint)
    }

    fn take(&mut self, key: Key) -> Option<ErasedCallback> {
        let callback = self.stacks.get_mut(key.priority())?.take(key)?;
        self.stacks.prune(key.priority());
        self.len -= 1;
        Some(callback)
    }

    /// Brings the index up to date: the registrations made since it was last
    /// brought up to date are added (each is indexed once), and when it lists
    /// more than twice what is pending it is rebuilt from what is pending.
    fn update_index(&mut self) {
        if self.index_entries > 2 * self.len + 1024 {
            self.forget_index(0);
        }
        let from = self.indexed_to;
        for (priority, stack) in self.stacks.iter() {
            // Sequence numbers grow along a stack: the new ones are on top.
            let new = stack.slots.iter().enumerate().rev().take_while(|(_, slot)| slot.seq >= from);
            for (position, slot) in new {
                if let Some(identity) = slot.identity() {
                    let key = Key::new(slot.seq, priority, stack.key_hint(position));
                    self.index.entry(identity).or_default().push(key);
                    self.index_entries += 1;
                }
            }
        }
        self.indexed_to = self.next_seq;
    }

    /// Empties the index; it will next cover the registrations from
    /// `indexed_to` on.
    fn forget_index(&mut self, indexed_to: u64) {
        self.index.clear();
        self.index_entries = 0;
        self.indexed_to = indexed_to;
    }

    fn take_identity(&mut self, identity: Identity) -> Vec<ErasedCallback> {
        self.update_index();
        let keys = self.index.remove(&identity).unwrap_or_default();
        self.index_entries -= keys.len();
        // Keys of registrations that already ran or were removed find nothing.
        keys.into_iter().filter_map(|key| self.take(key)).collect()
    }

    fn pop_next(&mut self) -> Option<ErasedCallback> {
        let (priority, stack) = self.stacks.next()?;
        let callback = stack.pop()?;
        self.stacks.prune(priority);
        self.len -= 1;
        Some(callback)
    }

    /// Drops every registration, keeping the sequence numbers growing so
    /// old handles never match new registrations; returns them, to be
    /// dropped outside the lock.
    fn take_all(&mut self) -> Stacks {
        self.len = 0;
        self.forget_index(self.next_seq);
        std::mem::take(&mut self.stacks)
    }

    /// Takes in the `#[atexit::register]` handlers, at the bottom of their
    /// stacks: they are numbered below every runtime registration. Done when
    /// the whole registry is first needed (a run, `unregister`, `len`,
    /// `clear`), not by `register`, so that a registration made in a
    /// constructor, before every crate's constructors have submitted their
    /// static handlers, does not take them in early and miss some.
    fn load_statics(&mut self) {
        self.statics_loaded = true;
        let handlers = statics::collected();
        let mut seq = 0;
        for same_priority in handlers.chunk_by(|(_, a), (_, b)| a.priority() == b.priority()) {
            let slots: Vec<Slot> = same_priority
                .iter()
                .map(|&(_, handler)| {
                    seq += 1;
                    Slot::new(seq, ErasedCallback::new(handler))
                })
                .collect();
            self.len += slots.len();
            let stack = self.stacks.get_or_insert(same_priority[0].1.priority());
            if stack.slots.is_empty() {
                stack.slots = slots;
            } else {
                stack.slots.splice(0..0, slots);
            }
        }
        // The index only looks at newer registrations; these are older.
        self.forget_index(0);
    }

    /// In a `fork()`ed child, at its first use of the registry: the parent's
    /// registrations are not the child's to run, unless registered to be
    /// inherited. Their closures are leaked, not dropped: a destructor could
    /// flush the parent's buffers a second time.
    fn drop_parents_registrations(&mut self) {
        self.fork_epoch = fork::epoch();
        // Static handlers count as the parent's: they were registered at load time.
        self.statics_loaded = true;
        self.forget_index(0);
        self.len = 0;
        for stack in self.stacks.iter_mut() {
            stack.slots.retain_mut(|slot| match slot.take() {
                Some(callback) if callback.inherited() => {
                    slot.put(callback);
                    self.len += 1;
                    true
                }
                Some(callback) => {
                    std::mem::forget(callback);
                    false
                }
                None => false,
            });
            stack.empty = 0;
        }
        self.stacks.others.retain(|_, stack| !stack.slots.is_empty());
    }

    fn contains(&self, key: Key) -> bool {
        self.stacks
            .get(key.priority())
            .and_then(|stack| stack.position(key).map(|i| !stack.slots[i].is_empty()))
            .unwrap_or(false)
    }
}

/// A registration from another thread during the exit run: dropped, with a
/// key that finds nothing. Out of line, so that its drop does not weigh on
/// `insert`'s fast path.
#[cold]
#[inline(never)]
fn turn_away(priority: i32, word: Word, vtable: &'static VTable) -> Key {
    // SAFETY: the two halves of the `ErasedCallback` taken apart in `Inner::insert`.
    drop(unsafe { ErasedCallback::from_parts(word, vtable) });
    Key::new(u64::MAX, priority, u32::MAX)
}

/// Runtime registrations are numbered from here; static handlers below it,
/// so they count as registered first whenever they are taken in.
const FIRST_RUNTIME_SEQ: u64 = 1 << 32;

/// The process registry's first use in a `fork()`ed child: drop the
/// parent's registrations; and, when `statics` asks for the whole registry,
/// take in the static handlers once.
#[cold]
fn settle(state: &mut State, statics: bool) {
    if state.fork_epoch != fork::epoch() {
        state.drop_parents_registrations();
    }
    if statics && !state.statics_loaded {
        state.load_statics();
    }
}

/// The shared state behind a [`Registry`] and its [`Handle`]s.
pub(crate) struct Inner {
    state: Lock<State>,
    pub(crate) run_lock: RunLock,
    /// Whether this is the process registry: the one that takes in the
    /// `#[atexit::register]` handlers, forgets its parent's registrations in
    /// a `fork()`ed child, and turns away other threads during the exit.
    is_process: bool,
}

impl Inner {
    pub(crate) const fn new() -> Self {
        Inner::with_role(false)
    }

    /// The process registry's state.
    pub(crate) const fn process() -> Self {
        Inner::with_role(true)
    }

    const fn with_role(is_process: bool) -> Self {
        Inner {
            state: Lock::new(State {
                statics_loaded: false,
                fork_epoch: 0,
                next_seq: FIRST_RUNTIME_SEQ,
                len: 0,
                stacks: Stacks { default: Stack { slots: Vec::new(), empty: 0, base: 0 }, others: BTreeMap::new() },
                index: BTreeMap::new(),
                indexed_to: 0,
                index_entries: 0,
            }),
            run_lock: RunLock::new(),
            is_process,
        }
    }

    /// The state, whole: with the static handlers taken in.
    #[inline]
    fn state(&self) -> Guard<'_, State> {
        self.lock(true)
    }

    /// The state for one registration: static handlers may not be taken in.
    #[inline]
    fn lock(&self, statics: bool) -> Guard<'_, State> {
        let mut state = self.state.lock();
        if self.is_process && (state.fork_epoch != fork::epoch() || (statics && !state.statics_loaded)) {
            settle(&mut state, statics);
        }
        state
    }

    /// Adds a registration. While the process is exiting, one from a thread
    /// other than the one running the handlers is dropped instead: it came
    /// too late, and running every such arrival would let busy threads keep
    /// the exit from ever finishing. Its key finds nothing.
    #[inline]
    pub(crate) fn insert(&self, priority: i32, callback: ErasedCallback) -> Key {
        // Passed on as two words, kept in registers until stored in its
        // slot: through memory, it is written in halves and read back whole,
        // which stalls the processor (store forwarding fails) for about as
        // long as the rest of a registration takes.
        let (word, vtable) = callback.into_parts();
        self.insert_parts(priority, word, vtable)
    }

    fn insert_parts(&self, priority: i32, word: Word, vtable: &'static VTable) -> Key {
        if self.is_process && exit_has_begun() && self.run_lock.is_held() && !self.run_lock.is_held_by_current_thread()
        {
            return turn_away(priority, word, vtable);
        }
        self.lock(false).insert(priority, word, vtable)
    }

    #[inline]
    pub(crate) fn remove(&self, key: Key) -> bool {
        let taken = self.lock(false).take(key);
        // Dropped outside the lock: a captured value's destructor may use the registry.
        taken.map(drop).is_some()
    }

    pub(crate) fn contains(&self, key: Key) -> bool {
        self.lock(false).contains(key)
    }

    pub(crate) fn unregister(&self, identity: Identity) -> usize {
        let taken = self.state().take_identity(identity);
        let n = taken.len();
        drop(taken);
        n
    }

    pub(crate) fn len(&self) -> usize {
        self.state().len
    }

    /// Drops every pending registration, outside the lock, and then gives
    /// the priority-0 stack its buffer back if it is still empty, so that
    /// registering after `clear` does not grow a buffer again from nothing
    /// (CPython's `atexit._clear` keeps its array too).
    pub(crate) fn clear(&self) {
        let mut taken = self.state().take_all();
        taken.default.slots.clear();
        let buffer = std::mem::take(&mut taken.default.slots);
        drop(taken);
        let mut state = self.lock(false);
        let slots = &mut state.stacks.default.slots;
        if slots.is_empty() && slots.capacity() < buffer.capacity() {
            *slots = buffer;
        }
    }

    /// Holds the state across `fork()`; see `fork.rs`.
    #[cfg(all(unix, not(miri)))]
    pub(crate) fn lock_for_fork(&self) -> Guard<'_, State> {
        self.state.lock()
    }

    /// Runs every pending handler, in order, each once, until none is left,
    /// including those registered while the run goes on.
    pub(crate) fn run(&self, kind: RunKind) -> Result<(), HandlerPanic> {
        let run = self.run_lock.acquire();
        let watch = if run.is_outermost() { Watch::start(kind) } else { None };
        let mut last = None;
        loop {
            let next = self.state().pop_next();
            let Some(callback) = next else { break };
            let result = match &watch {
                None => callback.run(),
                Some(watch) => watch.run(callback),
            };
            if let Err(panic) = result {
                if panic.is_exit_request() {
                    drop_quietly(panic);
                    continue;
                }
                panic.report();
                if let Some(previous) = last.replace(panic) {
                    drop_quietly(previous);
                }
            }
        }
        last.map_or(Ok(()), Err)
    }
}

/// How a [`Registry`] reaches its state. One word: the process registry is
/// a static and needs no pointer.
pub(crate) enum Shared {
    Process,
    Owned(Arc<Inner>),
}

impl Shared {
    #[inline]
    pub(crate) fn inner(&self) -> &Inner {
        match self {
            Shared::Process => &GLOBAL_INNER,
            Shared::Owned(inner) => inner,
        }
    }
}

/// A weak reference for handles, so a handle does not keep a registry
/// alive. One word, like `Shared`, so a `Handle` is three.
pub(crate) enum WeakShared {
    Process,
    Owned(Weak<Inner>),
}

impl WeakShared {
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&Inner) -> R) -> Option<R> {
        match self {
            WeakShared::Process => Some(f(&GLOBAL_INNER)),
            WeakShared::Owned(weak) => weak.upgrade().map(|inner| f(&inner)),
        }
    }
}

/// A set of exit handlers with the process registry's semantics, for code
/// that wants its own: a subsystem's shutdown hooks, a test.
///
/// Handlers run in the same order as at exit: higher priority first, then
/// last registered first. [`run`](Registry::run) drains it; dropping it runs
/// whatever is still pending. All methods take `&self`, and a `Registry` is
/// `Send + Sync`, so it can be shared between threads (put it in an `Arc` or
/// a `static`).
///
/// ```
/// # extern crate atexit_core as atexit;
/// use std::sync::{Arc, Mutex};
///
/// let log = Arc::new(Mutex::new(Vec::new()));
/// let registry = atexit::Registry::new();
/// for name in ["a", "b", "c"] {
///     let log = Arc::clone(&log);
///     registry.register(move || log.lock().unwrap().push(name));
/// }
/// registry.run().unwrap();
/// assert_eq!(*log.lock().unwrap(), ["c", "b", "a"]);
/// assert_eq!(registry.len(), 0);
/// ```
pub struct Registry {
    pub(crate) shared: Shared,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Registry { shared: Shared::Owned(Arc::new(Inner::new())) }
    }

    /// The process registry, whose state is `GLOBAL_INNER`.
    pub(crate) const fn process() -> Self {
        Registry { shared: Shared::Process }
    }

    #[inline]
    pub(crate) fn weak(&self) -> WeakShared {
        match &self.shared {
            Shared::Process => WeakShared::Process,
            Shared::Owned(inner) => WeakShared::Owned(Arc::downgrade(inner)),
        }
    }

    /// Registers `f` to run once when this registry runs, at priority 0.
    ///
    /// For a priority or a name, use [`Registration`](crate::Registration).
    pub fn register<F: FnOnce() + Send + 'static>(&self, f: F) -> Handle {
        let key = self.shared.inner().insert(0, ErasedCallback::new(Plain(f)));
        Handle::new(self.weak(), key)
    }

    pub(crate) fn insert(&self, priority: i32, callback: ErasedCallback) -> Handle {
        let key = self.shared.inner().insert(priority, callback);
        Handle::new(self.weak(), key)
    }

    /// Removes every pending registration of the function `f`, whatever it
    /// was registered with, and returns how many there were (0 if none).
    ///
    /// See [`unregister`](crate::unregister) for what counts as the same function.
    pub fn unregister<F: Function<Args>, Args>(&self, f: F) -> usize {
        self.shared.inner().unregister(Identity::of(&f))
    }

    /// Runs every pending handler now, in exit order, each at most once, and
    /// leaves the registry empty.
    ///
    /// Handlers registered while it runs run too, in their place in the
    /// order; pending ones unregistered while it runs do not. A panicking
    /// handler is reported on stderr with its name and the others still run;
    /// the last panic is returned. Runs on two threads are serialised; a
    /// handler that calls `run` continues the same run.
    pub fn run(&self) -> Result<(), HandlerPanic> {
        self.shared.inner().run(RunKind::Local)
    }

    /// Drops every pending handler without running it.
    pub fn clear(&self) {
        self.shared.inner().clear()
    }

    /// How many handlers are pending.
    pub fn len(&self) -> usize {
        self.shared.inner().len()
    }

    /// Whether no handler is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for Registry {
    fn default() -> Self {
        Registry::new()
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").field("len", &self.len()).finish()
    }
}

impl Drop for Registry {
    /// Runs what is still pending; panics are reported on stderr.
    fn drop(&mut self) {
        if let Shared::Owned(_) = self.shared
            && let Err(panic) = self.run()
        {
            drop_quietly(panic);
        }
    }
}

#[cfg(test)]
mod layout {
    #[test]
    fn the_hot_fields_fit_one_cache_line() {
        // What a registration writes.
        let hot = std::mem::offset_of!(super::State, stacks) + std::mem::size_of::<super::Stack>();
        assert!(hot <= 64, "{hot}");
    }

    #[test]
    fn slots_and_handles_are_three_words() {
        assert_eq!(std::mem::size_of::<super::Slot>(), 24);
        assert_eq!(std::mem::size_of::<crate::Handle>(), 24);
    }
}
