//! Exit behaviour of the runtime, proven in child processes (see
//! `common/mod.rs`). `cargo test --test exit_paths -- NAME` runs the
//! scenarios whose name contains NAME.

mod common;

use std::process::ExitCode;

#[cfg(unix)]
use common::{Case, Expect, Status, case, expect};

#[cfg(unix)]
mod scenarios {
    use std::cell::RefCell;
    use std::sync::{Arc, Barrier};
    use std::thread;
    use std::time::Duration;

    use crate::common::wait_for;

    fn say(s: &str) {
        println!("{s}");
    }

    pub fn main_returns() {
        atexit::register(|| say("a"));
        atexit::register(|| say("b"));
        atexit::register(|| say("c"));
        say("main done");
    }

    pub fn process_exit_keeps_status() {
        atexit::register(|| say("handler ran"));
        std::process::exit(7);
    }

    pub fn process_exit_from_worker_thread() {
        atexit::register(|| say("handler ran"));
        thread::Builder::new().name("worker".into()).spawn(|| std::process::exit(3)).unwrap();
        thread::sleep(Duration::from_secs(30));
        say("main was not ended");
    }

    pub fn four_threads_exit_at_once() {
        for name in ["first", "second", "third"] {
            atexit::register(move || say(name));
        }
        let barrier = Arc::new(Barrier::new(4));
        for code in 10..14 {
            let barrier = Arc::clone(&barrier);
            thread::spawn(move || {
                barrier.wait();
                std::process::exit(code);
            });
        }
        thread::sleep(Duration::from_secs(30));
        say("main was not ended");
    }

    thread_local! {
        // A Vec has a destructor, so this thread-local is torn down at exit.
        static PENDING: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
    }

    fn flush_pending() {
        PENDING.with(|p| say(&format!("flushing {:?}", p.borrow())));
    }

    pub fn atexit_exit_keeps_thread_locals() {
        atexit::register(flush_pending);
        PENDING.with(|p| p.borrow_mut().push("last words"));
        atexit::exit(5);
    }

    pub fn process_exit_gives_fresh_thread_locals() {
        atexit::register(|| say("other handler ran"));
        atexit::register(flush_pending);
        PENDING.with(|p| p.borrow_mut().push("last words"));
        std::process::exit(0);
    }

    fn exit_inside_handler() {
        atexit::register(|| say("earlier handler ran"));
        atexit::register(|| {
            struct Guard;
            impl Drop for Guard {
                fn drop(&mut self) {
                    say("exiting handler unwound");
                }
            }
            let _guard = Guard;
            say("exiting handler calls exit(9)");
            atexit::exit(9);
        });
    }

    pub fn exit_inside_handler_after_main_returns() {
        exit_inside_handler();
    }

    pub fn exit_inside_handler_after_atexit_exit() {
        exit_inside_handler();
        atexit::exit(1);
    }

    pub fn exit_inside_handler_during_run_exitfuncs() {
        exit_inside_handler();
        let _ = atexit::run_exitfuncs();
        say("run_exitfuncs returned");
    }

    pub fn panic_in_main() {
        atexit::register(|| say("handler ran"));
        panic!("main failed");
    }

    pub fn panicking_handler_is_named() {
        atexit::register(|| say("registered first, runs last"));
        atexit::Registration::new(|| panic!("disk full")).name("flush logs").register();
        atexit::register(|| say("registered last, runs first"));
    }

    pub fn handler_registered_during_exit_runs() {
        atexit::register(|| say("bottom"));
        atexit::register(|| {
            say("top registers another");
            atexit::register(|| say("registered during exit"));
        });
    }

    pub fn handler_unregistered_during_exit_does_not_run() {
        fn doomed() {
            say("doomed ran");
        }
        atexit::register(doomed);
        atexit::register(|| say(&format!("removed {}", atexit::unregister(doomed))));
    }

    pub fn abort_runs_none() {
        atexit::register(|| say("handler ran"));
        std::process::abort();
    }

    pub fn run_exitfuncs_then_exit_runs_each_once() {
        atexit::register(|| say("early"));
        atexit::run_exitfuncs().unwrap();
        atexit::register(|| say("late"));
        say(&format!("pending {}", atexit::ncallbacks()));
    }

    pub fn unregistered_and_cleared_handlers_do_not_run() {
        fn gone() {
            say("gone ran");
        }
        atexit::register(gone);
        atexit::register(gone);
        let handle = atexit::register(|| say("handle ran"));
        atexit::register(|| say("kept"));
        say(&format!("unregistered {}", atexit::unregister(gone)));
        say(&format!("handle {}", handle.unregister()));
    }

    pub fn clear_drops_everything() {
        atexit::register(|| say("cleared ran"));
        atexit::clear();
        say(&format!("pending {}", atexit::ncallbacks()));
    }

    pub fn is_exiting_only_while_handlers_run() {
        atexit::register(|| say(&format!("in handler: {}", atexit::is_exiting())));
        say(&format!("in main: {}", atexit::is_exiting()));
    }

    pub fn registered_from_a_thread_runs() {
        thread::spawn(|| atexit::register(|| say("from thread"))).join().unwrap();
        atexit::register(|| say("from main"));
    }

    /// The standard library lets one thread exit and parks any other that
    /// calls `std::process::exit`: after `main` returned, the handler that
    /// calls it never returns; it is seen parked and left behind.
    pub fn process_exit_inside_handler_is_left_behind() {
        atexit::register(|| say("earlier handler"));
        atexit::register(|| std::process::exit(4));
    }

    /// `Handle::run`: now, once; not again at exit.
    pub fn handle_runs_its_registration_now_and_once() {
        atexit::register(|| say("other handler at exit"));
        let close = atexit::register(|| say("database closed"));
        say(&format!("ran now: {:?}", close.run().map_err(|p| p.to_string())));
        let gone = atexit::register(|| say("never"));
        assert!(gone.unregister());
        say("main returns");
    }

    pub fn priorities_order_the_exit() {
        atexit::Registration::new(|| say("low")).priority(-1).register();
        atexit::register(|| say("default"));
        atexit::Registration::new(|| say("high")).priority(1).register();
    }

    #[atexit::main]
    pub fn atexit_main_returns() {
        atexit::register(flush_pending);
        PENDING.with(|p| p.borrow_mut().push("from main"));
    }

    fn say_reason() {
        say(&format!("reason {:?}", atexit::exit_reason()));
    }

    pub fn reason_main_returns() {
        say(&format!("before {:?}", atexit::exit_reason()));
        atexit::register(say_reason);
    }

