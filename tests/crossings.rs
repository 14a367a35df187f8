//! Where the exit machinery's parts cross: a handler that exits the wrong
//! way, a helper thread, a sandbox, a registry used from a destructor. Each
//! scenario once hung, aborted or lost a handler; proven in child processes
//! (see `common/mod.rs`). `cargo test --test crossings -- NAME` runs the
//! scenarios whose name contains NAME.

mod common;

use std::process::ExitCode;

#[cfg(unix)]
use common::{Case, Expect, case, expect};

#[cfg(unix)]
mod scenarios {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::thread;
    use std::time::Duration;

    use crate::common::wait_for;

    fn say(s: &str) {
        println!("{s}");
    }

    /// The scenarios that have this binary's static handler run it.
    static STATIC_HANDLER_SPEAKS: AtomicBool = AtomicBool::new(false);

    #[atexit::register]
    fn static_handler() {
        if STATIC_HANDLER_SPEAKS.load(Ordering::SeqCst) {
            say("static handler ran");
        }
    }

    /// A seccomp filter, on every thread of the process, that gives each
    /// system call in `calls` the action `action` and allows the rest.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn sandbox(calls: &[libc::c_long], action: u32) {
        let load_number = libc::sock_filter { code: 0x20, jt: 0, jf: 0, k: 0 };
        let ret = |k: u32| libc::sock_filter { code: 0x06, jt: 0, jf: 0, k };
        let mut filter = vec![load_number];
        for &call in calls {
            // If the number is `call`, go on to the next instruction (the
            // action), else skip it.
            filter.push(libc::sock_filter { code: 0x05 | 0x10, jt: 0, jf: 1, k: call as u32 });
            filter.push(ret(action));
        }
        filter.push(ret(0x7fff_0000));
        let program = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_mut_ptr() };
        // SAFETY: the filter outlives the calls; seccomp copies it. Flag 1
        // (TSYNC) applies it to every thread of the process.
        unsafe {
            assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
            assert_eq!(libc::syscall(libc::SYS_seccomp, 1, 1, &program as *const libc::sock_fprog), 0);
        }
    }

    /// No wait of the runtime sleeps and looks again: with `nanosleep` and
    /// `clock_nanosleep` killing the process, an exit with static,
    /// time-limited and async handlers, a deadline and the trace (every
    /// thread the runtime starts at exit) ends normally.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    pub fn no_wait_sleeps() {
        STATIC_HANDLER_SPEAKS.store(true, Ordering::SeqCst);
        atexit::set_deadline(Duration::from_secs(10));
        atexit::register(|| say("plain handler ran"));
        atexit::Registration::new(|| say("time-limited handler ran")).time_limit(Duration::from_secs(5)).register();
        atexit::register_async(Duration::from_secs(5), || async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            say("async handler ran");
        });
        // SIGSYS's default action kills the process at the first sleep.
        sandbox(&[libc::SYS_nanosleep, libc::SYS_clock_nanosleep], 0x8000_0000);
        say("main returns");
    }

    /// `clear()` drops the handlers it removes outside the registry's lock:
    /// a captured value's destructor may count them.
    pub fn clear_drops_outside_the_lock() {
        struct Counts;
        impl Drop for Counts {
            fn drop(&mut self) {
                say(&format!("dropped with {} pending", atexit::ncallbacks()));
            }
        }
        let counts = Counts;
        atexit::register(move || {
            let _keep = &counts;
        });
        atexit::clear();
        say("cleared");
    }

    pub fn local_clear_drops_outside_the_lock() {
        static LOCAL: atexit::Registry = atexit::Registry::new();
        struct Counts;
        impl Drop for Counts {
            fn drop(&mut self) {
                say(&format!("dropped with {} pending", LOCAL.len()));
            }
        }
        let counts = Counts;
        LOCAL.register(move || {
            let _keep = &counts;
        });
        LOCAL.clear();
        say("cleared");
    }

    /// The README's pattern: a `static` registry run from a process
    /// handler. `atexit::exit(3)` in one of its handlers sets the status;
    /// the rest of it runs, then the exit ends the process handler that ran it.
    pub fn exit_in_a_local_registrys_handler_at_exit() {
        static LOCAL: atexit::Registry = atexit::Registry::new();
        LOCAL.register(|| say("local handler after the exit call"));
        LOCAL.register(|| atexit::exit(3));
        atexit::register(|| say("process handler runs last"));
        atexit::register(|| {
            let result = LOCAL.run();
            say(&format!("never printed: {result:?}"));
        });
    }

    /// `Handle::run` inside a handler: the exit it calls ends that handler.
    pub fn exit_in_a_handler_run_by_its_handle() {
        let close = atexit::register(|| atexit::exit(3));
        atexit::register(|| say("runs last"));
        atexit::register(move || {
            let result = close.run();
            say(&format!("never printed: {result:?}"));
        });
    }

    /// A handler starts a thread that calls `atexit::exit(3)`, and joins it:
    /// the helper is ended and the rest run. It is an exit racing the one
    /// going on: after `main` returned (C's `exit(0)`) or `atexit::exit(1)`
    /// the status stays; an explicit run becomes the exit, with 3.
    pub fn helper_thread_exits_during_the_exit() {
        atexit::register(|| say("runs after the helper's exit"));
        atexit::register(|| {
            let joined = thread::spawn(|| atexit::exit(3)).join();
            say(&format!("helper joined: {}", if joined.is_err() { "ended by its exit" } else { "returned" }));
        });
    }

    pub fn helper_thread_exits_during_run_exitfuncs() {
        atexit::register(|| say("runs after the helper's exit"));
        atexit::register(|| {
            let joined = thread::spawn(|| atexit::exit(3)).join();
            say(&format!("helper joined: {}", if joined.is_err() { "ended by its exit" } else { "returned" }));
        });
        let _ = atexit::run_exitfuncs();
        say("never printed: run_exitfuncs returned");
    }

    pub fn helper_thread_exits_during_atexit_exit() {
        helper_thread_exits_during_the_exit();
        atexit::exit(1);
    }

    /// A handler calls `std::process::exit(4)` after `main` returned: the
    /// standard library parks it for ever (only the first thread to exit
    /// goes on); it is named and left behind, and the rest run.
    pub fn process_exit_in_a_handler_after_main_returns() {
        atexit::register(|| say("registered before it, runs after it"));
        atexit::Registration::new(|| std::process::exit(4)).name("exits the std way").register();
    }

    /// The same on a worker thread's `std::process::exit`, and in an async
    /// handler, which runs on a thread of its own there.
    pub fn process_exit_in_a_handler_after_process_exit() {
        process_exit_in_a_handler_after_main_returns();
        thread::spawn(|| std::process::exit(6)).join().unwrap();
    }

    pub fn process_exit_in_an_async_handler_after_main_returns() {
        atexit::register(|| say("registered before it, runs after it"));
        atexit::AsyncRegistration::new(|| async { std::process::exit(4) }).name("exits the std way").register();
    }

    /// A handler overruns its limit after another took away the threads
    /// (a sandbox denying `clone` and `clone3`, the watchdog already
    /// running): the rest run once it returns, on its thread.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    pub fn no_thread_for_the_rest_after_an_overrun() {
        thread::spawn(|| {}).join().unwrap();
        atexit::register(|| say("first registered, runs last"));
        atexit::Registration::new(|| {
            thread::sleep(Duration::from_millis(1200));
            say("slow handler returned");
        })
        .name("slow")
        .time_limit(Duration::from_millis(200))
        .register();
        atexit::Registration::new(|| sandbox(&[libc::SYS_clone, libc::SYS_clone3], 0x0005_0000 | libc::EPERM as u32))
            .time_limit(Duration::from_secs(5))
            .register();
    }

    /// The same for a handler running the rest itself (`run_exitfuncs`):
    /// past its limit, once the nested handler returns, it is left behind
    /// there, and with no thread to go on from, the rest run on its thread,
    /// as a continuation would run them, and the process ends (the handler
    /// goes on, left behind, racing that end, as any left behind does).
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    pub fn no_thread_for_the_rest_after_a_nested_run_overran() {
        thread::spawn(|| {}).join().unwrap();
        atexit::register(|| say("first registered, runs last"));
        atexit::Registration::new(|| {
            atexit::register(|| {
                thread::sleep(Duration::from_millis(400));
                say("nested handler returned");
            });
            let _ = atexit::run_exitfuncs();
            thread::sleep(Duration::from_secs(2));
            say("outer returned");
        })
        .name("outer")
        .time_limit(Duration::from_millis(200))
        .register();
        atexit::Registration::new(|| sandbox(&[libc::SYS_clone, libc::SYS_clone3], 0x0005_0000 | libc::EPERM as u32))
            .time_limit(Duration::from_secs(5))
            .register();
    }

    /// `run_exitfuncs()` inside an async handler awaited on the
    /// application's runtime runs the rest, and the handler goes on.
    #[atexit::main]
    #[tokio::main]
    pub async fn nested_run_in_an_async_handler() {
        atexit::register(|| say("rest ran in the nested run"));
        atexit::register_async(Duration::from_secs(2), || async {
            let _ = atexit::run_exitfuncs();
            tokio::time::sleep(Duration::from_millis(10)).await;
            say("async handler finished");
        });
    }

    /// A handler forks after `main` returned; the child (which goes on with
    /// the run) calls `atexit::exit(7)`.
    pub fn exit_in_a_child_forked_by_a_handler() {
        atexit::register(|| say("registered first"));
        atexit::register(|| {
            // SAFETY: the child only prints and exits.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                say("child exits with 7");
                atexit::exit(7);
            }
            say(&format!("child {}", wait_for(pid)));
        });
    }

    /// A worker forks while the handlers run (after `main` returned); the
    /// child is not exiting, and its `atexit::exit(7)` runs its own handlers.
    pub fn exit_in_a_child_forked_by_a_worker_during_the_exit() {
        use std::sync::mpsc;
        let (tell, running) = mpsc::channel::<()>();
        let (done, finished) = mpsc::channel::<()>();
        atexit::register(move || {
            tell.send(()).unwrap();
            finished.recv().unwrap();
        });
        thread::spawn(move || {
            running.recv().unwrap();
            // SAFETY: the child prints, registers and exits.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                say(&format!("child reads reason {:?}", atexit::exit_reason()));
                atexit::register(|| say("child's own handler ran"));
                atexit::exit(7);
            }
            say(&format!("child {}", wait_for(pid)));
            done.send(()).unwrap();
        });
    }

    /// A future whose destructor panics, dropped at its time limit: named,
    /// and the rest run; on the application's runtime and off it.
    fn register_a_future_that_panics_when_dropped() {
        struct PanicsWhenDropped;
        impl Drop for PanicsWhenDropped {
            fn drop(&mut self) {
                panic!("guard dropped");
            }
        }
        atexit::register(|| say("rest ran"));
        atexit::AsyncRegistration::new(|| async {
            let _guard = PanicsWhenDropped;
            std::future::pending::<()>().await;
        })
        .name("guarded")
        .time_limit(Duration::from_millis(200))
        .register();
    }

    #[atexit::main]
    #[tokio::main]
    pub async fn future_panics_when_dropped_on_the_applications_runtime() {
        register_a_future_that_panics_when_dropped();
    }

    pub fn future_panics_when_dropped_at_process_exit() {
        register_a_future_that_panics_when_dropped();
    }

    /// No file descriptor for the runtime an async handler needs at exit:
    /// it is named, the trace says it did not run, the rest run.
    pub fn no_descriptor_for_an_async_handlers_runtime() {
        atexit::register(|| say("rest ran"));
        atexit::AsyncRegistration::new(|| async { say("never printed") }).name("async-flush").register();
        let limit = libc::rlimit { rlim_cur: 3, rlim_max: 3 };
        // SAFETY: sets this process's limit on descriptors from a live struct.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
    }

    /// A handler starts a thread that calls `run_exitfuncs()` and joins it:
    /// the exit's run runs them all, so the helper's call returns at once.
    pub fn helper_thread_runs_exitfuncs_during_the_exit() {
        atexit::register(|| say("first"));
        atexit::register(|| {
            let joined = thread::spawn(|| atexit::run_exitfuncs().is_ok()).join();
            say(&format!("helper returned {joined:?}"));
        });
    }

    /// The same from a task of the application's (multi-thread) runtime,
    /// spawned by an async handler it awaits: the handler is not dropped.
    #[atexit::main]
    #[tokio::main]
    pub async fn task_runs_exitfuncs_during_the_async_run() {
        atexit::register(|| say("first"));
        atexit::AsyncRegistration::new(|| async {
            let ran = tokio::spawn(async { atexit::run_exitfuncs().is_ok() }).await;
            say(&format!("task returned {ran:?}"));
            tokio::time::sleep(Duration::from_millis(50)).await;
            say("async handler finished");
        })
        .name("a")
        .time_limit(Duration::from_secs(2))
        .register();
    }

    /// A handler holds stdout's lock when it calls `std::process::exit`:
    /// parked, it keeps the lock, and the next handler's `println!` blocks
    /// for ever. The rest of the exit is bounded.
    pub fn process_exit_while_holding_stdout() {
        atexit::register(|| say("first"));
        atexit::Registration::new(|| {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "holds stdout, then exits");
            std::process::exit(4)
        })
        .name("bad")
        .register();
    }

    /// The line the next three registrations start on.
    pub const NAMED_AT: u32 = line!() + 4;

    /// Unnamed closures are told apart by where they were registered.
    pub fn closures_are_named_by_where_they_were_registered() {
        atexit::register(|| say("first closure"));
        atexit::register(|| say("second closure"));
        atexit::Registration::new(|| panic!("boom")).register();
        atexit::register(say_function_item);
    }

    fn say_function_item() {
        say("function item");
    }

    /// `atexit::exit(7)` from a `spawn_local` task of a `LocalSet` on a
    /// multi-thread runtime (where `block_in_place` panics): the handlers
    /// run, status 7.
    pub fn exit_from_a_local_set_on_a_multi_thread_runtime() {
        atexit::register(|| say("handler ran"));
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async {
            tokio::task::spawn_local(async { atexit::exit(7) }).await.unwrap();
        });
    }

    /// `atexit::exit(3)` in a `current_thread` runtime's `block_on` with a
    /// multi-thread runtime's handle entered: the handlers run, status 3.
    pub fn exit_with_a_multi_thread_handle_entered_in_block_on() {
        atexit::register(|| say("handler ran"));
        let multi = tokio::runtime::Runtime::new().unwrap();
        let current = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        current.block_on(async {
            let _entered = multi.enter();
            atexit::exit(3);
        });
    }

    /// Traced: a parked handler, sync or async, is said to be left behind,
    /// never "ok".
    pub fn process_exit_in_handlers_is_traced() {
        atexit::register(|| say("first"));
        atexit::Registration::new(|| std::process::exit(4)).name("bad").register();
        atexit::AsyncRegistration::new(|| async { std::process::exit(5) }).name("abad").register();
    }

    /// A handler forks under `#[atexit::main]` on a multi-thread runtime;
    /// the child (which has none of the runtime's threads) calls
    /// `atexit::exit(7)`: it ends, without waiting for the runtime's.
    #[atexit::main]
    #[tokio::main]
    pub async fn fork_in_a_handler_on_a_multi_thread_runtime() {
        atexit::register(|| say("first"));
        atexit::register(|| {
            // SAFETY: the child registers, prints and exits.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                atexit::register(|| say("child's handler"));
                atexit::exit(7);
            }
            say(&format!("child {}", wait_for(pid)));
        });
    }

    /// Another thread runs a handler's `Handle` while the exit runs: the
    /// exit's run runs it, once, and the call says it did not.
    pub fn handle_run_on_another_thread_during_the_exit() {
        // Starting the watchdog widens the moment between the exit's start
        // and its run's, when another thread's `run` once took the handler.
        atexit::set_deadline(Duration::from_secs(10));
        let handle = atexit::Registration::new(|| {
            say("H start");
            thread::sleep(Duration::from_millis(200));
            say("H end");
        })
        .name("H")
        .register();
        atexit::register(|| thread::sleep(Duration::from_millis(100)));
        thread::spawn(move || {
            while !atexit::is_exiting() {
                thread::yield_now();
            }
            eprintln!("run by its handle: {:?}", handle.run().map_err(|p| p.to_string()));
        });
    }

    /// A worker forks while the handlers run; the child (not exiting) ends
    /// when its only thread does: its own handlers run then.
    pub fn child_forked_by_a_worker_during_the_exit_runs_its_handlers() {
        use std::sync::mpsc;
        let (done, finished) = mpsc::channel::<()>();
        atexit::register(move || {
            let _ = finished.recv_timeout(Duration::from_secs(10));
        });
        thread::spawn(move || {
            while !atexit::is_exiting() {
                thread::yield_now();
            }
            // SAFETY: the child registers, prints and ends its thread.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                atexit::register(|| say("child's own handler ran"));
                say("child: its only thread ends");
                return;
            }
            say(&format!("child {}", wait_for(pid)));
            done.send(()).unwrap();
        });
    }

    /// A parked handler with a time limit is left behind once, not again
    /// at its limit.
    pub fn parked_handler_with_a_time_limit_is_left_behind_once() {
        atexit::register(|| say("first"));
        atexit::register(|| thread::sleep(Duration::from_millis(700)));
        atexit::Registration::new(|| std::process::exit(4))
            .name("exits")
            .time_limit(Duration::from_millis(400))
            .register();
    }

    /// A worker runs the handlers early; while one runs, `main` returns and
    /// that handler calls `std::process::exit`: parked, it is seen from
    /// the exit that waits for the worker's run, and the rest run.
    pub fn process_exit_in_a_workers_run_while_main_returns() {
        atexit::register(|| say("first"));
        atexit::register(|| {
            while !atexit::is_exiting() {
                thread::yield_now();
            }
            std::process::exit(4)
        });
        thread::spawn(|| {
            let _ = atexit::run_exitfuncs();
        });
        thread::sleep(Duration::from_millis(100));
    }

    /// The default time limit applies to an async handler awaited on the
    /// application's runtime too.
    #[atexit::main]
    #[tokio::main]
    pub async fn default_limit_on_the_applications_runtime() {
        atexit::set_handler_time_limit(Duration::from_millis(300));
        atexit::register(|| say("rest ran"));
        atexit::AsyncRegistration::new(std::future::pending::<()>).name("pending forever").register();
    }

    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    fn main_ending_with_a_signal_without_threads() {
        print!("main-partial;");
        atexit::register(|| print!("handler-partial"));
        atexit::end_with(atexit::Ending::Signal(atexit::Signal::Terminate));
        sandbox(&[libc::SYS_clone, libc::SYS_clone3], 0x0005_0000 | libc::EPERM as u32);
    }

    /// `end_with` a signal under `#[atexit::main]` with no thread to be had:
    /// stdout is flushed on the calling thread.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    pub fn end_with_a_signal_without_threads_flushes_stdout() -> std::process::ExitCode {
        atexit::__private::run_main(main_ending_with_a_signal_without_threads)
    }

    fn main_ending_with_a_signal_after_an_overrun() {
        atexit::register(|| print!("first-handler-partial"));
        atexit::end_with(atexit::Ending::Signal(atexit::Signal::Terminate));
        atexit::Registration::new(|| thread::sleep(Duration::from_secs(3)))
            .name("slow")
            .time_limit(Duration::from_millis(200))
            .register();
    }

    /// The continuation that finishes the run after an overrun ends the
    /// process with the signal `end_with` asked for, stdout flushed.
    pub fn end_with_a_signal_after_an_overrun_flushes_stdout() -> std::process::ExitCode {
        atexit::__private::run_main(main_ending_with_a_signal_after_an_overrun)
    }

    fn main_forking_in_a_handler_before_a_signal_ending() {
        atexit::register(|| print!("first-partial;"));
        atexit::end_with(atexit::Ending::Signal(atexit::Signal::Terminate));
        atexit::register(|| {
            // SAFETY: the child goes on with the run, and ends as the exit would.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                print!("child-partial;");
                return;
            }
            say(&format!("\nchild {}", wait_for(pid)));
        });
    }

    /// A child forked by a handler goes on with the run and dies of the
    /// signal `end_with` asked for, its stdout flushed.
    pub fn a_child_forked_before_a_signal_ending_flushes_stdout() -> std::process::ExitCode {
        atexit::__private::run_main(main_forking_in_a_handler_before_a_signal_ending)
    }

    /// A SIGPIPE the program left pending (blocked on its thread) is the
    /// program's: a runtime report written after it does not take it.
    pub fn a_pending_sigpipe_of_the_programs_stays_pending() {
        std::panic::set_hook(Box::new(|_| {}));
        atexit::register(|| {
            // SAFETY: reads this thread's pending signals into a zeroed set.
            let pending = unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigpending(&mut set);
                libc::sigismember(&set, libc::SIGPIPE)
            };
            say(&format!("SIGPIPE pending: {pending}"));
        });
        atexit::register(|| panic!("reported on stderr"));
        atexit::register(|| {
            let mut pipe = [0; 2];
            // SAFETY: blocks SIGPIPE on this thread, then writes to a pipe
            // whose reader is closed, which leaves one pending.
            unsafe {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigaddset(&mut set, libc::SIGPIPE);
                libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                libc::pipe(pipe.as_mut_ptr());
                libc::close(pipe[0]);
                libc::write(pipe[1], b"x".as_ptr().cast(), 1);
            }
        });
    }

    /// stderr is a pipe whose reader is gone, and SIGPIPE has its default
    /// action (as many programs set it): the runtime's report of a panic
    /// does not kill the process, and the handlers after it run.
    pub fn a_report_to_a_closed_stderr_pipe_does_not_kill_the_process() {
        let mut pipe = [0; 2];
        // SAFETY: plain descriptor and signal calls on what this function owns.
        unsafe {
            assert_eq!(libc::pipe(pipe.as_mut_ptr()), 0);
            libc::dup2(pipe[1], 2);
            libc::close(pipe[1]);
            libc::close(pipe[0]);
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
        std::panic::set_hook(Box::new(|_| {}));
        atexit::register(|| say("lock file removed"));
        atexit::register(|| panic!("flush failed"));
    }

    /// Makes stderr a full pipe whose reader starts after `pause`, then
    /// forwards what it reads to the real stderr; `seen` is set once the
    /// text "left behind" went through.
    fn stderr_through_a_paused_reader(pause: Duration, seen: &'static AtomicBool) {
        let mut pipe = [0; 2];
        // SAFETY: plain descriptor calls on descriptors this function owns;
        // `filler` outlives each write.
        let (read_end, real_stderr) = unsafe {
            assert_eq!(libc::pipe(pipe.as_mut_ptr()), 0);
            let real_stderr = libc::dup(2);
            libc::dup2(pipe[1], 2);
            libc::close(pipe[1]);
            let flags = libc::fcntl(2, libc::F_GETFL);
            libc::fcntl(2, libc::F_SETFL, flags | libc::O_NONBLOCK);
            let filler = [b'.'; 4096];
            while libc::write(2, filler.as_ptr().cast(), filler.len()) > 0 {}
            libc::fcntl(2, libc::F_SETFL, flags);
            (pipe[0], real_stderr)
        };
        thread::spawn(move || {
            thread::sleep(pause);
            let mut buffer = [0u8; 4096];
            loop {
                // SAFETY: reads into and writes from a live local buffer.
                let read = unsafe { libc::read(read_end, buffer.as_mut_ptr().cast(), buffer.len()) };
                if read <= 0 {
                    return;
                }
                let text: Vec<u8> = buffer[..read as usize].iter().copied().filter(|&b| b != b'.').collect();
                // SAFETY: as above.
                unsafe { libc::write(real_stderr, text.as_ptr().cast(), text.len()) };
                if String::from_utf8_lossy(&text).contains("left behind") {
                    seen.store(true, Ordering::SeqCst);
                }
            }
        });
    }

    /// stderr is a pipe whose reader pauses 300 ms (it is full meanwhile):
    /// the watchdog's report of an overrunning handler waits for it rather
    /// than be lost.
    pub fn a_report_waits_for_a_paused_stderr_reader() {
        static SEEN: AtomicBool = AtomicBool::new(false);
        stderr_through_a_paused_reader(Duration::from_millis(300), &SEEN);
        atexit::register(|| {
            let started = std::time::Instant::now();
            while !SEEN.load(Ordering::SeqCst) && started.elapsed() < Duration::from_secs(3) {
                thread::sleep(Duration::from_millis(10));
            }
            say(if SEEN.load(Ordering::SeqCst) { "the reader got the report" } else { "the report was lost" });
        });
        atexit::Registration::new(|| thread::sleep(Duration::from_secs(2)))
            .name("slow")
            .time_limit(Duration::from_millis(100))
            .register();
    }

    /// A handler with a 100 ms limit registers what `nested` does, runs
    /// the rest itself (`run_exitfuncs`), then blocks for 5 s.
    fn runs_the_rest_then_blocks(nested: fn()) {
        atexit::Registration::new(move || {
            nested();
            let _ = atexit::run_exitfuncs();
            thread::sleep(Duration::from_secs(5));
            say("limited handler returned");
        })
        .name("runs the rest")
        .time_limit(Duration::from_millis(100))
        .register();
    }

    /// A handler with a time limit runs the rest itself, and its limit
    /// passes while one of those runs: it is given up only once that one
    /// returns, and the rest then run in order from a new thread. (A
    /// continuation took the run at the limit and ran the rest beside it,
    /// then ended the process while it still ran.)
    pub fn limit_passes_while_a_nested_run_runs_a_handler() {
        atexit::register(|| say("p2"));
        atexit::register(|| say("p1"));
        atexit::register(|| say("p0"));
        runs_the_rest_then_blocks(|| {
            atexit::register(|| {
                thread::sleep(Duration::from_millis(300));
                say("nested handler done");
            });
        });
    }

    /// The same while an async handler of the nested run runs on its own
    /// thread: once it is done, the limited handler is given up. (It never
    /// was: the exit waited for it.)
    pub fn limit_passes_while_a_nested_run_awaits() {
        atexit::register(|| say("p0"));
        runs_the_rest_then_blocks(|| {
            atexit::register_async(Duration::ZERO, || async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                say("async handler done");
            });
        });
    }

    /// A nested run's handler panics and returns after the limit of the
    /// handler running it: that one is left behind there, and its
    /// `run_exitfuncs` returns the panic. (It returned `Ok` with handlers
    /// still pending, and the run went on from it when it returned.)
    pub fn nested_run_stopped_at_the_limit_returns_its_panic() {
        std::panic::set_hook(Box::new(|_| {}));
        atexit::register(|| {
            thread::sleep(Duration::from_millis(300));
            say("p0");
        });
        atexit::Registration::new(|| {
            atexit::register(|| {
                thread::sleep(Duration::from_millis(300));
                say("n1");
            });
            atexit::Registration::new(|| {
                thread::sleep(Duration::from_millis(150));
                panic!("boom");
            })
            .name("boom")
            .register();
            let result = atexit::run_exitfuncs();
            say(&format!("nested run: {}", if result.is_err() { "Err" } else { "Ok" }));
        })
        .name("runs the rest")
        .time_limit(Duration::from_millis(100))
        .register();
    }

    /// A handler of a nested run is left behind at its own limit: the
    /// handler running it (through `run_exitfuncs`) is left behind with it,
    /// and named. (It was never traced.)
    pub fn the_handler_running_a_left_behind_one_is_named() {
        atexit::register(|| say("p0"));
        atexit::Registration::new(|| {
            atexit::Registration::new(|| thread::sleep(Duration::from_secs(2)))
                .name("inner")
                .time_limit(Duration::from_millis(50))
                .register();
            let _ = atexit::run_exitfuncs();
            say("outer after");
        })
        .name("outer")
        .time_limit(Duration::from_secs(10))
        .register();
    }

    /// An async handler that blocks its thread past its limit but within
    /// the grace, then finishes: the trace says it finished, not that it
    /// was dropped.
    pub fn async_handler_done_within_the_grace() {
        atexit::register_async(Duration::from_millis(20), || async {
            thread::sleep(Duration::from_millis(60));
            say("async handler finished");
        });
    }

    /// A handler returns just after its time limit, while the watchdog
    /// still reports it (stderr's reader pauses 300 ms): the handler's
    /// thread goes on with the run or the continuation does, never both.
    /// (The continuation found no handler left and ended the process while
    /// the exiting thread ran the next one: a flaky CI failure.)
    pub fn a_handler_back_while_its_overrun_is_reported() {
        static SEEN: AtomicBool = AtomicBool::new(false);
        stderr_through_a_paused_reader(Duration::from_millis(300), &SEEN);
        atexit::register(|| {
            thread::sleep(Duration::from_millis(600));
            say("rest ran");
        });
        atexit::Registration::new(|| thread::sleep(Duration::from_millis(150)))
            .name("slow")
            .time_limit(Duration::from_millis(100))
            .register();
    }
}

