//! The registry: pending handlers in exit order, and the run that drains them.
//!
//! Order: higher priority first; within one priority, last registered first.
//! Each priority has a stack of entries pushed in registration order, so the
//! next handler to run is the top of the highest stack. Removing one from
//! the middle (`unregister`, `Handle::unregister`) empties its entry rather
//! than shifting the stack; a stack is compacted when most of it is empty.
//! Sequence numbers grow along a stack, so an entry is found by binary
//! search however the stack was compacted; a handle remembers where its
//! entry was, which is still right unless a compaction moved it.
//!
//! This module knows nothing of the process: the process registry
//! (`process.rs`) keeps a [`Stacks`] of its own, with its own rules.

use std::fmt;
use std::sync::{Arc, OnceLock, Weak};

use crate::callback::{Callback, Closure};
use crate::identity::{Function, Identity};
use crate::lock::Lock;
use crate::panic::{HandlerPanic, drop_quietly};
use crate::runlock::RunLock;

/// Where a registration sits: enough to find it again.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Key {
    seq: u64,
    priority: i32,
    /// Where the entry was put in its stack.
    index: u32,
}

impl Key {
    /// The key of a registration that was turned away: it finds nothing.
    pub(crate) fn nothing(priority: i32) -> Key {
        Key { seq: u64::MAX, priority, index: u32::MAX }
    }

    /// Its parts but the priority, which the caller knows: two words,
    /// which a function returns in registers.
    #[inline]
    pub(crate) fn place(self) -> (u64, u32) {
        (self.seq, self.index)
    }

    #[inline]
    pub(crate) fn from_place(priority: i32, (seq, index): (u64, u32)) -> Key {
        Key { seq, priority, index }
    }
}

/// Small: the identity is kept as its fingerprint, which `unregister`
/// compares first, and confirmed on a match.
pub(crate) struct Entry {
    seq: u64,
    fingerprint: u64,
    /// [`Callback::nothing`] once taken out of the middle of the stack.
    callback: Callback,
}

impl Entry {
    fn new(seq: u64, fingerprint: u64, callback: Callback) -> Entry {
        Entry { seq, fingerprint, callback }
    }

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

    fn take_tidily(&mut self, index: usize) -> Option<Callback> {
        let callback = self.take(index);
        self.tidy();
        callback
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
    /// The stack registrations went to last, kept apart from the others:
    /// most registrations share one priority, and here it is one load nearer.
    current: Stack,
    /// The other priorities' stacks, by ascending priority. Empty stacks
    /// stay, keeping their memory for the next registrations.
    others: Vec<Stack>,
    len: usize,
    next_seq: u64,
}

impl Stack {
    const fn new(priority: i32) -> Stack {
        Stack { priority, entries: Vec::new(), empty: 0 }
    }
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

    /// Puts the stack of `priority` (made if there is none) in `current`,
    /// and the one that was there among the others.
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
        stack.entries.push(Entry::new(seq, fingerprint, callback));
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
        let callback = stack.take_tidily(stack.find(key)?)?;
        self.len -= 1;
        Some(callback)
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

    /// Takes out every pending handler for which `pick` is true, given its
    /// identity's fingerprint and itself.
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
}

impl Stacks {
    /// Takes out every pending registration of `identity`, to be dropped
    /// once the lock is released (a captured value's destructor may use
    /// the registry).
    pub(crate) fn take_identity(&mut self, identity: Identity) -> Vec<Callback> {
        let fingerprint = identity.fingerprint();
        self.take_where(|f, callback| f == fingerprint && callback.identity() == identity)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Takes every pending handler out; [`keep_memory`](Stacks::keep_memory)
    /// gives the emptied stacks back once their handlers are dropped.
    pub(crate) fn take_all(&mut self) -> Vec<(i32, Vec<Entry>)> {
        self.len = 0;
        let take = |stack: &mut Stack| {
            stack.empty = 0;
            (stack.priority, std::mem::take(&mut stack.entries))
        };
        self.all().map(take).collect()
    }

    /// After a `clear`: each stack gets its memory back if it is still
    /// empty, as CPython's `atexit._clear` keeps its array.
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
    /// Takes the registration out, if it is still pending.
    fn take(&self, key: Key) -> Option<Callback>;
    /// Takes it out for the caller to run now ([`Handle::run`]).
    fn take_to_run(&self, key: Key) -> Option<Callback> {
        self.take(key)
    }
    /// Whether the registration is still pending.
    fn contains(&self, key: Key) -> bool;
}

/// The shared state behind a [`Registry`] and its [`Handle`]s.
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
    /// Runs every pending handler, in order, each once, until none is left,
    /// including those registered while the run goes on. Returns the last
    /// panic.
    fn run(&self) -> Result<(), HandlerPanic> {
        let run = self.run_lock.acquire();
        let mut last = None;
        let mut exit_request = None;
        loop {
            let next = self.state.lock().pop_next();
            let Some(callback) = next else { break };
            let Err(panic) = callback.run() else { continue };
            if panic.is_exit_request() {
                // `exit(n)` inside the process registry's run: the rest
                // of this registry runs, then the exit ends the handler
                // that ran it, as it would have ended a direct caller.
                exit_request = Some(panic);
                continue;
            }
            panic.report();
            if let Some(previous) = last.replace(panic) {
                drop_quietly(previous);
            }
        }
        drop(run);
        if let Some(request) = exit_request {
            drop_quietly(last);
            request.resume();
        }
        last.map_or(Ok(()), Err)
    }
}

/// How a [`Handle`] reaches its registry: the process registry is a
/// `static`; a handle does not keep a local registry alive.
enum Owner {
    Process(&'static dyn Registrations),
    Shared(Weak<Shared>),
}

/// One registration, returned by every `register`.
///
/// [`unregister`](Handle::unregister) removes exactly this registration and
/// leaves other registrations of the same function alone. Dropping a `Handle`
/// does nothing: the handler stays registered. A handle does not keep a local
/// [`Registry`] alive.
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
    /// A handle to a registration in the process registry.
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

