//! The registry: pending handlers in exit order, and the run that drains them. Higher priority first, then last
//! registered first: one stack per priority, in registration order, so the next handler tops the highest stack. Removal
//! from the middle empties the entry rather than shifting; a mostly empty stack is compacted. Sequence numbers grow
//! along a stack, so binary search finds an entry after any compaction; a handle's index is a fast path. Nothing here
//! knows the process: `process.rs` keeps its own [`Stacks`] and rules.

use std::fmt;
use std::sync::{Arc, OnceLock, Weak};

use crate::callback::{Callback, ExitFn};
use crate::identity::{Function, Identity};
use crate::lock::Lock;
use crate::panic::{HandlerPanic, drop_quietly};
use crate::runlock::RunLock;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Key {
    seq: u64,
    priority: i32,
    index: u32,
}

impl Key {
    /// For a registration turned away: finds nothing.
    pub(crate) fn nothing(priority: i32) -> Key {
        Key { seq: u64::MAX, priority, index: u32::MAX }
    }
    /// All but the priority (the caller knows it): two words, returned in registers.
    #[inline]
    pub(crate) fn place(self) -> (u64, u32) {
        (self.seq, self.index)
    }

    #[inline]
    pub(crate) fn from_place(priority: i32, (seq, index): (u64, u32)) -> Key {
        Key { seq, priority, index }
    }
}

/// Small: keeps only the identity's fingerprint, which `unregister` compares before confirming a match.
pub(crate) struct Entry {
    seq: u64,
    fingerprint: u64,
    /// [`Callback::nothing`] once taken out of the middle of the stack.
    callback: Callback,
}

impl Entry {
    fn is_empty(&self) -> bool {
        self.callback.is_nothing()
    }
    fn take(&mut self) -> Option<Callback> {
        let callback = std::mem::replace(&mut self.callback, Callback::nothing());
        (!callback.is_nothing()).then_some(callback)
    }
}

struct Stack {
    priority: i32,
    entries: Vec<Entry>,
    /// Entries whose callback was taken out (never the top one).
    empty: usize,
}

impl Stack {
    const fn new(priority: i32) -> Stack {
        Stack { priority, entries: Vec::new(), empty: 0 }
    }
    fn find(&self, key: Key) -> Option<usize> {
        match self.entries.get(key.index as usize) {
            Some(entry) if entry.seq == key.seq => Some(key.index as usize),
            _ => self.entries.binary_search_by_key(&key.seq, |e| e.seq).ok(),
        }
    }

    /// Takes the callback at `index` out; [`tidy`](Stack::tidy) after.
    fn take(&mut self, index: usize) -> Option<Callback> {
        let callback = self.entries[index].take()?;
        self.empty += 1;
        Some(callback)
    }

    /// Keeps the top entry full and at most half of the entries empty.
    fn tidy(&mut self) {
        while self.entries.last().is_some_and(Entry::is_empty) {
            self.entries.pop();
            self.empty -= 1;
        }
        if self.empty > 16 && self.empty * 2 > self.entries.len() {
            self.entries.retain(|e| !e.is_empty());
            self.empty = 0;
        }
    }

    fn pop(&mut self) -> Option<Callback> {
        // The top entry is never empty (`tidy`).
        let top = self.entries.pop()?;
        self.tidy();
        Some(top.callback)
    }
}

/// The pending handlers of one registry.
pub(crate) struct Stacks {
    /// The stack last registered to, kept apart: most registrations share one priority, one load nearer here.
    current: Stack,
    /// The other stacks, by ascending priority; emptied ones stay, keeping their memory for new registrations.
    others: Vec<Stack>,
    len: usize,
    next_seq: u64,
}

impl Stacks {
    pub(crate) const fn new() -> Self {
        Stacks { current: Stack::new(0), others: Vec::new(), len: 0, next_seq: 0 }
    }

    #[inline]
    fn stack(&mut self, priority: i32) -> &mut Stack {
        if self.current.priority != priority {
            self.make_current(priority);
        }
        &mut self.current
    }