    pub fn reason_process_exit() {
        atexit::register(say_reason);
        std::process::exit(7);
    }

    pub fn reason_atexit_exit() {
        atexit::register(say_reason);
        atexit::exit(5);
    }

    pub fn reason_panic_in_main() {
        atexit::register(say_reason);
        panic!("main failed");
    }

    pub fn reason_run_exitfuncs_then_exit() {
        atexit::register(say_reason);
        atexit::run_exitfuncs().unwrap();
        say(&format!("after the run {:?}", atexit::exit_reason()));
        atexit::register(say_reason);
    }

    pub fn reason_signal() {
        atexit::signals::install().unwrap();
        atexit::register(say_reason);
        receive(libc::SIGTERM);
    }

    #[atexit::main]
    pub fn reason_atexit_main_returns() {
        atexit::register(say_reason);
    }

    static LOG: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

    /// The program: the exiting thread holds the log's lock, and the
    /// handler that flushes the log needs it.
    fn exit_holding_the_log_lock(code: i32) {
        STARTED.get_or_init(std::time::Instant::now);
        atexit::register(|| {
            let in_time = STARTED.get().unwrap().elapsed() < Duration::from_secs(1);
            say(&format!("registered before the flush: runs, in time {in_time}"));
        });
        atexit::Registration::new(|| {
            let log = LOG.lock().unwrap();
            say(&format!("flushed {} lines", log.len()));
        })
        .name("flush log")
        .time_limit(Duration::from_millis(200))
        .register();
        atexit::register(|| say("registered after the flush: runs first"));
        let mut log = LOG.lock().unwrap();
        log.push("a line".into());
        std::process::exit(code);
    }

    pub fn time_limit_leaves_a_handler_behind() {
        exit_holding_the_log_lock(3);
    }

    pub fn default_time_limit_from_environment() {
        atexit::register(|| say("the others run"));
        atexit::Registration::new(|| thread::sleep(Duration::from_secs(30))).name("slow").register();
    }

    pub fn time_limit_met() {
        atexit::Registration::new(|| say("quick handler")).time_limit(Duration::from_secs(10)).register();
    }

    // The run calls plain handlers without looking at them until something
    // needs watching: each of these comes up only once the run is going.
    pub fn time_limited_handler_registered_by_a_handler() {
        atexit::register(|| say("the others run"));
        atexit::register(|| {
            atexit::Registration::new(|| thread::sleep(Duration::from_secs(30)))
                .name("slow, registered at exit")
                .time_limit(Duration::from_millis(100))
                .register();
        });
    }

    pub fn handler_time_limit_set_by_a_handler() {
        atexit::register(|| say("the others run"));
        atexit::Registration::new(|| thread::sleep(Duration::from_secs(30))).name("slow").register();
        atexit::register(|| atexit::set_handler_time_limit(Duration::from_millis(100)));
    }

    pub fn deadline_set_by_a_handler() {
        atexit::register(|| say("never: the deadline ended the exit"));
        atexit::Registration::new(|| thread::sleep(Duration::from_secs(30))).name("slow").register();
        atexit::register(|| atexit::set_deadline(Duration::from_millis(300)));
    }

    pub fn deadline_after_exit_inside_run_exitfuncs() {
        atexit::set_deadline(Duration::from_millis(300));
        atexit::Registration::new(|| thread::sleep(Duration::from_secs(30))).name("hangs").register();
        atexit::register(|| atexit::exit(3));
        let _ = atexit::run_exitfuncs();
        say("never: the run ends the process");
    }

    /// The deadline's clock and a time limit both need the watchdog, at
    /// the start of the exit, before it has begun: one is started.
    pub fn one_watchdog_for_a_deadline_and_a_time_limit() {
        atexit::set_deadline(Duration::from_secs(20));
        atexit::Registration::new(|| {
            thread::sleep(Duration::from_millis(300));
            let watchdogs = std::fs::read_dir("/proc/self/task")
                .map(|tasks| {
                    let comm = |task: std::fs::DirEntry| std::fs::read_to_string(task.path().join("comm")).ok();
                    tasks.flatten().filter_map(comm).filter(|name| name.trim() == "atexit-watchdog").count()
                })
                .unwrap_or(1);
            say(&format!("watchdogs {watchdogs}"));
        })
        .time_limit(Duration::from_secs(10))
        .register();
    }

    pub fn deadline_removed_by_a_handler() {
        atexit::set_deadline(Duration::from_millis(300));
        atexit::register(|| say("the others run"));
        atexit::Registration::new(|| thread::sleep(Duration::from_millis(600))).name("slow").register();
        atexit::register(|| atexit::set_deadline(Duration::ZERO));
    }

