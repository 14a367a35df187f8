//! The threads the runtime starts while the process exits: the fresh
//! thread the handlers run on, a continuation, an async handler's thread,
//! the watchdog.
//!
//! On Unix they are plain, detached `pthread`s, not `std::thread`s, for
//! two reasons. The exit hook runs after libc has destroyed the exiting
//! thread's thread-locals, and `std::thread::spawn` reads one of them (its
//! spawn hooks) and panics there, once the thread had spawned a thread
//! before: rust-lang/rust#138696, fixed by rust-lang/rust#138702 in Rust
//! 1.87 (checked: a C exit hook that spawns, after `main` spawned and
//! joined a thread, panics on 1.85 and 1.86 and not on 1.87). The deadline
//! was silently lost that way (the test
//! `deadline_while_the_exit_waits_for_another_threads_run`, on 1.85). This
//! reason goes once the declared `rust-version` is 1.87 or later. The other
//! stays: `std::thread::spawn` allocates what the new thread frees, and the
//! first `free` on a thread sets up a heap arena for it (see [`Plain`]), a
//! cost every program would pay at exit. Nothing started here is joined.

use std::ffi::CStr;
use std::io;

use crate::lock::Lock;

/// What such a thread runs: a closure.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// A thread that runs a plain function: starting it allocates nothing, so
/// the thread frees nothing. (The first `free` on a thread makes glibc set
/// up a heap arena for it, an `mmap` of 64 MiB or more, which a thread that
/// runs handlers that allocate nothing does not need.)
pub(crate) struct Plain {
    /// 15 bytes at most.
    #[cfg_attr(not(any(target_os = "linux", target_os = "android", target_os = "macos", not(unix))), allow(dead_code))]
    pub(crate) name: &'static CStr,
    pub(crate) run: fn(),
}

/// Starts `plain` on a new detached thread.
#[cfg(unix)]
pub(crate) fn spawn(plain: &'static Plain) -> io::Result<()> {
    extern "C" fn start(arg: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: `arg` is the `&'static Plain` that `spawn` passed. The
        // thread names itself (one system call, off the starting thread's
        // path): `name` is NUL-terminated and at most 16 bytes with it.
        // `gettid` has no preconditions.
        let plain = unsafe {
            let plain = &*arg.cast::<Plain>();
            #[cfg(any(target_os = "linux", target_os = "android"))]
            {
                libc::prctl(libc::PR_SET_NAME, plain.name.as_ptr());
                OURS.set(libc::gettid());
            }
            #[cfg(target_os = "macos")]
            libc::pthread_setname_np(plain.name.as_ptr());
            plain
        };
        // No panic may unwind out of a thread's start routine.
        let _ = std::panic::catch_unwind(plain.run);
        std::ptr::null_mut()
    }
    // SAFETY: a zeroed `pthread_t` is a valid place for `pthread_create` to
    // write to; `start` has the signature it calls and never unwinds; `arg`
    // is a `&'static`.
    unsafe {
        let mut thread: libc::pthread_t = std::mem::zeroed();
        let arg = (plain as *const Plain).cast_mut().cast();
        let rc = libc::pthread_create(&mut thread, std::ptr::null(), start, arg);
        if rc != 0 {
            return Err(io::Error::from_raw_os_error(rc));
        }
        libc::pthread_detach(thread);
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn spawn(plain: &'static Plain) -> io::Result<()> {
    std::thread::Builder::new().name(plain.name.to_string_lossy().into_owned()).spawn(plain.run).map(drop)
}

/// Closures waiting for a thread of [`spawn_job`]'s to run them.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
static JOBS: Lock<Vec<Job>> = Lock::new(Vec::new());

/// Starts `job` on a new detached thread (named `atexit-async`: an async
/// handler is the one closure such a thread runs), or gives it back with
/// the error. Each such thread runs one job of [`JOBS`]; which does not
/// matter.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) fn spawn_job(job: Job) -> Result<(), (io::Error, Job)> {
    static JOB: Plain = Plain { name: c"atexit-async", run: run_one_job };
    fn run_one_job() {
        let job = JOBS.lock().pop();
        if let Some(job) = job {
            job();
        }
    }
    JOBS.lock().push(job);
    spawn(&JOB).map_err(|e| {
        // This job, or one another thread's job left for it: the same.
        let job = JOBS.lock().pop().expect("a job for each thread not started");
        (e, job)
    })
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

/// The calling thread's id, for a thread not started here (read from
/// `/proc`, which the look at a parked thread needs anyway).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn tid() -> Option<i32> {
    thread_local! {
        // Read once per thread. `const` and without destructor.
        static TID: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
    }
    let known = ours().unwrap_or_else(|| TID.get());
    if known != 0 || cfg!(miri) {
        // Miri has no `/proc` (its tests run no exit).
        return Some(known).filter(|&tid| tid != 0);
    }
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    let tid = link.file_name()?.to_str()?.parse().ok()?;
    TID.set(tid);
    Some(tid)
}

/// Whether thread `tid` of this process is blocked for good where the
/// standard library parks a thread that calls `std::process::exit` while
/// another thread exits: in `pause()` (glibc and musl make it `pause`,
/// `rt_sigsuspend` or an empty `ppoll` where there is no `pause` system
/// call). That guard exists on Linux only (rust-lang/rust#126606).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn parked_in_exit(tid: i32) -> bool {
    if cfg!(miri) {
        return false;
    }
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

/// Whether the calling thread runs in a tokio runtime.
pub(crate) fn in_a_runtime() -> bool {
    #[cfg(feature = "tokio")]
    return tokio::runtime::Handle::try_current().is_ok();
    #[cfg(not(feature = "tokio"))]
    false
}

/// The calling process's id; 0 where there is no `fork` and none to ask
/// (WebAssembly: `std::process::id` panics there).
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) fn process_id() -> u32 {
    #[cfg(unix)]
    return std::process::id();
    #[cfg(not(unix))]
    0
}
