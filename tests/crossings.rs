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
    /// the helper is ended, the status is 3, the rest run.
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

    /// The default time limit applies to an async handler awaited on the
    /// application's runtime too.
    #[atexit::main]
    #[tokio::main]
    pub async fn default_limit_on_the_applications_runtime() {
        atexit::set_handler_time_limit(Duration::from_millis(300));
        atexit::register(|| say("rest ran"));
        atexit::AsyncRegistration::new(std::future::pending::<()>).name("pending forever").register();
    }
}

#[cfg(unix)]
fn all() -> Vec<Case> {
    use common::Status::Code;
    use scenarios::*;
    const NO_PANIC: &[&str] = &["panicked"];
    vec![
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
                ..expect("helper joined: ended by its exit\nruns after the helper's exit\n", Code(3))
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
                ..expect("helper joined: ended by its exit\nruns after the helper's exit\n", Code(3))
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
