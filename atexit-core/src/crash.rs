//! Crash actions: what must still happen when the process crashes (feature `crash`, Unix and Windows).
//!
//! Exit handlers run on every normal ending; a crash (`SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`, `SIGABRT`, `SIGTRAP`: a
//! null-pointer write, a stack overflow, `abort()`, a `panic = "abort"` build's panic) runs none, in any language. Yet
//! the cleanup users need most is what a crashed process can still do safely: put the terminal back, remove a lock
//! file, stop a child process group, write one last line. A crash [`Action`] is that work, prepared when it is made
//! (the terminal's mode saved, the path a C string, the descriptor duplicated), so that running it allocates nothing,
//! takes no lock and makes only async-signal-safe calls (`write`, `poll`, `tcsetattr`, `unlink`, `kill`; on Windows
//! `WriteFile`, `SetConsoleMode`, `DeleteFileW`).
//!
//! ```no_run
//! # extern crate atexit_core as atexit;
//! # #[cfg(unix)] {
//! use atexit::crash::{self, Action};
//! use std::os::fd::AsFd; // on Windows, `std::os::windows::io::AsHandle` and `as_handle()`
//!
//! let stdout = std::io::stdout();
//! crash::register(Action::restore_terminal(stdout.as_fd())?)?; // the mode it has now
//! // ... enter raw mode and the alternate screen, then:
//! crash::register(Action::write(stdout.as_fd(), crash::LEAVE_FULL_SCREEN)?)?;
//! # }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! The constructors that differ: Unix's take a descriptor (`BorrowedFd`), Windows' a handle (`BorrowedHandle`);
//! `signal_process_group` is Unix's, `terminate_job` (the processes of a job object) Windows'.
//!
//! **When they run**, last registered first, each at most once in a process, whichever ending comes first:
//! - a crash on Unix, on the thread that crashed. The signal's previous handler (std's, which prints "has overflowed
//!   its stack"; a runtime's, such as wasmtime's or a JVM's, that may recover) sees a fault first, and the actions run
//!   only if it gives the fault up (sets the default action back, as std's does). They run first on `SIGABRT`
//!   (`abort()` never recovers), on a stack overflow where the handler before ours is std's (its report aborts, on an
//!   alternate stack with no room for more), and before a one-shot handler (`SA_RESETHAND`: a crash reporter, which may end the process itself). Then
//!   the previous disposition takes over and the signal is raised again: the process ends as it would have without
//!   actions (same signal, a core dump where it would have had one). A signal sent from outside (`kill -SEGV`) counts
//!   as a crash and ends the process unless ignored, where std's handler alone would let a first one pass.
//! - a crash on Windows, on the thread that crashed: an exception no handler took (an access violation, an illegal
//!   instruction, a division by zero, a breakpoint, a stack overflow), through an unhandled-exception filter; and C's
//!   `abort()`, through the C runtime's `SIGABRT` handler. A filter set before the first action sees the exception
//!   first: the actions run unless it resumes the program (`EXCEPTION_CONTINUE_EXECUTION`, as a runtime that repairs a
//!   fault does), and it decides how the process ends; a crash reporter's filter that ends the process itself ends it
//!   before the actions (install it after the first action, calling the filter it replaces). An abort handler set
//!   before the first action is called after them. Without either, the process ends as it would have (the exception's
//!   code; for `abort()`, 3 with mingw's C runtime, `__fastfail`'s code with the UCRT's). Rust's `std::process::abort`
//!   (and so a `panic = "abort"` build's panic after its hook) ends the process by `__fastfail`, which nothing in it
//!   sees: the actions do not run there, but before the panic message they do (below). A debugger attached sees the
//!   exception instead.
//! - a normal exit, after the exit handlers (not for an action [`only_on_crash`](Action::only_on_crash), which a crash
//!   later in the exit still runs);
//! - the death by a signal that `signals` handles, after the handlers, and the forced path: a second signal while they
//!   run, and the exit [deadline](crate::set_deadline) passing, which skip the handlers left;
//! - a `panic = "abort"` build's panic, before the panic message is printed (on the screen the user sees), through a
//!   panic hook installed with the first action around the one before: a hook the program sets later must call the one
//!   it replaces first, or be set before the first action.
//!
//! A handler before ours that itself faults while handling the fault ends the process there (the signal is blocked in
//! it): the actions do not run.
//!
//! Nothing in the process runs them on `SIGKILL`, `_exit`, `exec`, a seccomp kill, or the default death of a signal no
//! one handles (`SIGQUIT`, say, without `signals`); on Windows, on `TerminateProcess`, `__fastfail`, or `ExitProcess`
//! called by the program itself (`std::process::exit` there: see the crate's exit table).
//!
//! **Limits.** At most [`CAPACITY`] actions at once. A fault inside an action a crash runs skips the rest and the
//! process dies; in a normal exit's run, a crash on the thread running them (a fault in an action, a signal sent to it)
//! runs the rest first. A crash while a normal exit runs the actions waits for them, then runs those left and ends the
//! process as the crash does: the exit waits for that (2 s at most, on Linux and Windows) rather than end it first with
//! its own status. A normal exit that finds a crash's run under way waits for it (only the deadline bounds that wait),
//! then 2 s at most for the crash to end the process: where the process goes on after a crash's run (a handler before
//! ours resumed it after the actions), an exit from another thread takes 2 s longer.
//!
//! **Unix limits.** A thread that crashes while another runs the actions waits for them (2 s at most on Linux;
//! elsewhere until they are done), then dies; one that faults within microseconds of the first may find, for that
//! moment, the default action std's handler set back before ours is reinstalled, and end the process at once. Writes to
//! terminals and pipes do not block; all the actions' writes together wait [`WRITES_PATIENCE`] at most, and `SIGPIPE`
//! does not end the process. A stack overflow runs the actions only on a thread with an alternate signal stack: std
//! gives one to the main thread and to threads it spawns, the runtime to the threads it starts at exit once an action
//! is registered; one made by C (`pthread_create`) without one runs none (it dies of `SIGSEGV`, as it would without
//! actions). A debug build's frames are large: there, an action that aborts on a machine whose signal frames are large
//! (AVX-512) may overflow std's 8 KiB alternate stack, ending the process by `SIGSEGV` rather than `SIGABRT`. Actions
//! are installed lazily, at the first one: std installs its stack-overflow handler only where the disposition is still
//! the default when it starts. A `fork()`ed child keeps only the actions made
//! [`inherit_on_fork`](Action::inherit_on_fork). A raw `sigaction` for these signals set after the first action
//! replaces ours unless it calls the previous handler (`signal-hook`'s does). `signals::install_for` may handle
//! `SIGABRT` (`Signal::Other(libc::SIGABRT)`), before or after the first action: `abort()` then runs the actions, and
//! wakes the signal thread, which races with `abort()`'s own ending: the exit handlers may not run. A plugin (a shared
//! library with its own copy of the runtime) that registers one is pinned, never unloaded: the handlers' code must
//! outlive `dlclose`. A `SIGSEGV` near the stack pointer is taken for a stack overflow and runs the actions before the
//! handler before ours when that handler is in the same executable or library as the runtime (std's is, unless std is
//! linked as a library of its own, `-C prefer-dynamic`: there they run from std's abort instead): a handler of the
//! program's own that repairs such faults (growing a stack of its own) finds the actions run; one in a library of its
//! own (a JVM's, banging its stack's pages) sees the fault first.
//!
//! **Windows limits.** A thread that crashes while another runs the actions waits for them, 2 s at most. A write to a
//! pipe takes what its buffer has room for at once (the pipe is made non-blocking for the write, then set back) and
//! drops the rest; a write to a console blocks while the user selects text in it. Only the C runtime the runtime is
//! linked with sees `abort()` (a library with a C runtime of its own has its own `SIGABRT` handler); where `SIGABRT` is
//! ignored when the first action is registered, it stays ignored and `abort()` runs none. A `raise(SIGABRT)` runs them
//! and then ends the process as `abort()` does: with mingw's C runtime, status 3, as without actions; with the UCRT, by
//! `__fastfail`, where without actions it would have exited with status 3. Under Wine 8, a stack overflow ends the
//! overflowing thread without the filter: no action runs. A filter set after the first action replaces ours unless it
//! calls the one it replaced. A DLL with its own copy of the runtime that registers one is pinned, never unloaded.

