//! Crash actions on Windows: the actions' work (console modes, handles, paths, jobs) and what sees a crash, the
//! unhandled-exception filter and the C runtime's `SIGABRT` handler (for `abort()`).

use std::ffi::c_void;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, BorrowedHandle, OwnedHandle};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use super::{Action, Ending, run_actions};

type Handle = *mut c_void;
type Bool = i32;
/// An unhandled-exception filter; its argument is the exception's `EXCEPTION_POINTERS`, passed on as it is.
type Filter = unsafe extern "system" fn(*mut c_void) -> i32;

#[link(name = "kernel32")]
unsafe extern "system" {
    fn GetCurrentThreadId() -> u32;
    fn GetConsoleMode(console: Handle, mode: *mut u32) -> Bool;
    fn SetConsoleMode(console: Handle, mode: u32) -> Bool;
    fn GetFileType(file: Handle) -> u32;
    fn WriteFile(file: Handle, bytes: *const u8, length: u32, written: *mut u32, overlapped: *mut c_void) -> Bool;
    fn DeleteFileW(path: *const u16) -> Bool;
    fn GetNamedPipeHandleStateW(
        pipe: Handle,
        state: *mut u32,
        instances: *mut u32,
        collect_count: *mut u32,
        collect_timeout: *mut u32,
        user: *mut u16,
        user_length: u32,
    ) -> Bool;
    fn SetNamedPipeHandleState(pipe: Handle, mode: *const u32, collect_count: *const u32, timeout: *const u32) -> Bool;
    fn TerminateJobObject(job: Handle, code: u32) -> Bool;
    fn SetUnhandledExceptionFilter(filter: Option<Filter>) -> Option<Filter>;
    fn GetModuleHandleExW(flags: u32, address: *const u16, module: *mut Handle) -> Bool;
}

const FILE_TYPE_PIPE: u32 = 3;
const PIPE_NOWAIT: u32 = 0x1;
const PIPE_READMODE_MESSAGE: u32 = 0x2;
const EXCEPTION_CONTINUE_SEARCH: i32 = 0;
const EXCEPTION_CONTINUE_EXECUTION: i32 = -1;
const GET_MODULE_HANDLE_EX_FLAG_PIN: u32 = 0x1;
const GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS: u32 = 0x4;

/// What an action does on Windows.
pub(super) enum OsWork {
    /// `SetConsoleMode(console, saved)`.
    Console {
        console: OwnedHandle,
        saved: u32,
    },
    Write {
        file: OwnedHandle,
        bytes: Box<[u8]>,
    },
    /// `DeleteFileW`, the path NUL-terminated.
    Delete(Box<[u16]>),
    /// `TerminateJobObject(job, code)`.
    EndJob {
        job: OwnedHandle,
        code: u32,
    },
}

impl Action {
    /// Puts the console on `console` back in the mode it has now: pass the console's input handle (stdin's, which
    /// raw mode changes: echo, line input, Ctrl-C processing) or its output handle (virtual-terminal processing). The
    /// handle is duplicated: closing yours later leaves the action working.
    ///
    /// # Errors
    /// `console` is no console handle (stdin redirected from a file, say), or it cannot be duplicated.
    pub fn restore_terminal(console: BorrowedHandle<'_>) -> io::Result<Action> {
        let console = console.try_clone_to_owned()?;
        let mut saved = 0;
        // SAFETY: `console` is our open handle; `saved` is a live local.
        if unsafe { GetConsoleMode(console.as_raw_handle(), &mut saved) } == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Action::new(OsWork::Console { console, saved }))
    }

    /// Writes `bytes` to `file` (a console, a file, a pipe), such as [`LEAVE_FULL_SCREEN`](super::LEAVE_FULL_SCREEN)
    /// or a last log line. The handle is duplicated: closing yours later leaves the action working (a pipe's reader
    /// sees no end of file while it is registered). A pipe takes what its buffer has room for at once, the rest is
    /// dropped: a reader that stopped reading blocks nothing. For that the pipe is made non-blocking while the action
    /// writes, and its mode is shared: another thread's write to a full pipe at that moment returns having written
    /// nothing (std's `write_all` reports `WriteZero`). A pipe whose mode cannot be set (under Wine, a Linux pipe) is
    /// not written. A console blocks while the user selects text in it.
    ///
    /// # Errors
    /// `file` cannot be duplicated.
    pub fn write(file: BorrowedHandle<'_>, bytes: impl Into<Vec<u8>>) -> io::Result<Action> {
        Ok(Action::new(OsWork::Write { file: file.try_clone_to_owned()?, bytes: bytes.into().into_boxed_slice() }))
    }

    /// Deletes the file at `path`: a lock file, a PID file. A relative path is taken from the working directory at
    /// the crash: pass an absolute one. A file still open elsewhere is deleted once its last handle is closed (the
    /// process's end, for its own); one opened without `FILE_SHARE_DELETE` is not deleted (std shares deletion).
    ///
    /// # Errors
    /// `path` holds a NUL character.
    pub fn unlink(path: impl AsRef<Path>) -> io::Result<Action> {
        let mut wide: Vec<u16> = path.as_ref().as_os_str().encode_wide().collect();
        if wide.contains(&0) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "a path for `Action::unlink` holds a NUL"));
        }
        wide.push(0);
        Ok(Action::new(OsWork::Delete(wide.into_boxed_slice())))
    }

    /// Ends every process in the job object `job` with `exit_code` (`TerminateJobObject`): the children a program
    /// started in a job of its own, Windows' counterpart of a process group. The handle is duplicated.
    ///
    /// # Errors
    /// `job` cannot be duplicated.
    pub fn terminate_job(job: BorrowedHandle<'_>, exit_code: u32) -> io::Result<Action> {
        Ok(Action::new(OsWork::EndJob { job: job.try_clone_to_owned()?, code: exit_code }))
    }
}

