//! The threads the runtime starts while the process exits: the deadline's
//! watchdog, and handlers that run with a time limit.
//!
//! On Unix they are plain, detached `pthread`s, not `std::thread`s: the
//! exit hook runs after libc has destroyed the exiting thread's
//! thread-locals, and `std::thread::spawn` of Rust 1.85 reads one of them
//! (its spawn hooks) and panics there; the deadline was silently lost that
//! way (the test `deadline_while_the_exit_waits_for_another_threads_run`,
//! on 1.85). Nothing started here is ever joined.

use std::ffi::CStr;
use std::io;

/// What such a thread runs: a closure.
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// A thread that runs a plain function: starting it allocates nothing, so
/// the thread frees nothing. (The first `free` on a thread makes glibc set
/// up a heap arena for it, an `mmap` of 64 MiB or more, which a thread that
/// runs handlers that allocate nothing does not need.)
pub(crate) struct Plain {
    /// 15 bytes at most.
    pub(crate) name: &'static CStr,
    pub(crate) run: fn(),
}

/// Starts `plain` on a new detached thread.
pub(crate) fn spawn(plain: &'static Plain) -> io::Result<()> {
    #[cfg(unix)]
    {
        extern "C" fn start(arg: *mut libc::c_void) -> *mut libc::c_void {
            // SAFETY: `arg` is the `&'static Plain` that `spawn` passed.
            let plain = unsafe { &*arg.cast::<Plain>() };
            started(plain.name);
            // No panic may unwind out of a thread's start routine.
            let _ = std::panic::catch_unwind(plain.run);
            std::ptr::null_mut()
        }
        create(start, (plain as *const Plain).cast_mut().cast())
    }
    #[cfg(not(unix))]
    std::thread::Builder::new().name(plain.name.to_string_lossy().into_owned()).spawn(plain.run).map(drop)
}

/// Starts `job` on a new detached thread named `name` (15 bytes at most),
/// or gives it back with the error.
#[cfg(unix)]
pub(crate) fn spawn_detached(name: &'static CStr, job: Job) -> Result<(), (io::Error, Job)> {
    extern "C" fn start(arg: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: `arg` is the box that `spawn_detached` leaked for this
        // thread alone; it is taken back once, here.
        let (name, job) = *unsafe { Box::from_raw(arg.cast::<(&'static CStr, Job)>()) };
        started(name);
        // No panic may unwind out of a thread's start routine.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        std::ptr::null_mut()
    }
    let arg = Box::into_raw(Box::new((name, job)));
    create(start, arg.cast()).map_err(|e| {
        // SAFETY: no thread was created: the box is still this function's.
        let (_, job) = *unsafe { Box::from_raw(arg) };
        (e, job)
    })
}

/// Creates a detached thread that runs `start(arg)`.
#[cfg(unix)]
fn create(start: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void, arg: *mut libc::c_void) -> io::Result<()> {
    // SAFETY: a zeroed `pthread_t` is a valid place for `pthread_create` to
    // write to; `start` has the signature it calls and never unwinds; what
    // `arg` points to stays valid until `start` is done with it (or the
    // caller takes it back when no thread was created).
    unsafe {
        let mut thread: libc::pthread_t = std::mem::zeroed();
        let rc = libc::pthread_create(&mut thread, std::ptr::null(), start, arg);
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        libc::pthread_detach(thread);
    }
    Ok(())
}

/// On a thread started here, first: it names itself (one system call, off
/// the starting thread's path) and records its id.
#[cfg(unix)]
fn started(name: &'static CStr) {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    // SAFETY: `name` is NUL-terminated and at most 16 bytes with it;
    // `gettid` has no preconditions.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, name.as_ptr());
        OURS.set(libc::gettid());
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = name;
}

#[cfg(not(unix))]
pub(crate) fn spawn_detached(name: &'static CStr, job: Job) -> Result<(), (io::Error, Job)> {
    use std::sync::{Arc, Mutex, PoisonError};
    let slot = Arc::new(Mutex::new(Some(job)));
    let theirs = Arc::clone(&slot);
    let spawned = std::thread::Builder::new().name(name.to_string_lossy().into_owned()).spawn(move || {
        if let Some(job) = theirs.lock().unwrap_or_else(PoisonError::into_inner).take() {
            job()
        }
    });
    match spawned {
        Ok(_) => Ok(()),
        Err(e) => match slot.lock().unwrap_or_else(PoisonError::into_inner).take() {
            Some(job) => Err((e, job)),
            None => Ok(()),
        },
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
thread_local! {
    // The thread id of a thread started here; 0 on any other. `const` and
    // without destructor: usable while the thread's thread-locals are torn down.
    static OURS: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
}

/// The id of the calling thread, if this module started it (Linux).
#[inline]
pub(crate) fn ours() -> Option<i32> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    return Some(OURS.get()).filter(|&tid| tid != 0);
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    None
}

/// Whether thread `tid` of this process is blocked for good where the
/// standard library parks a thread that calls `std::process::exit` while
/// another thread exits: in `pause()` (glibc and musl make it `pause`,
/// `rt_sigsuspend` or an empty `ppoll` where there is no `pause` system
/// call). That guard exists on Linux only (rust-lang/rust#126606).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn parked_in_exit(tid: i32) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall")) else { return false };
    let mut fields = text.split_whitespace().map(|f| i64::from_str_radix(f.trim_start_matches("0x"), 16));
    let Some(Ok(number)) = text.split_whitespace().next().map(str::parse::<i64>) else { return false };
    fields.next();
    #[cfg(target_arch = "x86_64")]
    if number == libc::SYS_pause {
        return true;
    }
    let (first, second) = (fields.next(), fields.next());
    number == libc::SYS_rt_sigsuspend || (number == libc::SYS_ppoll && first == Some(Ok(0)) && second == Some(Ok(0)))
}

/// The calling process's id; 0 where there is no `fork` and none to ask
/// (WebAssembly: `std::process::id` panics there).
pub(crate) fn process_id() -> u32 {
    #[cfg(unix)]
    return std::process::id();
    #[cfg(not(unix))]
    0
}