use std::io;
use std::ptr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::wait::Event;

#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as platform;
#[cfg(unix)]
pub(crate) use unix::AlternateStack;
#[cfg(windows)]
mod windows;
#[cfg(windows)]
use windows as platform;

/// How many actions may be registered at once.
pub const CAPACITY: usize = 64;

/// What a full-screen terminal program sends to leave: show the cursor, leave the alternate screen, stop mouse
/// reporting (all modes) and bracketed paste. Harmless on a terminal that was in none of them.
pub const LEAVE_FULL_SCREEN: &[u8] = b"\x1b[?25h\x1b[?1049l\x1b[?1000l\x1b[?1002l\x1b[?1003l\x1b[?1006l\x1b[?2004l";

/// How long the actions' writes, all together, wait for their descriptors to take the bytes (a full pipe, a stopped
/// terminal); after that, each writes only what is taken at once.
pub const WRITES_PATIENCE: Duration = Duration::from_millis(500);
/// How long a thread that crashes while another runs the actions waits for them.
const OTHER_THREAD_PATIENCE: Duration = Duration::from_secs(2);

/// A crash action, prepared. Register it with [`register`].
#[must_use = "an Action does nothing until `crash::register` takes it"]
pub struct Action(Box<Prepared>);

struct Prepared {
    work: Work,
    /// Set by `register`: its place in the order (later: runs first).
    seq: u64,
    /// The process that registered it: a `fork()`ed child runs it only if inherited.
    pid: u32,
    inherited: bool,
    on_normal_exit: bool,
    ran: AtomicBool,
}