impl OsWork {
    pub(super) fn kind(&self) -> &'static str {
        match self {
            OsWork::Console { .. } => "restore_terminal",
            OsWork::Write { .. } => "write",
            OsWork::Delete(_) => "unlink",
            OsWork::EndJob { .. } => "terminate_job",
        }
    }

    pub(super) fn run(&self, _: Instant) {
        match self {
            OsWork::Console { console, saved } => {
                // SAFETY: the handle is the action's own, open until it is dropped.
                unsafe { SetConsoleMode(console.as_raw_handle(), *saved) };
            }
            OsWork::Write { file, bytes } => write_what_fits(file.as_raw_handle(), bytes),
            OsWork::Delete(path) => {
                // SAFETY: `path` is NUL-terminated.
                unsafe { DeleteFileW(path.as_ptr()) };
            }
            OsWork::EndJob { job, code } => {
                // SAFETY: the handle is the action's own, open until it is dropped.
                unsafe { TerminateJobObject(job.as_raw_handle(), *code) };
            }
        }
    }
}

/// Writes `bytes` to `file`; to a pipe only what its buffer has room for now (a write to a full pipe waits for its
/// reader): the pipe is made non-blocking for the write, then set back. Allocates nothing and takes no lock.
fn write_what_fits(file: Handle, mut bytes: &[u8]) {
    // Byte reads and waiting writes, the default, unless the handle says otherwise (reading it needs an access right
    // that a handle opened only to write lacks; setting it, one it has).
    let mut state = 0;
    // SAFETY: `GetFileType` only reads the handle.
    let pipe = unsafe { GetFileType(file) } == FILE_TYPE_PIPE;
    if pipe {
        let null = std::ptr::null_mut();
        // SAFETY: `file` is the action's open handle; `state` is a live local, the out-parameters not wanted are null.
        unsafe { GetNamedPipeHandleStateW(file, &mut state, null, null, null, std::ptr::null_mut(), 0) };
        if !set_pipe_state(file, state | PIPE_NOWAIT) {
            return; // no way to write without waiting (under Wine, a Linux pipe)
        }
    }
    while !bytes.is_empty() {
        let length = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        let mut written = 0;
        // SAFETY: `bytes` is live for `length` bytes; a synchronous write (no `OVERLAPPED`).
        if unsafe { WriteFile(file, bytes.as_ptr(), length, &mut written, std::ptr::null_mut()) } == 0 || written == 0 {
            break;
        }
        bytes = &bytes[written as usize..];
    }
    if pipe {
        set_pipe_state(file, state);
    }
}

/// Sets a pipe handle's read and wait modes (`PIPE_NOWAIT`: a write takes what fits and returns).
fn set_pipe_state(pipe: Handle, state: u32) -> bool {
    let mode = state & (PIPE_NOWAIT | PIPE_READMODE_MESSAGE);
    // SAFETY: `pipe` is open; `mode` is a live local; the counts not changed are null.
    unsafe { SetNamedPipeHandleState(pipe, &mode, std::ptr::null(), std::ptr::null()) != 0 }
}

