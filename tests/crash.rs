//! Crash actions, proven in child processes (see `common/mod.rs`).
//!
//! Each crash scenario first forks a baseline: a child that crashes the
//! same way with no action registered, and says how it ended. Then it
//! registers its actions (two writes to stdout around the removal of a
//! marker file) and an exit handler, and crashes. The check: the actions
//! ran once, last registered first, the marker is gone, the exit handler
//! did not run, and the process ended as the baseline did (signal, core
//! dump).

#[cfg(any(unix, windows))]
mod common;

/// What both platforms' scenarios share: the crashes both have, the
/// actions every crash scenario registers, and the scenarios written once.
#[cfg(any(unix, windows))]
#[macro_use]
mod shared {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};

    use atexit::crash::{self, Action};

    /// An action that writes `line` to stdout.
    pub fn write(line: &str) -> Action {
        let stdout = std::io::stdout();
        #[cfg(unix)]
        let stdout = std::os::fd::AsFd::as_fd(&stdout);
        #[cfg(windows)]
        let stdout = std::os::windows::io::AsHandle::as_handle(&stdout);
        Action::write(stdout, line).unwrap()
    }

    /// The crash scenarios' actions: two writes around the removal of a
    /// marker file (named on stdout), and an exit handler, which must not
    /// run.
    pub fn register_actions() {
        crash::register(write("action registered first\n")).unwrap();
        let marker = marker();
        std::fs::write(&marker, "").unwrap();
        println!("marker: {marker}");
        crash::register(Action::unlink(&marker).unwrap()).unwrap();
        crash::register(write("action registered last\n")).unwrap();
        atexit::register(|| println!("exit handler ran"));
        std::io::stdout().flush().unwrap();
    }

    /// A file of this process's own in the temporary directory.
    pub fn marker() -> String {
        format!("{}/atexit-crash-marker-{}", std::env::temp_dir().display(), std::process::id())
    }

    pub fn null_write() {
        // SAFETY: not safe: the crash under test.
        unsafe { std::ptr::write_volatile(std::ptr::without_provenance_mut::<u64>(16), 1) };
    }

    #[allow(unconditional_recursion)]
    fn overflow_the_stack(depth: u64) -> u64 {
        let frame = std::hint::black_box([depth; 64]);
        overflow_the_stack(frame[0] + 1) + frame[63]
    }

    pub fn stack_overflow() {
        std::hint::black_box(overflow_the_stack(0));
    }

    /// C's `abort()` (on Unix, as `std::process::abort`: `SIGABRT`).
    pub fn c_abort() {
        // SAFETY: the crash under test.
        unsafe { libc::abort() }
    }

    /// Each crash's two scenarios, on the main thread and on another; the
    /// module that uses it has `with_baseline`.
    macro_rules! on_both_threads {
        ($($main:ident, $thread:ident: $crash:path;)*) => {$(
            pub fn $main() {
                with_baseline($crash);
            }
            pub fn $thread() {
                with_baseline(|| std::thread::spawn($crash).join().unwrap());
            }
        )*};
    }

    /// A normal exit runs the actions after the exit handlers, except one
    /// only for crashes.
    pub fn normal_exit_runs_them_after_the_handlers() {
        crash::register(write("action\n")).unwrap();
        crash::register(write("crash only\n").only_on_crash()).unwrap();
        atexit::register(|| println!("exit handler"));
    }

    /// An action that faults: the ones registered before it are skipped,
    /// the process dies of the fault, nothing hangs or loops.
    pub fn fault_inside_an_action() {
        crash::register(write("skipped\n")).unwrap();
        // SAFETY: not safe: a fault inside an action is the case under test.
        crash::register(unsafe { Action::call(null_write) }).unwrap();
        crash::register(write("ran before the fault\n")).unwrap();
        c_abort();
    }

    /// An action faults in a normal exit's run: the crash runs the rest,
    /// those only for crashes too, and the process dies of the fault.
    pub fn fault_inside_an_action_at_exit() {
        crash::register(write("crash only\n").only_on_crash()).unwrap();
        crash::register(write("ran after the fault\n")).unwrap();
        // SAFETY: not safe: a fault inside an action is the case under test.
        crash::register(unsafe { Action::call(null_write) }).unwrap();
        crash::register(write("ran before the fault\n")).unwrap();
    }

    static SLOW_ACTION_STARTED: AtomicBool = AtomicBool::new(false);

    /// `main` returns while another thread's crash runs the actions, one of
    /// them slower than the 2 s a crash waits for an exit: the exit waits for
    /// the crash's run, which ends the process by the crash, not with status
    /// 0.
    pub fn exit_while_a_crash_runs_them() {
        fn slow() {
            SLOW_ACTION_STARTED.store(true, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(2500));
        }
        crash::register(write("crash only\n").only_on_crash()).unwrap();
        crash::register(write("after\n")).unwrap();
        // SAFETY: sleeps only.
        crash::register(unsafe { Action::call(slow) }).unwrap();
        crash::register(write("before\n")).unwrap();
        atexit::register(|| println!("exit handler"));
        std::thread::spawn(null_write);
        while !SLOW_ACTION_STARTED.load(Ordering::SeqCst) {
            std::hint::spin_loop();
        }
    }

    /// Another thread crashes while the normal exit runs the actions: the
    /// process ends by the crash, after the rest ran, not with status 0.
    pub fn a_crash_while_the_exit_runs_them() {
        crash_while_the_exit_runs_them(null_write);
    }

    /// [`a_crash_while_the_exit_runs_them`] by `crash`.
    pub fn crash_while_the_exit_runs_them(crash: fn()) {
        fn slow() {
            SLOW_ACTION_STARTED.store(true, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        crash::register(write("crash only\n").only_on_crash()).unwrap();
        // SAFETY: a test's action, run at a normal exit: it only sleeps.
        crash::register(unsafe { Action::call(slow) }).unwrap();
        crash::register(write("at exit\n")).unwrap();
        std::thread::spawn(move || {
            while !SLOW_ACTION_STARTED.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
            crash();
        });
    }
}

#[cfg(unix)]
mod scenarios {
    use std::io::Write;
    use std::os::fd::AsFd;

    use atexit::crash::{self, Action};

    /// Forks a child that plays `crash` with no action, waits for it, and
    /// prints how it ended; then registers the actions and plays `crash`.
    fn with_baseline(crash: fn()) {
        // SAFETY: the child only crashes (or, if it survives, `_exit`s).
        match unsafe { libc::fork() } {
            0 => {
                crash();
                // SAFETY: ends the child.
                unsafe { libc::_exit(99) }
            }
            child => {
                let mut status = 0;
                // SAFETY: waiting for our own child.
                unsafe { libc::waitpid(child, &mut status, 0) };
                println!("baseline: {}", ended(status));
            }
        }
        register_actions();
        crash();
        println!("survived the crash");
    }

    pub fn ended(status: libc::c_int) -> String {
        if libc::WIFSIGNALED(status) {
            format!("killed by signal {}, core dumped: {}", libc::WTERMSIG(status), libc::WCOREDUMP(status))
        } else {
            format!("exited {}", libc::WEXITSTATUS(status))
        }
    }

    pub use super::shared::{
        a_crash_while_the_exit_runs_them, exit_while_a_crash_runs_them, fault_inside_an_action,
        fault_inside_an_action_at_exit, normal_exit_runs_them_after_the_handlers,
    };
    use super::shared::{c_abort as abort, marker, null_write, register_actions, stack_overflow};

    /// Reads a page of a mapping past the end of its (empty) file.
    fn truncated_mmap_read() {
        let path = format!("{}-mmap", marker());
        let file = std::fs::OpenOptions::new().read(true).write(true).create(true).truncate(true).open(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        use std::os::fd::AsRawFd;
        // SAFETY: maps a page of an empty file: reading it raises `SIGBUS`, the crash under test.
        unsafe {
            let page = libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ, libc::MAP_SHARED, file.as_raw_fd(), 0);
            assert_ne!(page, libc::MAP_FAILED);
            std::ptr::read_volatile(page.cast::<u8>());
        }
    }

    fn raise_ill() {
        // SAFETY: raises a signal: the crash under test.
        unsafe { libc::raise(libc::SIGILL) };
    }
    fn raise_fpe() {
        // SAFETY: as above.
        unsafe { libc::raise(libc::SIGFPE) };
    }
    fn raise_trap() {
        // SAFETY: as above.
        unsafe { libc::raise(libc::SIGTRAP) };
    }

    on_both_threads! {
        segv_main, segv_thread: null_write;
        stack_overflow_main, stack_overflow_thread: stack_overflow;
        abort_main, abort_thread: abort;
        bus_main, bus_thread: truncated_mmap_read;
        ill_main, ill_thread: raise_ill;
        fpe_main, fpe_thread: raise_fpe;
        trap_main, trap_thread: raise_trap;
    }

    /// A removed action does not run; one registered again does.
    pub fn removed_action_does_not_run() {
        let stdout = std::io::stdout();
        let removed = crash::register(Action::write(stdout.as_fd(), "removed\n").unwrap()).unwrap();
        crash::register(Action::write(stdout.as_fd(), "kept\n").unwrap()).unwrap();
        assert!(removed.remove());
        abort();
    }

    /// A second Ctrl-C while a slow handler runs skips the handlers left,
    /// but the actions run.
    pub fn second_signal_while_handlers_run() {
        atexit::signals::install().unwrap();
        let marker = marker();
        std::fs::write(&marker, "").unwrap();
        println!("marker: {marker}");
        crash::register(Action::unlink(&marker).unwrap()).unwrap();
        crash::register(Action::write(std::io::stdout().as_fd(), "action\n").unwrap()).unwrap();
        atexit::register(|| println!("skipped handler"));
        atexit::register(|| {
            println!("slow handler");
            // SAFETY: signals this process.
            unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
            std::thread::sleep(std::time::Duration::from_secs(10));
        });
        // SAFETY: as above.
        unsafe { libc::kill(libc::getpid(), libc::SIGINT) };
        std::thread::sleep(std::time::Duration::from_secs(10));
    }

    /// `kill -SEGV` from outside counts as a crash: the actions run and the
    /// process dies of it (std's handler alone would swallow the first one).
    pub fn sent_segv_is_a_crash() {
        crash::register(Action::write(std::io::stdout().as_fd(), "action\n").unwrap()).unwrap();
        // SAFETY: signals this process.
        unsafe { libc::kill(libc::getpid(), libc::SIGSEGV) };
        println!("survived");
    }

    /// `SIGABRT` sent to the thread running a normal exit's actions, while
    /// one of them is slow: the rest run, those only for crashes too, and
    /// the process dies of it.
    pub fn signal_to_the_thread_running_the_exits_actions() {
        static RUNNING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        fn slowly() {
            // SAFETY: `pthread_self` and `nanosleep` are async-signal-safe; `pause` is a live local.
            unsafe {
                RUNNING.store(libc::pthread_self() as usize, std::sync::atomic::Ordering::SeqCst);
                let pause = libc::timespec { tv_sec: 0, tv_nsec: 500_000_000 };
                libc::nanosleep(&pause, std::ptr::null_mut());
            }
        }
        let stdout = std::io::stdout();
        crash::register(Action::write(stdout.as_fd(), "crash only\n").unwrap().only_on_crash()).unwrap();
        crash::register(Action::write(stdout.as_fd(), "after the signal\n").unwrap()).unwrap();
        // SAFETY: sleeps only: async-signal-safe.
        crash::register(unsafe { Action::call(slowly) }).unwrap();
        crash::register(Action::write(stdout.as_fd(), "before the signal\n").unwrap()).unwrap();
        std::thread::spawn(|| {
            let thread = loop {
                match RUNNING.load(std::sync::atomic::Ordering::SeqCst) {
                    0 => std::thread::sleep(std::time::Duration::from_millis(1)),
                    thread => break thread,
                }
            };
            // SAFETY: the thread running the actions is alive: it sleeps in one.
            unsafe { libc::pthread_kill(thread as libc::pthread_t, libc::SIGABRT) };
        });
    }

    /// Two threads crash a few milliseconds apart: the actions run once.
    /// (Within microseconds of each other, the second may find the default
    /// action std's handler set back for a moment: see the module docs.)
    pub fn two_threads_crash_one_after_the_other() {
        crash::register(Action::write(std::io::stdout().as_fd(), "first\n").unwrap()).unwrap();
        crash::register(Action::write(std::io::stdout().as_fd(), "second\n").unwrap()).unwrap();
        let start = std::sync::Arc::new(std::sync::Barrier::new(2));
        let threads: Vec<_> = (0..2u64)
            .map(|nth| {
                let start = start.clone();
                std::thread::spawn(move || {
                    start.wait();
                    std::thread::sleep(std::time::Duration::from_millis(5 * nth));
                    null_write();
                })
            })
            .collect();
        threads.into_iter().for_each(|t| drop(t.join()));
    }

    /// An action writing to a pipe nobody reads gives up: the process still
    /// dies, and the next action runs.
    pub fn write_to_a_full_pipe_is_bounded() {
        let mut ends = [0; 2];
        // SAFETY: `pipe` fills the two descriptors.
        assert_eq!(unsafe { libc::pipe(ends.as_mut_ptr()) }, 0);
        // SAFETY: fills the pipe without blocking, then makes it blocking again.
        unsafe {
            libc::fcntl(ends[1], libc::F_SETFL, libc::O_NONBLOCK);
            while libc::write(ends[1], [0u8; 4096].as_ptr().cast(), 4096) > 0 {}
            libc::fcntl(ends[1], libc::F_SETFL, 0);
        }
        // SAFETY: `ends[1]` is open for the rest of the process.
        let full = unsafe { std::os::fd::BorrowedFd::borrow_raw(ends[1]) };
        crash::register(Action::write(std::io::stdout().as_fd(), "ran after\n").unwrap()).unwrap();
        crash::register(Action::write(full, vec![1u8; 100_000]).unwrap()).unwrap();
        abort();
    }

    /// A `SIGSEGV` handler installed before the first action recovers from
    /// the faults it owns (a guard page it unprotects): no action runs, the
    /// program goes on; a fault it does not own is a crash.
    pub fn a_handler_before_ours_recovers() {
        // SAFETY: maps one inaccessible page.
        let page = unsafe {
            libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_NONE, libc::MAP_PRIVATE | libc::MAP_ANONYMOUS, -1, 0)
        };
        GUARD.store(page as usize, std::sync::atomic::Ordering::SeqCst);
        extern "C" fn recovering(_: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
            let page = GUARD.load(std::sync::atomic::Ordering::SeqCst);
            // SAFETY: the kernel's `siginfo_t`; `mprotect` on our own page; a zeroed `sigaction` is the default.
            unsafe {
                if (*info).si_addr() as usize & !4095 == page {
                    libc::mprotect(page as *mut libc::c_void, 4096, libc::PROT_READ | libc::PROT_WRITE);
                } else {
                    let default: libc::sigaction = std::mem::zeroed();
                    libc::sigaction(libc::SIGSEGV, &default, std::ptr::null_mut());
                }
            }
        }
        // SAFETY: installs a `SA_SIGINFO` handler of the right signature.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = recovering as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO;
            libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut());
        }
        crash::register(Action::write(std::io::stdout().as_fd(), "action\n").unwrap().only_on_crash()).unwrap();
        // SAFETY: the page is ours; the first write faults and is recovered from.
        unsafe { std::ptr::write_volatile(page.cast::<u8>(), 1) };
        println!("recovered");
        std::io::stdout().flush().unwrap();
        null_write();
    }
    static GUARD: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    /// A crash reporter installed after the first action sees the crash
    /// first and hands it on to ours, which runs the actions.
    pub fn a_handler_after_ours_chains_to_it() {
        crash::register(Action::write(std::io::stdout().as_fd(), "action\n").unwrap()).unwrap();
        extern "C" fn reporter(signal: libc::c_int, info: *mut libc::siginfo_t, context: *mut libc::c_void) {
            let said = b"reporter\n";
            // SAFETY: `write` of a constant; the saved previous action is a `SA_SIGINFO` handler (ours).
            unsafe {
                libc::write(1, said.as_ptr().cast(), said.len());
                let previous = &*std::ptr::addr_of!(BEFORE_REPORTER);
                let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                    std::mem::transmute(previous.sa_sigaction);
                f(signal, info, context);
            }
        }
        // SAFETY: saves the current action (ours) before anything reads it, then installs the reporter.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = reporter as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigaction(libc::SIGSEGV, &action, std::ptr::addr_of_mut!(BEFORE_REPORTER));
        }
        null_write();
    }
    // Written once, before the handler that reads it is installed.
    // SAFETY: a zeroed `sigaction` is a valid value (the default action).
    static mut BEFORE_REPORTER: libc::sigaction = unsafe { std::mem::zeroed() };

    /// An exit handler overflows its stack on the thread the runtime runs
    /// the handlers on after `main` returns: that thread has an alternate
    /// signal stack, so the actions run.
    pub fn stack_overflow_in_an_exit_handler() {
        register_actions_only();
        atexit::register(stack_overflow);
    }

    fn register_actions_only() {
        let stdout = std::io::stdout();
        crash::register(Action::write(stdout.as_fd(), "action registered first\n").unwrap()).unwrap();
        crash::register(Action::write(stdout.as_fd(), "action registered last\n").unwrap()).unwrap();
    }

    /// `signals::install_for(&[Signal::Other(SIGABRT)])` before the first action, or
    /// after it: `abort()` runs the actions once and the process dies of
    /// `SIGABRT` (the exit handlers race with the abort: not checked).
    pub fn abort_handled_by_signals_before() {
        atexit::signals::install_for(&[atexit::Signal::Other(libc::SIGABRT)]).unwrap();
        register_actions_only();
        abort();
    }
    pub fn abort_handled_by_signals_after() {
        register_actions_only();
        atexit::signals::install_for(&[atexit::Signal::Other(libc::SIGABRT)]).unwrap();
        abort();
    }

    /// A write action to a terminal nobody reads (a pseudo-terminal whose
    /// master is never read) gives up: the process ends, at a normal exit
    /// and at a crash.
    pub fn write_to_an_unread_terminal_at_exit() {
        register_write_to_an_unread_terminal();
    }
    pub fn write_to_an_unread_terminal_at_a_crash() {
        register_write_to_an_unread_terminal();
        null_write();
    }
    fn register_write_to_an_unread_terminal() {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: `openpty` fills the two descriptors, left open for the rest of the process.
        let opened = unsafe {
            libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut())
        };
        assert_eq!(opened, 0);
        // SAFETY: `slave` is open for the rest of the process.
        let terminal = unsafe { std::os::fd::BorrowedFd::borrow_raw(slave) };
        crash::register(Action::write(std::io::stdout().as_fd(), "ran after\n").unwrap()).unwrap();
        crash::register(Action::write(terminal, vec![b'x'; 1 << 20]).unwrap()).unwrap();
    }

    /// With `SIGPIPE` at its default action, a write action to a pipe whose
    /// reader is gone does not kill the process: the actions before it run,
    /// the exit's status stands.
    pub fn write_to_a_closed_pipe_with_sigpipe_default() {
        // SAFETY: sets `SIGPIPE`'s default action, as many programs do.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
        let mut ends = [0; 2];
        // SAFETY: `pipe` fills the two descriptors; the reading end is closed at once.
        unsafe {
            assert_eq!(libc::pipe(ends.as_mut_ptr()), 0);
            libc::close(ends[0]);
        }
        let marker = marker();
        std::fs::write(&marker, "").unwrap();
        println!("marker: {marker}");
        crash::register(Action::unlink(&marker).unwrap()).unwrap();
        // SAFETY: `ends[1]` is open for the rest of the process.
        let broken = unsafe { std::os::fd::BorrowedFd::borrow_raw(ends[1]) };
        crash::register(Action::write(broken, "lost\n").unwrap()).unwrap();
    }

    /// Installs `handler` for `SIGSEGV` with `flags` (and `SA_SIGINFO`).
    fn install_before_ours(handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void), flags: i32) {
        // SAFETY: installs a `SA_SIGINFO` handler of the right signature.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = handler as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | flags;
            libc::sigaction(libc::SIGSEGV, &action, std::ptr::null_mut());
        }
    }

    fn say(line: &[u8]) {
        // SAFETY: `write` of a live buffer, async-signal-safe.
        unsafe { libc::write(1, line.as_ptr().cast(), line.len()) };
    }

    /// A handler before ours that logs and returns, installed one-shot
    /// (`SA_RESETHAND`): the fault comes back to the default action, once;
    /// the actions run before it; nothing loops.
    pub fn a_one_shot_handler_before_ours() {
        extern "C" fn log(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
            say(b"logged\n");
        }
        install_before_ours(log, libc::SA_RESETHAND as libc::c_int);
        register_actions_only();
        null_write();
    }

    /// A crash reporter in backward-cpp's style (`SA_RESETHAND | SA_NODEFER`,
    /// then `raise` of the signal, then `_exit(1)` if that returned): the
    /// actions run before it, and the process dies of the signal.
    pub fn a_reporter_that_raises_again() {
        extern "C" fn report(signal: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
            say(b"reported\n");
            // SAFETY: as the reporter does.
            unsafe {
                libc::raise(signal);
                say(b"raise returned\n");
                libc::_exit(1);
            }
        }
        install_before_ours(report, (libc::SA_RESETHAND | libc::SA_NODEFER) as libc::c_int);
        register_actions_only();
        null_write();
    }

    /// A second thread faults while the first runs the actions (one of them
    /// slow): it waits for them, and none is lost.
    pub fn a_second_fault_while_the_actions_run() {
        fn slowly() {
            let pause = libc::timespec { tv_sec: 0, tv_nsec: 400_000_000 };
            // SAFETY: `nanosleep` is async-signal-safe; `pause` is a live local.
            unsafe { libc::nanosleep(&pause, std::ptr::null_mut()) };
        }
        let stdout = std::io::stdout();
        crash::register(Action::write(stdout.as_fd(), "first\n").unwrap()).unwrap();
        // SAFETY: sleeps only: async-signal-safe.
        crash::register(unsafe { Action::call(slowly) }).unwrap();
        crash::register(Action::write(stdout.as_fd(), "last\n").unwrap()).unwrap();
        std::thread::spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(100));
            null_write();
        });
        null_write();
    }

    /// `signals` handles `SIGABRT`, then the stack overflows: std's report
    /// aborts, the actions have run, and the process dies of `SIGABRT` (a
    /// debug build without actions may die of `SIGSEGV` there: the handler
    /// of that `SIGABRT` overflows the alternate stack).
    pub fn stack_overflow_with_signals_handling_abort() {
        atexit::signals::install_for(&[atexit::Signal::Other(libc::SIGABRT)]).unwrap();
        register_actions_only();
        stack_overflow();
    }

    /// A normal exit runs the actions due then; a crash later in the exit
    /// (a C exit function registered by a handler) runs those only for
    /// crashes.
    pub fn a_crash_after_the_normal_exits_actions() {
        extern "C" fn crash_late() {
            null_write();
        }
        let stdout = std::io::stdout();
        crash::register(Action::write(stdout.as_fd(), "crash only\n").unwrap().only_on_crash()).unwrap();
        crash::register(Action::write(stdout.as_fd(), "at any ending\n").unwrap()).unwrap();
        // SAFETY: registers a C exit function, run after this hook returns.
        atexit::register(|| unsafe {
            libc::atexit(crash_late);
        });
    }

    /// A program in the background of its terminal (started as a shell's
    /// background job: a group of its own, its parent in the foreground,
    /// `tostop` set) crashes: restoring the terminal's mode and writing to
    /// it are left alone, not stopped by `SIGTTOU`.
    pub fn terminal_actions_in_the_background() {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: `openpty` fills the two descriptors.
        let opened = unsafe {
            libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut())
        };
        assert_eq!(opened, 0);
        // SAFETY: the child plays the shell: a session of its own whose controlling terminal is the new one, in the
        // foreground; its child, the program, runs in a group of its own (so in the background), registers the
        // actions and crashes. The shell waits for it, stopped or ended, and says which.
        unsafe {
            let shell = libc::fork();
            if shell != 0 {
                let mut status = 0;
                libc::waitpid(shell, &mut status, 0);
                return;
            }
            libc::setsid();
            libc::ioctl(slave, libc::TIOCSCTTY as _, 0);
            let mut mode: libc::termios = std::mem::zeroed();
            libc::tcgetattr(slave, &mut mode);
            mode.c_lflag |= libc::TOSTOP;
            libc::tcsetattr(slave, libc::TCSANOW, &mode);
            let program = libc::fork();
            if program == 0 {
                libc::setpgid(0, 0);
                let terminal = std::os::fd::BorrowedFd::borrow_raw(slave);
                crash::register(Action::restore_terminal(terminal).unwrap()).unwrap();
                crash::register(Action::write(terminal, "on the screen\n").unwrap()).unwrap();
                null_write();
            }
            let mut status = 0;
            libc::waitpid(program, &mut status, libc::WUNTRACED);
            if libc::WIFSTOPPED(status) {
                println!("stopped by signal {}", libc::WSTOPSIG(status));
                libc::kill(program, libc::SIGKILL);
            } else {
                println!("{}", ended(status));
            }
            libc::_exit(0);
        }
    }

    /// A write action to a pseudo-terminal's master (a terminal emulator's
    /// side) reaches that terminal: the reader of its other side gets it.
    pub fn write_to_a_pseudo_terminal_master() {
        let (mut master, mut slave) = (0, 0);
        // SAFETY: `openpty` fills the two descriptors; the child registers and crashes; the parent waits for it, then
        // reads what the terminal's other side got, without blocking.
        unsafe {
            let opened = libc::openpty(
                &mut master,
                &mut slave,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            assert_eq!(opened, 0);
            if libc::fork() == 0 {
                let terminal = std::os::fd::BorrowedFd::borrow_raw(master);
                crash::register(Action::write(terminal, "from the action\n").unwrap()).unwrap();
                null_write();
            }
            let mut status = 0;
            libc::wait(&mut status);
            libc::fcntl(slave, libc::F_SETFL, libc::O_NONBLOCK);
            let mut got = [0u8; 64];
            let read = libc::read(slave, got.as_mut_ptr().cast(), got.len()).max(0) as usize;
            println!("the other side read {:?}", String::from_utf8_lossy(&got[..read]));
        }
    }

    /// A child forked after an action was registered does not run it; one
    /// inherited runs in both.
    pub fn fork_keeps_only_inherited_actions() {
        let stdout = std::io::stdout();
        crash::register(Action::write(stdout.as_fd(), "parent's own\n").unwrap()).unwrap();
        crash::register(Action::write(stdout.as_fd(), "inherited\n").unwrap().inherit_on_fork()).unwrap();
        // SAFETY: the child only aborts.
        match unsafe { libc::fork() } {
            0 => abort(),
            child => {
                let mut status = 0;
                // SAFETY: waiting for our own child.
                unsafe { libc::waitpid(child, &mut status, 0) };
                println!("child: {}", ended(status));
            }
        }
    }
}

