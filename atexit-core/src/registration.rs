//! Handles to registrations, and the builder for registrations with options.

use std::borrow::Cow;
use std::fmt;

use crate::callback::{Custom, ErasedCallback};
use crate::global::GLOBAL;
use crate::identity::{Function, Identity};
use crate::registry::{Key, Registry, WeakShared};

/// One registration, returned by every `register`.
///
/// [`unregister`](Handle::unregister) removes exactly this registration and
/// leaves other registrations of the same function alone. Dropping a `Handle`
/// does nothing: the handler stays registered. A handle does not keep a local
/// [`Registry`] alive.
pub struct Handle {
    registry: WeakShared,
    key: Key,
}

impl Handle {
    #[inline]
    pub(crate) fn new(registry: WeakShared, key: Key) -> Self {
        Handle { registry, key }
    }

    /// Removes this registration. Returns `false` if it already ran, was
    /// already removed (by `unregister`, `clear` or another handle), or its
    /// registry is gone.
    pub fn unregister(self) -> bool {
        self.registry.with(|inner| inner.remove(self.key)).unwrap_or(false)
    }

    /// Whether this registration is still waiting to run.
    pub fn is_pending(&self) -> bool {
        self.registry.with(|inner| inner.contains(self.key)).unwrap_or(false)
    }

    /// The priority it was registered with.
    pub fn priority(&self) -> i32 {
        self.key.priority()
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handle")
            .field("priority", &self.key.priority())
            .field("seq", &self.key.seq)
            .finish_non_exhaustive()
    }
}

/// A registration with options: a priority, a name, or the identity of
/// another function.
///
/// ```
/// # extern crate atexit_core as atexit;
/// let handle = atexit::Registration::new(|| println!("flushed"))
///     .priority(10)
///     .name("flush logs")
///     .register();
/// assert!(handle.is_pending());
/// # handle.unregister();
/// ```
///
/// - **priority**: higher runs first (default 0); equal priorities run last
///   registered first.
/// - **name**: what reports and traces call the handler; by default the
///   function's path (`my_app::flush_logs`, `my_app::main::{{closure}}`).
/// - **inherit_on_fork**: whether a `fork()`ed child keeps it (default: no).
/// - **identity_of**: which function `unregister` should treat this
///   registration as. A closure that calls `goodbye("Donny")` can be
///   registered as `goodbye`, so that `unregister(goodbye)` removes it. This
///   is what `register!(goodbye, "Donny")` does.
#[must_use = "a Registration does nothing until `.register()` is called"]
pub struct Registration<F> {
    f: F,
    priority: i32,
    name: Option<Cow<'static, str>>,
    identity: Option<Identity>,
    inherited: bool,
}

impl<F: FnOnce() + Send + 'static> Registration<F> {
    /// A registration of `f` at priority 0, named after its type.
    pub fn new(f: F) -> Self {
        Registration { f, priority: 0, name: None, identity: None, inherited: false }
    }

    /// Sets the priority: higher runs first.
    pub fn priority(mut self, priority: i32) -> Self {
        self.priority = priority;
        self
    }

    /// Sets the name shown in panic reports and traces.
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Makes `unregister(g)` remove this registration, as if `g` itself had
    /// been registered.
    pub fn identity_of<G: Function<Args>, Args>(mut self, g: &G) -> Self {
        self.identity = Some(Identity::of(g));
        self
    }

    /// Keeps this registration in a `fork()`ed child, so that it runs when the
    /// child exits too (and in the parent, when it exits). By default a child
    /// drops every registration its parent made before the fork, and runs
    /// only what it registers itself. Unix only; elsewhere there is no fork.
    pub fn inherit_on_fork(mut self) -> Self {
        self.inherited = true;
        self
    }

    /// Registers in the process registry, to run at exit.
    pub fn register(self) -> Handle {
        crate::hook::install();
        self.register_in(&GLOBAL)
    }

    /// Registers in `registry`.
    pub fn register_in(self, registry: &Registry) -> Handle {
        let Registration { f, priority, name, identity, inherited } = self;
        let callback = ErasedCallback::new(Custom { f, name, identity, inherited });
        registry.insert(priority, callback)
    }
}

impl<F> fmt::Debug for Registration<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("priority", &self.priority)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}