    pub fn async_handler_registered_by_a_handler() {
        atexit::register(|| say("sync handler, registered first"));
        atexit::register(|| {
            atexit::register_async(Duration::from_millis(50), || async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                say("never: the async handler registered at exit overran");
            });
            atexit::register_async(Duration::from_secs(5), || async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                say("async handler, registered at exit, slept and ran");
            });
        });
    }

    fn register_async_handlers() {
        atexit::register(|| say("sync handler, registered first"));
        atexit::register_async(Duration::from_secs(5), || async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            say("async handler slept and ran");
        });
        atexit::register_async(Duration::from_millis(50), std::future::pending::<()>);
    }

    pub fn async_handlers_at_process_exit() {
        register_async_handlers();
        std::process::exit(4);
    }

    pub fn async_handlers_when_exit_is_called_inside_a_runtime() {
        register_async_handlers();
        tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
            std::process::exit(4);
        });
    }

    /// Sends `signal` to this process and returns.
    fn send(signal: libc::c_int) {
        // SAFETY: sending a signal to this process; no memory is involved.
        unsafe { libc::kill(libc::getpid(), signal) };
    }

    pub fn graceful_signal_asks_and_the_program_drains() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        atexit::register(|| say("handler ran"));
        send(libc::SIGTERM);
        say(&format!("shutdown requested by {:?}", shutdown.wait()));
        say(&format!("still requested {:?}", shutdown.requested()));
        say("drained");
    }

    /// A `Shutdown` dropped at once cannot see a request: the first
    /// signal runs the handlers and the process dies of it.
    pub fn dropped_shutdown_lets_the_signal_end_the_process() {
        drop(atexit::signals::install_graceful().unwrap());
        atexit::register(|| say("handler ran"));
        receive(libc::SIGTERM);
    }

    /// After the drain, the process dies of the asking signal.
    pub fn exit_as_requested_dies_of_the_signal() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        atexit::register(|| say("handler ran"));
        send(libc::SIGTERM);
        say(&format!("asked by {}", shutdown.wait()));
        say("drained");
        shutdown.exit_as_requested()
    }

    pub fn graceful_second_signal_forces() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        atexit::register(|| say("handler ran"));
        send(libc::SIGTERM);
        shutdown.wait();
        say("draining");
        receive(libc::SIGINT);
    }

    pub fn graceful_signal_during_the_handlers_ends_at_once() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        atexit::register(|| {
            say("handler sends a second signal");
            send(libc::SIGTERM);
            thread::sleep(Duration::from_secs(30));
            say("not reached");
        });
        send(libc::SIGTERM);
        shutdown.wait();
        say("drained");
    }

    pub fn graceful_future_in_tokio_select() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        atexit::register(|| say("handler ran"));
        thread::spawn(|| {
            thread::sleep(Duration::from_millis(100));
            send(libc::SIGHUP);
        });
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            tokio::select! {
                () = std::future::pending::<()>() => say("not reached"),
                signal = shutdown.requested_async() => say(&format!("select saw {signal:?}")),
            }
        });
        say("drained");
    }

    /// The smallest executor there is: poll, park until woken.
    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        struct Unpark(thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = std::task::Waker::from(Arc::new(Unpark(thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        let mut future = std::pin::pin!(future);
        loop {
            if let std::task::Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            thread::park();
        }
    }

    pub fn graceful_future_on_a_minimal_executor() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        atexit::register(|| say("handler ran"));
        thread::spawn(|| {
            thread::sleep(Duration::from_millis(100));
            send(libc::SIGINT);
        });
        say(&format!("woken by {:?}", block_on(shutdown.requested_async())));
    }

    pub fn graceful_deadline_counts_from_the_first_signal() {
        atexit::set_deadline(Duration::from_millis(300));
        let shutdown = atexit::signals::install_graceful().unwrap();
        send(libc::SIGTERM);
        shutdown.wait();
        say("draining forever");
        thread::sleep(Duration::from_secs(30));
    }

    pub fn signal_by_name_without_libc() {
        atexit::signals::install_for(&[atexit::Signal::Quit]).unwrap();
        atexit::register(say_reason);
        receive(libc::SIGQUIT);
    }

    /// Raises `signal` at this process and waits to be ended by it.
    fn receive(signal: libc::c_int) -> ! {
        // SAFETY: sending a signal to this process; no memory is involved.
        unsafe { libc::kill(libc::getpid(), signal) };
        thread::sleep(Duration::from_secs(30));
        say("the signal did not end the process");
        std::process::exit(99)
    }

    fn handled(signal: libc::c_int) {
        atexit::signals::install().unwrap();
        atexit::register(|| say("first registered"));
        atexit::register(|| say("last registered"));
        receive(signal);
    }

    pub fn sigint() {
        handled(libc::SIGINT);
    }

    pub fn sigterm() {
        handled(libc::SIGTERM);
    }

    pub fn sighup() {
        handled(libc::SIGHUP);
    }

    pub fn signal_without_install() {
        atexit::register(|| say("handler ran"));
        receive(libc::SIGTERM);
    }

    pub fn signal_ignored_before_install_stays_ignored() {
        // SAFETY: setting a disposition for SIGHUP before any thread exists.
        unsafe { libc::signal(libc::SIGHUP, libc::SIG_IGN) };
        atexit::signals::install().unwrap();
        atexit::register(|| say("handler ran"));
        // SAFETY: sending a signal to this process.
        unsafe { libc::kill(libc::getpid(), libc::SIGHUP) };
        thread::sleep(Duration::from_millis(200));
        say("still running");
    }

    pub fn second_signal_ends_at_once() {
        use std::sync::atomic::{AtomicBool, Ordering};
        static STARTED: AtomicBool = AtomicBool::new(false);
        atexit::signals::install().unwrap();
        atexit::register(|| say("never reached"));
        atexit::register(|| {
            say("slow handler started");
            STARTED.store(true, Ordering::SeqCst);
            thread::sleep(Duration::from_secs(30));
            say("slow handler finished");
        });
        // SAFETY: sending signals to this process.
        unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
        while !STARTED.load(Ordering::SeqCst) {
            thread::sleep(Duration::from_millis(5));
        }
        receive(libc::SIGINT);
    }

    pub fn other_signal_users_keep_running() {
        let action = || {
            let message = b"another library's SIGTERM action ran\n";
            // SAFETY: `write` is async-signal-safe; the buffer is a static.
            unsafe { libc::write(2, message.as_ptr().cast(), message.len()) };
        };
        // SAFETY: the action only calls `write`.
        unsafe { signal_hook_registry::register(libc::SIGTERM, action) }.unwrap();
        atexit::signals::install().unwrap();
        atexit::register(|| say("handler ran"));
        receive(libc::SIGTERM);
    }

    fn say_thread_count() {
        let threads = std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(0);
        say(&format!("threads during the exit: {threads}"));
    }

    pub fn no_deadline_no_watchdog_thread() {
        atexit::register(say_thread_count);
    }

    pub fn deadline_watchdog_is_one_thread() {
        atexit::set_deadline(Duration::from_secs(30));
        atexit::register(say_thread_count);
    }

    pub fn signal_racing_exit() {
        atexit::signals::install().unwrap();
        atexit::register(|| say("handler ran"));
        // SAFETY: sending a signal to this process.
        unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
        std::process::exit(3);
    }

    /// `main` returns, a handler hangs; one SIGTERM (as `timeout`, systemd
    /// and Kubernetes send) ends the process, as it would without atexit.
    pub fn signal_during_a_stuck_exit() {
        atexit::signals::install().unwrap();
        atexit::register(|| say("not reached"));
        atexit::register(|| {
            say("stuck");
            // SAFETY: sending a signal to this process.
            unsafe { libc::kill(libc::getpid(), libc::SIGTERM) };
            thread::sleep(Duration::from_secs(30));
        });
    }

    pub fn exit_in_handler_after_signal() {
        atexit::signals::install().unwrap();
        atexit::register(|| atexit::exit(6));
        receive(libc::SIGTERM);
    }

    fn stuck_exit() {
        atexit::register(|| say("never reached"));
        atexit::Registration::new(|| thread::sleep(Duration::from_secs(30))).name("stuck").register();
        atexit::register(|| say("quick handler"));
    }

    pub fn deadline_overrun() {
        atexit::set_deadline(Duration::from_millis(300));
        stuck_exit();
    }

    pub fn deadline_from_environment() {
        stuck_exit();
    }

    pub fn deadline_met() {
        atexit::set_deadline(Duration::from_secs(30));
        atexit::register(|| say("handler ran"));
    }

    pub fn trace() {
        atexit::Registration::new(|| say("ok")).name("fine").register();
        atexit::Registration::new(|| panic!("trace me")).name("broken").register();
        atexit::Registration::new(|| thread::sleep(Duration::from_secs(30))).name("stuck").priority(-1).register();
    }

    pub fn fork_child_runs_only_its_own_and_inherited() {
        atexit::register(|| say("parent's, not inherited"));
        atexit::Registration::new(|| say("inherited")).inherit_on_fork().register();
        // SAFETY: the child only registers, prints and returns; no lock is
        // held by another thread (this process has one).
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            atexit::register(|| say("child's own"));
            say(&format!("child pending {}", atexit::ncallbacks()));
            return;
        }
        let mut status = 0;
        // SAFETY: waiting for the child this process just forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        say(&format!("child exited {}", libc::WEXITSTATUS(status)));
    }

    /// Makes stdout a pipe that nobody reads, so that writing to it blocks
    /// once the pipe is full (the read end stays open: no `EPIPE`).
    fn stdout_into_a_pipe_nobody_reads() {
        let mut fds = [0; 2];
        // SAFETY: `pipe` writes two descriptors into `fds`; `dup2` replaces fd 1.
        unsafe {
            assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
            assert_eq!(libc::dup2(fds[1], 1), 1);
        }
    }

    fn flood_stdout() {
        use std::io::Write;
        let chunk = [b'x'; 4096];
        loop {
            let _ = std::io::stdout().write_all(&chunk);
        }
    }

    pub fn deadline_while_a_handler_holds_the_stream_locks() {
        atexit::set_deadline(Duration::from_millis(300));
        atexit::register(|| say("never reached"));
        atexit::Registration::new(|| {
            let _out = std::io::stdout().lock();
            let _err = std::io::stderr().lock();
            thread::sleep(Duration::from_secs(30));
        })
        .name("holds the stream locks")
        .register();
    }

    pub fn deadline_while_stdout_is_a_full_pipe() {
        atexit::set_deadline(Duration::from_millis(300));
        stdout_into_a_pipe_nobody_reads();
        atexit::Registration::new(flood_stdout).name("floods stdout").register();
    }

    pub fn signal_while_a_thread_is_blocked_on_stdout() {
        atexit::signals::install().unwrap();
        atexit::register(|| eprintln!("handler ran"));
        stdout_into_a_pipe_nobody_reads();
        thread::spawn(flood_stdout);
        // Long enough for the pipe to fill and the thread to block in `write`, holding stdout's lock.
        thread::sleep(Duration::from_millis(300));
        receive(libc::SIGTERM);
    }

    /// A worker's `run_exitfuncs` hangs in a handler; then the process exits.
    fn another_threads_run_hangs() {
        atexit::set_deadline(Duration::from_millis(300));
        atexit::Registration::new(|| thread::sleep(Duration::from_secs(30))).name("stuck in a worker's run").register();
        thread::spawn(|| {
            let _ = atexit::run_exitfuncs();
        });
        while atexit::exit_reason().is_none() {
            thread::sleep(Duration::from_millis(1));
        }
    }

    pub fn deadline_while_the_exit_waits_for_another_threads_run() {
        another_threads_run_hangs();
        std::process::exit(0);
    }

    pub fn deadline_while_the_signal_thread_waits_for_another_threads_run() {
        atexit::signals::install().unwrap();
        another_threads_run_hangs();
        receive(libc::SIGTERM);
    }

    /// Forks a child that says so and leaves at once; waits for it.
    fn fork_and_wait(label: &str) {
        // SAFETY: the child only prints a line and calls `_exit`.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            say(&format!("{label}: child"));
            // SAFETY: ends the child at once.
            unsafe { libc::_exit(0) };
        }
        say(&format!("{label}: child {}", wait_for(pid)));
    }

    pub fn fork_in_a_handler_after_an_earlier_fork() {
        fork_and_wait("in main");
        atexit::register(|| fork_and_wait("in a handler"));
    }

    /// A signal that reaches a new child before any fork callback has run
    /// in it (here: a child made by the raw system call, which runs none).
    #[cfg(target_os = "linux")]
    pub fn signal_in_a_fresh_child_stays_in_the_child() {
        atexit::signals::install().unwrap();
        atexit::register(|| say("parent's handler ran"));
        // SAFETY: `clone` with only SIGCHLD is `fork` without libc's fork
        // callbacks; the child only sends itself a signal and leaves.
        let pid = unsafe {
            libc::syscall(
                libc::SYS_clone,
                libc::SIGCHLD as libc::c_long,
                0 as libc::c_long,
                0 as libc::c_long,
                0 as libc::c_long,
                0 as libc::c_long,
            )
        } as libc::pid_t;
        assert!(pid >= 0, "clone failed");
        if pid == 0 {
            // SAFETY: signals this (child) process, then leaves.
            unsafe {
                libc::kill(libc::getpid(), libc::SIGTERM);
                libc::_exit(0);
            }
        }
        say(&format!("child {}", wait_for(pid)));
        // Time for the parent's signal thread to act, had it been woken.
        thread::sleep(Duration::from_millis(300));
        say("parent lives");
    }

    /// A sandbox that denies a system call the runtime might use, installed
    /// after the first registration; then another thread registers.
    #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
    pub fn sandbox_denies_membarrier_after_start_up() {
        atexit::register(|| say("main's handler ran"));
        let jump = |k: u32, jt: u8, jf: u8| libc::sock_filter { code: 0x05 | 0x10, jt, jf, k };
        let ret = |k: u32| libc::sock_filter { code: 0x06, jt: 0, jf: 0, k };
        let filter = [
            // Load the system call number, deny membarrier with EPERM, allow the rest.
            libc::sock_filter { code: 0x20, jt: 0, jf: 0, k: 0 },
            jump(libc::SYS_membarrier as u32, 0, 1),
            ret(0x0005_0000 | libc::EPERM as u32),
            ret(0x7fff_0000),
        ];
        let program = libc::sock_fprog { len: filter.len() as u16, filter: filter.as_ptr() as *mut _ };
        // SAFETY: the filter outlives the calls; seccomp copies it.
        unsafe {
            assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
            assert_eq!(libc::syscall(libc::SYS_seccomp, 1, 1, &program as *const libc::sock_fprog), 0);
        }
        thread::spawn(|| {
            atexit::register(|| say("thread's handler ran"));
        })
        .join()
        .unwrap();
        say("main returns");
    }

    /// The handler that runs first (`outer`) runs the rest in a nested run.
    fn run_the_rest_nested() {
        atexit::Registration::new(|| {
            let _ = atexit::run_exitfuncs();
        })
        .name("outer")
        .register();
    }

    pub fn nested_run_is_traced() {
        atexit::Registration::new(|| say("inner")).name("inner").register();
        run_the_rest_nested();
    }

    pub fn deadline_names_the_handler_of_a_nested_run() {
        atexit::set_deadline(Duration::from_millis(300));
        atexit::Registration::new(|| thread::sleep(Duration::from_secs(30))).name("nested and stuck").register();
        run_the_rest_nested();
    }

    pub fn fork_inside_a_watched_exit_run() {
        atexit::set_deadline(Duration::from_secs(30));
        atexit::register(|| say("registered first"));
        atexit::register(|| {
            // SAFETY: the child goes on with the exit run: this process has
            // no other thread of its own but the watchdog, which holds no lock.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                say("child goes on");
                return;
            }
            say(&format!("child {}", wait_for(pid)));
        });
    }

    pub fn threads_register_while_another_exits() {
        use std::sync::Mutex;
        use std::sync::atomic::{AtomicUsize, Ordering};
        const THREADS: usize = 6;
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        /// Ids whose registration (and, for every fifth, unregistration)
        /// has completed: (kept, removed).
        static DONE: Mutex<(Vec<usize>, Vec<usize>)> = Mutex::new((Vec::new(), Vec::new()));
        for _ in 0..THREADS {
            thread::spawn(|| {
                loop {
                    let id = NEXT.fetch_add(1, Ordering::SeqCst);
                    let handle = atexit::register(move || say(&format!("ran {id}")));
                    let removed = id % 5 == 0 && handle.unregister();
                    let mut done = DONE.lock().unwrap();
                    if removed { done.1.push(id) } else { done.0.push(id) }
                }
            });
        }
        while NEXT.load(Ordering::SeqCst) < 20_000 {
            thread::yield_now();
        }
        // Every id in this snapshot was registered (or removed) before the exit began.
        let (kept, removed) = DONE.lock().unwrap().clone();
        eprintln!("registered {kept:?}");
        eprintln!("removed {removed:?}");
        std::process::exit(0);
    }
}

