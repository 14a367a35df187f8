//! Graceful shutdown a service can trust (`atexit::signals::install_graceful`
//! and `Shutdown`), proven in child processes (see `common/mod.rs`).
//! `cargo test --test shutdown -- NAME` runs the scenarios whose name
//! contains NAME.

mod common;

use std::process::ExitCode;

#[cfg(unix)]
mod scenarios {
    use std::future::Future;
    use std::io::Write;
    use std::process::ExitCode;
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};
    use std::time::Duration;

    use atexit::signals::Shutdown;

    fn say(s: &str) {
        println!("{s}");
    }

    /// Sends `signal` to this process and returns.
    fn send(signal: libc::c_int) {
        // SAFETY: sending a signal to this process; no memory is involved.
        unsafe { libc::kill(libc::getpid(), signal) };
    }

    /// This process's resident memory, in bytes.
    fn resident() -> usize {
        let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
        statm.split_whitespace().nth(1).and_then(|pages| pages.parse::<usize>().ok()).unwrap_or(0) * 4096
    }

    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }

    /// Item 1: futures that are polled once and dropped, each with a waker
    /// of its own (as tasks have), leave nothing behind.
    pub fn waiting_futures_leave_nothing_when_dropped() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        let poll_once = || {
            let waker = Waker::from(Arc::new(Noop));
            let mut future = std::pin::pin!(shutdown.requested_async());
            assert!(future.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        };
        (0..1_000).for_each(|_| poll_once());
        let before = resident();
        (0..200_000).for_each(|_| poll_once());
        let grown = resident().saturating_sub(before);
        say(&format!("grew under 2 MiB: {}", grown < 2 << 20));
    }

    /// Item 3: the program asks for shutdown; every waiter wakes.
    pub fn the_program_requests_shutdown() {
        let shutdown = Shutdown::new();
        let theirs = shutdown.clone();
        let waiter = std::thread::spawn(move || theirs.wait());
        std::thread::sleep(Duration::from_millis(50));
        shutdown.request();
        say(&format!("the waiter saw {}", waiter.join().unwrap()));
        // A signal after it changes nothing: the request was made.
        atexit::signals::install_graceful_for(&[atexit::Signal::Terminate]).unwrap().request();
        say(&format!("requested {:?}", shutdown.requested()));
    }

    /// Item 4: asked by the program, it exits 0.
    pub fn exit_as_requested_by_the_program() {
        let shutdown = Shutdown::new();
        atexit::register(|| say("handler ran"));
        shutdown.request();
        shutdown.exit_as_requested()
    }

    /// Item 5: `install()` after `install_graceful()` keeps graceful mode.
    pub fn install_after_graceful_keeps_graceful_mode() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        atexit::signals::install().unwrap();
        atexit::register(|| say("handler ran"));
        send(libc::SIGTERM);
        say(&format!("asked by {}", shutdown.wait()));
        say("drained");
    }

    /// Item 6: signals whose default action is not to end the process.
    pub fn signals_that_do_not_end_the_process_are_refused() {
        for signal in [libc::SIGWINCH, libc::SIGCHLD, libc::SIGTSTP, libc::SIGCONT, libc::SIGURG] {
            let refused = atexit::signals::install_for(&[atexit::Signal::Other(signal)]).unwrap_err();
            say(&format!("{:?}: {}", refused.kind(), refused.to_string().contains("not to end the process")));
        }
        let refused = atexit::signals::install_graceful_for(&[atexit::Signal::Other(libc::SIGTTIN)]).unwrap_err();
        say(&format!("graceful {:?}", refused.kind()));
    }

    /// Where the closed-stdio scenario writes what its handler saw: named
    /// after the parent (the test), which reads it.
    fn closed_stdio_file(parent: u32) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("atexit-closed-stdio-{parent}"))
    }

    /// Item 7: with stdout and stderr closed, the signal thread's socket
    /// does not take their descriptors: an `eprintln!` does not reach it
    /// (it would be read as a signal, and end the process).
    pub fn closed_stdio_stays_out_of_the_signal_socket() {
        // SAFETY: closing this process's stdout and stderr; nothing of
        // Rust's holds them open.
        unsafe {
            libc::close(1);
            libc::close(2);
        }
        atexit::signals::install().unwrap();
        atexit::register(|| {
            let reason = format!("{:?}", atexit::exit_reason());
            // SAFETY: reads the parent's process id.
            let parent = unsafe { libc::getppid() } as u32;
            let _ = std::fs::File::create(closed_stdio_file(parent)).and_then(|mut f| f.write_all(reason.as_bytes()));
        });
        eprintln!("into nowhere");
        std::thread::sleep(Duration::from_millis(200));
    }

    pub fn closed_stdio_check(_: &std::process::Output) -> Result<(), String> {
        let path = closed_stdio_file(std::process::id());
        let seen = std::fs::read_to_string(&path).map_err(|e| format!("the handler wrote nothing: {e}"))?;
        let _ = std::fs::remove_file(path);
        if seen == "Some(ProcessExit(Some(0)))" { Ok(()) } else { Err(format!("the handler read {seen}")) }
    }

    /// Item 8: a child forked after the parent's request starts without one.
    pub fn a_forked_child_starts_without_the_parents_request() {
        Shutdown::new().request();
        // SAFETY: the child only prints, waits for a signal and exits.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            let shutdown = atexit::signals::install_graceful().unwrap();
            say(&format!("child: requested {:?}", shutdown.requested()));
            send(libc::SIGTERM);
            say(&format!("child: asked by {}", shutdown.wait()));
            std::process::exit(0);
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        say(&format!("child exited {}", libc::WEXITSTATUS(status)));
    }

    /// Item 9: the handlers can tell that a signal asked, after a drain.
    pub fn handlers_tell_which_signal_asked() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        atexit::register(|| {
            say(&format!("asked: {:?}, reason: {:?}", Shutdown::new().requested(), atexit::exit_reason()))
        });
        send(libc::SIGHUP);
        shutdown.wait();
    }

    /// Item 10: a panic in `main`'s future: the async handlers still run on
    /// the application's runtime (a task spawned there answers them), and
    /// then the panic goes on.
    #[atexit::main]
    #[tokio::main]
    pub async fn async_handlers_run_on_the_application_runtime_on_a_panic() -> ExitCode {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        // The "exporter": a task of the application's runtime.
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut span = [0u8; 4];
            stream.read_exact(&mut span).await.unwrap();
            say(&format!("exporter got {}", String::from_utf8_lossy(&span)));
            stream.write_all(b"ok").await.unwrap();
        });
        atexit::register_async(Duration::from_secs(5), move || async move {
            let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
            stream.write_all(b"span").await.unwrap();
            let mut ack = [0u8; 2];
            stream.read_exact(&mut ack).await.unwrap();
            say(&format!("handler done, reason: {:?}", atexit::exit_reason()));
        });
        panic!("main failed")
    }

    /// Item 11: an async handler with a name, a priority and a time limit.
    pub fn async_handlers_take_the_options_registrations_take() {
        atexit::AsyncRegistration::new(|| async {
            say("async handler started");
            std::future::pending::<()>().await
        })
        .name("flush spans")
        .priority(5)
        .time_limit(Duration::from_millis(100))
        .register();
        atexit::register(|| say("sync handler ran"));
    }

    pub fn async_registration_names_its_handler(output: &std::process::Output) -> Result<(), String> {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let said = "atexit: handler `flush spans` did not finish within its time limit of 100ms; dropped";
        if stderr.contains(said) { Ok(()) } else { Err(format!("stderr lacks {said:?}")) }
    }

    // What a hostile user found in the first version: each a defect then.

    /// The `Shutdown` goes with a watcher thread once the signal asked; a
    /// second signal still runs the handlers before the process dies.
    pub fn second_signal_after_the_shutdown_is_gone() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        atexit::register(|| say("handler ran"));
        let watcher = std::thread::spawn(move || say(&format!("watcher saw {}", shutdown.wait())));
        send(libc::SIGTERM);
        watcher.join().unwrap();
        say("draining");
        send(libc::SIGTERM);
        std::thread::sleep(Duration::from_secs(5));
        say("not ended");
    }

    /// `exit_as_requested` inside a handler, while C's exit runs them.
    pub fn exit_as_requested_in_a_handler() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        let in_handler = shutdown.clone();
        atexit::register(|| say("first registered, runs last"));
        atexit::register(move || {
            say("handler asks to die of the signal");
            in_handler.exit_as_requested();
        });
        send(libc::SIGTERM);
        say(&format!("{} asked; drained", shutdown.wait()));
    }

    /// A child of a graceful parent (whose `Shutdown` lives on another
    /// thread) calls `install()`: its signal runs its handlers and kills it.
    pub fn a_forked_child_chooses_its_own_mode() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        std::thread::spawn(move || shutdown.wait());
        // SAFETY: the child installs, registers, and dies of a signal.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            atexit::signals::install().unwrap();
            atexit::register(|| say("child handler ran"));
            send(libc::SIGTERM);
            std::thread::sleep(Duration::from_secs(5));
            say("child not ended");
            std::process::exit(0);
        }
        let mut status = 0;
        // SAFETY: waits for the child just forked.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        say(&format!("child killed by {}", libc::WTERMSIG(status)));
    }

    /// The program asked first (a preStop hook); the first signal then only
    /// asks too.
    pub fn a_signal_after_the_programs_request_only_asks() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        atexit::register(|| say("handler ran"));
        shutdown.request();
        say(&format!("draining after {}", shutdown.wait()));
        send(libc::SIGTERM);
        std::thread::sleep(Duration::from_millis(300));
        say(&format!("drained; requested {:?}", shutdown.requested()));
    }

    /// Many futures alive at once, then all dropped: the memory goes back.
    pub fn waiting_futures_give_their_memory_back() {
        unsafe extern "C" {
            fn malloc_trim(pad: usize) -> i32;
        }
        let shutdown = atexit::signals::install_graceful().unwrap();
        let waker = Waker::from(Arc::new(Noop));
        let mut context = Context::from_waker(&waker);
        // SAFETY: `malloc_trim` gives free memory back; no preconditions.
        unsafe { malloc_trim(0) };
        let before = resident();
        for _ in 0..3 {
            let mut futures: Vec<_> = (0..200_000).map(|_| Box::pin(shutdown.requested_async())).collect();
            for future in &mut futures {
                assert!(future.as_mut().poll(&mut context).is_pending());
            }
        }
        // SAFETY: as above.
        unsafe { malloc_trim(0) };
        say(&format!("kept under 2 MiB: {}", resident().saturating_sub(before) < 2 << 20));
    }

    /// A request of the program's starts no deadline: only a signal, the
    /// orchestrator's clock, does.
    pub fn a_programs_request_starts_no_deadline() {
        atexit::set_deadline(Duration::from_millis(300));
        atexit::register(|| say("handler ran"));
        Shutdown::new().request();
        std::thread::sleep(Duration::from_millis(600));
        say("drained");
    }

    /// A signal number no system has: refused, and nothing installed.
    pub fn an_invalid_signal_installs_nothing() {
        atexit::register(|| say("handler ran"));
        let _handle = Shutdown::new();
        let refused = atexit::signals::install_graceful_for(&[atexit::Signal::Terminate, atexit::Signal::Other(65)]);
        say(&format!("{}", refused.map(|_| ()).unwrap_err()));
        send(libc::SIGTERM);
        std::thread::sleep(Duration::from_secs(5));
        say("not ended");
    }

    /// A handler reads how the process ends and what asked, after a drain
    /// that ends by returning from `main`.
    pub fn handlers_read_the_ending_and_the_cause_after_a_drain() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        atexit::register(|| {
            let cause = atexit::signals::requested();
            say(&format!("{:?} {:?} {:?}", atexit::exit_reason(), atexit::ending(), cause));
        });
        send(libc::SIGTERM);
        shutdown.wait();
        say("drained");
    }

    fn main_that_fails() -> Result<(), &'static str> {
        atexit::register(|| say(&format!("{:?} {:?}", atexit::exit_reason(), atexit::ending())));
        Err("failed")
    }

    /// Under `#[atexit::main]` (what it expands to), `main` returning `Err`
    /// is `MainReturned` with status 1, which a handler can read.
    pub fn main_returning_err_ends_with_status_one() -> ExitCode {
        atexit::__private::run_main(main_that_fails)
    }

    /// `notified()` is the `Future<Output = ()> + Send + 'static` servers
    /// take (axum's `with_graceful_shutdown`), and completes on a request.
    pub fn notified_is_what_servers_drain_on() {
        fn servers_take<F: Future<Output = ()> + Send + 'static>(future: F) -> F {
            future
        }
        let shutdown = atexit::signals::install_graceful().unwrap();
        let notified = servers_take(shutdown.notified());
        drop(shutdown);
        atexit::register(|| say("handler ran"));
        let waiter = std::thread::spawn(move || {
            let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
            let mut notified = std::pin::pin!(notified);
            while notified.as_mut().poll(&mut Context::from_waker(&waker)).is_pending() {
                std::thread::park();
            }
        });
        std::thread::sleep(Duration::from_millis(50));
        // The future alone keeps the first signal a request.
        send(libc::SIGTERM);
        waiter.join().unwrap();
        say(&format!("notified by {:?}", atexit::signals::requested()));
    }

    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    /// A drain bounded by `drain_deadline()` leaves the handlers a quarter
    /// of the deadline, counted from the first signal.
    pub fn a_drain_stopped_at_the_drain_deadline_leaves_the_handlers_their_share() {
        atexit::set_deadline(Duration::from_millis(2000));
        let shutdown = atexit::signals::install_graceful().unwrap();
        atexit::register(|| say("handler ran"));
        say(&format!("before a signal: {:?}", shutdown.drain_deadline()));
        let before = std::time::Instant::now();
        send(libc::SIGTERM);
        shutdown.wait();
        let after = std::time::Instant::now();
        // The clock started at the signal, between `before` and `after`.
        let stop = shutdown.drain_deadline().unwrap();
        let share = Duration::from_millis(1500);
        say(&format!("stops draining 1.5 s after the signal: {}", stop >= before + share && stop <= after + share));
    }

    /// A drain that outlasts the deadline: the message says so.
    pub fn a_drain_past_the_deadline_is_named() {
        atexit::set_deadline(Duration::from_millis(300));
        let shutdown = atexit::signals::install_graceful().unwrap();
        atexit::register(|| say("handler ran"));
        send(libc::SIGTERM);
        shutdown.wait();
        std::thread::sleep(Duration::from_secs(5));
        say("not ended");
    }

    /// A waiting future whose replaced waker owns another waiting future:
    /// dropping it (that future's `Drop` uses the waiters) must not happen
    /// under the exit state's lock, which the exit needs.
    pub fn a_waker_that_owns_a_waiting_future_is_replaced() {
        struct Owner(#[allow(dead_code)] std::sync::Mutex<Option<std::pin::Pin<Box<atexit::signals::Requested>>>>);
        impl Wake for Owner {
            fn wake(self: Arc<Self>) {}
        }
        atexit::set_deadline(Duration::from_millis(2000));
        atexit::register(|| say("handler ran"));
        let shutdown = Shutdown::new();
        let noop = Waker::from(Arc::new(Noop));
        let mut inner = Box::pin(shutdown.requested_async());
        assert!(inner.as_mut().poll(&mut Context::from_waker(&noop)).is_pending());
        let owner = Waker::from(Arc::new(Owner(std::sync::Mutex::new(Some(inner)))));
        let mut outer = Box::pin(shutdown.requested_async());
        assert!(outer.as_mut().poll(&mut Context::from_waker(&owner)).is_pending());
        // The waiters now hold the owner's last reference; polling with
        // another waker replaces it.
        drop(owner);
        let _ = outer.as_mut().poll(&mut Context::from_waker(&noop));
        say("polled again");
    }

    /// A waker whose `clone` reads the exit state, as a runtime's may.
    pub fn a_waker_that_reads_the_exit_state_when_cloned() {
        fn clone(data: *const ()) -> std::task::RawWaker {
            let _ = atexit::exit_reason();
            std::task::RawWaker::new(data, &VTABLE)
        }
        fn noop(_: *const ()) {}
        static VTABLE: std::task::RawWakerVTable = std::task::RawWakerVTable::new(clone, noop, noop, noop);
        // SAFETY: the vtable's functions do nothing with the data pointer.
        let waker = unsafe { Waker::from_raw(std::task::RawWaker::new(std::ptr::null(), &VTABLE)) };
        let shutdown = Shutdown::new();
        let mut future = Box::pin(shutdown.requested_async());
        assert!(future.as_mut().poll(&mut Context::from_waker(&waker)).is_pending());
        say("polled");
    }

    /// `exit_as_requested()` from a helper thread that a handler joins: the
    /// helper unwinds (an exit racing the run), as with `atexit::exit`.
    pub fn exit_as_requested_from_a_helper_a_handler_joins() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        atexit::register(|| say("first ran"));
        let theirs = shutdown.clone();
        atexit::register(move || {
            let helper = std::thread::spawn(move || theirs.exit_as_requested());
            say(&format!("helper joined: unwound {}", helper.join().is_err()));
        });
        send(libc::SIGTERM);
        say(&format!("requested by {}", shutdown.wait()));
    }

    /// `end_with` a status, then `main` returns: the handlers run, and
    /// read the ending asked for.
    pub fn end_with_a_status_then_main_returns() {
        atexit::register(|| say(&format!("{:?} {:?}", atexit::exit_reason(), atexit::ending())));
        atexit::end_with(atexit::Ending::Status(3));
    }

    /// After a drain, `end_with(requested_ending())` and return: the
    /// handlers run, then the process dies of the signal that asked.
    pub fn end_with_the_requested_ending_after_a_drain() {
        let shutdown = atexit::signals::install_graceful().unwrap();
        atexit::register(|| say(&format!("handler ran, ending {:?}", atexit::ending())));
        send(libc::SIGTERM);
        shutdown.wait();
        atexit::end_with(shutdown.requested_ending());
        say("drained");
    }

    /// An exit that names its own ending is not overridden.
    pub fn atexit_exit_after_end_with_keeps_its_status() {
        atexit::register(|| say("handler ran"));
        atexit::end_with(atexit::Ending::Status(3));
        atexit::exit(4)
    }

    /// A failure is not hidden by `end_with`: a panic out of `main` after
    /// asking for status 0 still ends with 101.
    pub fn a_panic_after_end_with_still_fails() {
        main_that_panics_after_end_with();
    }

    fn main_that_panics_after_end_with() {
        std::panic::set_hook(Box::new(|_| {}));
        atexit::register(|| say(&format!("handler reads {:?}", atexit::ending())));
        atexit::end_with(atexit::Ending::Status(0));
        panic!("main fails");
    }

    /// The same under `#[atexit::main]` (what it expands to).
    pub fn a_panic_after_end_with_under_atexit_main_still_fails() -> ExitCode {
        atexit::__private::run_main(main_that_panics_after_end_with)
    }

    fn main_that_ends_with_a_signal() {
        atexit::register(|| print!("handler's last words, no newline"));
        print!("progress: 100%");
        atexit::end_with(atexit::Ending::Signal(atexit::Signal::Terminate));
    }

    /// `end_with` a signal under `#[atexit::main]`: what was printed
    /// without a newline is flushed before the process dies of it.
    pub fn end_with_a_signal_under_atexit_main_flushes_stdout() -> ExitCode {
        atexit::__private::run_main(main_that_ends_with_a_signal)
    }

    /// The program asks first (a health check), then the orchestrator's
    /// SIGTERM comes: the deadline counts from that signal.
    pub fn a_signal_after_the_programs_request_starts_the_deadline() {
        atexit::set_deadline(Duration::from_millis(2000));
        let shutdown = atexit::signals::install_graceful().unwrap();
        shutdown.request();
        say(&format!("after the request: {:?}", shutdown.drain_deadline()));
        send(libc::SIGTERM);
        std::thread::sleep(Duration::from_millis(100));
        say(&format!("after the signal: {}", shutdown.drain_deadline().is_some()));
    }

    /// `end_with` a signal that would stop the process, or no signal at
    /// all: refused, said on stderr, and the process ends as it would have.
    pub fn end_with_a_signal_that_does_not_end_the_process_is_refused() {
        atexit::register(|| say(&format!("handler reads {:?}", atexit::ending())));
        atexit::end_with(atexit::Ending::Signal(atexit::Signal::Other(libc::SIGSTOP)));
        atexit::end_with(atexit::Ending::Signal(atexit::Signal::Other(0)));
    }

    /// Signals are named in errors and by `Display`.
    pub fn signals_are_named() {
        let refused = atexit::signals::install_for(&[atexit::Signal::Other(libc::SIGWINCH)]).unwrap_err();
        say(&refused.to_string());
        say(&format!("{} {}", atexit::Signal::Other(libc::SIGTERM), atexit::Signal::Other(libc::SIGALRM)));
    }
}