enum Work {
    /// What the platform does: a terminal's mode, a write, a removal, a signal.
    Os(platform::OsWork),
    Call(fn()),
}

impl Action {
    /// Calls `f`.
    ///
    /// # Safety
    /// `f` runs in a signal handler of a crashed process, on whichever thread crashed, perhaps on a small alternate
    /// stack: it must call only async-signal-safe functions (`signal-safety(7)`), allocate nothing, take no lock (not
    /// `println!`'s), not panic, and use little stack. On Windows it runs in an unhandled-exception filter or the C
    /// runtime's `SIGABRT` handler, on what is left of the crashed thread's stack: the same rules (the crash may have
    /// come while that thread held the heap's lock or the loader's).
    pub unsafe fn call(f: fn()) -> Action {
        Action::prepared(Work::Call(f))
    }

    /// Runs it only on a crash and the forced endings, not at a normal exit.
    pub fn only_on_crash(mut self) -> Action {
        self.0.on_normal_exit = false;
        self
    }

    /// Keeps it in a `fork()`ed child (by default a child runs none of its parent's actions). Nothing on Windows.
    pub fn inherit_on_fork(mut self) -> Action {
        self.0.inherited = true;
        self
    }

    fn new(work: platform::OsWork) -> Action {
        Action::prepared(Work::Os(work))
    }

    fn prepared(work: Work) -> Action {
        let prepared = Prepared {
            work,
            seq: 0,
            pid: std::process::id(),
            inherited: false,
            on_normal_exit: true,
            ran: AtomicBool::new(false),
        };
        Action(Box::new(prepared))
    }
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.0.work {
            Work::Os(work) => work.kind(),
            Work::Call(_) => "call",
        };
        f.debug_struct("Action").field("kind", &kind).finish_non_exhaustive()
    }
}

/// A registered crash action, to [`remove`](CrashAction::remove) it. Dropping it leaves the action registered.
#[derive(Debug)]
pub struct CrashAction {
    slot: usize,
    action: *mut Prepared,
}

// SAFETY: the pointer is only compared and, once taken out of its slot by a compare-and-swap, freed by one thread.
unsafe impl Send for CrashAction {}
// SAFETY: as for `Send`: `&CrashAction` offers nothing that uses the pointer.
unsafe impl Sync for CrashAction {}

impl CrashAction {
    /// Removes the action; false if it was no longer registered (a `fork()`ed child's copy of a parent's action, say).
    /// Removed during a crash, its memory is left to the process's end.
    pub fn remove(self) -> bool {
        let taken = SLOTS[self.slot].compare_exchange(self.action, ptr::null_mut(), Ordering::SeqCst, Ordering::SeqCst);
        if taken.is_err() {
            return false;
        }
        // A crash that began before the swap may be running it: leak it then. (Sequentially consistent: a crash that
        // begins after this load sees the slot empty.)
        if RUNNER.load(Ordering::SeqCst) == IDLE {
            // SAFETY: the pointer came from `Box::into_raw` in `register`; the swap took it out of its slot, so no one
            // else frees it, and no crash is reading it.
            drop(unsafe { Box::from_raw(self.action) });
        }
        true
    }
}

