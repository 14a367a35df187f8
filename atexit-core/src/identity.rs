//! What `unregister(f)` compares: a function's identity. Python compares callables with `==`; Rust has no equality on
//! functions, so a function item or closure is identified by its own type (one per item or closure expression, whatever
//! it was registered with), and a function pointer by its address, as all pointers of one signature share a type.

use core::any::{Any, TypeId};
use core::hash::{Hash, Hasher};

/// The identity of a registered function, compared by `unregister`. Opaque; public for generated code.
#[doc(hidden)]
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Identity {
    #[doc(hidden)]
    Type(TypeId),
    #[doc(hidden)]
    Address(usize),
}

mod sealed {
    /// Carries the method, so it stays out of the public API.
    pub trait Sealed<Args> {
        fn identity(&self) -> super::Identity;
    }
}

/// A function that can be registered (directly or through `register!`), and so named to `unregister`: any `'static`
/// function item, closure or function pointer of up to twelve `'static` arguments. Sealed.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a function that atexit can identify",
    label = "expected a function, a closure or a function pointer",
    note = "`unregister` takes the function itself (`unregister(flush_logs)`), not the value it returns or a `Handle`; to remove one registration use `Handle::unregister`"
)]
pub trait Function<Args>: sealed::Sealed<Args> + 'static {}

/// `f`'s address if it is a function pointer of its signature (Rust or C ABI), else its type.
fn identity_of<F: 'static, P: 'static + Copy, Q: 'static + Copy>(
    f: &F,
    rust_ptr: impl FnOnce(P) -> usize,
    c_ptr: impl FnOnce(Q) -> usize,
) -> Identity {
    let any: &dyn Any = f;
    if let Some(p) = any.downcast_ref::<P>() {
        Identity::Address(rust_ptr(*p))
    } else if let Some(p) = any.downcast_ref::<Q>() {
        Identity::Address(c_ptr(*p))
    } else {
        Identity::Type(TypeId::of::<F>())
    }
}

/// Implements both traits for the arguments given, then for each shorter tail of them, down to none.
macro_rules! impl_function {
    (@tail) => {};
    (@tail $first:ident $(, $rest:ident)*) => {
        impl_function!($($rest),*);
    };
    ($($arg:ident),*) => {
        impl<F, R, $($arg),*> sealed::Sealed<($($arg,)*)> for F
        where
            F: FnOnce($($arg),*) -> R + 'static,
            R: 'static,
            $($arg: 'static,)*
        {
            fn identity(&self) -> Identity {
                identity_of(
                    self,
                    |p: fn($($arg),*) -> R| p as usize,
                    |p: extern "C" fn($($arg),*) -> R| p as usize,
                )
            }
        }

        impl<F, R, $($arg),*> Function<($($arg,)*)> for F
        where
            F: FnOnce($($arg),*) -> R + 'static,
            R: 'static,
            $($arg: 'static,)*
        {
        }

        impl_function!(@tail $($arg),*);
    };
}

impl_function!(A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12);

impl Identity {
    pub(crate) fn of<F: Function<Args>, Args>(f: &F) -> Identity {
        sealed::Sealed::identity(f)
    }

    /// Equal for equal identities, rarely for different ones: what a registry keeps and compares first.
    #[inline]
    pub(crate) fn fingerprint(&self) -> u64 {
        match *self {
            Identity::Address(address) => address as u64,
            Identity::Type(id) => {
                let mut bits = Fold(0);
                id.hash(&mut bits);
                bits.0
            }
        }
    }
}

/// Folds what a `TypeId` hashes (already well-mixed bits) into one word.
struct Fold(u64);

impl Hasher for Fold {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(byte);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = self.0.rotate_left(29) ^ n;
    }
}