    /// Moves the stack of `priority` (made if missing) to `current`, and the one there to `others`.
    #[cold]
    fn make_current(&mut self, priority: i32) {
        let stack = match self.place(priority) {
            Ok(at) => self.others.remove(at),
            Err(_) => Stack::new(priority),
        };
        let previous = std::mem::replace(&mut self.current, stack);
        if let Err(at) = self.place(previous.priority) {
            self.others.insert(at, previous);
        }
    }

    #[inline]
    pub(crate) fn insert(&mut self, priority: i32, fingerprint: u64, callback: Callback) -> Key {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.len += 1;
        let stack = self.stack(priority);
        let index = stack.entries.len();
        stack.entries.push(Entry { seq, fingerprint, callback });
        Key { seq, priority, index: index as u32 }
    }

    /// Where among the others the stack of `priority` is, or would go.
    fn place(&self, priority: i32) -> Result<usize, usize> {
        self.others.binary_search_by_key(&priority, |s| s.priority)
    }

    fn find(&mut self, priority: i32) -> Option<&mut Stack> {
        if self.current.priority == priority {
            return Some(&mut self.current);
        }
        let at = self.place(priority).ok()?;
        Some(&mut self.others[at])
    }
    fn all(&mut self) -> impl Iterator<Item = &mut Stack> {
        std::iter::once(&mut self.current).chain(&mut self.others)
    }

    pub(crate) fn remove(&mut self, key: Key) -> Option<Callback> {
        let stack = self.find(key.priority)?;
        let taken = stack.take(stack.find(key)?);
        stack.tidy();
        self.len -= usize::from(taken.is_some());
        taken
    }

    pub(crate) fn contains(&mut self, key: Key) -> bool {
        let Some(stack) = self.find(key.priority) else { return false };
        stack.find(key).is_some_and(|i| !stack.entries[i].is_empty())
    }

    /// Whether a handler of `priority` or higher is pending.
    pub(crate) fn has_from(&self, priority: i32) -> bool {
        let pending = |stack: &Stack| stack.priority >= priority && !stack.entries.is_empty();
        pending(&self.current) || self.others.iter().rev().take_while(|s| s.priority >= priority).any(pending)
    }

    /// Whether the next handler to run is on top of `current`.
    fn current_runs_next(&self) -> bool {
        let priority = self.current.priority;
        !self.current.entries.is_empty()
            && self.others.iter().rev().take_while(|stack| stack.priority > priority).all(|s| s.entries.is_empty())
    }

    pub(crate) fn pop_next(&mut self) -> Option<Callback> {
        let callback = if self.current_runs_next() {
            self.current.pop()
        } else {
            self.others.iter_mut().rev().find_map(Stack::pop)
        }?;
        self.len -= 1;
        Some(callback)
    }

    /// Takes out every pending handler for which `pick(fingerprint, handler)` is true.
    pub(crate) fn take_where(&mut self, mut pick: impl FnMut(u64, &Callback) -> bool) -> Vec<Callback> {
        let mut taken = Vec::new();
        for stack in self.all() {
            for at in 0..stack.entries.len() {
                let entry = &stack.entries[at];
                if !entry.is_empty() && pick(entry.fingerprint, &entry.callback) {
                    taken.extend(stack.take(at));
                }
            }
            stack.tidy();
        }
        self.len -= taken.len();
        taken
    }

    /// Takes out every registration of `identity`, to drop unlocked (a captured value's destructor may use it).
    pub(crate) fn take_identity(&mut self, identity: Identity) -> Vec<Callback> {
        let fingerprint = identity.fingerprint();
        self.take_where(|f, callback| f == fingerprint && callback.identity() == identity)
    }
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Takes every pending handler out; [`keep_memory`](Stacks::keep_memory) gives the memory back after.
    pub(crate) fn take_all(&mut self) -> Vec<(i32, Vec<Entry>)> {
        self.len = 0;
        let take = |stack: &mut Stack| {
            stack.empty = 0;
            (stack.priority, std::mem::take(&mut stack.entries))
        };
        self.all().map(take).collect()
    }

    /// After a `clear`, gives each still-empty stack its memory back, as CPython's `atexit._clear` keeps its array.
    pub(crate) fn keep_memory(&mut self, taken: Vec<(i32, Vec<Entry>)>) {
        for (priority, entries) in taken {
            let stack = self.stack(priority);
            if stack.entries.is_empty() && stack.entries.capacity() < entries.capacity() {
                stack.entries = entries;
            }
        }
    }
}

