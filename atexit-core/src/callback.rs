//! A registered handler: the closure, or a static handler, with what the
//! registry and the reports ask of it.

use std::any::type_name;
use std::borrow::Cow;
use std::future::Future;
use std::panic::{self, AssertUnwindSafe};
use std::pin::Pin;
use std::time::Duration;

use crate::identity::Identity;
use crate::panic::HandlerPanic;
use crate::statics::StaticHandler;

/// One pending handler.
pub(crate) enum Callback {
    /// A `#[atexit::register]` function.
    Static(&'static StaticHandler),
    /// A runtime registration. A `Box` of a zero-sized closure (a function
    /// item, a closure that captures nothing) does not allocate.
    Boxed(Box<dyn Handler>),
}

/// What a runtime registration is, behind its `Box`.
pub(crate) trait Handler: Send {
    /// The name reports and traces show.
    fn name(&self) -> Cow<'static, str>;
    /// What `unregister` compares.
    fn identity(&self) -> Identity;
    /// Whether a `fork()`ed child keeps it.
    fn inherited(&self) -> bool;
    /// How long it may run before it is left behind.
    fn time_limit(&self) -> Option<Duration> {
        None
    }
    /// An async handler's work, as a future (taken once), for a run that
    /// can await it; `None` for the others.
    fn pending(&mut self) -> Option<Pending> {
        None
    }
    /// Runs it, catching a panic so that none crosses into the caller.
    fn run(self: Box<Self>) -> Result<(), HandlerPanic>;
}

/// `register(f)`: the name comes from the type.
pub(crate) struct Closure<F>(pub(crate) F);

impl<F: FnOnce() + Send + 'static> Handler for Closure<F> {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(type_name::<F>())
    }

    fn identity(&self) -> Identity {
        Identity::of(&self.0)
    }

    fn inherited(&self) -> bool {
        false
    }

    fn run(self: Box<Self>) -> Result<(), HandlerPanic> {
        call(self.0, || Cow::Borrowed(type_name::<F>()))
    }
}

/// A registration with options (see `Registration`).
pub(crate) struct Configured<F> {
    pub(crate) f: F,
    pub(crate) name: Option<Cow<'static, str>>,
    pub(crate) identity: Identity,
    pub(crate) inherited: bool,
    pub(crate) time_limit: Option<Duration>,
}

impl<F: FnOnce() + Send + 'static> Handler for Configured<F> {
    fn name(&self) -> Cow<'static, str> {
        self.name.clone().unwrap_or(Cow::Borrowed(type_name::<F>()))
    }

    fn identity(&self) -> Identity {
        self.identity
    }

    fn time_limit(&self) -> Option<Duration> {
        self.time_limit
    }

    fn inherited(&self) -> bool {
        self.inherited
    }

    fn run(self: Box<Self>) -> Result<(), HandlerPanic> {
        let Configured { f, name, .. } = *self;
        call(f, || name.unwrap_or(Cow::Borrowed(type_name::<F>())))
    }
}

/// Calls `f`; a panic comes back as a [`HandlerPanic`] named by `name`.
pub(crate) fn call(f: impl FnOnce(), name: impl FnOnce() -> Cow<'static, str>) -> Result<(), HandlerPanic> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| HandlerPanic::new(name(), payload))
}

/// An async handler's work.
pub(crate) type Pending = Pin<Box<dyn Future<Output = ()> + Send>>;

/// What an emptied place in a registry holds: never run, never counted.
static NOTHING: StaticHandler = StaticHandler::new(|| {}, || Identity::Address(0), "", "", 0, 0, false, false);

impl Callback {
    /// The placeholder left where a handler was taken out.
    pub(crate) fn nothing() -> Callback {
        Callback::Static(&NOTHING)
    }

    pub(crate) fn is_nothing(&self) -> bool {
        matches!(self, Callback::Static(handler) if std::ptr::eq(*handler, &NOTHING))
    }

    pub(crate) fn identity(&self) -> Identity {
        match self {
            Callback::Static(handler) => handler.identity(),
            Callback::Boxed(handler) => handler.identity(),
        }
    }

    pub(crate) fn name(&self) -> Cow<'static, str> {
        match self {
            Callback::Static(handler) => Cow::Borrowed(handler.name()),
            Callback::Boxed(handler) => handler.name(),
        }
    }

    /// An async handler's work (taken out), for the run to await.
    pub(crate) fn pending(&mut self) -> Option<Pending> {
        let Callback::Boxed(handler) = self else { return None };
        handler.pending()
    }

    pub(crate) fn time_limit(&self) -> Option<Duration> {
        match self {
            Callback::Static(_) => None,
            Callback::Boxed(handler) => handler.time_limit(),
        }
    }

    pub(crate) fn inherited(&self) -> bool {
        match self {
            Callback::Static(handler) => handler.inherited(),
            Callback::Boxed(handler) => handler.inherited(),
        }
    }

    pub(crate) fn run(self) -> Result<(), HandlerPanic> {
        match self {
            Callback::Static(handler) => call(handler.function(), || Cow::Borrowed(handler.name())),
            Callback::Boxed(handler) => handler.run(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_runs_and_panics() {
        fn named() {}
        let plain = Callback::Boxed(Box::new(Closure(named)));
        assert!(plain.name().ends_with("::named"), "{}", plain.name());
        assert!(plain.run().is_ok());
        let custom = Callback::Boxed(Box::new(Configured {
            f: || panic!("boom"),
            name: Some("n".into()),
            identity: Identity::Address(1),
            inherited: true,
            time_limit: None,
        }));
        assert!(custom.inherited());
        let panic = custom.run().unwrap_err();
        assert_eq!((panic.name(), panic.message()), ("n", "boom"));
    }
}
