//! A registered handler (static, closure or async), its options, and what the registry and reports ask of it.

use std::any::type_name;
use std::borrow::Cow;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::Pin;
use std::time::Duration;

use crate::identity::{Function, Identity};
use crate::panic::HandlerPanic;
use crate::statics::StaticHandler;

/// One pending handler.
pub(crate) enum Callback {
    /// A `#[atexit::register]` function.
    Static(&'static StaticHandler),
    /// A runtime registration, async included; boxing a zero-sized closure (a function item, a closure capturing
    /// nothing) does not allocate. Two variants keep a `Callback` two words: a third made registering 3x slower.
    Boxed(Box<dyn Handler>),
}

/// What a `Registration` or `AsyncRegistration` says besides the function.
#[derive(Clone, Default, Debug)]
pub(crate) struct Options {
    pub(crate) priority: i32,
    /// What reports and traces call it (default: the function's path).
    pub(crate) name: Option<Cow<'static, str>>,
    /// What `unregister` compares (default: the function's own).
    pub(crate) identity: Option<Identity>,
    /// Whether a `fork()`ed child keeps it.
    pub(crate) inherited: bool,
    /// How long it may run before it is left behind (or dropped).
    pub(crate) time_limit: Option<Duration>,
    /// Where it was registered: what names a closure, whose path says only `{{closure}}`.
    pub(crate) at: Option<&'static Location<'static>>,
}

impl Options {
    /// Registered from the caller's place.
    #[track_caller]
    pub(crate) fn here() -> Options {
        Options { at: Some(Location::caller()), ..Options::default() }
    }

    /// Its name: as given, else the function's path, a closure's ending in where it was registered, as rustc writes
    /// it (`app::main::{closure@src/main.rs:12:5}`, the closures around it left out). Paths are `type_name`'s, which
    /// Rust does not promise to keep.
    pub(crate) fn name_or<F>(&self) -> Cow<'static, str> {
        if let Some(name) = &self.name {
            return name.clone();
        }
        match (self.at, type_name::<F>().strip_suffix("{{closure}}")) {
            (Some(at), Some(scope)) => {
                // The closures it is nested in, and `#[atexit::main]`'s wrapping of `main`, say nothing the place
                // does not: `app::main::{closure@src/main.rs:12:5}` under the attribute too.
                let scope =
                    scope.split("::").filter(|s| !s.is_empty() && *s != "{{closure}}" && !s.starts_with("__atexit"));
                let scope: String = scope.map(|s| format!("{s}::")).collect();
                Cow::Owned(format!("{scope}{{closure@{}:{}:{}}}", at.file(), at.line(), at.column()))
            }
            _ => Cow::Borrowed(type_name::<F>()),
        }
    }
}

/// A runtime registration, behind its `Box`; getters mean what [`Options`]' fields do (a time limit is its own).
pub(crate) trait Handler: Send {
    fn name(&self) -> Cow<'static, str>;
    fn identity(&self) -> Identity;
    fn inherited(&self) -> bool {
        false
    }
    fn time_limit(&self) -> Option<Duration> {
        None
    }
    /// Runs it, catching a panic so none reaches the caller (an async one, on a runtime built for it).
    fn run(self: Box<Self>) -> Result<(), HandlerPanic>;
    /// An async handler's other face, which runs it its own way (`asynchronous.rs`); `Err` for a plain one.
    fn into_async(self: Box<Self>) -> Result<Box<dyn AsyncHandler>, Box<dyn Handler>>;
}

/// An async handler, behind its `Box`.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) trait AsyncHandler: Handler {
    /// Its work, for a run that awaits it in its place.
    fn future(self: Box<Self>) -> Pending;
    /// Runs it in the process registry's run, as `lease`, where that run cannot await it (`unloading`: a shared
    /// library's copy of the runtime, as the library unloads). `None` if the run went on without this thread.
    fn run_in(self: Box<Self>, lease: u64, unloading: bool) -> Option<Result<(), HandlerPanic>>;
}

/// What can be an exit handler: a function or closure that takes nothing and returns `()` (or never returns), `Send`
/// and `'static`: every such `FnOnce` is one. Sealed.
pub trait ExitFn: Function<()> + Send {
    #[doc(hidden)]
    fn call_once(self);
}

impl<F: FnOnce() -> R + Send + 'static, R: HandlerOutput> ExitFn for F {
    fn call_once(self) {
        let _ = self();
    }
}