/// Drops what `clear` took out (outside the lock), keeping the memory.
pub(crate) fn emptied(mut taken: Vec<(i32, Vec<Entry>)>) -> Vec<(i32, Vec<Entry>)> {
    for (_, entries) in &mut taken {
        entries.clear();
    }
    taken
}

/// What a [`Handle`] asks of the registry it came from.
pub(crate) trait Registrations: Sync {
    fn take(&self, key: Key) -> Option<Callback>;
    /// Takes it out for the caller to run now ([`Handle::run`]).
    fn take_to_run(&self, key: Key) -> Option<Callback> {
        self.take(key)
    }
    fn contains(&self, key: Key) -> bool;
}

struct Shared {
    state: Lock<Stacks>,
    run_lock: RunLock,
}

impl Registrations for Shared {
    fn take(&self, key: Key) -> Option<Callback> {
        self.state.lock().remove(key)
    }
    fn contains(&self, key: Key) -> bool {
        self.state.lock().contains(key)
    }
}

impl Shared {
    /// Runs every pending handler once, in order, until none is left (late registrations too); returns the last panic.
    fn run(&self) -> Result<(), HandlerPanic> {
        let run = self.run_lock.acquire();
        let mut last = None;
        let mut exit_request = None;
        loop {
            let next = self.state.lock().pop_next();
            let Some(callback) = next else { break };
            let Err(panic) = callback.run() else { continue };
            if panic.is_exit_request() {
                // `exit(n)` in the process registry's run: finish this registry, then end the handler that ran it, as
                // it would end a direct caller.
                exit_request = Some(panic);
                continue;
            }
            panic.report();
            drop_quietly(last.replace(panic));
        }
        drop(run);
        if let Some(request) = exit_request {
            drop_quietly(last);
            request.resume();
        }
        last.map_or(Ok(()), Err)
    }
}

/// How a [`Handle`] reaches its registry: the process one is a `static`; a local one is not kept alive.
enum Owner {
    Process(&'static dyn Registrations),
    Shared(Weak<Shared>),
}

/// One registration, returned by every `register`.
///
/// [`unregister`](Handle::unregister) removes only this registration, not others of the same function. Dropping a
/// `Handle` leaves the handler registered. A handle does not keep a local [`Registry`] alive.
///
/// ```
/// # extern crate atexit_core as atexit;
/// let handle = atexit::register(|| println!("close the database"));
/// assert!(handle.is_pending());
/// // Closed another way: this handler is no longer needed.
/// assert!(handle.unregister());
/// ```
pub struct Handle {
    owner: Owner,
    key: Key,
}

impl Handle {
    #[inline]
    pub(crate) fn in_process(registrations: &'static dyn Registrations, key: Key) -> Handle {
        Handle { owner: Owner::Process(registrations), key }
    }

    fn with<R>(&self, f: impl FnOnce(&dyn Registrations) -> R) -> Option<R> {
        match &self.owner {
            Owner::Process(registrations) => Some(f(*registrations)),
            Owner::Shared(weak) => weak.upgrade().map(|local| f(&*local)),
        }
    }

    /// Removes this registration. Returns `false` if it already ran, was already removed (by `unregister`, `clear` or
    /// another handle), or its registry is gone.
    pub fn unregister(self) -> bool {
        // Dropped outside the lock: a captured value's destructor may use the registry.
        self.with(|inner| inner.take(self.key)).flatten().map(drop).is_some()
    }

    /// Runs this registration now, on this thread, and removes it: it runs once, when the program is done with it or at
    /// exit, whichever comes first. Returns `Ok(false)` if it already ran or was removed, if its registry is gone, or
    /// if the process is exiting and this thread does not act for the exit's run (which runs it).
    ///
    /// Unlike a scope guard's `Drop`, a registration runs on `std::process::exit`, a handled signal, or `main`
    /// returning with the guard in a `static` or another thread, but not at scope end: call `run` there.
    ///
    /// # Errors
    ///
    /// The handler's panic, caught (and not reported: the caller has it).
    ///
    /// ```
    /// # extern crate atexit_core as atexit;
    /// let close = atexit::register(|| println!("database closed"));
    /// // ... done with the database:
    /// assert!(close.run()?);
    /// # Ok::<(), atexit::HandlerPanic>(())
    /// ```
    pub fn run(self) -> Result<bool, HandlerPanic> {
        match self.with(|inner| inner.take_to_run(self.key)).flatten().map(Callback::run) {
            // `exit(n)` inside the process registry's run ends the caller too.
            Some(Err(panic)) if panic.is_exit_request() => panic.resume(),
            Some(result) => result.map(|()| true),
            None => Ok(false),
        }
    }

