//! The process hook: runs handlers on every normal exit without `main`'s help. A C `atexit` function is installed by
//! the constructor below, and again (idempotently) at the first registration in case the linker dropped the
//! constructor. libc calls it on `exit` (`main` returning, also after a panic with status 101, or `std::process::exit`
//! on any thread); it runs the exit run once, and a concurrent second caller waits for it, then finds nothing left.
//! libc has destroyed the exiting thread's thread-locals by then, so handlers run on a fresh thread (none if nothing is
//! registered) while it waits. When a shared library is unloaded, its hook runs handlers on the calling thread, each
//! waited for: no thread of the library may outlive it. A library still loaded at exit (glibc keeps one while a
//! thread-local destructor of it is pending; musl never unloads) runs them as the program does, but the program sets
//! the exit status.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::exit::{end_with_status_if_changed, run_at_exit};
use crate::fork;
use crate::panic::drop_quietly;
use crate::reason::ExitReason;
use crate::run::Place;
use crate::statics::StaticHandler;

// Declared beside the constructor: every `#[atexit::register]` refers to it, so the linker keeps this module and the
// constructor in any binary with a static handler, even one that never calls the runtime.
inventory::collect!(StaticHandler);

#[cfg(not(miri))]
ctor::declarative::ctor! {
    #[ctor(unsafe)]
    fn install_hook_before_main() {
        install();
    }
}

static INSTALLED: AtomicBool = AtomicBool::new(false);
/// Whether this copy of the runtime is in a shared library, not the program (set when the hook is installed).
static IN_LIBRARY: AtomicBool = AtomicBool::new(false);

/// Installs the hook once.
#[inline]
pub(crate) fn install() {
    if !INSTALLED.load(Ordering::Acquire) {
        install_once();
    }
}

#[cold]
fn install_once() {
    if !INSTALLED.swap(true, Ordering::AcqRel) {
        IN_LIBRARY.store(in_shared_library(), Ordering::Relaxed);
        if !install_with_libc() {
            use std::io::Write;
            let _ = writeln!(std::io::stderr(), "atexit: could not install the process exit hook; use atexit::exit");
        }
        fork::install(|| _ = install_with_libc());
    }
}

/// Registers the hook with `__cxa_atexit`: glibc passes such functions the exit status (as `on_exit` ones), for
/// [`ExitReason::ProcessExit`]. Bound to this object's `__dso_handle` as C's `atexit` does, a plugin's hook runs at
/// unloading (status 0), or at exit if the plugin is still loaded; it tells which by a mark: a one-byte C stream that
/// glibc's exit rewinds just before the hook. `rewind` is registered after the hook (exit calls the last registered
/// first), bound to no object so `dlclose` never calls it; it is libc's code, which outlives the plugin. glibc passes
/// it the status as a second argument too (as to every C++ destructor registered so), which `rewind` ignores.
#[cfg(all(target_os = "linux", target_env = "gnu", not(miri)))]
fn install_with_libc() -> bool {
    use std::ffi::{c_int, c_void};
    use std::sync::atomic::AtomicPtr;
    unsafe extern "C" {
        fn __cxa_atexit(f: extern "C" fn(*mut c_void, c_int), arg: *mut c_void, dso: *mut c_void) -> c_int;
        static __dso_handle: u8;
    }
    static EXIT_MARK: AtomicPtr<libc::FILE> = AtomicPtr::new(std::ptr::null_mut());
    extern "C" fn at_exit_with_status(_: *mut c_void, status: c_int) {
        let mark = EXIT_MARK.load(Ordering::Acquire);
        // SAFETY: `mark`, if set, is the stream made below, never closed.
        let exiting = !mark.is_null() && unsafe { libc::ftell(mark) } == 0;
        at_process_exit(Some(status), exiting || !IN_LIBRARY.load(Ordering::Relaxed));
    }
    // SAFETY: `at_exit_with_status` never unwinds and takes glibc's arguments; only `__dso_handle`'s address is used.
    // The never-closed stream owns its `fmemopen` buffer; `rewind`, cast to the callback type, uses only the stream.
    unsafe {
        let dso = (&raw const __dso_handle).cast_mut().cast();
        let hooked = __cxa_atexit(at_exit_with_status, std::ptr::null_mut(), dso) == 0;
        if IN_LIBRARY.load(Ordering::Relaxed) {
            let mark = libc::fmemopen(std::ptr::null_mut(), 2, c"w".as_ptr());
            let rewind: extern "C" fn(*mut c_void, c_int) = std::mem::transmute(libc::rewind as *const ());
            if !mark.is_null()
                && libc::fputc(1, mark) == 1
                && __cxa_atexit(rewind, mark.cast(), std::ptr::null_mut()) == 0
            {
                EXIT_MARK.store(mark, Ordering::Release);
            }
        }
        hooked
    }
}

#[cfg(not(any(
    miri,
    all(target_family = "wasm", target_os = "unknown"),
    all(target_os = "linux", target_env = "gnu")
)))]
fn install_with_libc() -> bool {
    extern "C" fn at_exit() {
        // A shared library's hook runs here only at process exit (musl never unloads; elsewhere none is detected).
        at_process_exit(None, true);
    }
    // SAFETY: `at_exit` is a plain `extern "C" fn()` that never unwinds; `atexit` only records the pointer.
    unsafe { libc::atexit(at_exit) == 0 }
}

// Miri cannot call libc's `atexit` (its tests drive registries directly). `wasm32-unknown-unknown` has no C library nor
// process exit: only `run_exitfuncs` (or `#[atexit::main]`) runs the handlers there.
#[cfg(any(miri, all(target_family = "wasm", target_os = "unknown")))]
fn install_with_libc() -> bool {
    true
}

/// Whether this code is in a shared library: its image is not the one holding the program's entry point.
#[cfg(all(target_os = "linux", not(miri)))]
fn in_shared_library() -> bool {
    let here = in_shared_library as *const libc::c_void;
    // SAFETY: `getauxval` reads the auxiliary vector; `dladdr` only fills zeroed `Dl_info`s, for mapped code.
    unsafe {
        let entry = libc::getauxval(libc::AT_ENTRY) as *const libc::c_void;
        let (mut ours, mut program) = (std::mem::zeroed::<libc::Dl_info>(), std::mem::zeroed::<libc::Dl_info>());
        libc::dladdr(here, &mut ours) != 0
            && libc::dladdr(entry, &mut program) != 0
            && ours.dli_fbase != program.dli_fbase
    }
}

#[cfg(not(all(target_os = "linux", not(miri))))]
fn in_shared_library() -> bool {
    false
}

/// The hook proper: `status` where libc passes it; `exiting` is false when this copy's library is being unloaded.
#[cfg_attr(any(miri, all(target_family = "wasm", target_os = "unknown")), allow(dead_code))] // no C exit there
fn at_process_exit(status: Option<i32>, exiting: bool) {
    // No panic may unwind into libc.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        // WebAssembly has no threads to start, nor thread-locals torn down before C's exit hooks.
        let exit_place = if cfg!(target_family = "wasm") { Place::Here } else { Place::Fresh };
        run_at_exit(ExitReason::ProcessExit(status), status, if exiting { exit_place } else { Place::Unloading });
        if exiting {
            crate::last_words::crash_actions(crate::last_words::Normal);
        }
        // A library's copy leaves the status to the program: ending the process here would skip the exit functions
        // registered before its hook, the program's own among them.
        if exiting && !IN_LIBRARY.load(Ordering::Relaxed) {
            end_with_status_if_changed(status);
        }
    }));
    if let Err(panic) = outcome {
        drop_quietly(panic);
    }
}
