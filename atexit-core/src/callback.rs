//! A registered handler, type-erased: the closure and what the registry asks of it.
//!
//! A registration is stored as an [`ErasedCallback`]: two words, a pointer
//! to a table of functions for its type and either the value itself, when
//! it fits in one word (a function item, a closure capturing one `Arc` or
//! one integer, a static handler's reference), or a pointer to it on the
//! heap. So registering a function or a small closure allocates nothing,
//! and a slot stays three words with its sequence number.

use std::alloc::{Layout, dealloc};
use std::any::type_name;
use std::borrow::Cow;
use std::marker::PhantomData;
use std::mem::{ManuallyDrop, MaybeUninit};
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
    fn run(self) -> Result<(), HandlerPanic>;
}

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

    fn run(self) -> Result<(), HandlerPanic> {
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

    fn run(self) -> Result<(), HandlerPanic> {
        let Custom { f, name, .. } = self;
        call(f, || name.unwrap_or(Cow::Borrowed(type_name::<F>())))
    }
}

/// What an [`ErasedCallback`] knows of its value's type.
pub(crate) struct VTable {
    /// Whether the value sits in the `ErasedCallback` itself.
    inline: bool,
    layout: Layout,
    identity: unsafe fn(*const ()) -> Identity,
    name: unsafe fn(*const ()) -> Cow<'static, str>,
    inherited: unsafe fn(*const ()) -> bool,
    /// Moves the value out and runs it; the memory is the caller's to free.
    run: unsafe fn(*mut ()) -> Result<(), HandlerPanic>,
    /// `None` when dropping the value does nothing.
    drop: Option<unsafe fn(*mut ())>,
}

/// The table for `C`.
struct Table<C>(PhantomData<C>);

impl<C: Callback> Table<C> {
    const VTABLE: VTable = VTable {
        inline: fits_inline::<C>(),
        layout: Layout::new::<C>(),
        identity: Table::<C>::identity,
        name: Table::<C>::name,
        inherited: Table::<C>::inherited,
        run: Table::<C>::run,
        drop: if std::mem::needs_drop::<C>() { Some(Table::<C>::drop) } else { None },
    };

    /// # Safety
    /// `p` points to a live `C`.
    unsafe fn identity(p: *const ()) -> Identity {
        // SAFETY: the caller's contract.
        unsafe { &*p.cast::<C>() }.identity()
    }

    /// # Safety
    /// `p` points to a live `C`.
    unsafe fn name(p: *const ()) -> Cow<'static, str> {
        // SAFETY: the caller's contract.
        unsafe { &*p.cast::<C>() }.name()
    }

    /// # Safety
    /// `p` points to a live `C`.
    unsafe fn inherited(p: *const ()) -> bool {
        // SAFETY: the caller's contract.
        unsafe { &*p.cast::<C>() }.inherited()
    }

    /// # Safety
    /// `p` points to a live `C`, which is moved out: it must not be used again.
    unsafe fn run(p: *mut ()) -> Result<(), HandlerPanic> {
        // SAFETY: the caller's contract.
        unsafe { p.cast::<C>().read() }.run()
    }

    /// # Safety
    /// `p` points to a live `C`, which is dropped: it must not be used again.
    unsafe fn drop(p: *mut ()) {
        // SAFETY: the caller's contract.
        unsafe { p.cast::<C>().drop_in_place() }
    }
}

/// The one word an [`ErasedCallback`] keeps its value in. A pointer type, so
/// that a value holding a pointer keeps its provenance.
pub(crate) type Word = MaybeUninit<*mut ()>;

const fn fits_inline<C>() -> bool {
    size_of::<C>() <= size_of::<Word>() && align_of::<C>() <= align_of::<Word>()
}

/// A [`Callback`] of any type, in two words: `Box<dyn Callback>`, except
/// that a value of at most one word is kept inline instead of on the heap.
pub(crate) struct ErasedCallback {
    /// The value itself when `vtable.inline`, else a pointer to it on the
    /// heap (allocated with `vtable.layout`; dangling when that is zero-sized).
    word: Word,
    vtable: &'static VTable,
}

// SAFETY: an `ErasedCallback` only holds a `C: Callback`, which is `Send`.
unsafe impl Send for ErasedCallback {}

impl ErasedCallback {
    #[inline]
    pub(crate) fn new<C: Callback>(value: C) -> Self {
        let vtable = &Table::<C>::VTABLE;
        let mut word = Word::uninit();
        if vtable.inline {
            // SAFETY: `C` fits in the word, in size and alignment (`fits_inline`).
            unsafe { word.as_mut_ptr().cast::<C>().write(value) };
        } else {
            word.write(Box::into_raw(Box::new(value)).cast::<()>());
        }
        ErasedCallback { word, vtable }
    }

    fn value(&self) -> *const () {
        value_in(&self.word, self.vtable)
    }

    /// The identity of the callback whose halves are `word` and `vtable`,
    /// read where it lies (a slot holds one taken apart).
    ///
    /// # Safety
    /// `word` and `vtable` are the halves of one live `ErasedCallback`.
    pub(crate) unsafe fn identity_in(word: &Word, vtable: &'static VTable) -> Identity {
        // SAFETY: the caller's contract: `value_in` points to the live value.
        unsafe { (vtable.identity)(value_in(word, vtable)) }
    }

