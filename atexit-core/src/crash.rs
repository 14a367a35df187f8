//! Crash actions: what must still happen when the process crashes (feature `crash`, Unix).
//!
//! Exit handlers run on every normal ending; a crash (`SIGSEGV`, `SIGBUS`, `SIGILL`, `SIGFPE`, `SIGABRT`, `SIGTRAP`: a
//! null-pointer write, a stack overflow, `abort()`, a `panic = "abort"` build's panic) runs none, in any language. Yet
//! the cleanup users need most is what a crashed process can still do safely: put the terminal back, remove a lock
//! file, stop a child process group, write one last line. A crash [`Action`] is that work, prepared when it is made
//! (the terminal's mode saved, the path a C string, the descriptor duplicated), so that running it allocates nothing,
//! takes no lock and makes only async-signal-safe calls (`write`, `poll`, `tcsetattr`, `unlink`, `kill`).
//!
//! ```no_run
//! # extern crate atexit_core as atexit;
//! use atexit::crash::{self, Action};
//! use std::os::fd::AsFd;
//!
//! let stdout = std::io::stdout();
//! crash::register(Action::restore_terminal(stdout.as_fd())?)?; // the mode it has now
//! // ... enter raw mode and the alternate screen, then:
//! crash::register(Action::write(stdout.as_fd(), crash::LEAVE_FULL_SCREEN)?)?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! **When they run**, last registered first, each at most once in a process, whichever ending comes first:
//! - a crash, on the thread that crashed. The signal's previous handler (std's, which prints "has overflowed its
//!   stack"; a runtime's, such as wasmtime's or a JVM's, that may recover) sees a fault first, and the actions run only
//!   if it gives the fault up (sets the default action back, as std's does). They run first on `SIGABRT` (`abort()`
//!   never recovers), on a stack overflow (std's report aborts, on an alternate stack with no room for more), and
//!   before a one-shot handler (`SA_RESETHAND`: a crash reporter, which may end the process itself). Then the previous
//!   disposition takes over and the signal is raised again: the process ends as it would have without actions (same
//!   signal, a core dump where it would have had one). A signal sent from outside (`kill -SEGV`) counts as a crash
//!   and ends the process unless ignored, where std's handler alone would let a first one pass.
//! - a normal exit, after the exit handlers (not for an action [`only_on_crash`](Action::only_on_crash), which a crash
//!   later in the exit still runs);
//! - the death by a signal that `signals` handles, after the handlers, and the forced path: a second
//!   signal while they run, and the exit [deadline](crate::set_deadline) passing, which skip the handlers left;
//! - a `panic = "abort"` build's panic, before the panic message is printed (on the screen the user sees), through a
//!   panic hook installed with the first action around the one before: a hook the program sets later must call the
//!   one it replaces first, or be set before the first action.
//!
//! A handler before ours that itself faults while handling the fault ends the process there (the signal is blocked in
//! it): the actions do not run.
//!
//! Nothing in the process runs them on `SIGKILL`, `_exit`, `exec`, a seccomp kill, or the default death of a signal no
//! one handles (`SIGQUIT`, say, without `signals`).
//!
//! **Limits.** At most [`CAPACITY`] actions at once. A fault inside an action skips the rest and the process dies. A
//! thread that crashes while another runs the actions waits for them (2 s at most on Linux; elsewhere until they are
//! done), then dies; one that faults within microseconds of the first may find, for that moment, the default action
//! std's handler set back before ours is reinstalled, and end the process at once. Writes to terminals and pipes do not
//! block; all the actions' writes together wait [`WRITES_PATIENCE`] at most, and `SIGPIPE` does not end the process.
//! A stack overflow runs the actions only on a thread with an alternate signal stack: std gives one to the main thread
//! and to threads it spawns, the runtime to the threads it starts at exit once an action is registered; one made by C
//! (`pthread_create`) without one runs none (it dies of `SIGSEGV`, as it would without actions). A debug build's frames
//! are large: there, an action that aborts on a machine whose signal frames are large (AVX-512) may overflow std's
//! 8 KiB alternate stack, ending the process by `SIGSEGV` rather than `SIGABRT`. Actions are installed lazily, at the
//! first one: std installs its stack-overflow handler only where the disposition is still the default when it starts.
//! A `fork()`ed child keeps only the actions made [`inherit_on_fork`](Action::inherit_on_fork). A raw `sigaction` for
//! these signals set after the first action replaces ours unless it calls the previous handler (`signal-hook`'s does).
//! `signals::install_for` may handle `SIGABRT` (`Signal::Other(libc::SIGABRT)`), before or after the first action:
//! `abort()` then runs the actions, and wakes the signal thread, which races with `abort()`'s own ending: the exit
//! handlers may not run.
//! A plugin (a shared library with its own copy of the runtime) that registers one is pinned, never unloaded: the
//! handlers' code must outlive `dlclose`.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::wait::Event;

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
    /// `tcsetattr(fd, TCSANOW, saved)`.
    Terminal {
        fd: RawFd,
        saved: libc::termios,
    },
    Write {
        fd: RawFd,
        bytes: Box<[u8]>,
    },
    Unlink(CString),
    Kill {
        pid: libc::pid_t,
        signal: libc::c_int,
    },
    Call(fn()),
}