#[cfg(unix)]
fn main() -> std::process::ExitCode {
    use common::{Expect, Status::*, case, expect};
    use std::process::Output;

    /// The crash cases' check: baseline line, the actions in order, the
    /// marker removed, no exit handler, the same ending as the baseline,
    /// std's stack-overflow message in both.
    fn crashed_as_baseline(output: &Output) -> Result<(), String> {
        use std::os::unix::process::ExitStatusExt;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<&str> = stdout.lines().collect();
        let Some(baseline) = lines.first().and_then(|l| l.strip_prefix("baseline: ")) else {
            return Err(format!("no baseline line in {stdout:?}"));
        };
        let ours = scenarios::ended(output.status.into_raw());
        if ours != baseline {
            return Err(format!("ended as `{ours}`, the baseline as `{baseline}`"));
        }
        marker_removed(output)?;
        if lines[2..] != ["action registered last", "action registered first"] {
            return Err(format!("the actions did not run once each, last first: {stdout:?}"));
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        if stderr.contains("overflowed its stack") && stderr.matches("overflowed its stack").count() != 2 {
            return Err("std's stack-overflow message is missing from one of the runs".to_owned());
        }
        Ok(())
    }

    fn crash(name: &'static str, play: fn(), signal: i32) -> common::Case {
        case(name, play, Expect { stdout: None, check: Some(crashed_as_baseline), ..expect("", Signal(signal)) })
    }

    fn marker_removed(output: &Output) -> Result<(), String> {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let marker = stdout.lines().find_map(|l| l.strip_prefix("marker: ")).ok_or("no marker line")?;
        if std::path::Path::new(marker).exists() {
            return Err(format!("{marker} was not removed"));
        }
        Ok(())
    }

    // The README's crash table: one row for each crash, proven on the main
    // thread and on another by the cases below.
    /// What crashes, the scenarios' stem, on the main thread, on another,
    /// and the signal the process dies of.
    type Crash = (&'static str, &'static str, fn(), fn(), i32);
    let crashes: [Crash; 7] = [
        (
            "a write through a null pointer to a field (address 16: `SIGSEGV`)",
            "segv",
            scenarios::segv_main,
            scenarios::segv_thread,
            libc::SIGSEGV,
        ),
        (
            "a stack overflow (std prints its message, then aborts)",
            "stack_overflow",
            scenarios::stack_overflow_main,
            scenarios::stack_overflow_thread,
            libc::SIGABRT,
        ),
        ("`std::process::abort()`", "abort", scenarios::abort_main, scenarios::abort_thread, libc::SIGABRT),
        ("a read past a mapped file's end (`SIGBUS`)", "bus", scenarios::bus_main, scenarios::bus_thread, libc::SIGBUS),
        ("`raise(SIGILL)`", "ill", scenarios::ill_main, scenarios::ill_thread, libc::SIGILL),
        ("`raise(SIGFPE)`", "fpe", scenarios::fpe_main, scenarios::fpe_thread, libc::SIGFPE),
        ("`raise(SIGTRAP)`", "trap", scenarios::trap_main, scenarios::trap_thread, libc::SIGTRAP),
    ];
    let mut table =
        String::from("| Crash, on the main thread or another | Crash actions | The process ends |\n|---|---|---|\n");
    let named = |signal: i32| match signal {
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGTRAP => "SIGTRAP",
        _ => "another signal",
    };
    for (what, _, _, _, signal) in &crashes {
        table.push_str(&format!(
            "| {what} | run once, last registered first; no exit handler | killed by {}, as without actions |\n",
            named(*signal)
        ));
    }
    table.push_str(
        "| a fault inside an action | the ones left are skipped | killed by that fault's signal |\n\
         | a second Ctrl-C while the exit handlers run | run after the handlers left are skipped | killed by SIGINT |\n\
         | a normal exit | run after the exit handlers (not those `only_on_crash`) | the exit's status |\n\
         | another thread's crash while a normal exit runs them | the rest run, crash-only ones too | killed by the crash's signal, not the exit's status |\n\
         | a crash on the thread running a normal exit's actions (a fault in one, a signal sent to it) | the rest run, crash-only ones too | killed by that signal |\n\
         | `main` returning while another thread's crash runs them | the exit waits for that run | killed by the crash's signal, not the exit's status |\n\
         | a stack overflow in an exit handler run on the runtime's exit thread (after `main` returned) | run (the thread has an alternate signal stack) | killed by SIGSEGV (std reports nothing on a thread it did not start), as without actions |\n",
    );
    let mut cases: Vec<common::Case> = Vec::new();
    for (_, name, main, thread, signal) in crashes {
        cases.push(crash(Box::leak(format!("{name}_main").into_boxed_str()), main, signal));
        cases.push(crash(Box::leak(format!("{name}_thread").into_boxed_str()), thread, signal));
    }
    cases.extend([
        case(
            "fault_inside_an_action",
            scenarios::fault_inside_an_action,
            expect("ran before the fault\n", Signal(libc::SIGSEGV)),
        ),
        case(
            "removed_action_does_not_run",
            scenarios::removed_action_does_not_run,
            expect("kept\n", Signal(libc::SIGABRT)),
        ),
        case(
            "normal_exit_runs_them_after_the_handlers",
            scenarios::normal_exit_runs_them_after_the_handlers,
            expect("exit handler\naction\n", Code(0)),
        ),
        case(
            "second_signal_while_handlers_run",
            scenarios::second_signal_while_handlers_run,
            Expect {
                stdout: None,
                check: Some(|output| {
                    marker_removed(output)?;
                    let stdout = String::from_utf8_lossy(&output.stdout);
                    match stdout.lines().skip(1).collect::<Vec<_>>()[..] {
                        ["slow handler", "action"] => Ok(()),
                        _ => Err(format!("stdout {stdout:?}")),
                    }
                }),
                ..expect("", Signal(libc::SIGINT))
            },
        ),
        case("sent_segv_is_a_crash", scenarios::sent_segv_is_a_crash, expect("action\n", Signal(libc::SIGSEGV))),
        case(
            "fault_inside_an_action_at_exit",
            scenarios::fault_inside_an_action_at_exit,
            expect("ran before the fault\nran after the fault\ncrash only\n", Signal(libc::SIGSEGV)),
        ),
        case(
            "exit_while_a_crash_runs_them",
            scenarios::exit_while_a_crash_runs_them,
            expect("before\nexit handler\nafter\ncrash only\n", Signal(libc::SIGSEGV)),
        ),
        case(
            "signal_to_the_thread_running_the_exits_actions",
            scenarios::signal_to_the_thread_running_the_exits_actions,
            expect("before the signal\nafter the signal\ncrash only\n", Signal(libc::SIGABRT)),
        ),
        case(
            "two_threads_crash_one_after_the_other",
            scenarios::two_threads_crash_one_after_the_other,
            expect("second\nfirst\n", Signal(libc::SIGSEGV)),
        ),
        case(
            "write_to_a_full_pipe_is_bounded",
            scenarios::write_to_a_full_pipe_is_bounded,
            expect("ran after\n", Signal(libc::SIGABRT)),
        ),
        case(
            "a_handler_before_ours_recovers",
            scenarios::a_handler_before_ours_recovers,
            expect("recovered\naction\n", Signal(libc::SIGSEGV)),
        ),
        case(
            "a_handler_after_ours_chains_to_it",
            scenarios::a_handler_after_ours_chains_to_it,
            expect("reporter\naction\n", Signal(libc::SIGSEGV)),
        ),
        case(
            "stack_overflow_in_an_exit_handler",
            scenarios::stack_overflow_in_an_exit_handler,
            expect("action registered last\naction registered first\n", Signal(libc::SIGSEGV)),
        ),
        case(
            "abort_handled_by_signals_before",
            scenarios::abort_handled_by_signals_before,
            expect("action registered last\naction registered first\n", Signal(libc::SIGABRT)),
        ),
        case(
            "abort_handled_by_signals_after",
            scenarios::abort_handled_by_signals_after,
            expect("action registered last\naction registered first\n", Signal(libc::SIGABRT)),
        ),
        case(
            "write_to_an_unread_terminal_at_exit",
            scenarios::write_to_an_unread_terminal_at_exit,
            expect("ran after\n", Code(0)),
        ),
        case(
            "write_to_an_unread_terminal_at_a_crash",
            scenarios::write_to_an_unread_terminal_at_a_crash,
            expect("ran after\n", Signal(libc::SIGSEGV)),
        ),
        case(
            "write_to_a_closed_pipe_with_sigpipe_default",
            scenarios::write_to_a_closed_pipe_with_sigpipe_default,
            Expect { stdout: None, check: Some(marker_removed), ..expect("", Code(0)) },
        ),
        case(
            "a_one_shot_handler_before_ours",
            scenarios::a_one_shot_handler_before_ours,
            expect("action registered last\naction registered first\nlogged\n", Signal(libc::SIGSEGV)),
        ),
        case(
            "a_reporter_that_raises_again",
            scenarios::a_reporter_that_raises_again,
            expect("action registered last\naction registered first\nreported\n", Signal(libc::SIGSEGV)),
        ),
        case(
            "a_second_fault_while_the_actions_run",
            scenarios::a_second_fault_while_the_actions_run,
            expect("last\nfirst\n", Signal(libc::SIGSEGV)),
        ),
        case(
            "stack_overflow_with_signals_handling_abort",
            scenarios::stack_overflow_with_signals_handling_abort,
            expect("action registered last\naction registered first\n", Signal(libc::SIGABRT)),
        ),
        case(
            "a_crash_after_the_normal_exits_actions",
            scenarios::a_crash_after_the_normal_exits_actions,
            expect("at any ending\ncrash only\n", Signal(libc::SIGSEGV)),
        ),
        case(
            "a_crash_while_the_exit_runs_them",
            scenarios::a_crash_while_the_exit_runs_them,
            expect("at exit\ncrash only\n", Signal(libc::SIGSEGV)),
        ),
        case(
            "terminal_actions_in_the_background",
            scenarios::terminal_actions_in_the_background,
            Expect {
                stdout: None,
                check: Some(|output| {
                    let stdout = String::from_utf8_lossy(&output.stdout);
                    if stdout.starts_with(&format!("killed by signal {}", libc::SIGSEGV)) {
                        Ok(())
                    } else {
                        Err(format!("the program was not killed by its crash: {stdout:?}"))
                    }
                }),
                ..expect("", Code(0))
            },
        ),
        case(
            "write_to_a_pseudo_terminal_master",
            scenarios::write_to_a_pseudo_terminal_master,
            expect("the other side read \"from the action\\n\"\n", Code(0)),
        ),
        case(
            "fork_keeps_only_inherited_actions",
            scenarios::fork_keeps_only_inherited_actions,
            Expect {
                stdout: None,
                check: Some(|output| {
                    let stdout = String::from_utf8_lossy(&output.stdout);
                    let child = format!("child: killed by signal {}, core dumped: ", libc::SIGABRT);
                    match stdout.lines().collect::<Vec<_>>()[..] {
                        ["inherited", said, "inherited", "parent's own"] if said.starts_with(&child) => Ok(()),
                        _ => Err(format!("stdout {stdout:?}")),
                    }
                }),
                ..expect("", Code(0))
            },
        ),
    ]);
    let filtered = std::env::args().skip(1).any(|a| !a.starts_with('-'));
    let outcome = common::run(cases);
    if outcome != std::process::ExitCode::SUCCESS || filtered || std::env::var_os("ATEXIT_SCENARIO").is_some() {
        return outcome;
    }
    match common::check_readme_table(CRASH_TABLE_BEGIN, CRASH_TABLE_END, &table) {
        Ok(()) => {
            println!("crash table in README.md ... ok");
            outcome
        }
        Err(why) => {
            println!("crash table in README.md ... FAILED\n  {why}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(unix)]
const CRASH_TABLE_BEGIN: &str = "<!-- crash-table:begin (written by tests/crash.rs; ATEXIT_BLESS=1 rewrites it) -->\n";
#[cfg(unix)]
const CRASH_TABLE_END: &str = "<!-- crash-table:end -->";

#[cfg(not(any(unix, windows)))]
fn main() {
    println!("crash actions are built for Unix and Windows only");
}

/// Windows, run under Wine by `scripts/windows-check.sh`. Each crash
/// scenario first runs its baseline: itself again, crashing the same way
/// with no action. The exception filter sees faults, illegal instructions,
/// divisions by zero and breakpoints; the C runtime's `SIGABRT` handler sees
/// C's `abort()`; nothing in the process sees `__fastfail` (Rust's
/// `std::process::abort`).
#[cfg(windows)]
mod windows_scenarios {
    use std::io::Write;
    use std::os::windows::io::AsHandle;

    use atexit::crash::{self, Action};

    use super::shared::{c_abort, null_write, register_actions, stack_overflow};
    pub use super::shared::{fault_inside_an_action, normal_exit_runs_them_after_the_handlers};

    const BASELINE: &str = "ATEXIT_CRASH_BASELINE";

    /// Runs this scenario again with no action and prints how it ended;
    /// then registers the actions and plays `crash`.
    fn with_baseline(crash: fn()) {
        if std::env::var_os(BASELINE).is_some() {
            crash();
            std::process::exit(99);
        }
        let baseline = std::process::Command::new(std::env::current_exe().unwrap())
            .env(BASELINE, "1")
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        println!("baseline: {:?}", baseline.status.code());
        register_actions();
        crash();
        println!("survived the crash");
    }

    fn rust_abort() {
        std::process::abort();
    }

    fn illegal_instruction() {
        // SAFETY: not safe: the crash under test.
        unsafe { std::arch::asm!("ud2") };
    }

    fn divide_by_zero() {
        // SAFETY: not safe: the crash under test (a division by zero raises an exception, it is not undefined).
        unsafe {
            std::arch::asm!("div {0:e}", in(reg) std::hint::black_box(0u32), inout("eax") 1u32 => _, inout("edx") 0u32 => _)
        };
    }

    fn breakpoint() {
        // SAFETY: a breakpoint with no debugger: the crash under test.
        unsafe { std::arch::asm!("int3") };
    }

    on_both_threads! {
        segv_main, segv_thread: null_write;
        stack_overflow_main, stack_overflow_thread: stack_overflow;
        c_abort_main, c_abort_thread: c_abort;
        rust_abort_main, rust_abort_thread: rust_abort;
        ill_main, ill_thread: illegal_instruction;
        fpe_main, fpe_thread: divide_by_zero;
        trap_main, trap_thread: breakpoint;
    }

    /// The deadline passing while a handler hangs: the forced ending runs
    /// the actions.
    pub fn deadline_runs_them() {
        atexit::set_deadline(std::time::Duration::from_millis(300));
        crash::register(Action::write(std::io::stdout().as_handle(), "action\n").unwrap()).unwrap();
        atexit::Registration::new(|| std::thread::sleep(std::time::Duration::from_secs(30))).name("stuck").register();
    }

    /// `restore_terminal` on a console's input handle: raw mode (no echo,
    /// no line input) is undone by the crash. An action registered before
    /// it runs after it, and reports the mode it finds.
    pub fn console_mode_restored() {
        use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
        // Wine has a console when it runs on a terminal: `scripts/windows-check.sh`
        // runs this test under `script`.
        let name: Vec<u16> = "CONIN$\0".encode_utf16().collect();
        // SAFETY: a NUL-terminated name; GENERIC_READ | GENERIC_WRITE, shared for both, OPEN_EXISTING.
        let raw = unsafe { CreateFileW(name.as_ptr(), 0xC000_0000, 3, std::ptr::null(), 3, 0, std::ptr::null_mut()) };
        assert_ne!(raw as isize, -1, "no console input");
        // SAFETY: a handle just opened, owned here.
        let console = unsafe { OwnedHandle::from_raw_handle(raw) };
        let mut before = 0;
        // SAFETY: an open console handle; `before` is a live local.
        assert_ne!(unsafe { GetConsoleMode(console.as_raw_handle(), &mut before) }, 0);
        println!("mode before: {before:#010x}");
        CONSOLE.store(console.as_raw_handle() as usize, std::sync::atomic::Ordering::SeqCst);
        // SAFETY: `report_mode` only reads the console's mode and writes a fixed line with `WriteFile`.
        crash::register(unsafe { Action::call(report_mode) }).unwrap();
        crash::register(Action::restore_terminal(console.as_handle()).unwrap()).unwrap();
        const RAW: u32 = !(0x1 | 0x2 | 0x4); // no processed input, line input or echo
        // SAFETY: as above.
        assert_ne!(unsafe { SetConsoleMode(console.as_raw_handle(), before & RAW) }, 0);
        std::mem::forget(console);
        std::io::stdout().flush().unwrap();
        // C's `abort()`: no debugger is started (Wine's may hang on a terminal).
        c_abort();
    }

    static CONSOLE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

    /// Writes the console's mode as 8 hex digits, without allocating.
    fn report_mode() {
        use std::os::windows::io::AsRawHandle;
        let mut mode = 0u32;
        // SAFETY: the console handle stays open (forgotten above); `mode` is a live local.
        unsafe { GetConsoleMode(CONSOLE.load(std::sync::atomic::Ordering::SeqCst) as *mut _, &mut mode) };
        let mut line = *b"mode after: 0x00000000\n";
        for (i, place) in line[14..22].iter_mut().enumerate() {
            *place = b"0123456789abcdef"[(mode >> (28 - 4 * i)) as usize & 0xf];
        }
        let stdout = std::io::stdout().as_raw_handle();
        let mut written = 0;
        // SAFETY: stdout's handle; `line` is live.
        unsafe { WriteFile(stdout as isize, line.as_ptr(), line.len() as u32, &mut written, std::ptr::null_mut()) };
    }

    /// `atexit::exit` ends the process with `ExitProcess`, which skips C's
    /// exit functions: the actions still run, after the handlers.
    pub fn atexit_exit_runs_them() {
        crash::register(Action::write(std::io::stdout().as_handle(), "action\n").unwrap()).unwrap();
        atexit::register(|| println!("exit handler"));
        atexit::exit(5);
    }

    /// A filter before ours that resumes the program (a runtime repairing
    /// what faulted): no crash, so no crash action; the program goes on and
    /// its normal exit runs the others.
    pub fn a_filter_before_ours_that_resumes() {
        unsafe extern "system" fn resume(_: *mut u8) -> i32 {
            -1 // EXCEPTION_CONTINUE_EXECUTION
        }
        // SAFETY: installs a filter of the right signature.
        unsafe { SetUnhandledExceptionFilter(Some(resume)) };
        let stdout = std::io::stdout();
        crash::register(Action::write(stdout.as_handle(), "at exit\n").unwrap()).unwrap();
        crash::register(Action::write(stdout.as_handle(), "crash only\n").unwrap().only_on_crash()).unwrap();
        // SAFETY: a continuable software exception, no arguments.
        unsafe { RaiseException(0xE000_0001, 0, 0, std::ptr::null()) };
        println!("resumed");
    }

    /// Plays a scenario of `shared` with a filter before ours that ends the
    /// process at once, as a crash reporter's does, rather than Wine's
    /// debugger, whose start takes its time (and which, inside the C
    /// runtime's `exit`, ends it with a status of its own).
    fn ending_at_once(scenario: fn()) {
        unsafe extern "system" fn end_now(_: *mut u8) -> i32 {
            1 // EXCEPTION_EXECUTE_HANDLER
        }
        // SAFETY: installs a filter of the right signature.
        unsafe { SetUnhandledExceptionFilter(Some(end_now)) };
        scenario();
    }

    pub fn a_crash_while_the_exit_runs_them() {
        ending_at_once(super::shared::a_crash_while_the_exit_runs_them);
    }

    pub fn fault_inside_an_action_at_exit() {
        ending_at_once(super::shared::fault_inside_an_action_at_exit);
    }

    pub fn exit_while_a_crash_runs_them() {
        ending_at_once(super::shared::exit_while_a_crash_runs_them);
    }

    /// C's `abort()` on another thread while `main`'s return runs the
    /// actions (inside the C runtime's `exit`): the rest run, and the
    /// process ends as `abort()` ends it.
    pub fn abort_while_the_exit_runs_them() {
        super::shared::crash_while_the_exit_runs_them(c_abort);
    }

    /// The deadline passes while a normal exit's action hangs: the process
    /// ends with the deadline's status, the hung run left (no hang).
    pub fn deadline_while_an_action_hangs() {
        atexit::set_deadline(std::time::Duration::from_millis(300));
        fn hang() {
            loop {
                std::thread::park();
            }
        }
        crash::register(Action::write(std::io::stdout().as_handle(), "skipped\n").unwrap().only_on_crash()).unwrap();
        // SAFETY: a test's action: it only blocks.
        crash::register(unsafe { Action::call(hang) }).unwrap();
    }

    /// `terminate_job`: a child in the job is ended by the crash, with the
    /// code given. (The parent checks the child's status by its id.)
    pub fn terminate_job_ends_the_children() {
        use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
        // SAFETY: an anonymous job, no attributes.
        let job = unsafe { CreateJobObjectW(std::ptr::null(), std::ptr::null()) };
        assert!(!job.is_null());
        // SAFETY: a handle just made, owned here.
        let job = unsafe { OwnedHandle::from_raw_handle(job) };
        let child = std::process::Command::new(std::env::current_exe().unwrap())
            .env(SLEEPER, "1")
            .env_remove("ATEXIT_SCENARIO")
            .spawn()
            .unwrap();
        // SAFETY: both handles are open.
        assert_ne!(unsafe { AssignProcessToJobObject(job.as_raw_handle(), child.as_raw_handle()) }, 0);
        println!("child: {}", child.id());
        crash::register(Action::terminate_job(job.as_handle(), 7).unwrap()).unwrap();
        std::io::stdout().flush().unwrap();
        c_abort();
    }

    /// Set in a child that only waits (to be ended by a job's termination).
    pub const SLEEPER: &str = "ATEXIT_CRASH_SLEEPER";

    /// Whether process `id` ends within 5 s, and with which status.
    pub fn status_of_process(id: u32) -> Option<u32> {
        // SAFETY: SYNCHRONIZE | PROCESS_QUERY_LIMITED_INFORMATION on a process id; the handle is closed below.
        let process = unsafe { OpenProcess(0x0010_0000 | 0x1000, 0, id) };
        if process.is_null() {
            return None;
        }
        let mut code = 0;
        // SAFETY: an open process handle; `code` is a live local.
        let ended = unsafe { WaitForSingleObject(process, 5000) == 0 && GetExitCodeProcess(process, &mut code) != 0 };
        // SAFETY: opened above.
        unsafe { CloseHandle(process) };
        ended.then_some(code)
    }

    /// A filter set before the first action sees the exception first, and
    /// decides: here it leaves it to Windows, and the actions run.
    pub fn a_filter_before_ours_decides_first() {
        unsafe extern "system" fn previous(_: *mut u8) -> i32 {
            println!("previous filter");
            0 // EXCEPTION_CONTINUE_SEARCH
        }
        // SAFETY: installs a filter of the right signature.
        unsafe { SetUnhandledExceptionFilter(Some(previous)) };
        crash::register(Action::write(std::io::stdout().as_handle(), "action\n").unwrap()).unwrap();
        null_write();
    }

    /// `raise(SIGABRT)` with no handler before ours: the actions run, then
    /// the process ends as it does without them (the C runtime's status 3),
    /// not going on after the `raise`.
    pub fn raise_abort() {
        crash::register(Action::write(std::io::stdout().as_handle(), "action\n").unwrap()).unwrap();
        // SAFETY: raises a signal: the crash under test.
        unsafe { libc::raise(libc::SIGABRT) };
        println!("survived");
    }

    /// `SIGABRT` ignored before the first action stays ignored: a
    /// `raise(SIGABRT)` goes on, and the actions run at the normal exit.
    pub fn ignored_abort_stays_ignored() {
        // SAFETY: ignores a signal.
        unsafe { libc::signal(libc::SIGABRT, libc::SIG_IGN) };
        crash::register(Action::write(std::io::stdout().as_handle(), "action\n").unwrap()).unwrap();
        // SAFETY: raises an ignored signal.
        unsafe { libc::raise(libc::SIGABRT) };
        println!("went on");
    }

    /// A C runtime `SIGABRT` handler set before the first action is called
    /// after the actions.
    pub fn an_abort_handler_before_ours_runs_after_the_actions() {
        extern "C" fn previous(_: libc::c_int) {
            println!("previous abort handler");
        }
        // SAFETY: installs a handler of the right signature.
        unsafe { libc::signal(libc::SIGABRT, previous as *const () as libc::sighandler_t) };
        crash::register(Action::write(std::io::stdout().as_handle(), "action\n").unwrap()).unwrap();
        c_abort();
    }

    #[link(name = "kernel32")]
    unsafe extern "system" {
        fn CreateFileW(
            name: *const u16,
            access: u32,
            share: u32,
            security: *const u8,
            disposition: u32,
            flags: u32,
            template: *mut std::ffi::c_void,
        ) -> *mut std::ffi::c_void;
        fn GetConsoleMode(console: *mut std::ffi::c_void, mode: *mut u32) -> i32;
        fn CreateJobObjectW(security: *const u8, name: *const u16) -> *mut std::ffi::c_void;
        fn AssignProcessToJobObject(job: *mut std::ffi::c_void, process: *mut std::ffi::c_void) -> i32;
        fn OpenProcess(access: u32, inherit: i32, id: u32) -> *mut std::ffi::c_void;
        fn WaitForSingleObject(handle: *mut std::ffi::c_void, milliseconds: u32) -> u32;
        fn GetExitCodeProcess(process: *mut std::ffi::c_void, code: *mut u32) -> i32;
        fn CloseHandle(handle: *mut std::ffi::c_void) -> i32;
        fn SetConsoleMode(console: *mut std::ffi::c_void, mode: u32) -> i32;
        fn RaiseException(code: u32, flags: u32, count: u32, arguments: *const usize);
        fn SetUnhandledExceptionFilter(
            filter: Option<unsafe extern "system" fn(*mut u8) -> i32>,
        ) -> Option<unsafe extern "system" fn(*mut u8) -> i32>;
        fn CreatePipe(read: *mut isize, write: *mut isize, attributes: *const u8, size: u32) -> i32;
        fn SetNamedPipeHandleState(pipe: isize, mode: *const u32, count: *const u32, timeout: *const u32) -> i32;
        fn WriteFile(file: isize, bytes: *const u8, length: u32, written: *mut u32, overlapped: *mut u8) -> i32;
    }

    /// An action writing to a pipe whose buffer is full (no one reads it)
    /// writes nothing and blocks nothing: the actions registered before it
    /// still run.
    pub fn write_to_a_full_pipe_is_bounded() {
        let (mut read, mut write) = (0, 0);
        // SAFETY: out-parameters are live locals; the pipe's buffer is 4 KiB.
        assert_ne!(unsafe { CreatePipe(&mut read, &mut write, std::ptr::null(), 4096) }, 0);
        // Filled without blocking: non-blocking while it is filled, then blocking again.
        let (nowait, wait) = (1u32, 0u32);
        // SAFETY: our pipe's write end; the mode is a live local.
        assert_ne!(unsafe { SetNamedPipeHandleState(write, &nowait, std::ptr::null(), std::ptr::null()) }, 0);
        let chunk = [b'x'; 512];
        let mut filled = 0;
        loop {
            let mut written = 0;
            // SAFETY: our pipe's write end; `chunk` is live.
            let ok = unsafe { WriteFile(write, chunk.as_ptr(), 512, &mut written, std::ptr::null_mut()) };
            if ok == 0 || written == 0 {
                break;
            }
            filled += written;
        }
        assert!(filled > 0);
        // SAFETY: as above.
        assert_ne!(unsafe { SetNamedPipeHandleState(write, &wait, std::ptr::null(), std::ptr::null()) }, 0);
        let stdout = std::io::stdout();
        crash::register(Action::write(stdout.as_handle(), "ran after\n").unwrap()).unwrap();
        // SAFETY: `write` is an open handle of ours, borrowed while it stays open (never closed).
        let full = unsafe { std::os::windows::io::BorrowedHandle::borrow_raw(write as *mut _) };
        crash::register(Action::write(full, vec![b'y'; 100_000]).unwrap()).unwrap();
        c_abort();
    }
}

#[cfg(windows)]
fn main() -> std::process::ExitCode {
    use common::{Expect, Status::*, case, expect};
    use std::process::Output;

    if std::env::var_os(windows_scenarios::SLEEPER).is_some() {
        std::thread::sleep(std::time::Duration::from_secs(60));
        return std::process::ExitCode::SUCCESS;
    }

    /// Whether this runs under Wine, which ends a stack overflow without
    /// calling the unhandled-exception filter.
    fn under_wine() -> bool {
        std::env::vars_os().any(|(name, _)| name.to_string_lossy().starts_with("WINE"))
    }

    /// The crash cases' check, with `ran` whether the actions run there:
    /// the baseline's status is ours, the actions' lines (once each, last
    /// first) or none, the marker removed or not, no exit handler. `None`:
    /// only the baseline's status (Wine's stack overflow, which ends the
    /// thread, not the process).
    fn ended_as_baseline(output: &Output, ran: Option<bool>) -> Result<(), String> {
        let stdout = String::from_utf8_lossy(&output.stdout);
        let baseline = stdout.lines().find_map(|l| l.strip_prefix("baseline: ")).ok_or("no baseline line")?;
        if format!("{:?}", output.status.code()) != baseline {
            return Err(format!("ended with {:?}, the baseline with {baseline}", output.status.code()));
        }
        let Some(ran) = ran else { return Ok(()) };
        let actions: Vec<&str> = stdout.lines().filter(|l| l.starts_with("action registered")).collect();
        let expected: &[&str] = if ran { &["action registered last", "action registered first"] } else { &[] };
        if actions != expected {
            return Err(format!("the actions' lines were {actions:?}, expected {expected:?}: {stdout:?}"));
        }
        let marker = stdout.lines().find_map(|l| l.strip_prefix("marker: ")).ok_or("no marker line")?;
        if std::path::Path::new(marker).exists() == ran {
            return Err(format!("{marker} exists: {}", !ran));
        }
        let _ = std::fs::remove_file(marker);
        if stdout.contains("exit handler ran") || stdout.contains("survived") {
            return Err(format!("an exit handler ran, or the crash was survived: {stdout:?}"));
        }
        Ok(())
    }

    fn crash(name: &'static str, play: fn(), check: common::OutputCheck, status: Option<u32>) -> common::Case {
        let status = status.map_or(Any, |status| Code(status as i32));
        case(name, play, Expect { stdout: None, check: Some(check), ..expect("", status) })
    }

    /// Each crash on both threads: whether the actions run, and the status
    /// (an exception's code, or C's `abort()` status 3).
    macro_rules! crashes {
        ($($main:ident, $thread:ident: $ran:expr, $status:expr;)*) => {
            vec![$(
                crash(stringify!($main), windows_scenarios::$main, |output| ended_as_baseline(output, $ran), $status),
                crash(stringify!($thread), windows_scenarios::$thread, |output| ended_as_baseline(output, $ran), $status),
            )*]
        };
    }
    // Wine 8 ends the thread that overflows its stack, without the
    // filter: there, the stack overflow is only compared with its baseline.
    let mut cases = crashes! {
        segv_main, segv_thread: Some(true), Some(0xC000_0005); // STATUS_ACCESS_VIOLATION
        stack_overflow_main, stack_overflow_thread: (!under_wine()).then_some(true),
            (!under_wine()).then_some(0xC000_00FD); // STATUS_STACK_OVERFLOW
        c_abort_main, c_abort_thread: Some(true), Some(3);
        // `__fastfail` (STATUS_STACK_BUFFER_OVERRUN): nothing in the process sees it.
        rust_abort_main, rust_abort_thread: Some(false), Some(0xC000_0409);
        ill_main, ill_thread: Some(true), Some(0xC000_001D); // STATUS_ILLEGAL_INSTRUCTION
        fpe_main, fpe_thread: Some(true), Some(0xC000_0094); // STATUS_INTEGER_DIVIDE_BY_ZERO
        trap_main, trap_thread: Some(true), Some(0x8000_0003); // STATUS_BREAKPOINT
    };
    cases.extend([
        case(
            "normal_exit_runs_them_after_the_handlers",
            windows_scenarios::normal_exit_runs_them_after_the_handlers,
            expect("exit handler\naction\n", Code(0)),
        ),
        case(
            "fault_inside_an_action",
            windows_scenarios::fault_inside_an_action,
            Expect {
                stdout: None,
                check: Some(|output| {
                    let stdout = String::from_utf8_lossy(&output.stdout);
                    match stdout.lines().next() {
                        Some("ran before the fault") if !stdout.contains("skipped") => Ok(()),
                        _ => Err(format!("stdout {stdout:?}")),
                    }
                }),
                ..expect("", Code(0xC000_0005_u32 as i32))
            },
        ),
        case(
            "fault_inside_an_action_at_exit",
            windows_scenarios::fault_inside_an_action_at_exit,
            expect("ran before the fault\nran after the fault\ncrash only\n", Code(0xC000_0005_u32 as i32)),
        ),
        case("raise_abort", windows_scenarios::raise_abort, expect("action\n", Code(3))),
        case(
            "exit_while_a_crash_runs_them",
            windows_scenarios::exit_while_a_crash_runs_them,
            expect("before\nexit handler\nafter\ncrash only\n", Code(0xC000_0005_u32 as i32)),
        ),
        case(
            "ignored_abort_stays_ignored",
            windows_scenarios::ignored_abort_stays_ignored,
            expect("went on\naction\n", Code(0)),
        ),
        case(
            "write_to_a_full_pipe_is_bounded",
            windows_scenarios::write_to_a_full_pipe_is_bounded,
            expect("ran after\n", Code(3)),
        ),
        case(
            "deadline_runs_them",
            windows_scenarios::deadline_runs_them,
            Expect {
                stderr_has: &["atexit: exit deadline of 300ms passed while handler `stuck` was running"],
                ..expect("action\n", Code(atexit::DEADLINE_EXIT_STATUS))
            },
        ),
        case(
            "console_mode_restored",
            windows_scenarios::console_mode_restored,
            Expect {
                stdout: None,
                check: Some(|output| {
                    let stdout = String::from_utf8_lossy(&output.stdout);
                    let mode = |prefix| stdout.lines().find_map(|l: &str| l.strip_prefix(prefix)).map(str::to_owned);
                    match (mode("mode before: "), mode("mode after: ")) {
                        (Some(before), Some(after)) if before == after => Ok(()),
                        _ => Err(format!("the console's mode was not restored: {stdout:?}")),
                    }
                }),
                ..expect("", Code(3))
            },
        ),
        case(
            "atexit_exit_runs_them",
            windows_scenarios::atexit_exit_runs_them,
            expect("exit handler\naction\n", Code(5)),
        ),
        case(
            "a_filter_before_ours_that_resumes",
            windows_scenarios::a_filter_before_ours_that_resumes,
            expect("resumed\nat exit\n", Code(0)),
        ),
        case(
            "a_crash_while_the_exit_runs_them",
            windows_scenarios::a_crash_while_the_exit_runs_them,
            expect("at exit\ncrash only\n", Code(0xC000_0005_u32 as i32)),
        ),
        case(
            "abort_while_the_exit_runs_them",
            windows_scenarios::abort_while_the_exit_runs_them,
            expect("at exit\ncrash only\n", Code(3)),
        ),
        case(
            "deadline_while_an_action_hangs",
            windows_scenarios::deadline_while_an_action_hangs,
            expect("", Code(atexit::DEADLINE_EXIT_STATUS)),
        ),
        case(
            "terminate_job_ends_the_children",
            windows_scenarios::terminate_job_ends_the_children,
            Expect {
                stdout: None,
                check: Some(|output| {
                    let stdout = String::from_utf8_lossy(&output.stdout);
                    let child = stdout.lines().find_map(|l| l.strip_prefix("child: ")).ok_or("no child line")?;
                    match windows_scenarios::status_of_process(child.parse().map_err(|_| "no child id")?) {
                        Some(7) => Ok(()),
                        other => Err(format!("the child in the job ended with {other:?}, not 7 within 5 s")),
                    }
                }),
                ..expect("", Code(3))
            },
        ),
        case(
            "a_filter_before_ours_decides_first",
            windows_scenarios::a_filter_before_ours_decides_first,
            Expect {
                stdout: None,
                check: Some(|output| {
                    let stdout = String::from_utf8_lossy(&output.stdout);
                    match stdout.lines().take(2).collect::<Vec<_>>()[..] {
                        ["previous filter", "action"] => Ok(()),
                        _ => Err(format!("stdout {stdout:?}")),
                    }
                }),
                ..expect("", Code(0xC000_0005_u32 as i32))
            },
        ),
        case(
            "an_abort_handler_before_ours_runs_after_the_actions",
            windows_scenarios::an_abort_handler_before_ours_runs_after_the_actions,
            expect("action\nprevious abort handler\n", Code(3)),
        ),
    ]);
    common::run(cases)
}