    /// Whether this registration is still waiting to run.
    pub fn is_pending(&self) -> bool {
        self.with(|inner| inner.contains(self.key)).unwrap_or(false)
    }
    /// The priority it was registered with.
    pub fn priority(&self) -> i32 {
        self.key.priority
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("priority", &self.key.priority)
            .field("pending", &self.is_pending())
            .finish_non_exhaustive()
    }
}

/// A set of exit handlers with the process registry's semantics, for a subsystem's shutdown hooks or a test.
///
/// Handlers run in the process registry's order; [`run`](Registry::run) drains it, and dropping it runs what is
/// pending. Methods take `&self` and it is `Send + Sync`: share it in an `Arc` or a `static` ([`new`](Registry::new) is
/// `const`). A `static` is never dropped: run it yourself, say from a process-registry handler:
///
/// ```
/// # extern crate atexit_core as atexit;
/// static CONNECTIONS: atexit::Registry = atexit::Registry::new();
///
/// CONNECTIONS.register(|| println!("connection closed"));
/// atexit::register(|| {
///     let _ = CONNECTIONS.run();
/// });
/// # atexit::run_exitfuncs().unwrap();
/// ```
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
#[derive(Default)]
pub struct Registry {
    /// Made at first use, so that `new` can be `const`.
    inner: OnceLock<Arc<Shared>>,
}

impl Registry {
    /// An empty registry.
    pub const fn new() -> Self {
        Registry { inner: OnceLock::new() }
    }

    /// Registers `f` to run when this registry runs, at priority 0 (options: [`Registration`](crate::Registration)).
    #[track_caller]
    pub fn register<F: ExitFn>(&self, f: F) -> Handle {
        self.insert(0, Identity::of(&f).fingerprint(), crate::callback::plain(f))
    }
    fn inner(&self) -> &Arc<Shared> {
        self.inner.get_or_init(|| Arc::new(Shared { state: Lock::new(Stacks::new()), run_lock: RunLock::new() }))
    }
    pub(crate) fn insert(&self, priority: i32, fingerprint: u64, callback: Callback) -> Handle {
        let key = self.inner().state.lock().insert(priority, fingerprint, callback);
        Handle { owner: Owner::Shared(Arc::downgrade(self.inner())), key }
    }

    /// Removes every pending registration of the function `f`, whatever it was registered with, and returns how many
    /// there were (0 if none). What counts as the same function: see [`unregister`](crate::unregister).
    pub fn unregister<F: Function<Args>, Args>(&self, f: F) -> usize {
        let taken = self.inner().state.lock().take_identity(Identity::of(&f));
        taken.len()
    }

    /// Runs every pending handler now, in exit order, at most once each, emptying the registry; those registered
    /// meanwhile run in place, those unregistered do not. Runs are serialised; `run` in a handler continues the run.
    ///
    /// # Errors
    ///
    /// A panicking handler is reported on stderr with its name and the others still run; the last panic is returned.
    pub fn run(&self) -> Result<(), HandlerPanic> {
        self.inner().run()
    }

    /// Drops every pending handler without running it.
    pub fn clear(&self) {
        // Dropped outside the lock: a captured value's destructor may use the registry.
        let taken = self.inner().state.lock().take_all();
        let taken = emptied(taken);
        self.inner().state.lock().keep_memory(taken);
    }

    /// How many handlers are pending.
    pub fn len(&self) -> usize {
        self.inner().state.lock().len()
    }
    /// Whether no handler is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registry").field("len", &self.len()).finish()
    }
}

impl Drop for Registry {
    /// Runs what is still pending; panics were reported on stderr.
    fn drop(&mut self) {
        if self.inner.get().is_some() {
            drop_quietly(self.run());
        }
    }
}