    /// Removes this registration. Returns `false` if it already ran, was
    /// already removed (by `unregister`, `clear` or another handle), or its
    /// registry is gone.
    pub fn unregister(self) -> bool {
        // Dropped outside the lock: a captured value's destructor may use
        // the registry.
        self.with(|inner| inner.take(self.key)).flatten().map(drop).is_some()
    }

    /// Runs this registration now, on this thread, and removes it: the
    /// database is closed when the program is done with it, or at exit if
    /// the exit comes first, and never twice. Returns `Ok(false)` if it had
    /// already run or been removed (or its registry is gone), or if the
    /// process is exiting and the calling thread does not act for the
    /// exit's run, which runs it.
    ///
    /// A scope guard (a value whose `Drop` closes the database) closes it at
    /// the end of a scope, but its `Drop` does not run on
    /// `std::process::exit`, on a handled signal, or when `main` returns
    /// while the guard lives in a `static` or on another thread; a
    /// registration runs on all of those, but not at the end of a scope.
    /// `run` joins the two: keep the handle where the guard would be, and
    /// call `run` where the scope ends.
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

/// A set of exit handlers with the process registry's semantics, for code
/// that wants its own: a subsystem's shutdown hooks, a test.
///
/// Handlers run in the same order as at exit: higher priority first, then
/// last registered first. [`run`](Registry::run) drains it; dropping it runs
/// whatever is still pending. All methods take `&self`, and a `Registry` is
/// `Send + Sync`, so it can be shared between threads: put it in an `Arc`,
/// or in a `static` ([`new`](Registry::new) is `const`). A `static` is never
/// dropped, so nothing runs it by itself: run it where it belongs, at exit
/// from a handler of the process registry, say:
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
pub struct Registry {
    /// Made at first use, so that `new` can be `const`.
    inner: OnceLock<Arc<Shared>>,
}

impl Registry {
    /// An empty registry.
    pub const fn new() -> Self {
        Registry { inner: OnceLock::new() }
    }

    /// Registers `f` to run once when this registry runs, at priority 0.
    ///
    /// For a priority or a name, use [`Registration`](crate::Registration).
    pub fn register<F: FnOnce() + Send + 'static>(&self, f: F) -> Handle {
        self.insert(0, Identity::of(&f).fingerprint(), Callback::Boxed(Box::new(Closure(f))))
    }

    fn inner(&self) -> &Arc<Shared> {
        self.inner.get_or_init(|| Arc::new(Shared { state: Lock::new(Stacks::new()), run_lock: RunLock::new() }))
    }

    pub(crate) fn insert(&self, priority: i32, fingerprint: u64, callback: Callback) -> Handle {
        let key = self.inner().state.lock().insert(priority, fingerprint, callback);
        Handle { owner: Owner::Shared(Arc::downgrade(self.inner())), key }
    }

    /// Removes every pending registration of the function `f`, whatever it
    /// was registered with, and returns how many there were (0 if none).
    ///
    /// See [`unregister`](crate::unregister) for what counts as the same function.
    pub fn unregister<F: Function<Args>, Args>(&self, f: F) -> usize {
        let taken = self.inner().state.lock().take_identity(Identity::of(&f));
        taken.len()
    }

    /// Runs every pending handler now, in exit order, each at most once, and
    /// leaves the registry empty.
    ///
    /// Handlers registered while it runs run too, in their place in the
    /// order; pending ones unregistered while it runs do not. Runs on two
    /// threads are serialised; a handler that calls `run` continues the same
    /// run.
    ///
    /// # Errors
    ///
    /// A panicking handler is reported on stderr with its name and the
    /// others still run; the last panic is returned.
    ///
    /// ```
    /// # extern crate atexit_core as atexit;
    /// let registry = atexit::Registry::new();
    /// registry.register(|| println!("closed"));
    /// registry.run()?;
    /// # Ok::<(), atexit::HandlerPanic>(())
    /// ```
    pub fn run(&self) -> Result<(), HandlerPanic> {
        self.inner().run()
    }

    /// Drops every pending handler without running it.
    pub fn clear(&self) {
        // Dropped outside the lock: a captured value's destructor may use
        // the registry.
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
    /// Runs what is still pending; panics were reported on stderr.
    fn drop(&mut self) {
        if self.inner.get().is_some() {
            if let Err(panic) = self.run() {
                drop_quietly(panic);
            }
        }
    }
}