#[cfg(unix)]
fn all() -> Vec<Case> {
    use common::Status::Code;
    use scenarios::*;
    const NO_PANIC: &[&str] = &["panicked"];
    const PANICKING_DROP_NAMED: Expect = Expect {
        stderr_has: &["exit handler `guarded` panicked: guard dropped"],
        stderr_lacks: &["left behind"],
        ..expect("rest ran\n", Code(0))
    };
    vec![
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        common::main_case(
            "end_with_a_signal_without_threads_flushes_stdout",
            end_with_a_signal_without_threads_flushes_stdout,
            expect("main-partial;handler-partial", common::Status::Signal(libc::SIGTERM)),
        ),
        common::main_case(
            "end_with_a_signal_after_an_overrun_flushes_stdout",
            end_with_a_signal_after_an_overrun_flushes_stdout,
            Expect {
                stderr_has: &["handler `slow` did not finish"],
                ..expect("first-handler-partial", common::Status::Signal(libc::SIGTERM))
            },
        ),
        common::main_case(
            "a_child_forked_before_a_signal_ending_flushes_stdout",
            a_child_forked_before_a_signal_ending_flushes_stdout,
            expect(
                "child-partial;\nchild killed by signal 15\nfirst-partial;",
                common::Status::Signal(libc::SIGTERM),
            ),
        ),
        case(
            "a_pending_sigpipe_of_the_programs_stays_pending",
            a_pending_sigpipe_of_the_programs_stays_pending,
            expect("SIGPIPE pending: 1\n", Code(0)),
        ),
        case(
            "a_report_to_a_closed_stderr_pipe_does_not_kill_the_process",
            a_report_to_a_closed_stderr_pipe_does_not_kill_the_process,
            expect("lock file removed\n", Code(0)),
        ),
        case(
            "a_report_waits_for_a_paused_stderr_reader",
            a_report_waits_for_a_paused_stderr_reader,
            Expect {
                stderr_has: &["handler `slow` did not finish within its time limit of 100ms; left behind"],
                ..expect("the reader got the report\n", Code(0))
            },
        ),
        case(
            "limit_passes_while_a_nested_run_runs_a_handler",
            limit_passes_while_a_nested_run_runs_a_handler,
            Expect {
                stderr_has: &["handler `runs the rest` did not finish within its time limit of 100ms; left behind"],
                ..expect("nested handler done\np0\np1\np2\n", Code(0))
            },
        ),
        case(
            "limit_passes_while_a_nested_run_awaits",
            limit_passes_while_a_nested_run_awaits,
            Expect {
                stderr_has: &["handler `runs the rest` did not finish within its time limit of 100ms; left behind"],
                ..expect("async handler done\np0\n", Code(0))
            },
        ),
        case(
            "nested_run_stopped_at_the_limit_returns_its_panic",
            nested_run_stopped_at_the_limit_returns_its_panic,
            Expect {
                stderr_has: &[
                    "exit handler `boom` panicked: boom",
                    "handler `runs the rest` did not finish within its time limit of 100ms; left behind",
                ],
                ..expect("nested run: Err\nn1\np0\n", Code(0))
            },
        ),
        Case {
            env: &[("ATEXIT_TRACE", "1")],
            ..case(
                "the_handler_running_a_left_behind_one_is_named",
                the_handler_running_a_left_behind_one_is_named,
                Expect {
                    stderr_has: &[
                        "handler `inner` did not finish within its time limit of 50ms; left behind",
                        "trace: `inner` left behind",
                        "handler `outer` is left behind too",
                        "trace: `outer` left behind",
                    ],
                    ..expect("p0\n", Code(0))
                },
            )
        },
        Case {
            env: &[("ATEXIT_TRACE", "1")],
            ..case(
                "async_handler_done_within_the_grace",
                async_handler_done_within_the_grace,
                Expect {
                    stderr_has: &["async_handler_done_within_the_grace::{closure", "` ok in "],
                    stderr_lacks: &["dropped"],
                    ..expect("async handler finished\n", Code(0))
                },
            )
        },
        case(
            "a_handler_back_while_its_overrun_is_reported",
            a_handler_back_while_its_overrun_is_reported,
            Expect {
                stderr_has: &["handler `slow` did not finish within its time limit of 100ms; left behind"],
                ..expect("rest ran\n", Code(0))
            },
        ),
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        case(
            "no_wait_sleeps",
            no_wait_sleeps,
            Expect {
                stderr_lacks: NO_PANIC,
                ..expect(
                    "main returns\nasync handler ran\ntime-limited handler ran\nplain handler ran\nstatic handler ran\n",
                    Code(0),
                )
            },
        )
        .env(&[("ATEXIT_TRACE", "1")]),
        case("clear_drops_outside_the_lock", clear_drops_outside_the_lock, expect("dropped with 0 pending\ncleared\n", Code(0))),
        case(
            "local_clear_drops_outside_the_lock",
            local_clear_drops_outside_the_lock,
            expect("dropped with 0 pending\ncleared\n", Code(0)),
        ),
        case(
            "exit_in_a_local_registrys_handler_at_exit",
            exit_in_a_local_registrys_handler_at_exit,
            Expect {
                stderr_lacks: NO_PANIC,
                ..expect("local handler after the exit call\nprocess handler runs last\n", Code(3))
            },
        ),
        case(
            "exit_in_a_handler_run_by_its_handle",
            exit_in_a_handler_run_by_its_handle,
            Expect { stderr_lacks: NO_PANIC, ..expect("runs last\n", Code(3)) },
        ),
        case(
            "helper_thread_exits_during_the_exit",
            helper_thread_exits_during_the_exit,
            Expect {
                stderr_lacks: NO_PANIC,
                ..expect("helper joined: ended by its exit\nruns after the helper's exit\n", Code(0))
            },
        ),
        case(
            "helper_thread_exits_during_run_exitfuncs",
            helper_thread_exits_during_run_exitfuncs,
            Expect {
                stderr_lacks: NO_PANIC,
                ..expect("helper joined: ended by its exit\nruns after the helper's exit\n", Code(3))
            },
        ),
        case(
            "helper_thread_exits_during_atexit_exit",
            helper_thread_exits_during_atexit_exit,
            Expect {
                stderr_lacks: NO_PANIC,
                ..expect("helper joined: ended by its exit\nruns after the helper's exit\n", Code(1))
            },
        ),
        case(
            "process_exit_in_a_handler_after_main_returns",
            process_exit_in_a_handler_after_main_returns,
            Expect {
                stderr_has: &["handler `exits the std way` called std::process::exit", "call atexit::exit"],
                ..expect("registered before it, runs after it\n", Code(0))
            },
        ),
        case(
            "process_exit_in_a_handler_after_process_exit",
            process_exit_in_a_handler_after_process_exit,
            Expect {
                stderr_has: &["handler `exits the std way` called std::process::exit"],
                ..expect("registered before it, runs after it\n", Code(6))
            },
        ),
        case(
            "process_exit_in_an_async_handler_after_main_returns",
            process_exit_in_an_async_handler_after_main_returns,
            Expect {
                stderr_has: &["handler `exits the std way` called std::process::exit"],
                ..expect("registered before it, runs after it\n", Code(0))
            },
        ),
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        case(
            "no_thread_for_the_rest_after_an_overrun",
            no_thread_for_the_rest_after_an_overrun,
            Expect {
                stderr_has: &["handler `slow` did not finish within its time limit", "no thread for the other handlers"],
                ..expect("slow handler returned\nfirst registered, runs last\n", Code(0))
            },
        ),
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        case(
            "no_thread_for_the_rest_after_a_nested_run_overran",
            no_thread_for_the_rest_after_a_nested_run_overran,
            Expect {
                stderr_has: &[
                    "handler `outer` did not finish within its time limit; no thread for the other handlers",
                    "handler `outer` did not finish within its time limit of 200ms; left behind",
                    "the other handlers run on the thread of the handler left behind: no thread",
                ],
                ..expect("nested handler returned\nfirst registered, runs last\n", Code(0))
            },
        ),
        common::main_case(
            "nested_run_in_an_async_handler",
            nested_run_in_an_async_handler,
            Expect {
                stderr_lacks: &["dropped", "panicked"],
                ..expect("rest ran in the nested run\nasync handler finished\n", Code(0))
            },
        ),
        case(
            "exit_in_a_child_forked_by_a_handler",
            exit_in_a_child_forked_by_a_handler,
            Expect { stderr_lacks: NO_PANIC, ..expect("child exits with 7\nchild exited 7\nregistered first\n", Code(0)) },
        ),
        case(
            "exit_in_a_child_forked_by_a_worker_during_the_exit",
            exit_in_a_child_forked_by_a_worker_during_the_exit,
            Expect {
                stderr_lacks: NO_PANIC,
                ..expect("child reads reason None\nchild's own handler ran\nchild exited 7\n", Code(0))
            },
        ),
        common::main_case(
            "future_panics_when_dropped_on_the_applications_runtime",
            future_panics_when_dropped_on_the_applications_runtime,
            PANICKING_DROP_NAMED,
        )
        // The panic hook prints fast: the handler is back within its grace.
        .env(&[("RUST_BACKTRACE", "0")]),
        case(
            "future_panics_when_dropped_at_process_exit",
            future_panics_when_dropped_at_process_exit,
            PANICKING_DROP_NAMED,
        )
        // The panic hook prints fast: the handler is back within its grace.
        .env(&[("RUST_BACKTRACE", "0")]),
        case(
            "no_descriptor_for_an_async_handlers_runtime",
            no_descriptor_for_an_async_handlers_runtime,
            Expect {
                stderr_has: &["async handler `async-flush` could not run", "`async-flush` not run in"],
                ..expect("rest ran\n", Code(0))
            },
        )
        .env(&[("ATEXIT_TRACE", "1")]),
        case(
            "helper_thread_runs_exitfuncs_during_the_exit",
            helper_thread_runs_exitfuncs_during_the_exit,
            expect("helper returned Ok(true)\nfirst\n", Code(0)),
        ),
        common::main_case(
            "task_runs_exitfuncs_during_the_async_run",
            task_runs_exitfuncs_during_the_async_run,
            Expect {
                stderr_lacks: &["dropped"],
                ..expect("task returned Ok(true)\nasync handler finished\nfirst\n", Code(0))
            },
        ),
        case(
            "process_exit_while_holding_stdout",
            process_exit_while_holding_stdout,
            Expect {
                stderr_has: &[
                    "handler `bad` called std::process::exit",
                    "(no deadline was set; a handler parked in std's exit) passed while handler",
                ],
                ..expect("holds stdout, then exits\n", Code(atexit::DEADLINE_EXIT_STATUS))
            },
        ),
        case(
            "closures_are_named_by_where_they_were_registered",
            closures_are_named_by_where_they_were_registered,
            Expect {
                check: Some(closures_named_by_place),
                ..expect("function item\nsecond closure\nfirst closure\n", Code(0))
            },
        )
        .env(&[("ATEXIT_TRACE", "1")]),
        case(
            "process_exit_in_handlers_is_traced",
            process_exit_in_handlers_is_traced,
            Expect {
                stderr_has: &[
                    "atexit: trace: `bad` left behind (parked in std::process::exit)",
                    "atexit: trace: `abad` left behind (parked in std::process::exit)",
                ],
                stderr_lacks: &["`bad` ok", "`abad` ok"],
                ..expect("first\n", Code(0))
            },
        )
        .env(&[("ATEXIT_TRACE", "1")]),
        common::main_case(
            "fork_in_a_handler_on_a_multi_thread_runtime",
            fork_in_a_handler_on_a_multi_thread_runtime,
            Expect { stderr_lacks: NO_PANIC, ..expect("child's handler\nchild exited 7\nfirst\n", Code(0)) },
        ),
        case(
            "handle_run_on_another_thread_during_the_exit",
            handle_run_on_another_thread_during_the_exit,
            Expect { stderr_has: &["run by its handle: Ok(false)"], ..expect("H start\nH end\n", Code(0)) },
        ),
        case(
            "child_forked_by_a_worker_during_the_exit_runs_its_handlers",
            child_forked_by_a_worker_during_the_exit_runs_its_handlers,
            expect("child: its only thread ends\nchild's own handler ran\nchild exited 0\n", Code(0)),
        ),
        case(
            "parked_handler_with_a_time_limit_is_left_behind_once",
            parked_handler_with_a_time_limit_is_left_behind_once,
            Expect {
                stderr_has: &["handler `exits` called std::process::exit"],
                stderr_lacks: &["did not finish within its time limit", "`exits` left behind in"],
                ..expect("first\n", Code(0))
            },
        )
        .env(&[("ATEXIT_TRACE", "1")]),
        case(
            "process_exit_in_a_workers_run_while_main_returns",
            process_exit_in_a_workers_run_while_main_returns,
            Expect {
                stderr_has: &["a handler of another thread's run called std::process::exit"],
                ..expect("first\n", Code(0))
            },
        ),
        case(
            "exit_from_a_local_set_on_a_multi_thread_runtime",
            exit_from_a_local_set_on_a_multi_thread_runtime,
            Expect { stderr_lacks: NO_PANIC, ..expect("handler ran\n", Code(7)) },
        ),
        case(
            "exit_with_a_multi_thread_handle_entered_in_block_on",
            exit_with_a_multi_thread_handle_entered_in_block_on,
            Expect { stderr_lacks: NO_PANIC, ..expect("handler ran\n", Code(3)) },
        ),
        common::main_case(
            "default_limit_on_the_applications_runtime",
            default_limit_on_the_applications_runtime,
            Expect {
                stderr_has: &["handler `pending forever` did not finish within its time limit of 300ms"],
                ..expect("rest ran\n", Code(0))
            },
        ),
    ]
}