static SLOTS: [AtomicPtr<Prepared>; CAPACITY] = [const { AtomicPtr::new(ptr::null_mut()) }; CAPACITY];
static NEXT_SEQ: AtomicU64 = AtomicU64::new(1);
/// Where `register` looks for a free slot first.
static FREE_FROM: AtomicUsize = AtomicUsize::new(0);

/// Registers a crash action (see the [module docs](self)); the first one installs the signal handlers.
///
/// # Errors
/// [`CAPACITY`] actions are registered already (`ErrorKind::OutOfMemory`), or a handler could not be installed.
pub fn register(action: Action) -> io::Result<CrashAction> {
    install()?;
    let mut prepared = action.0;
    prepared.seq = NEXT_SEQ.fetch_add(1, Ordering::Relaxed);
    let raw = Box::into_raw(prepared);
    // From the slot after the last one taken, so that registering does not scan the ones taken before.
    let start = FREE_FROM.load(Ordering::Relaxed);
    for slot in (start..CAPACITY).chain(0..start) {
        if SLOTS[slot].compare_exchange(ptr::null_mut(), raw, Ordering::SeqCst, Ordering::Relaxed).is_ok() {
            FREE_FROM.store((slot + 1) % CAPACITY, Ordering::Relaxed);
            return Ok(CrashAction { slot, action: raw });
        }
    }
    // SAFETY: `raw` came from `Box::into_raw` just above and was put in no slot.
    drop(unsafe { Box::from_raw(raw) });
    Err(io::Error::new(io::ErrorKind::OutOfMemory, format!("at most {CAPACITY} crash actions may be registered")))
}

static INSTALLED: AtomicBool = AtomicBool::new(false);
static INSTALLING: Mutex<()> = Mutex::new(());

/// Whether an action was ever registered: what sees a crash is installed.
fn installed() -> bool {
    INSTALLED.load(Ordering::Acquire)
}

/// Installs what sees a crash and the panic hook, once, at the first action.
fn install() -> io::Result<()> {
    if installed() {
        return Ok(());
    }
    let _installing = INSTALLING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if installed() {
        return Ok(());
    }
    platform::install()?;
    #[cfg(panic = "abort")]
    before_a_panic_message();
    INSTALLED.store(true, Ordering::Release);
    Ok(())
}

/// The actions' run, one word: `IDLE`; the thread running them (`this_thread()`), with `NORMAL` in a normal exit's
/// run; or, with `DONE`, the thread whose forced ending ran them (no other runs them again in this process).
static RUNNER: AtomicUsize = AtomicUsize::new(IDLE);
/// No thread runs the actions.
const IDLE: usize = 0;
const NORMAL: usize = 1;
const DONE: usize = 2;
static FINISHED: Event = Event::new();
/// A forced ending (a crash, the deadline) came while a normal exit ran the actions: it ends the process.
static FORCED_MEANWHILE: AtomicBool = AtomicBool::new(false);

/// What ends the process.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Ending {
    /// A normal exit, after the handlers.
    Normal,
    /// A crash or a forced or signal's ending.
    Forced,
}