/// What an exit handler returns: `()`, or nothing at all (it never returns). Sealed.
#[diagnostic::on_unimplemented(
    message = "an exit handler returns `()`, not `{Self}`",
    label = "this handler returns `{Self}`",
    note = "a closure that returns a future (`|| async {{ .. }}`) is an async handler: register it with `atexit::register_async(time_limit, f)` (feature `tokio`)"
)]
pub trait HandlerOutput: sealed::Sealed + 'static {}

impl HandlerOutput for () {}
impl HandlerOutput for sealed::Never {}

mod sealed {
    pub trait Sealed {}
    pub trait Output {
        type Output;
    }
    impl<T> Output for fn() -> T {
        type Output = T;
    }
    /// `!`, which stable Rust does not let a path name: a handler that only exits, panics or loops returns it.
    pub type Never = <fn() -> ! as Output>::Output;
    impl Sealed for () {}
    impl Sealed for Never {}
}

/// `register(f)` of a function item: the name comes from the type.
pub(crate) struct Closure<F>(pub(crate) F);

/// `register(f)`'s handler. A closure is named after where it was registered, which takes a word beside it (so one
/// capturing nothing allocates); a function item is named by its path and boxes as nothing. Which one `F` is, is known
/// when the code is compiled (the test folds away).
#[inline]
#[track_caller]
pub(crate) fn plain<F: ExitFn>(f: F) -> Callback {
    if type_name::<F>().ends_with("{{closure}}") {
        let identity = Identity::of(&f);
        Callback::Boxed(Box::new(Configured { f, options: Options::here(), identity }))
    } else {
        Callback::Boxed(Box::new(Closure(f)))
    }
}

impl<F: ExitFn> Handler for Closure<F> {
    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(type_name::<F>())
    }
    fn identity(&self) -> Identity {
        Identity::of(&self.0)
    }
    fn run(self: Box<Self>) -> Result<(), HandlerPanic> {
        let f = self.0;
        call(|| f.call_once(), || Cow::Borrowed(type_name::<F>()))
    }
    fn into_async(self: Box<Self>) -> Result<Box<dyn AsyncHandler>, Box<dyn Handler>> {
        Err(self)
    }
}

/// A registration with options (see `Registration`); its identity resolved.
pub(crate) struct Configured<F> {
    pub(crate) f: F,
    pub(crate) options: Options,
    pub(crate) identity: Identity,
}

impl<F: ExitFn> Handler for Configured<F> {
    fn name(&self) -> Cow<'static, str> {
        self.options.name_or::<F>()
    }
    fn identity(&self) -> Identity {
        self.identity
    }
    fn time_limit(&self) -> Option<Duration> {
        self.options.time_limit
    }
    fn inherited(&self) -> bool {
        self.options.inherited
    }
    fn run(self: Box<Self>) -> Result<(), HandlerPanic> {
        let Configured { f, options, .. } = *self;
        call(|| f.call_once(), || options.name_or::<F>())
    }
    fn into_async(self: Box<Self>) -> Result<Box<dyn AsyncHandler>, Box<dyn Handler>> {
        Err(self)
    }
}

/// Calls `f`; a panic comes back as a [`HandlerPanic`] named by `name`.
pub(crate) fn call(f: impl FnOnce(), name: impl FnOnce() -> Cow<'static, str>) -> Result<(), HandlerPanic> {
    panic::catch_unwind(AssertUnwindSafe(f)).map_err(|payload| HandlerPanic::new(name(), payload))
}

/// An async handler's work.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) type Pending = Pin<Box<dyn Future<Output = ()> + Send>>;

/// The placeholder left where a handler was taken out: never run, never counted.
static NOTHING: StaticHandler = StaticHandler::new(|| {}, || Identity::Address(0), "", "", 0, 0, false, false);

impl Callback {
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

    /// An async handler's other face, or the callback back.
    pub(crate) fn into_async(self) -> Result<Box<dyn AsyncHandler>, Callback> {
        match self {
            Callback::Boxed(handler) => handler.into_async().map_err(Callback::Boxed),
            Callback::Static(_) => Err(self),
        }
    }

    /// Runs it on this thread, outside the process registry's run (an async one, on a runtime built for it).
    pub(crate) fn run(self) -> Result<(), HandlerPanic> {
        match self {
            Callback::Static(handler) => call(handler.function(), || Cow::Borrowed(handler.name())),
            Callback::Boxed(handler) => handler.run(),
        }
    }
}