#[cfg(unix)]
/// Checks the stress scenario: each handler registered before the exit began
/// ran exactly once, unless it was unregistered; none ran twice.
fn every_registered_handler_ran_once(output: &std::process::Output) -> Result<(), String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let list = |prefix: &str| -> Result<Vec<usize>, String> {
        let line = stderr.lines().find_map(|l| l.strip_prefix(prefix)).ok_or(format!("no {prefix:?} line"))?;
        let inner = line.trim_matches(|c| c == '[' || c == ']');
        Ok(inner.split(", ").filter(|s| !s.is_empty()).map(|s| s.parse().unwrap()).collect())
    };
    let registered = list("registered ")?;
    let removed: std::collections::HashSet<usize> = list("removed ")?.into_iter().collect();
    let mut runs = std::collections::HashMap::<usize, usize>::new();
    for line in stdout.lines() {
        let id = line.strip_prefix("ran ").ok_or(format!("unexpected line {line:?}"))?.parse().unwrap();
        *runs.entry(id).or_default() += 1;
    }
    if let Some((id, n)) = runs.iter().find(|(_, n)| **n > 1) {
        return Err(format!("handler {id} ran {n} times"));
    }
    if let Some(id) = runs.keys().find(|id| removed.contains(id)) {
        return Err(format!("handler {id} ran after it was unregistered"));
    }
    let missing: Vec<_> = registered.iter().filter(|id| !removed.contains(id) && !runs.contains_key(id)).collect();
    if !missing.is_empty() {
        return Err(format!(
            "{} handlers registered before the exit never ran, such as {:?}",
            missing.len(),
            missing[0]
        ));
    }
    if registered.len() < 10_000 {
        return Err(format!("only {} registrations: the stress did not happen", registered.len()));
    }
    Ok(())
}