impl Action {
    /// Puts the terminal on `fd` back in the mode it has now (raw mode off, echo on). `fd` is duplicated: closing yours
    /// later leaves the action working. Nothing is done while another process group has the terminal (the program was
    /// put in the background): the mode is that group's then, and changing it would stop this process (`SIGTTOU`).
    ///
    /// # Errors
    /// `fd` is no terminal (`ENOTTY`), or no descriptor is left to duplicate it.
    pub fn restore_terminal(fd: BorrowedFd<'_>) -> io::Result<Action> {
        let fd = duplicate(fd)?;
        // SAFETY: a zeroed `termios` is a valid out-parameter, filled by `tcgetattr` on success.
        let mut saved: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: `fd` is our open descriptor; `saved` is a live local.
        if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
            let error = io::Error::last_os_error();
            close(fd);
            return Err(error);
        }
        Ok(Action::new(Work::Terminal { fd, saved }))
    }

    /// Writes `bytes` to `fd`, such as [`LEAVE_FULL_SCREEN`] or a last log line. The action keeps its own copy of the
    /// descriptor (closing yours later leaves it working; a pipe's reader sees no end of file while it is registered).
    /// A terminal or a pipe is opened again, non-blocking, so that a reader that stopped reading (a frozen terminal,
    /// a paused pipe) blocks nothing: the actions' writes wait [`WRITES_PATIENCE`] in all, then give up. Not written to
    /// a terminal whose foreground is another process group, when it stops background writers (`stty tostop`).
    ///
    /// # Errors
    /// No descriptor is left to duplicate `fd`.
    pub fn write(fd: BorrowedFd<'_>, bytes: impl Into<Vec<u8>>) -> io::Result<Action> {
        Ok(Action::new(Work::Write { fd: writable_copy(fd)?, bytes: bytes.into().into_boxed_slice() }))
    }

    /// Removes the file (or socket, or symbolic link) at `path`: a lock file, a PID file, a Unix socket. A relative path
    /// is taken from the working directory at the crash, as `unlink` does: pass an absolute one.
    ///
    /// # Errors
    /// `path` holds a NUL byte.
    pub fn unlink(path: impl AsRef<Path>) -> io::Result<Action> {
        let path = CString::new(path.as_ref().as_os_str().as_bytes())?;
        Ok(Action::new(Work::Unlink(path)))
    }

    /// Sends `signal` (`libc::SIGTERM`, say) to the process group `group`, such as the children a program started in
    /// a group of their own.
    pub fn signal_process_group(group: u32, signal: i32) -> Action {
        Action::new(Work::Kill { pid: -(group as libc::pid_t), signal })
    }

    /// Calls `f`.
    ///
    /// # Safety
    /// `f` runs in a signal handler of a crashed process, on whichever thread crashed, perhaps on a small alternate
    /// stack: it must call only async-signal-safe functions (`signal-safety(7)`), allocate nothing, take no lock (not
    /// `println!`'s), not panic, and use little stack.
    pub unsafe fn call(f: fn()) -> Action {
        Action::new(Work::Call(f))
    }

    /// Runs it only on a crash and the forced endings, not at a normal exit.
    pub fn only_on_crash(mut self) -> Action {
        self.0.on_normal_exit = false;
        self
    }

    /// Keeps it in a `fork()`ed child (by default a child runs none of its parent's actions).
    pub fn inherit_on_fork(mut self) -> Action {
        self.0.inherited = true;
        self
    }

    fn new(work: Work) -> Action {
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

impl Drop for Prepared {
    fn drop(&mut self) {
        match self.work {
            Work::Terminal { fd, .. } | Work::Write { fd, .. } => close(fd),
            _ => {}
        }
    }
}

impl std::fmt::Debug for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.0.work {
            Work::Terminal { .. } => "restore_terminal",
            Work::Write { .. } => "write",
            Work::Unlink(_) => "unlink",
            Work::Kill { .. } => "signal_process_group",
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
    platform::install()?;
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

/// No thread runs the actions.
const IDLE: usize = 0;
/// They have run (in this process).
const DONE: usize = usize::MAX;
/// The thread running the actions, or `IDLE` or `DONE`.
static RUNNER: AtomicUsize = AtomicUsize::new(IDLE);
static FINISHED: Event = Event::new();

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
    if !platform::installed() {
        return; // no action was ever registered
    }
    let me = this_thread();
    loop {
        match RUNNER.compare_exchange(IDLE, me, Ordering::SeqCst, Ordering::SeqCst) {
            Ok(_) => break,
            Err(DONE) => return,
            Err(running) if running == me => return,
            // Another thread runs them: once it is done, run those it left (a normal exit's leaves the crash-only
            // ones). 2 s at most on Linux, where a wait can time out; elsewhere until it is done.
            Err(running) => {
                if !FINISHED.wait_until_for(OTHER_THREAD_PATIENCE, || RUNNER.load(Ordering::SeqCst) != running) {
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
            action.work.run(writes_until);
        }
    }
    // After a normal exit's run, a crash later in the exit (a destructor, another thread) still runs those left.
    RUNNER.store(if ending == Ending::Normal { IDLE } else { DONE }, Ordering::SeqCst);
    FINISHED.notify();
}

impl Work {
    fn run(&self, writes_until: Instant) {
        // SAFETY: each call is async-signal-safe and uses only what the action owns (its descriptor, its saved mode,
        // its bytes, its path); a failure is ignored: nothing can be done about it here.
        unsafe {
            match self {
                Work::Terminal { fd, saved } => {
                    if in_the_foreground(*fd) {
                        libc::tcsetattr(*fd, libc::TCSANOW, saved);
                    }
                }
                Work::Write { fd, bytes } => {
                    if libc::isatty(*fd) == 0 || in_the_foreground(*fd) || !stops_background_writers(*fd) {
                        crate::fd_write::write_until(*fd, bytes, writes_until);
                    }
                }
                Work::Unlink(path) => {
                    libc::unlink(path.as_ptr());
                }
                Work::Kill { pid, signal } => {
                    libc::kill(*pid, *signal);
                }
                Work::Call(f) => f(),
            }
        }
    }
}

/// Whether this process's group has the terminal on `fd`, or it is not this process's controlling terminal (a process
/// in the background of its controlling terminal that changes its mode, or writes to it with `tostop` set, is stopped
/// by `SIGTTOU`). Async-signal-safe.
fn in_the_foreground(fd: RawFd) -> bool {
    // SAFETY: no preconditions beyond an open descriptor.
    let group = unsafe { libc::tcgetpgrp(fd) };
    // SAFETY: no preconditions.
    group == -1 || group == unsafe { libc::getpgrp() }
}

/// Whether the terminal on `fd` stops background writers (`stty tostop`). Async-signal-safe.
fn stops_background_writers(fd: RawFd) -> bool {
    // SAFETY: a zeroed `termios` is a valid out-parameter.
    unsafe {
        let mut mode: libc::termios = std::mem::zeroed();
        libc::tcgetattr(fd, &mut mode) == 0 && mode.c_lflag & libc::TOSTOP != 0
    }
}

/// This thread, as a number that is neither `IDLE` nor `DONE`. Async-signal-safe in practice (`pthread_self` reads a
/// register or a thread pointer).
fn this_thread() -> usize {
    // SAFETY: no preconditions.
    let thread = unsafe { libc::pthread_self() } as usize;
    thread.clamp(1, usize::MAX - 1)
}

/// An alternate signal stack for a thread the runtime starts (std gives its own threads one), so that a stack overflow
/// there runs the actions; made only once an action is registered. Removed and unmapped when dropped.
pub(crate) struct AlternateStack {
    mapping: *mut libc::c_void,
    length: usize,
}

impl AlternateStack {
    const SIZE: usize = 64 * 1024;

    pub(crate) fn for_this_thread() -> Option<AlternateStack> {
        if !platform::installed() {
            return None;
        }
        const GUARD: usize = 64 * 1024; // a page on every system, whatever its size
        let length = GUARD + Self::SIZE;
        // SAFETY: maps fresh memory, its lowest part made inaccessible (an overflow of the signal stack faults), and
        // gives the rest to this thread as its alternate stack; `stack` is a local the call only reads.
        unsafe {
            let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
            let mapping = libc::mmap(ptr::null_mut(), length, libc::PROT_READ | libc::PROT_WRITE, flags, -1, 0);
            if mapping == libc::MAP_FAILED {
                return None;
            }
            libc::mprotect(mapping, GUARD, libc::PROT_NONE);
            let stack =
                libc::stack_t { ss_sp: mapping.cast::<u8>().add(GUARD).cast(), ss_flags: 0, ss_size: Self::SIZE };
            if libc::sigaltstack(&stack, ptr::null_mut()) != 0 {
                libc::munmap(mapping, length);
                return None;
            }
            Some(AlternateStack { mapping, length })
        }
    }
}

impl Drop for AlternateStack {
    fn drop(&mut self) {
        // SAFETY: disables this thread's alternate stack (ours: the thread runs on its own stack here), then unmaps it.
        unsafe {
            let off = libc::stack_t { ss_sp: ptr::null_mut(), ss_flags: libc::SS_DISABLE, ss_size: 0 };
            libc::sigaltstack(&off, ptr::null_mut());
            libc::munmap(self.mapping, self.length);
        }
    }
}

/// A copy of `fd` to write to: a terminal or a pipe opened again, non-blocking (a file description of its own, so the
/// program's stays as it is), else a duplicate (a regular file, whose writes do not block; a socket, polled first).
fn writable_copy(fd: BorrowedFd<'_>) -> io::Result<RawFd> {
    // SAFETY: a zeroed `stat` is a valid out-parameter; the path is a NUL-terminated local; `open` makes a descriptor
    // this module owns, moved above the standard streams by `duplicate`.
    unsafe {
        let mut status: libc::stat = std::mem::zeroed();
        let kind = if libc::fstat(fd.as_raw_fd(), &mut status) == 0 { status.st_mode & libc::S_IFMT } else { 0 };
        if kind == libc::S_IFCHR || kind == libc::S_IFIFO {
            let path = match kind {
                // A terminal by its name, on every Unix, but a pseudo-terminal's master (`/dev/ptmx`: opening it makes
                // a new pair); a pipe through `/proc` (Linux only).
                libc::S_IFCHR => terminal_name(fd).filter(|name| !name.to_bytes().ends_with(b"ptmx")),
                _ => CString::new(format!("/proc/self/fd/{}", fd.as_raw_fd())).ok(),
            };
            if let Some(path) = path {
                let flags = libc::O_WRONLY | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC;
                let reopened = libc::open(path.as_ptr(), flags);
                if reopened >= 0 {
                    // The same file, or nothing: a name can lead elsewhere.
                    let mut again: libc::stat = std::mem::zeroed();
                    let same = libc::fstat(reopened, &mut again) == 0
                        && (again.st_rdev, again.st_ino) == (status.st_rdev, status.st_ino);
                    let copy = same.then(|| duplicate(BorrowedFd::borrow_raw(reopened)));
                    libc::close(reopened);
                    if let Some(copy) = copy {
                        return copy;
                    }
                }
            }
        }
    }
    duplicate(fd)
}

/// The path of the terminal on `fd`, if it is one.
fn terminal_name(fd: BorrowedFd<'_>) -> Option<CString> {
    let mut name = [0 as libc::c_char; 256];
    // SAFETY: `ttyname_r` writes a NUL-terminated name of at most `name.len()` bytes into the live buffer.
    unsafe {
        if libc::ttyname_r(fd.as_raw_fd(), name.as_mut_ptr(), name.len()) != 0 {
            return None;
        }
        Some(std::ffi::CStr::from_ptr(name.as_ptr()).to_owned())
    }
}

/// A duplicate of `fd` above the standard streams, closed on `exec`.
fn duplicate(fd: BorrowedFd<'_>) -> io::Result<RawFd> {
    // SAFETY: `F_DUPFD_CLOEXEC` duplicates an open descriptor; the copy is ours, closed when the action is dropped.
    match unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) } {
        -1 => Err(io::Error::last_os_error()),
        copy => Ok(copy),
    }
}

fn close(fd: RawFd) {
    // SAFETY: `fd` is a descriptor this module duplicated and owns; closed once, when its action is dropped.
    unsafe { libc::close(fd) };
}

/// A `fork()`ed child: the parent's actions not inherited are dropped from the child's slots (their memory is the
/// parent's copy: left alone), and the inherited ones may run again, in the child.
pub(crate) fn forked() {
    RUNNER.store(IDLE, Ordering::SeqCst);
    for place in &SLOTS {
        // SAFETY: the child has one thread, this one: no crash reads the slots meanwhile.
        match unsafe { place.load(Ordering::SeqCst).as_ref() } {
            Some(action) if action.inherited => action.ran.store(false, Ordering::SeqCst),
            Some(_) => place.store(ptr::null_mut(), Ordering::SeqCst),
            None => {}
        }
    }
}

mod platform {
    use super::{Ending, run_actions};
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Mutex, OnceLock};

    /// The crash signals, in the order of `PREVIOUS`.
    const SIGNALS: [libc::c_int; 6] =
        [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGABRT, libc::SIGTRAP];

    static INSTALLED: AtomicBool = AtomicBool::new(false);
    /// Each signal's disposition before ours: set before ours is installed.
    static PREVIOUS: [OnceLock<libc::sigaction>; 6] = [const { OnceLock::new() }; 6];
    static INSTALLING: Mutex<()> = Mutex::new(());

    pub(super) fn installed() -> bool {
        INSTALLED.load(Ordering::Acquire)
    }

    pub(super) fn install() -> io::Result<()> {
        if INSTALLED.load(Ordering::Acquire) {
            return Ok(());
        }
        let _installing = INSTALLING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if INSTALLED.load(Ordering::Acquire) {
            return Ok(());
        }
        #[cfg(panic = "abort")]
        before_a_panic_message();
        pin_this_object();
        for (index, &signal) in SIGNALS.iter().enumerate() {
            let previous = current(signal).ok_or_else(io::Error::last_os_error)?;
            let _ = PREVIOUS[index].set(previous);
            if !set(signal, ours()) {
                return Err(io::Error::last_os_error());
            }
        }
        INSTALLED.store(true, Ordering::Release);
        Ok(())
    }

    /// Keeps the object this code is in (a plugin's copy of the runtime) loaded for good: the handlers installed here
    /// must outlive a `dlclose`. A plugin that registers a crash action is never unloaded (nor are its actions
    /// removed, nor its exit handlers run at `dlclose`: at the process's exit instead). Nothing for the program itself.
    fn pin_this_object() {
        // SAFETY: a zeroed `Dl_info` is a valid out-parameter; `dladdr` fills it for an address of this object, and
        // `dlopen` with `RTLD_NOLOAD` only finds that loaded object again (one more reference, never released).
        unsafe {
            let mut info: libc::Dl_info = std::mem::zeroed();
            if libc::dladdr(on_crash as *const libc::c_void, &mut info) != 0 && !info.dli_fname.is_null() {
                libc::dlopen(info.dli_fname, libc::RTLD_NOW | libc::RTLD_NOLOAD | libc::RTLD_NODELETE);
            }
        }
    }

    /// A `panic = "abort"` build prints a panic's message, then aborts: the actions run before the message, so that it
    /// is printed on the screen the user sees, not the alternate one left behind.
    #[cfg(panic = "abort")]
    fn before_a_panic_message() {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            run_actions(Ending::Forced);
            previous(info);
        }));
    }

    fn previous(signal: libc::c_int) -> Option<&'static libc::sigaction> {
        PREVIOUS[SIGNALS.iter().position(|&s| s == signal)?].get()
    }

    fn is_function(action: &libc::sigaction) -> bool {
        action.sa_sigaction != libc::SIG_DFL && action.sa_sigaction != libc::SIG_IGN
    }

    /// Calls a previous handler as the kernel would have: its flags' reset to the default action (`SA_RESETHAND`)
    /// done first, its mask blocked and, with `SA_NODEFER`, the signal unblocked for it.
    ///
    /// # Safety
    /// `action` is a function disposition; the arguments are those the kernel gave ours.
    #[inline(never)]
    unsafe fn call(
        action: &libc::sigaction,
        signal: libc::c_int,
        info: *mut libc::siginfo_t,
        context: *mut libc::c_void,
    ) {
        // SAFETY: per the caller; the flag says which signature the address has; the sets are zeroed locals.
        unsafe {
            if action.sa_flags & libc::SA_RESETHAND as libc::c_int != 0 {
                set(signal, libc::SIG_DFL);
            }
            let mut saved: libc::sigset_t = std::mem::zeroed();
            libc::pthread_sigmask(libc::SIG_BLOCK, &action.sa_mask, &mut saved);
            if action.sa_flags & libc::SA_NODEFER as libc::c_int != 0 {
                let mut this: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut this);
                libc::sigaddset(&mut this, signal);
                libc::pthread_sigmask(libc::SIG_UNBLOCK, &this, std::ptr::null_mut());
            }
            if action.sa_flags & libc::SA_SIGINFO != 0 {
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    std::mem::transmute(action.sa_sigaction);
                f(signal, info, context);
            } else {
                let f: extern "C" fn(libc::c_int) = std::mem::transmute(action.sa_sigaction);
                f(signal);
            }
            libc::pthread_sigmask(libc::SIG_SETMASK, &saved, std::ptr::null_mut());
        }
    }

    /// Our handler, as a disposition.
    fn ours() -> libc::sighandler_t {
        on_crash as *const () as libc::sighandler_t
    }

    /// Sets `signal`'s disposition to `handler` (`SIG_DFL`, or [`ours`], on the alternate stack), with an empty mask;
    /// false if the system refused.
    #[inline(never)]
    fn set(signal: libc::c_int, handler: libc::sighandler_t) -> bool {
        // SAFETY: a zeroed `sigaction` is a valid value (empty mask, no flags); ours has the `SA_SIGINFO` signature and
        // does not unwind.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler;
            if handler == ours() {
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            }
            libc::sigaction(signal, &action, std::ptr::null_mut()) == 0
        }
    }

    /// `signal`'s handler now (`SIG_DFL` if the system refused to say): [`current`] in a frame of its own, kept out of
    /// the signal handler's.
    #[inline(never)]
    fn disposition(signal: libc::c_int) -> libc::sighandler_t {
        current(signal).map_or(libc::SIG_DFL, |now| now.sa_sigaction)
    }

    /// `signal`'s disposition now; `None` if the system refused.
    #[inline(never)]
    fn current(signal: libc::c_int) -> Option<libc::sigaction> {
        // SAFETY: a zeroed `sigaction` is a valid out-parameter; a null new action makes the call only read.
        unsafe {
            let mut current: libc::sigaction = std::mem::zeroed();
            (libc::sigaction(signal, std::ptr::null(), &mut current) == 0).then_some(current)
        }
    }

    /// Whether a fault's address is near the interrupted stack pointer (from 64 KiB below to a page above it): a stack
    /// overflow's guard page. Linux on x86-64 and AArch64; elsewhere never.
    fn at_the_stack_end(info: *mut libc::siginfo_t, context: *mut libc::c_void) -> bool {
        #[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            let context = context.cast::<libc::ucontext_t>();
            // SAFETY: the kernel passes a valid `siginfo_t` and `ucontext_t` to an `SA_SIGINFO` handler of a fault.
            let (address, sp) = unsafe {
                #[cfg(target_arch = "x86_64")]
                let sp = (*context).uc_mcontext.gregs[libc::REG_RSP as usize] as usize;
                #[cfg(target_arch = "aarch64")]
                let sp = (*context).uc_mcontext.sp as usize;
                ((*info).si_addr() as usize, sp)
            };
            address < sp.wrapping_add(4096) && address.wrapping_add(65536) >= sp
        }
        #[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
        {
            let _ = (info, context);
            false
        }
    }

    /// The crash signals' handler. Its frame is small, the work in functions each returning before the next: it may run
    /// on a small alternate stack, under another handler's frame, with room left for a nested `SIGABRT`'s.
    extern "C" fn on_crash(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
        let Some(previous) = previous(signal) else { return };
        // SAFETY: the kernel passes a valid `siginfo_t` to an `SA_SIGINFO` handler.
        let sent = unsafe { (*info).si_code } <= 0;
        if previous.sa_sigaction == libc::SIG_IGN && sent {
            return; // ignored before us: no crash
        }
        // A stack overflow: std's handler prints its message and aborts, and the alternate stack has little room for
        // a handler of that `SIGABRT` (two kernel frames fill most of it): the actions run first, and `SIGABRT` goes
        // to its default action.
        if signal == libc::SIGSEGV && is_function(previous) && at_the_stack_end(info, context) {
            run_actions(Ending::Forced);
            set(libc::SIGABRT, libc::SIG_DFL);
        }
        // A fault goes first to the handler before ours (std's, a runtime's that may recover); a crash only if it gave
        // it up, setting the default action back (std does). One that resets itself (`SA_RESETHAND`) is a crash
        // reporter, which never recovers (and may end the process itself): the actions run before it. `abort()` never
        // recovers: its handler comes after.
        if signal != libc::SIGABRT && is_function(previous) {
            if previous.sa_flags & libc::SA_RESETHAND as libc::c_int != 0 {
                run_actions(Ending::Forced);
            }
            // SAFETY: a function disposition, called with the kernel's arguments.
            unsafe { call(previous, signal, info, context) };
            if disposition(signal) != libc::SIG_DFL {
                return;
            }
            // Ours again while the actions run: another thread's fault comes here and waits for them, rather than
            // ending the process at once.
            set(signal, ours());
        }
        run_actions(Ending::Forced);
        if signal == libc::SIGABRT && is_function(previous) {
            // SAFETY: restores the disposition ours replaced, and calls it as the kernel would have.
            unsafe {
                libc::sigaction(signal, previous, std::ptr::null_mut());
                call(previous, signal, info, context);
            }
            return; // `abort()` ends the process when its `raise` returns
        }
        set(signal, libc::SIG_DFL);
        // SAFETY: `raise` is async-signal-safe. Pending while blocked in its own handler: delivered, by its default
        // action, as this returns (a sent signal, or a fault whose handler returned, would not come again on its own).
        unsafe { libc::raise(signal) };
    }
}