/// This thread.
pub(super) fn thread() -> usize {
    // SAFETY: no preconditions.
    unsafe { GetCurrentThreadId() as usize }
}

/// The unhandled-exception filter before ours, and the C runtime's `SIGABRT` handler before ours: set before ours are.
static PREVIOUS_FILTER: OnceLock<Option<Filter>> = OnceLock::new();
static PREVIOUS_ABORT: OnceLock<libc::sighandler_t> = OnceLock::new();

/// Pins this module and installs the filter and the `SIGABRT` handler (once: see `super::install`).
pub(super) fn install() -> io::Result<()> {
    pin_this_module();
    // SAFETY: `on_abort` has the signature the C runtime calls; `signal` returns the handler it replaced.
    let previous = unsafe { libc::signal(libc::SIGABRT, on_abort as *const () as libc::sighandler_t) };
    if previous == libc::SIG_ERR as libc::sighandler_t {
        return Err(io::Error::last_os_error());
    }
    if previous == libc::SIG_IGN {
        // Ignored: a `raise(SIGABRT)` must go on ignored, and `abort()` cannot be told from it. No action on `abort()`.
        // SAFETY: sets back the disposition just replaced.
        unsafe { libc::signal(libc::SIGABRT, libc::SIG_IGN) };
    }
    let _ = PREVIOUS_ABORT.set(previous);
    // SAFETY: `on_exception` has a filter's signature; the one it replaces is kept and called from it.
    let _ = PREVIOUS_FILTER.set(unsafe { SetUnhandledExceptionFilter(Some(on_exception)) });
    Ok(())
}

/// Keeps the module this code is in (a plugin's copy of the runtime) loaded for good: the filter installed here must
/// outlive a `FreeLibrary`. Nothing for the program itself.
fn pin_this_module() {
    let mut module = std::ptr::null_mut();
    let flags = GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_PIN;
    // SAFETY: with `FROM_ADDRESS`, the "name" is an address in the module, here our filter's; `module` is a live local.
    unsafe { GetModuleHandleExW(flags, on_exception as *const () as *const u16, &mut module) };
}

/// The unhandled-exception filter: Windows calls it for an exception no handler took (a fault, an illegal instruction,
/// a division by zero, a breakpoint, a stack overflow), on the thread that raised it, before the process ends. The
/// filter before ours decides first (the C runtime's, which calls a `signal(SIGSEGV)` handler; one that repairs the
/// fault and resumes): the actions run unless it resumed the program, then Windows' own handling ends the process with
/// the exception's code (or the process ends as that filter said).
unsafe extern "system" fn on_exception(pointers: *mut c_void) -> i32 {
    let decision = match PREVIOUS_FILTER.get().copied().flatten() {
        // SAFETY: the filter installed before ours, called as Windows would have.
        Some(previous) => unsafe { previous(pointers) },
        None => EXCEPTION_CONTINUE_SEARCH,
    };
    if decision != EXCEPTION_CONTINUE_EXECUTION {
        run_actions(Ending::Forced);
    }
    decision
}

/// The C runtime's `SIGABRT` handler: `abort()` calls it, and so does a `raise(SIGABRT)`, which it cannot tell apart.
/// After the actions, a handler before ours is set back and called, and decides. Without one, the default takes over:
/// `abort()` again, which ends the process as `abort()` would have without ours (mingw's runtime with status 3, the
/// UCRT by `__fastfail`); a `raise` would otherwise return and let the program go on after its actions ran (with the
/// UCRT, it ends by `__fastfail` here where its default exits with status 3: `abort()`'s ending is the one kept).
extern "C" fn on_abort(signal: libc::c_int) {
    run_actions(Ending::Forced);
    let previous = PREVIOUS_ABORT.get().copied().unwrap_or(libc::SIG_DFL);
    // SAFETY: `previous` is the function the C runtime called for `SIGABRT` before ours, or the default; set back, and
    // called as the runtime would have, or the default's `abort()`.
    unsafe {
        libc::signal(signal, previous);
        if previous == libc::SIG_DFL {
            libc::abort();
        }
        let previous: extern "C" fn(libc::c_int) = std::mem::transmute(previous);
        previous(signal);
    }
}