#[cfg(unix)]
fn all() -> Vec<Case> {
    use Status::*;
    use libc::{SIGABRT, SIGHUP, SIGINT, SIGTERM};
    use scenarios::*;
    const NO_PANIC: &[&str] = &["panicked"];
    const EXIT_IN_HANDLER: &str = "exiting handler calls exit(9)\nexiting handler unwound\nearlier handler ran\n";
    const SIGNALLED: &str = "last registered\nfirst registered\n";
    const STUCK: &str = "atexit: exit deadline of 300ms passed while handler `stuck` was running";
    vec![
        case(
            "reason_main_returns",
            reason_main_returns,
            expect("before None\nreason Some(ProcessExit(Some(0)))\n", Code(0)),
        ),
        case("reason_process_exit", reason_process_exit, expect("reason Some(ProcessExit(Some(7)))\n", Code(7))),
        case("reason_atexit_exit", reason_atexit_exit, expect("reason Some(Exit(5))\n", Code(5))),
        case("reason_panic_in_main", reason_panic_in_main, expect("reason Some(ProcessExit(Some(101)))\n", Code(101))),
        case(
            "reason_run_exitfuncs_then_exit",
            reason_run_exitfuncs_then_exit,
            expect("reason Some(RunExitfuncs)\nafter the run None\nreason Some(ProcessExit(Some(0)))\n", Code(0)),
        ),
        case("reason_signal", reason_signal, expect("reason Some(Signal(Terminate))\n", Signal(SIGTERM))),
        case(
            "time_limit_leaves_a_handler_behind",
            time_limit_leaves_a_handler_behind,
            Expect {
                stderr_has: &["atexit: handler `flush log` did not finish within its time limit of 200ms; left behind"],
                ..expect(
                    "registered after the flush: runs first\nregistered before the flush: runs, in time true\n",
                    Code(3),
                )
            },
        )
        .row(
            "a handler with a time limit (`Registration::time_limit`) overruns it",
            "it is named and left behind; the rest run",
        ),
        case(
            "default_time_limit_from_environment",
            default_time_limit_from_environment,
            Expect {
                stderr_has: &["atexit: handler `slow` did not finish within its time limit of 100ms"],
                ..expect("the others run\n", Code(0))
            },
        )
        .env(&[("ATEXIT_HANDLER_TIME_LIMIT_MS", "100")]),
        case("time_limit_met", time_limit_met, expect("quick handler\n", Code(0))),
        case(
            "time_limited_handler_registered_by_a_handler",
            time_limited_handler_registered_by_a_handler,
            Expect {
                stderr_has: &["handler `slow, registered at exit` did not finish within its time limit of 100ms"],
                ..expect("the others run\n", Code(0))
            },
        ),
        case(
            "handler_time_limit_set_by_a_handler",
            handler_time_limit_set_by_a_handler,
            Expect {
                stderr_has: &["handler `slow` did not finish within its time limit of 100ms"],
                ..expect("the others run\n", Code(0))
            },
        ),
        case(
            "deadline_set_by_a_handler",
            deadline_set_by_a_handler,
            Expect {
                stderr_has: &["atexit: exit deadline of 300ms passed while handler `slow` was running"],
                ..expect("", Code(atexit::DEADLINE_EXIT_STATUS))
            },
        ),
        case(
            "deadline_after_exit_inside_run_exitfuncs",
            deadline_after_exit_inside_run_exitfuncs,
            Expect {
                stderr_has: &["atexit: exit deadline of 300ms passed while handler `hangs` was running"],
                ..expect("", Code(atexit::DEADLINE_EXIT_STATUS))
            },
        ),
        case(
            "one_watchdog_for_a_deadline_and_a_time_limit",
            one_watchdog_for_a_deadline_and_a_time_limit,
            expect("watchdogs 1\n", Code(0)),
        ),
        case("deadline_removed_by_a_handler", deadline_removed_by_a_handler, expect("the others run\n", Code(0))),
        case(
            "async_handler_registered_by_a_handler",
            async_handler_registered_by_a_handler,
            Expect {
                stderr_has: &["did not finish within its time limit of 50ms; dropped"],
                ..expect("async handler, registered at exit, slept and ran\nsync handler, registered first\n", Code(0))
            },
        ),
        case(
            "async_handlers_at_process_exit",
            async_handlers_at_process_exit,
            Expect {
                stderr_has: &["did not finish within its time limit of 50ms; dropped"],
                ..expect("async handler slept and ran\nsync handler, registered first\n", Code(4))
            },
        ),
        case(
            "async_handlers_when_exit_is_called_inside_a_runtime",
            async_handlers_when_exit_is_called_inside_a_runtime,
            Expect {
                stderr_has: &["did not finish within its time limit of 50ms; dropped"],
                ..expect("async handler slept and ran\nsync handler, registered first\n", Code(4))
            },
        ),
        case(
            "signal_by_name_without_libc",
            signal_by_name_without_libc,
            expect("reason Some(Signal(Quit))\n", Signal(libc::SIGQUIT)),
        ),
        case(
            "graceful_signal_asks_and_the_program_drains",
            graceful_signal_asks_and_the_program_drains,
            expect("shutdown requested by Signal(Terminate)\nstill requested Some(Signal(Terminate))\ndrained\nhandler ran\n", Code(0)),
        )
        .row(
            "SIGTERM after `atexit::signals::install_graceful()`: the program drains and returns",
            "run once, when `main` returns",
        ),
        case(
            "dropped_shutdown_lets_the_signal_end_the_process",
            dropped_shutdown_lets_the_signal_end_the_process,
            expect("handler ran\n", Signal(SIGTERM)),
        )
        .row(
            "SIGTERM after `install_graceful()` whose `Shutdown` was dropped",
            "run at once, on the signal thread (nothing can see a request)",
        ),
        case(
            "exit_as_requested_dies_of_the_signal",
            exit_as_requested_dies_of_the_signal,
            expect("asked by SIGTERM\ndrained\nhandler ran\n", Signal(SIGTERM)),
        )
        .row("SIGTERM after `install_graceful()`, drained, then `shutdown.exit_as_requested()`", "run"),
        case(
            "graceful_second_signal_forces",
            graceful_second_signal_forces,
            expect("draining\nhandler ran\n", Signal(SIGINT)),
        )
        .row("a second signal while it drains", "run at once, on the signal thread"),
        case(
            "graceful_signal_during_the_handlers_ends_at_once",
            graceful_signal_during_the_handlers_ends_at_once,
            expect("drained\nhandler sends a second signal\n", Signal(SIGTERM)),
        ),
        case(
            "graceful_future_in_tokio_select",
            graceful_future_in_tokio_select,
            expect("select saw Signal(Hangup)\ndrained\nhandler ran\n", Code(0)),
        ),
        case(
            "graceful_future_on_a_minimal_executor",
            graceful_future_on_a_minimal_executor,
            expect("woken by Signal(Interrupt)\nhandler ran\n", Code(0)),
        ),
        case(
            "graceful_deadline_counts_from_the_first_signal",
            graceful_deadline_counts_from_the_first_signal,
            Expect {
                stderr_has: &["atexit: exit deadline of 300ms passed"],
                ..expect("draining forever\n", Code(atexit::DEADLINE_EXIT_STATUS))
            },
        ),
        common::main_case(
            "reason_atexit_main_returns",
            reason_atexit_main_returns,
            expect("reason Some(MainReturned)\n", Code(0)),
        ),
        case(
            "main_returns",
            main_returns,
            Expect { stderr_lacks: NO_PANIC, ..expect("main done\nc\nb\na\n", Code(0)) },
        )
        .row("`main` returns", "run, last registered first"),
        common::main_case(
            "atexit_main_returns",
            atexit_main_returns,
            Expect { stderr_lacks: NO_PANIC, ..expect("flushing [\"from main\"]\n", Code(0)) },
        )
        .row("`#[atexit::main]` `main` returns", "run on the main thread, thread-locals alive"),
        case(
            "atexit_exit_keeps_thread_locals",
            atexit_exit_keeps_thread_locals,
            Expect { stderr_lacks: NO_PANIC, ..expect("flushing [\"last words\"]\n", Code(5)) },
        )
        .row("`atexit::exit(5)`", "run on the calling thread, thread-locals alive"),
        case("process_exit_keeps_status", process_exit_keeps_status, expect("handler ran\n", Code(7)))
            .row("`std::process::exit(7)` on the main thread", "run"),
        case(
            "process_exit_from_worker_thread",
            process_exit_from_worker_thread,
            expect("handler ran\n", Code(3)),
        )
        .row("`std::process::exit(3)` on another thread", "run (on a fresh thread: the exiting one's thread-locals are gone)"),
        case(
            "four_threads_exit_at_once",
            four_threads_exit_at_once,
            expect("third\nsecond\nfirst\n", OneOf(&[10, 11, 12, 13])),
        )
        .row("four threads call `std::process::exit` at once", "run once each"),
        case(
            "process_exit_gives_fresh_thread_locals",
            process_exit_gives_fresh_thread_locals,
            Expect { stderr_lacks: NO_PANIC, ..expect("flushing []\nother handler ran\n", Code(0)) },
        )
        .row("`std::process::exit`, a handler reads a `thread_local!`", "it sees a fresh value, as a new thread does"),
        case(
            "panic_in_main",
            panic_in_main,
            Expect { stderr_has: &["main failed"], ..expect("handler ran\n", Code(101)) },
        )
        .row("a panic unwinds out of `main`", "run"),
        case(
            "panicking_handler_is_named",
            panicking_handler_is_named,
            Expect {
                stderr_has: &["atexit: exit handler `flush logs` panicked: disk full"],
                ..expect("registered last, runs first\nregistered first, runs last\n", Code(0))
            },
        )
        .row("a handler panics", "reported by name on stderr; the rest run"),
        case(
            "exit_inside_handler_after_main_returns",
            exit_inside_handler_after_main_returns,
            Expect { stderr_lacks: NO_PANIC, ..expect(EXIT_IN_HANDLER, Code(9)) },
        )
        .row("`atexit::exit(9)` inside a handler", "that one unwinds; the rest run"),
        case(
            "exit_inside_handler_after_atexit_exit",
            exit_inside_handler_after_atexit_exit,
            Expect { stderr_lacks: NO_PANIC, ..expect(EXIT_IN_HANDLER, Code(9)) },
        ),
        case(
            "exit_inside_handler_during_run_exitfuncs",
            exit_inside_handler_during_run_exitfuncs,
            Expect { stderr_lacks: NO_PANIC, ..expect(EXIT_IN_HANDLER, Code(9)) },
        ),
        case(
            "handle_runs_its_registration_now_and_once",
            handle_runs_its_registration_now_and_once,
            expect("database closed\nran now: Ok(true)\nmain returns\nother handler at exit\n", Code(0)),
        ),
        case(
            "process_exit_inside_handler_is_left_behind",
            process_exit_inside_handler_is_left_behind,
            Expect { stderr_has: &["called std::process::exit", "left behind"], ..expect("earlier handler\n", Code(0)) },
        )
        .row(
            "`std::process::exit(4)` inside a handler, after `main` returned",
            "that one never returns (the standard library parks it): named and left behind; the rest run",
        ),
        case("sigint", sigint, expect(SIGNALLED, Signal(SIGINT)))
            .row("SIGINT, after `atexit::signals::install()`", "run on the signal thread"),
        case("sigterm", sigterm, expect(SIGNALLED, Signal(SIGTERM)))
            .row("SIGTERM, after `atexit::signals::install()`", "run on the signal thread"),
        case("sighup", sighup, expect(SIGNALLED, Signal(SIGHUP)))
            .row("SIGHUP, after `atexit::signals::install()`", "run on the signal thread"),
        case(
            "second_signal_ends_at_once",
            second_signal_ends_at_once,
            expect("slow handler started\n", Signal(SIGINT)),
        )
        .row("a second signal while the handlers run", "the rest do not run"),
        case(
            "signal_racing_exit",
            signal_racing_exit,
            Expect {
                stdout: None,
                check: Some(|output| match &*String::from_utf8_lossy(&output.stdout) {
                    "handler ran\n" | "" => Ok(()),
                    other => Err(format!("stdout {other:?}: the handler ran more than once")),
                }),
                ..expect("", CodeOrSignal(3, SIGTERM))
            },
        )
        .row(
            "SIGTERM while `std::process::exit(3)` runs",
            "run at most once: a signal that comes once the exit began ends the process at once",
        ),
        case("signal_during_a_stuck_exit", signal_during_a_stuck_exit, expect("stuck\n", Signal(SIGTERM)))
            .row("one SIGTERM while a handler hangs after `main` returned", "the rest do not run"),
        case("exit_in_handler_after_signal", exit_in_handler_after_signal, expect("", Code(6))),
        case(
            "other_signal_users_keep_running",
            other_signal_users_keep_running,
            Expect {
                stderr_has: &["another library's SIGTERM action ran"],
                ..expect("handler ran\n", Signal(SIGTERM))
            },
        ),
        case("signal_without_install", signal_without_install, expect("", Signal(SIGTERM)))
            .row("SIGTERM without `atexit::signals::install()`", "not run"),
        case(
            "signal_ignored_before_install_stays_ignored",
            signal_ignored_before_install_stays_ignored,
            expect("still running\nhandler ran\n", Code(0)),
        ),
        case(
            "deadline_overrun",
            deadline_overrun,
            Expect { stderr_has: &[STUCK], ..expect("quick handler\n", Code(atexit::DEADLINE_EXIT_STATUS)) },
        )
        .row(
            "a handler outlives `atexit::set_deadline(300ms)`",
            "the hung one is named on stderr; the rest do not run",
        ),
        case(
            "deadline_from_environment",
            deadline_from_environment,
            Expect { stderr_has: &[STUCK], ..expect("quick handler\n", Code(atexit::DEADLINE_EXIT_STATUS)) },
        )
        .env(&[("ATEXIT_DEADLINE_MS", "300")]),
        case("deadline_met", deadline_met, expect("handler ran\n", Code(0))),
        case(
            "no_deadline_no_watchdog_thread",
            no_deadline_no_watchdog_thread,
            expect(
                // The main thread, and the one the handlers run on at C's exit.
                if cfg!(target_os = "linux") { "threads during the exit: 2\n" } else { "threads during the exit: 0\n" },
                Code(0),
            ),
        ),
        case(
            "deadline_watchdog_is_one_thread",
            deadline_watchdog_is_one_thread,
            expect(
                if cfg!(target_os = "linux") { "threads during the exit: 3\n" } else { "threads during the exit: 0\n" },
                Code(0),
            ),
        ),
        case(
            "trace",
            trace,
            Expect {
                stderr_has: &[
                    "atexit: trace: `broken` panicked in ",
                    "atexit: trace: `fine` ok in ",
                    "atexit: trace: `stuck` timed out in ",
                ],
                ..expect("ok\n", Code(atexit::DEADLINE_EXIT_STATUS))
            },
        )
        .env(&[("ATEXIT_TRACE", "1"), ("ATEXIT_DEADLINE_MS", "300")]),
        case(
            "fork_child_runs_only_its_own_and_inherited",
            fork_child_runs_only_its_own_and_inherited,
            expect(
                "child pending 2\nchild's own\ninherited\nchild exited 0\ninherited\nparent's, not inherited\n",
                Code(0),
            ),
        )
        .row("a `fork()`ed child exits", "the child runs its own and inherited ones"),
        case(
            "threads_register_while_another_exits",
            threads_register_while_another_exits,
            Expect { stdout: None, check: Some(every_registered_handler_ran_once), ..expect("", Code(0)) },
        )
        .row("threads register and unregister while another exits", "each registered before the exit runs once"),
        case(
            "deadline_while_a_handler_holds_the_stream_locks",
            deadline_while_a_handler_holds_the_stream_locks,
            Expect {
                stderr_has: &["passed while handler `holds the stream locks` was running"],
                ..expect("", Code(atexit::DEADLINE_EXIT_STATUS))
            },
        )
        .row(
            "a handler holds stdout's and stderr's locks past the deadline",
            "the hung one is named; the rest do not run",
        ),
        case(
            "deadline_while_stdout_is_a_full_pipe",
            deadline_while_stdout_is_a_full_pipe,
            Expect {
                stderr_has: &["passed while handler `floods stdout` was running"],
                ..expect("", Code(atexit::DEADLINE_EXIT_STATUS))
            },
        )
        .row("a handler blocks on a full stdout pipe past the deadline", "the hung one is named; the rest do not run"),
        case(
            "signal_while_a_thread_is_blocked_on_stdout",
            signal_while_a_thread_is_blocked_on_stdout,
            Expect { stderr_has: &["handler ran"], ..expect("", Signal(SIGTERM)) },
        )
        .row("SIGTERM while another thread is blocked writing stdout", "run on the signal thread"),
        case(
            "deadline_while_the_exit_waits_for_another_threads_run",
            deadline_while_the_exit_waits_for_another_threads_run,
            Expect {
                stderr_has: &["passed while handler `stuck in a worker's run` was running"],
                ..expect("", Code(atexit::DEADLINE_EXIT_STATUS))
            },
        )
        .row(
            "`std::process::exit` while a worker's `run_exitfuncs()` hangs, with a deadline",
            "the hung one is named when the deadline passes",
        ),
        case(
            "deadline_while_the_signal_thread_waits_for_another_threads_run",
            deadline_while_the_signal_thread_waits_for_another_threads_run,
            Expect {
                stderr_has: &["passed while handler `stuck in a worker's run` was running"],
                ..expect("", Code(atexit::DEADLINE_EXIT_STATUS))
            },
        ),
        case(
            "fork_in_a_handler_after_an_earlier_fork",
            fork_in_a_handler_after_an_earlier_fork,
            expect(
                "in main: child\nin main: child exited 0\nin a handler: child\nin a handler: child exited 0\n",
                Code(0),
            ),
        )
        .row("a handler `fork()`s (after an earlier fork)", "the child is created; the rest run"),
        #[cfg(target_os = "linux")]
        case(
            "signal_in_a_fresh_child_stays_in_the_child",
            signal_in_a_fresh_child_stays_in_the_child,
            expect("child killed by signal 15\nparent lives\nparent's handler ran\n", Code(0)),
        )
        .row("SIGTERM reaches a new child before its fork callbacks", "the child dies of it; the parent's do not run"),
        #[cfg(all(target_os = "linux", target_arch = "x86_64"))]
        case(
            "sandbox_denies_membarrier_after_start_up",
            sandbox_denies_membarrier_after_start_up,
            expect("main returns\nthread's handler ran\nmain's handler ran\n", Code(0)),
        )
        .row("a seccomp sandbox installed after start-up, then another thread registers", "run"),
        case(
            "nested_run_is_traced",
            nested_run_is_traced,
            Expect {
                stderr_has: &["atexit: trace: `inner` ok in ", "atexit: trace: `outer` ok in "],
                ..expect("inner\n", Code(0))
            },
        )
        .env(&[("ATEXIT_TRACE", "1")]),
        case(
            "deadline_names_the_handler_of_a_nested_run",
            deadline_names_the_handler_of_a_nested_run,
            Expect {
                stderr_has: &["passed while handler `nested and stuck` was running"],
                ..expect("", Code(atexit::DEADLINE_EXIT_STATUS))
            },
        ),
        case(
            "fork_inside_a_watched_exit_run",
            fork_inside_a_watched_exit_run,
            Expect { stderr_lacks: NO_PANIC, ..expect("child goes on\nchild exited 0\nregistered first\n", Code(0)) },
        ),
        case("abort_runs_none", abort_runs_none, expect("", Signal(SIGABRT))).row("`std::process::abort()`", "not run"),
        case(
            "handler_registered_during_exit_runs",
            handler_registered_during_exit_runs,
            expect("top registers another\nregistered during exit\nbottom\n", Code(0)),
        ),
        case(
            "handler_unregistered_during_exit_does_not_run",
            handler_unregistered_during_exit_does_not_run,
            expect("removed 1\n", Code(0)),
        ),
        case(
            "run_exitfuncs_then_exit_runs_each_once",
            run_exitfuncs_then_exit_runs_each_once,
            expect("early\npending 1\nlate\n", Code(0)),
        ),
        case(
            "unregistered_and_cleared_handlers_do_not_run",
            unregistered_and_cleared_handlers_do_not_run,
            expect("unregistered 2\nhandle true\nkept\n", Code(0)),
        ),
        case("clear_drops_everything", clear_drops_everything, expect("pending 0\n", Code(0))),
        case(
            "is_exiting_only_while_handlers_run",
            is_exiting_only_while_handlers_run,
            expect("in main: false\nin handler: true\n", Code(0)),
        ),
        case(
            "registered_from_a_thread_runs",
            registered_from_a_thread_runs,
            expect("from main\nfrom thread\n", Code(0)),
        ),
        case("priorities_order_the_exit", priorities_order_the_exit, expect("high\ndefault\nlow\n", Code(0))),
    ]
}

#[cfg(unix)]
fn main() -> ExitCode {
    common::run(all())
}

/// The scenarios use `fork`, signals and Unix exit statuses.
#[cfg(not(unix))]
fn main() -> ExitCode {
    println!("the exit-path matrix runs on Unix only");
    ExitCode::SUCCESS
}