/// Each closure's trace line and the panic's report carry the file, line
/// and column it was registered at; none says only `{{closure}}`; the
/// function item keeps its path.
#[cfg(unix)]
fn closures_named_by_place(output: &std::process::Output) -> Result<(), String> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let line = scenarios::NAMED_AT;
    let wanted = [
        format!("::{{closure@tests/crossings.rs:{line}:9}}` ok"),
        format!("::{{closure@tests/crossings.rs:{}:9}}` ok", line + 1),
        format!(
            "exit handler `crossings::scenarios::closures_are_named_by_where_they_were_registered::{{closure@tests/crossings.rs:{}:9}}` panicked: boom",
            line + 2
        ),
        "`crossings::scenarios::say_function_item` ok".to_owned(),
    ];
    match wanted.iter().find(|w| !stderr.contains(w.as_str())) {
        Some(missing) => Err(format!("stderr lacks {missing:?}")),
        None if stderr.lines().any(|l| l.contains("}}`") && l.contains("{{closure}}")) => {
            Err("a closure is named `{{closure}}`".to_owned())
        }
        None => Ok(()),
    }
}

#[cfg(unix)]
fn main() -> ExitCode {
    common::run(all())
}

/// The scenarios use Unix exit statuses, `fork` and seccomp.
#[cfg(not(unix))]
fn main() -> ExitCode {
    println!("the crossings run on Unix only");
    ExitCode::SUCCESS
}