/// Runs the actions due, once in the process. Async-signal-safe: a crashed thread, a signal handler and the exit all
/// come here. A fault in an action comes back here on the same thread: the rest are skipped.
pub(crate) fn run_actions(ending: Ending) {
    if !installed() {
        return; // no action was ever registered
    }
    let me = this_thread();
    let mine = if ending == Ending::Normal { me | NORMAL } else { me };
    loop {
        match RUNNER.compare_exchange(IDLE, mine, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => break,
            // A forced ending ran them; another thread's ends the process.
            Err(state) if state & DONE != 0 => {
                if ending == Ending::Normal && state != DONE | me {
                    let_the_forced_ending_end_it();
                }
                return;
            }
            // This thread runs them already. In a normal exit's run, a crash here (a signal sent to this thread, a
            // fault in an action) takes the run over and runs the rest now, nested, before it ends the process; in a
            // crash's run, a fault in an action skips the rest.
            Err(state) if state & !NORMAL == me => {
                if ending == Ending::Normal || state & NORMAL == 0 {
                    return;
                }
                RUNNER.store(me, Ordering::SeqCst);
                break;
            }
            // Another thread runs them. A normal exit waits for a crash's run (which ends the process; only the
            // deadline bounds this wait), then as above.
            Err(state) if ending == Ending::Normal && state & NORMAL == 0 => {
                FINISHED.wait_until(|| RUNNER.load(Ordering::SeqCst) != state);
            }
            // A crash waits for a normal exit's run, then runs those it left (the crash-only ones): 2 s at most on
            // Linux and Windows, where a wait can time out; elsewhere until it is done.
            Err(state) => {
                if ending == Ending::Forced {
                    FORCED_MEANWHILE.store(true, Ordering::SeqCst);
                }
                if !FINISHED.wait_until_for(OTHER_THREAD_PATIENCE, || RUNNER.load(Ordering::SeqCst) != state) {
                    return;
                }
            }
        }
    }
    let pid = std::process::id();
    let writes_until = Instant::now() + WRITES_PATIENCE;
    // Last registered first: each round runs the newest not yet considered. No allocation: `CAPACITY` scans at most.
    let mut below = u64::MAX;
    loop {
        let mut newest: Option<&Prepared> = None;
        for place in &SLOTS {
            // SAFETY: a registered pointer stays valid while `RUNNER` is not `IDLE` (`remove` leaks it then).
            if let Some(action) = unsafe { place.load(Ordering::SeqCst).as_ref() } {
                if action.seq < below && newest.is_none_or(|n| action.seq > n.seq) {
                    newest = Some(action);
                }
            }
        }
        let Some(action) = newest else { break };
        below = action.seq;
        let due = (action.pid == pid || action.inherited) && (ending == Ending::Forced || action.on_normal_exit);
        if due && !action.ran.swap(true, Ordering::SeqCst) {
            match &action.work {
                Work::Os(work) => work.run(writes_until),
                Work::Call(f) => f(),
            }
        }
    }
    // After a normal exit's run, a crash later in the exit (a destructor, another thread) still runs those left, unless
    // one on this thread took the run over meanwhile.
    if ending == Ending::Normal {
        let _ = RUNNER.compare_exchange(mine, IDLE, Ordering::SeqCst, Ordering::SeqCst);
    } else {
        RUNNER.store(DONE | me, Ordering::SeqCst);
    }
    FINISHED.notify();
    if ending == Ending::Normal && FORCED_MEANWHILE.load(Ordering::SeqCst) {
        // A thread crashed (or the deadline passed) while these ran, and runs the rest now.
        let_the_forced_ending_end_it();
    }
}

/// A forced ending on another thread ends the process: a normal exit waits for it, `OTHER_THREAD_PATIENCE` at most
/// (then goes on), rather than end it first with its own status.
fn let_the_forced_ending_end_it() {
    FINISHED.wait_until_for(OTHER_THREAD_PATIENCE, || false);
}

/// This thread, as a number with neither `NORMAL` nor `DONE` set, and not `IDLE`: its id without the two low bits,
/// which no two threads' ids differ in alone (a `pthread_t` is an aligned address, a Windows thread id a multiple of 4).
fn this_thread() -> usize {
    (platform::thread() & !(NORMAL | DONE)).max(4)
}

/// A `fork()`ed child: the parent's actions not inherited are dropped from the child's slots (their memory is the
/// parent's copy: left alone), and the inherited ones may run again, in the child.
#[cfg(unix)]
pub(crate) fn forked() {
    RUNNER.store(IDLE, Ordering::SeqCst);
    FORCED_MEANWHILE.store(false, Ordering::SeqCst);
    for place in &SLOTS {
        // SAFETY: the child has one thread, this one: no crash reads the slots meanwhile.
        match unsafe { place.load(Ordering::SeqCst).as_ref() } {
            Some(action) if action.inherited => action.ran.store(false, Ordering::SeqCst),
            Some(_) => place.store(ptr::null_mut(), Ordering::SeqCst),
            None => {}
        }
    }
}

/// A `panic = "abort"` build prints a panic's message, then aborts: the actions run before the message, so that it is
/// printed on the screen the user sees, not the alternate one left behind.
#[cfg(panic = "abort")]
fn before_a_panic_message() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        run_actions(Ending::Forced);
        previous(info);
    }));
}
