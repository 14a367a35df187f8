//! The process hook: how handlers run on every normal exit without `main`'s help.
//!
//! One C `atexit` function is installed before `main`, by the constructor
//! below, and again (idempotently) by the first registration, in case the
//! linker dropped the constructor. libc calls it when the process ends
//! through `exit`: `main` returning (also after a panic, with status 101)
//! and `std::process::exit` from any thread. It runs the exit run once; a
//! second caller (another thread exiting at the same moment) waits for the
//! first run, then finds nothing left to run.
//!
//! By then libc has destroyed the exiting thread's thread-locals, so the
//! handlers run on a fresh thread while the exiting one waits (none is
//! started when nothing is registered). In a shared library, where the
//! hook also runs when the library is unloaded, they run on the calling
//! thread instead, each waited for: no thread of the library may outlive
//! its unloading. A library still loaded when the process exits (glibc
//! keeps one while a thread-local destructor of it is pending; musl never
//! unloads) runs them as the program does, but leaves the status to it.

use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::exit::{end_with_status_if_changed, run_at_exit};
use crate::fork;
use crate::panic::drop_quietly;
use crate::reason::ExitReason;
use crate::run::Place;
use crate::statics::StaticHandler;

// The collection of static handlers is declared here, beside the
// constructor: every `#[atexit::register]` refers to it, so the linker keeps
// this module, and the constructor with it, in any binary that has a
// static handler, even one that never calls the runtime.
inventory::collect!(StaticHandler);

#[cfg(not(miri))]
ctor::declarative::ctor! {
    #[ctor(unsafe)]
    fn install_hook_before_main() {
        install();
    }
}

static INSTALLED: AtomicBool = AtomicBool::new(false);
/// Whether this copy of the runtime lives in a shared library rather than
/// in the program (found when the hook is installed).
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
        fork::install(|| {
            install_with_libc();
        });
    }
}

/// glibc passes the exit status to functions registered with
/// `__cxa_atexit` (as it does to `on_exit` ones): the hook is registered
/// that way there, for [`ExitReason::ProcessExit`]'s code. With this
/// shared object's `__dso_handle`, as C's `atexit` does, so that in a
/// plugin it runs when the plugin is unloaded (with status 0), or at the
/// process's exit if it is still loaded then.
///
/// Which of the two it is, a plugin's hook tells by a mark: a C stream,
/// one byte into it, that glibc's exit rewinds just before it calls the
/// hook. `rewind` is registered after the hook (exit calls the functions
/// last registered first) and bound to no shared object (so `dlclose`
/// never calls it); it is libc's code, which outlives the plugin. glibc
/// calls such a function with the status as a second argument, as it
/// calls every C++ destructor registered so; `rewind` ignores it.
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
    // SAFETY: `at_exit_with_status` never unwinds and takes the arguments
    // glibc passes; `__dso_handle` is this object's handle, only its
    // address is used. `fmemopen` with no buffer allocates its own, which
    // lives as long as the stream (never closed); `rewind`'s address, as a
    // function of the type glibc calls, takes the stream glibc passes it as
    // its first argument and ignores the second (see above).
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
        // A shared library's hook runs here at the process's exit only
        // (musl does not unload libraries; elsewhere none is detected).
        at_process_exit(None, true);
    }
    // SAFETY: `at_exit` is a plain `extern "C" fn()` that never unwinds;
    // `atexit` only records the pointer.
    unsafe { libc::atexit(at_exit) == 0 }
}

// Miri cannot call libc's `atexit`; its tests drive registries directly.
// `wasm32-unknown-unknown` has no C library and no process exit: nothing
// runs the handlers there but `run_exitfuncs` (or `#[atexit::main]`).
#[cfg(any(miri, all(target_family = "wasm", target_os = "unknown")))]
fn install_with_libc() -> bool {
    true
}

/// Whether this code was loaded as part of a shared library: its image is
/// not the one holding the program's entry point.
#[cfg(all(target_os = "linux", not(miri)))]
fn in_shared_library() -> bool {
    let here = in_shared_library as *const libc::c_void;
    // SAFETY: `getauxval` reads the auxiliary vector; `dladdr` only fills
    // the `Dl_info`s, zeroed (null pointers) beforehand, for two addresses
    // of mapped code.
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

/// The exit hook proper, given the status where libc passes it, and
/// whether the process is exiting (`false`: this copy's shared library is
/// being unloaded).
#[cfg_attr(any(miri, all(target_family = "wasm", target_os = "unknown")), allow(dead_code))] // no C exit there
fn at_process_exit(status: Option<i32>, exiting: bool) {
    // No panic may unwind into libc.
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| {
        if !exiting {
            run_at_exit(ExitReason::ProcessExit(status), status, Place::Unloading);
        } else {
            // WebAssembly has no threads to start, and no thread-locals
            // torn down before the C library's exit hooks.
            let place = if cfg!(target_family = "wasm") { Place::Here } else { Place::Fresh };
            run_at_exit(ExitReason::ProcessExit(status), status, place);
            // A shared library's copy leaves the status to the program:
            // ending the process here would skip the exit functions
            // registered before its hook, the program's own among them.
            if !IN_LIBRARY.load(Ordering::Relaxed) {
                end_with_status_if_changed(status);
            }
        }
    }));
    if let Err(panic) = outcome {
        drop_quietly(panic);
    }
}
