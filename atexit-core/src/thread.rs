//! Threads the runtime starts while the process exits (the fresh thread running handlers, a continuation, an async
//! handler's thread, the watchdog), never joined. On Unix they are detached `pthread`s, not `std::thread`s, because:
//! 1. The exit hook runs after libc destroyed the exiting thread's thread-locals, and `std::thread::spawn` reads one
//!    (its spawn hooks) and panics there if the thread had spawned before: rust-lang/rust#138696, fixed by
//!    rust-lang/rust#138702 in Rust 1.87 (a C exit hook spawning after `main` spawned and joined a thread panics on
//!    1.85 and 1.86, not 1.87; on 1.85 the test `deadline_while_the_exit_waits_for_another_threads_run` silently lost
//!    its deadline). Drop this reason once the declared `rust-version` is 1.87 or later.
//! 2. `std::thread::spawn` allocates what the new thread frees, costing every program a heap arena at exit ([`Plain`]).

use std::ffi::CStr;
use std::io;

use crate::lock::Lock;

#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) type Job = Box<dyn FnOnce() + Send>;

/// A thread running a plain function: starting it allocates nothing, so the thread frees nothing and glibc sets up no
/// heap arena for it (an `mmap` of 64 MiB or more, made at a thread's first `free`) unless its handlers allocate.
pub(crate) struct Plain {
    #[cfg_attr(not(any(target_os = "linux", target_os = "android", target_os = "macos", not(unix))), allow(dead_code))]
    pub(crate) name: &'static CStr, // 15 bytes at most
    pub(crate) run: fn(),
}

/// Starts `plain` on a new detached thread.
#[cfg(unix)]
pub(crate) fn spawn(plain: &'static Plain) -> io::Result<()> {
    extern "C" fn start(arg: *mut libc::c_void) -> *mut libc::c_void {
        // SAFETY: `arg` is the `&'static Plain` from `spawn`; `name` is NUL-terminated, 16 bytes at most with it (the
        // thread names itself to keep that system call off the starting thread's path). `gettid` has no preconditions.
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
        #[cfg(feature = "crash")]
        let _stack = crate::crash::AlternateStack::for_this_thread();
        // No panic may unwind out of a thread's start routine.
        let _ = std::panic::catch_unwind(plain.run);
        std::ptr::null_mut()
    }
    // SAFETY: `pthread_create` may write a zeroed `pthread_t`; `start` fits it and never unwinds; `arg` is `'static`.
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

/// Starts `job` on a new detached thread (`atexit-async`: only async handlers run there), or gives it back with the
/// error. Each such thread runs one job of [`JOBS`], whichever.
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) fn spawn_job(job: Job) -> Result<(), (io::Error, Job)> {
    static JOB: Plain = Plain { name: c"atexit-async", run: run_one_job };
    fn run_one_job() {
        let Some(job) = JOBS.lock().pop() else { return };
        job();
    }
    JOBS.lock().push(job);
    // Pops this job or another caller's: either way, one job stays per thread started.
    spawn(&JOB).map_err(|e| (e, JOBS.lock().pop().expect("a job for each thread not started")))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
thread_local! {
    // The id of a thread started here, 0 on others; `const` without destructor: usable in thread-local teardown.
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

/// The calling thread's id, also for threads not started here: from `/proc`, which checking parked threads needs too
/// (Linux only: elsewhere none).
pub(crate) fn tid() -> Option<i32> {
    thread_local! {
        // Read once per thread. `const` and without destructor.
        static TID: std::cell::Cell<i32> = const { std::cell::Cell::new(0) };
    }
    let known = ours().unwrap_or_else(|| TID.get());
    if known != 0 || cfg!(miri) || !cfg!(any(target_os = "linux", target_os = "android")) {
        // Miri has no `/proc` (its tests run no exit).
        return Some(known).filter(|&tid| tid != 0);
    }
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    let tid = link.file_name()?.to_str()?.parse().ok()?;
    TID.set(tid);
    Some(tid)
}

/// Whether thread `tid` is blocked for good where std parks a thread calling `std::process::exit` while another exits:
/// in `pause()`, which glibc and musl make `pause`, `rt_sigsuspend`, or an empty `ppoll` where there is no `pause`
/// system call. That guard exists on Linux only (rust-lang/rust#126606): elsewhere, nothing parks.
pub(crate) fn parked_in_exit(tid: i32) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if !cfg!(miri) {
        return parked_in_pause(tid);
    }
    let _ = tid;
    false
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn parked_in_pause(tid: i32) -> bool {
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

/// Runs `f` here; where tokio allows it, as a blocking region (`block_in_place`): on a worker of a multi-thread
/// runtime (a thread with tokio's default name: `tokio-rt-worker`, `tokio-runtime-worker` in older releases), which
/// hands its tasks to another thread first, so that the tasks the handlers wake are not stuck behind it (in the
/// worker's own slot, which no other worker takes); and, with `in_block_on`, on the thread in a multi-thread runtime's
/// `block_on` (`#[atexit::main]`'s run). There tokio's blocking calls (`blocking_recv`, `Handle::block_on`) work in a
/// sync handler. Elsewhere just `f()`: a `current_thread` runtime, a `LocalSet`, a handle merely entered (where
/// `block_in_place` panics), a worker renamed by the program.
pub(crate) fn off_the_runtime<R>(in_block_on: bool, f: impl FnOnce() -> R) -> R {
    #[cfg(all(feature = "tokio", not(target_family = "wasm")))]
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        // Tokio has no public way to tell its worker threads; their default names do.
        let a_worker = || matches!(std::thread::current().name(), Some("tokio-rt-worker" | "tokio-runtime-worker"));
        if runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread && (in_block_on || a_worker()) {
            return tokio::task::block_in_place(f);
        }
    }
    #[cfg(not(all(feature = "tokio", not(target_family = "wasm"))))]
    let _ = in_block_on;
    f()
}

/// Whether the calling thread runs in a tokio runtime.
pub(crate) fn in_a_runtime() -> bool {
    #[cfg(feature = "tokio")]
    return tokio::runtime::Handle::try_current().is_ok();
    #[cfg(not(feature = "tokio"))]
    false
}

/// The process's id; 0 where there is no `fork` and none to ask (on WebAssembly `std::process::id` panics).
#[cfg_attr(not(feature = "tokio"), allow(dead_code))] // async handlers: feature `tokio`
pub(crate) fn process_id() -> u32 {
    #[cfg(unix)]
    return std::process::id();
    #[cfg(not(unix))]
    0
}