#[cfg(unix)]
fn all() -> Vec<common::Case> {
    use common::Status::{Code, Signal};
    use common::{Expect, case, expect, main_case};
    use scenarios::*;
    vec![
        case(
            "waiting_futures_leave_nothing_when_dropped",
            waiting_futures_leave_nothing_when_dropped,
            expect("grew under 2 MiB: true\n", Code(0)),
        ),
        case(
            "a_drain_stopped_at_the_drain_deadline_leaves_the_handlers_their_share",
            a_drain_stopped_at_the_drain_deadline_leaves_the_handlers_their_share,
            expect("before a signal: None\nstops draining 1.5 s after the signal: true\nhandler ran\n", Code(0)),
        ),
        case(
            "a_drain_past_the_deadline_is_named",
            a_drain_past_the_deadline_is_named,
            Expect {
                stderr_has: &["exit deadline of 300ms passed while the program was still draining"],
                ..expect("", Code(124))
            },
        ),
        case(
            "a_waker_that_owns_a_waiting_future_is_replaced",
            a_waker_that_owns_a_waiting_future_is_replaced,
            expect("polled again\nhandler ran\n", Code(0)),
        ),
        case(
            "a_waker_that_reads_the_exit_state_when_cloned",
            a_waker_that_reads_the_exit_state_when_cloned,
            expect("polled\n", Code(0)),
        ),
        case(
            "exit_as_requested_from_a_helper_a_handler_joins",
            exit_as_requested_from_a_helper_a_handler_joins,
            expect("requested by SIGTERM\nhelper joined: unwound true\nfirst ran\n", Code(0)),
        ),
        case(
            "a_panic_after_end_with_still_fails",
            a_panic_after_end_with_still_fails,
            expect("handler reads Some(Status(101))\n", Code(101)),
        ),
        main_case(
            "a_panic_after_end_with_under_atexit_main_still_fails",
            a_panic_after_end_with_under_atexit_main_still_fails,
            expect("handler reads Some(Status(101))\n", Code(101)),
        ),
        main_case(
            "end_with_a_signal_under_atexit_main_flushes_stdout",
            end_with_a_signal_under_atexit_main_flushes_stdout,
            expect("progress: 100%handler's last words, no newline", Signal(libc::SIGTERM)),
        ),
        case(
            "a_signal_after_the_programs_request_starts_the_deadline",
            a_signal_after_the_programs_request_starts_the_deadline,
            expect("after the request: None\nafter the signal: true\n", Code(0)),
        ),
        case(
            "end_with_a_signal_that_does_not_end_the_process_is_refused",
            end_with_a_signal_that_does_not_end_the_process_is_refused,
            Expect {
                stderr_has: &["atexit: end_with(SIGSTOP) ignored", "atexit: end_with(signal 0) ignored"],
                ..expect("handler reads Some(Status(0))\n", Code(0))
            },
        ),
        case(
            "end_with_a_status_then_main_returns",
            end_with_a_status_then_main_returns,
            expect("Some(ProcessExit(Some(0))) Some(Status(3))\n", Code(3)),
        ),
        case(
            "end_with_the_requested_ending_after_a_drain",
            end_with_the_requested_ending_after_a_drain,
            expect("drained\nhandler ran, ending Some(Signal(Terminate))\n", Signal(libc::SIGTERM)),
        ),
        case(
            "atexit_exit_after_end_with_keeps_its_status",
            atexit_exit_after_end_with_keeps_its_status,
            expect("handler ran\n", Code(4)),
        ),
        case(
            "handlers_read_the_ending_and_the_cause_after_a_drain",
            handlers_read_the_ending_and_the_cause_after_a_drain,
            expect("drained\nSome(ProcessExit(Some(0))) Some(Status(0)) Some(Signal(Terminate))\n", Code(0)),
        ),
        main_case(
            "main_returning_err_ends_with_status_one",
            main_returning_err_ends_with_status_one,
            Expect { stderr_has: &["Error: \"failed\""], ..expect("Some(MainReturned) Some(Status(1))\n", Code(1)) },
        ),
        case(
            "notified_is_what_servers_drain_on",
            notified_is_what_servers_drain_on,
            expect("notified by Some(Signal(Terminate))\nhandler ran\n", Code(0)),
        ),
        case(
            "the_program_requests_shutdown",
            the_program_requests_shutdown,
            expect("the waiter saw the program\nrequested Some(Program)\n", Code(0)),
        ),
        case("exit_as_requested_by_the_program", exit_as_requested_by_the_program, expect("handler ran\n", Code(0))),
        case(
            "install_after_graceful_keeps_graceful_mode",
            install_after_graceful_keeps_graceful_mode,
            expect("asked by SIGTERM\ndrained\nhandler ran\n", Code(0)),
        ),
        case(
            "signals_that_do_not_end_the_process_are_refused",
            signals_that_do_not_end_the_process_are_refused,
            expect(
                "InvalidInput: true\nInvalidInput: true\nInvalidInput: true\nInvalidInput: true\nInvalidInput: true\n\
                 graceful InvalidInput\n",
                Code(0),
            ),
        ),
        case(
            "closed_stdio_stays_out_of_the_signal_socket",
            closed_stdio_stays_out_of_the_signal_socket,
            Expect { check: Some(closed_stdio_check), ..expect("", Code(0)) },
        ),
        case(
            "a_forked_child_starts_without_the_parents_request",
            a_forked_child_starts_without_the_parents_request,
            expect("child: requested None\nchild: asked by SIGTERM\nchild exited 0\n", Code(0)),
        ),
        case(
            "handlers_tell_which_signal_asked",
            handlers_tell_which_signal_asked,
            expect("asked: Some(Signal(Hangup)), reason: Some(ProcessExit(Some(0)))\n", Code(0)),
        ),
        main_case(
            "async_handlers_run_on_the_application_runtime_on_a_panic",
            async_handlers_run_on_the_application_runtime_on_a_panic,
            Expect {
                stderr_has: &["main failed"],
                ..expect("exporter got span\nhandler done, reason: Some(MainPanicked)\n", Code(101))
            },
        ),
        case(
            "async_handlers_take_the_options_registrations_take",
            async_handlers_take_the_options_registrations_take,
            Expect {
                check: Some(async_registration_names_its_handler),
                ..expect("async handler started\nsync handler ran\n", Code(0))
            },
        ),
        case(
            "second_signal_after_the_shutdown_is_gone",
            second_signal_after_the_shutdown_is_gone,
            expect("watcher saw SIGTERM\ndraining\nhandler ran\n", Signal(libc::SIGTERM)),
        ),
        case(
            "exit_as_requested_in_a_handler",
            exit_as_requested_in_a_handler,
            expect(
                "SIGTERM asked; drained\nhandler asks to die of the signal\nfirst registered, runs last\n",
                Signal(libc::SIGTERM),
            ),
        ),
        case(
            "a_forked_child_chooses_its_own_mode",
            a_forked_child_chooses_its_own_mode,
            expect("child handler ran\nchild killed by 15\n", Code(0)),
        ),
        case(
            "a_signal_after_the_programs_request_only_asks",
            a_signal_after_the_programs_request_only_asks,
            expect("draining after the program\ndrained; requested Some(Program)\nhandler ran\n", Code(0)),
        ),
        case(
            "waiting_futures_give_their_memory_back",
            waiting_futures_give_their_memory_back,
            expect("kept under 2 MiB: true\n", Code(0)),
        ),
        case(
            "a_programs_request_starts_no_deadline",
            a_programs_request_starts_no_deadline,
            expect("drained\nhandler ran\n", Code(0)),
        ),
        case(
            "an_invalid_signal_installs_nothing",
            an_invalid_signal_installs_nothing,
            expect("atexit::signals cannot handle signal 65: no signal has that number\n", Signal(libc::SIGTERM)),
        ),
        case(
            "signals_are_named",
            signals_are_named,
            expect(
                "atexit::signals cannot handle SIGWINCH (signal 28): its default action is not to end the process\n\
                 SIGTERM SIGALRM\n",
                Code(0),
            ),
        ),
    ]
}

#[cfg(not(unix))]
fn all() -> Vec<common::Case> {
    Vec::new()
}

fn main() -> ExitCode {
    common::run(all())
}
