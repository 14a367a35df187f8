//! A registered handler, type-erased: the closure and what the registry asks of it.

use std::any::type_name;
use std::borrow::Cow;
use std::panic::{self, AssertUnwindSafe};

use crate::identity::Identity;
use crate::panic::HandlerPanic;

/// What the registry stores for each registration. The identity, name and
/// fork behaviour of a plain registration come from its type, so it stores
/// only its closure.
pub(crate) trait Callback: Send {
    fn identity(&self) -> Identity;
    /// The name reports and traces show.
    fn name(&self) -> Cow<'static, str>;
    /// Whether a `fork()`ed child keeps this registration.
    fn inherited(&self) -> bool {
        false
    }
    /// Runs the handler, catching a panic so it cannot cross into the caller.
    fn run(self: Box<Self>) -> Result<(), HandlerPanic>;
}

pub(crate) type BoxedCallback = Box<dyn Callback>;

pub(crate) fn call<F: FnOnce()>(f: F, name: impl FnOnce() -> Cow<'static, str>) -> Result<(), HandlerPanic> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| HandlerPanic::new(name(), payload))
}

/// `register(f)`: identity and name come from `F` itself.
pub(crate) struct Plain<F>(pub(crate) F);

impl<F: FnOnce() + Send + 'static> Callback for Plain<F> {
    fn identity(&self) -> Identity {
        Identity::of(&self.0)
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(type_name::<F>())
    }

    fn run(self: Box<Self>) -> Result<(), HandlerPanic> {
        call(self.0, || Cow::Borrowed(type_name::<F>()))
    }
}

/// A registration with options: a name, the identity of another function,
/// or inheritance across `fork()`.
pub(crate) struct Custom<F> {
    pub(crate) f: F,
    pub(crate) name: Option<Cow<'static, str>>,
    pub(crate) identity: Option<Identity>,
    pub(crate) inherited: bool,
}

impl<F: FnOnce() + Send + 'static> Callback for Custom<F> {
    fn identity(&self) -> Identity {
        self.identity.unwrap_or_else(|| Identity::of(&self.f))
    }

    fn name(&self) -> Cow<'static, str> {
        self.name.clone().unwrap_or(Cow::Borrowed(type_name::<F>()))
    }

    fn inherited(&self) -> bool {
        self.inherited
    }

    fn run(self: Box<Self>) -> Result<(), HandlerPanic> {
        let Custom { f, name, .. } = *self;
        call(f, || name.unwrap_or(Cow::Borrowed(type_name::<F>())))
    }
}