    /// Its two words, no longer to be dropped as an `ErasedCallback`.
    #[inline]
    pub(crate) fn into_parts(self) -> (Word, &'static VTable) {
        let this = ManuallyDrop::new(self);
        (this.word, this.vtable)
    }

    /// # Safety
    /// `word` and `vtable` come from one `into_parts`, and are used once.
    #[inline]
    pub(crate) unsafe fn from_parts(word: Word, vtable: &'static VTable) -> Self {
        ErasedCallback { word, vtable }
    }

    #[cfg(test)]
    fn identity(&self) -> Identity {
        // SAFETY: the halves of this live callback.
        unsafe { ErasedCallback::identity_in(&self.word, self.vtable) }
    }

    pub(crate) fn name(&self) -> Cow<'static, str> {
        // SAFETY: `value` points to the live value of the vtable's type.
        unsafe { (self.vtable.name)(self.value()) }
    }

    pub(crate) fn inherited(&self) -> bool {
        // SAFETY: as for `name`.
        unsafe { (self.vtable.inherited)(self.value()) }
    }

    /// Runs the handler (catching a panic), consuming it.
    pub(crate) fn run(self) -> Result<(), HandlerPanic> {
        let (mut word, vtable) = self.into_parts();
        // SAFETY: `into_parts` gave up the callback, so its value is used
        // up here once, by `run`, which moves it out.
        unsafe { use_up(&mut word, vtable, |value| (vtable.run)(value)) }
    }
}

impl Drop for ErasedCallback {
    fn drop(&mut self) {
        let vtable = self.vtable;
        if vtable.inline && vtable.drop.is_none() {
            return;
        }
        // SAFETY: the value is used up here once, dropped (if it has drop
        // glue) and its heap memory (if any) freed.
        unsafe {
            use_up(&mut self.word, vtable, |value| {
                if let Some(drop) = vtable.drop {
                    drop(value)
                }
            })
        }
    }
}

/// Hands the value's address to `f`, which moves it out or drops it, then
/// frees its heap memory if it has any (also if `f` unwinds).
///
/// # Safety
/// `word` and `vtable` are the halves of one live callback, whose value is
/// not used again after this.
unsafe fn use_up<R>(word: &mut Word, vtable: &VTable, f: impl FnOnce(*mut ()) -> R) -> R {
    if vtable.inline {
        f(word.as_mut_ptr().cast::<()>())
    } else {
        // SAFETY: not inline, so the word holds the heap pointer.
        let heap = unsafe { word.assume_init() };
        let _free = Free { heap, layout: vtable.layout };
        f(heap)
    }
}

/// Where the value of the callback with these halves is.
fn value_in(word: &Word, vtable: &VTable) -> *const () {
    if vtable.inline {
        word.as_ptr().cast::<()>()
    } else {
        // SAFETY: not inline, so the word holds the heap pointer.
        unsafe { word.assume_init() }
    }
}

/// Frees a value's heap memory (after it was moved out or dropped).
struct Free {
    heap: *mut (),
    layout: Layout,
}

impl Drop for Free {
    fn drop(&mut self) {
        if self.layout.size() != 0 {
            // SAFETY: `heap` came from `Box::new` of a value of this layout,
            // whose contents were moved out or dropped.
            unsafe { dealloc(self.heap.cast::<u8>(), self.layout) }
        }
    }
}

impl std::fmt::Debug for ErasedCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("ErasedCallback").field(&self.name()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hint::black_box;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn erased(f: impl FnOnce() + Send + 'static) -> ErasedCallback {
        ErasedCallback::new(Plain(f))
    }

    #[test]
    fn small_values_are_inline_and_large_ones_on_the_heap() {
        fn noop() {}
        let counter = Arc::new(AtomicUsize::new(0));
        let c = Arc::clone(&counter);
        assert!(erased(noop).vtable.inline);
        assert!(erased(move || drop(c)).vtable.inline);
        let (big, wide) = ([1u64, 2, 3], 1u128);
        assert!(!erased(move || _ = black_box(big)).vtable.inline);
        // Two words, and 16-byte aligned: too big and too aligned.
        assert!(!erased(move || _ = black_box(wide)).vtable.inline);
    }

    #[test]
    fn runs_and_drops_each_value_once_inline_or_not() {
        let runs = Arc::new(AtomicUsize::new(0));
        for size in ["inline", "heap"] {
            let (a, b) = (Arc::clone(&runs), Arc::clone(&runs));
            let pad = [7u64; 4];
            let ran = if size == "inline" {
                erased(move || _ = a.fetch_add(1, Ordering::SeqCst))
            } else {
                erased(move || _ = a.fetch_add(pad.len(), Ordering::SeqCst))
            };
            let dropped = erased(move || _ = b.fetch_add(100, Ordering::SeqCst));
            assert_eq!(Arc::strong_count(&runs), 3);
            ran.run().unwrap();
            drop(dropped);
            assert_eq!(Arc::strong_count(&runs), 1, "{size}");
        }
        assert_eq!(runs.load(Ordering::SeqCst), 1 + 4);
    }

    #[test]
    fn identity_name_and_panics_come_through() {
        fn named() {}
        let e = erased(named);
        assert_eq!(e.identity(), Identity::of(&named));
        assert!(e.name().ends_with("named"));
        let s = String::from("boom");
        let panicking = erased(move || panic!("{s}"));
        assert!(!panicking.vtable.inline);
        let err = panicking.run().unwrap_err();
        assert!(err.to_string().contains("boom"), "{err}");
    }
}
