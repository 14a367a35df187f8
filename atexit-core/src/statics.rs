//! Handlers registered statically with `#[atexit::register]`, from any crate.
//!
//! Each annotated function becomes an `inventory` submission of a
//! [`StaticHandler`]. The process registry takes them in once, when it is
//! first needed whole (a run, `unregister`, `ncallbacks`, `clear`; at the
//! latest at exit), numbered below every runtime registration: so they count
//! as registered at load time, and at equal priority they run after every
//! runtime handler, even one registered from a constructor before them.
//!
//! Among themselves, static handlers are taken in sorted by module path, then
//! line, then name, so that within one module the one written last runs
//! first (LIFO, as if registered in source order) and the order is the same
//! on every build and platform, whatever order the linker laid them out in.

use std::borrow::Cow;

use crate::callback::{Callback, call};
use crate::identity::Identity;
use crate::panic::HandlerPanic;

/// One `#[atexit::register]` function. Not public API: built by generated code.
#[doc(hidden)]
pub struct StaticHandler {
    f: fn(),
    identity: fn() -> Identity,
    name: &'static str,
    module: &'static str,
    line: u32,
    priority: i32,
}

impl StaticHandler {
    #[doc(hidden)]
    pub const fn new(
        f: fn(),
        identity: fn() -> Identity,
        name: &'static str,
        module: &'static str,
        line: u32,
        priority: i32,
    ) -> Self {
        StaticHandler { f, identity, name, module, line, priority }
    }

    pub(crate) fn priority(&self) -> i32 {
        self.priority
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

/// Every static handler, in registration order.
pub(crate) fn collected() -> Vec<&'static StaticHandler> {
    let mut all: Vec<&'static StaticHandler> = inventory::iter::<StaticHandler>.into_iter().collect();
    // A total order (a module cannot hold two handlers of one name on one
    // line), so an unstable sort gives the same result as a stable one.
    all.sort_unstable_by(|a, b| registration_order(a, b));
    all
}

/// By module path, line, then name. The handlers of one module share one
/// `module_path!()` string, so comparing addresses first saves comparing
/// the same text thousands of times in a program with many handlers.
fn registration_order(a: &StaticHandler, b: &StaticHandler) -> std::cmp::Ordering {
    let module = if std::ptr::eq(a.module, b.module) { std::cmp::Ordering::Equal } else { a.module.cmp(b.module) };
    module.then(a.line.cmp(&b.line)).then_with(|| a.name.cmp(b.name))
}

impl Callback for &'static StaticHandler {
    fn identity(&self) -> Identity {
        (self.identity)()
    }

    fn name(&self) -> Cow<'static, str> {
        Cow::Borrowed(self.name)
    }

    fn run(self: Box<Self>) -> Result<(), HandlerPanic> {
        call(self.f, || Cow::Borrowed(self.name))
    }
}
