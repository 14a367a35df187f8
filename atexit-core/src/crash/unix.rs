//! Crash actions on Unix: the actions' work (descriptors, the terminal's mode, paths, process groups) and the
//! handler of the crash signals.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::ptr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use super::{Action, Ending, run_actions};

/// What an action does on Unix.
pub(super) enum OsWork {
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
        Ok(Action::new(OsWork::Terminal { fd, saved }))
    }

    /// Writes `bytes` to `fd`, such as [`LEAVE_FULL_SCREEN`](super::LEAVE_FULL_SCREEN) or a last log line. The action
    /// keeps its own copy of the descriptor (closing yours later leaves it working; a pipe's reader sees no end of file
    /// while it is registered). A terminal or a pipe is opened again, non-blocking, so that a reader that stopped
    /// reading (a frozen terminal, a paused pipe) blocks nothing: the actions' writes wait
    /// [`WRITES_PATIENCE`](super::WRITES_PATIENCE) in all, then give up. Not written to a terminal whose foreground is
    /// another process group, when it stops background writers (`stty tostop`).
    ///
    /// # Errors
    /// No descriptor is left to duplicate `fd`.
    pub fn write(fd: BorrowedFd<'_>, bytes: impl Into<Vec<u8>>) -> io::Result<Action> {
        Ok(Action::new(OsWork::Write { fd: writable_copy(fd)?, bytes: bytes.into().into_boxed_slice() }))
    }

    /// Removes the file (or socket, or symbolic link) at `path`: a lock file, a PID file, a Unix socket. A relative path
    /// is taken from the working directory at the crash, as `unlink` does: pass an absolute one.
    ///
    /// # Errors
    /// `path` holds a NUL byte.
    pub fn unlink(path: impl AsRef<Path>) -> io::Result<Action> {
        let path = CString::new(path.as_ref().as_os_str().as_bytes())?;
        Ok(Action::new(OsWork::Unlink(path)))
    }

    /// Sends `signal` (`libc::SIGTERM`, say) to the process group `group`, such as the children a program started in
    /// a group of their own.
    pub fn signal_process_group(group: u32, signal: i32) -> Action {
        Action::new(OsWork::Kill { pid: -(group as libc::pid_t), signal })
    }
}

impl Drop for OsWork {
    fn drop(&mut self) {
        match *self {
            OsWork::Terminal { fd, .. } | OsWork::Write { fd, .. } => close(fd),
            _ => {}
        }
    }
}

impl OsWork {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            OsWork::Terminal { .. } => "restore_terminal",
            OsWork::Write { .. } => "write",
            OsWork::Unlink(_) => "unlink",
            OsWork::Kill { .. } => "signal_process_group",
        }
    }

    pub(super) fn run(&self, writes_until: Instant) {
        // SAFETY: each call is async-signal-safe and uses only what the action owns (its descriptor, its saved mode,
        // its bytes, its path); a failure is ignored: nothing can be done about it here.
        unsafe {
            match self {
                OsWork::Terminal { fd, saved } => {
                    if in_the_foreground(*fd) {
                        libc::tcsetattr(*fd, libc::TCSANOW, saved);
                    }
                }
                OsWork::Write { fd, bytes } => {
                    if libc::isatty(*fd) == 0 || in_the_foreground(*fd) || !stops_background_writers(*fd) {
                        crate::fd_write::write_until(*fd, bytes, writes_until);
                    }
                }
                OsWork::Unlink(path) => {
                    libc::unlink(path.as_ptr());
                }
                OsWork::Kill { pid, signal } => {
                    libc::kill(*pid, *signal);
                }
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

/// This thread. Async-signal-safe in practice (`pthread_self` reads a register or a thread pointer).
pub(super) fn thread() -> usize {
    // SAFETY: no preconditions.
    unsafe { libc::pthread_self() as usize }
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
        if !super::installed() {
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

/// The crash signals, in the order of `PREVIOUS`.
const SIGNALS: [libc::c_int; 6] =
    [libc::SIGSEGV, libc::SIGBUS, libc::SIGILL, libc::SIGFPE, libc::SIGABRT, libc::SIGTRAP];

/// Each signal's disposition before ours: set before ours is installed.
static PREVIOUS: [OnceLock<libc::sigaction>; 6] = [const { OnceLock::new() }; 6];

/// Pins this object and installs the crash signals' handler (once: see `super::install`).
pub(super) fn install() -> io::Result<()> {
    let this_object = object_of(on_crash as *const libc::c_void);
    pin(this_object.as_ref());
    for (index, &signal) in SIGNALS.iter().enumerate() {
        let previous = current(signal).ok_or_else(io::Error::last_os_error)?;
        if signal == libc::SIGSEGV && is_function(&previous) {
            let its = object_of(previous.sa_sigaction as *const libc::c_void);
            // Neither found: a static executable (static-pie), one object.
            let same = this_object.map(|info| info.dli_fbase) == its.map(|info| info.dli_fbase);
            PREVIOUS_SEGV_IN_THIS_OBJECT.store(same, Ordering::Relaxed);
        }
        let _ = PREVIOUS[index].set(previous);
        if !set(signal, ours()) {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Keeps the object this code is in (a plugin's copy of the runtime) loaded for good: the handlers installed here
/// must outlive a `dlclose`. A plugin that registers a crash action is never unloaded (nor are its actions
/// removed, nor its exit handlers run at `dlclose`: at the process's exit instead). Nothing for the program itself.
fn pin(this_object: Option<&libc::Dl_info>) {
    if let Some(info) = this_object.filter(|info| !info.dli_fname.is_null()) {
        // SAFETY: `dlopen` with `RTLD_NOLOAD` only finds that loaded object again (one more reference, never released).
        unsafe { libc::dlopen(info.dli_fname, libc::RTLD_NOW | libc::RTLD_NOLOAD | libc::RTLD_NODELETE) };
    }
}

/// The loaded object (the program, a shared library) `address` is in.
fn object_of(address: *const libc::c_void) -> Option<libc::Dl_info> {
    // SAFETY: a zeroed `Dl_info` is a valid out-parameter, filled by `dladdr` when it finds the object.
    unsafe {
        let mut info: libc::Dl_info = std::mem::zeroed();
        (libc::dladdr(address, &mut info) != 0).then_some(info)
    }
}

/// Whether `SIGSEGV`'s disposition before ours is a function in the object this code is in: std's handler, whose
/// report of a stack overflow aborts. One in an object of its own (a JVM's, say) may repair a fault near the stack pointer (its stack
/// banging), and sees it first.
static PREVIOUS_SEGV_IN_THIS_OBJECT: AtomicBool = AtomicBool::new(false);

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
unsafe fn call(action: &libc::sigaction, signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
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
    if signal == libc::SIGSEGV
        && PREVIOUS_SEGV_IN_THIS_OBJECT.load(Ordering::Relaxed)
        && at_the_stack_end(info, context)
    {
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
