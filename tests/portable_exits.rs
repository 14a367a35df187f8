//! The exit paths every platform has, proven in child processes (see
//! `common/mod.rs`) on Linux by `cargo test`, and on Windows by
//! `scripts/windows-check.sh`, which runs this same test built for
//! `x86_64-pc-windows-gnu` under Wine. Where Windows differs, the case says
//! so: those expectations are what the README's Windows column reports.

mod common;

use std::cell::RefCell;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::{Case, Expect, Status, case, expect, main_case};

fn say(s: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{s}");
    let _ = out.flush();
}

/// `linux` where C's `exit` runs the handlers, `windows` where
/// `std::process::exit` (`ExitProcess`) skips them.
fn per_platform(linux: &'static str, windows: &'static str) -> &'static str {
    if cfg!(windows) { windows } else { linux }
}

fn main_returns() {
    atexit::register(|| say("first registered"));
    atexit::register(|| say("last registered"));
    say("main done");
}

fn process_exit() {
    atexit::register(|| say("handler ran"));
    std::process::exit(7);
}

fn process_exit_from_a_thread() {
    atexit::register(|| say("handler ran"));
    let _ = std::thread::spawn(|| std::process::exit(9)).join();
}

fn atexit_exit() {
    atexit::register(|| say("handler ran"));
    atexit::exit(5);
}

fn panic_in_main() {
    atexit::register(|| say("handler ran"));
    panic!("main failed");
}

thread_local! {
    static PENDING: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

#[atexit::main]
fn atexit_main_keeps_thread_locals() {
    atexit::register(|| PENDING.with(|p| say(&format!("flushing {:?}", p.borrow()))));
    PENDING.with(|p| p.borrow_mut().push("from main"));
}

fn run_exitfuncs_then_exit() {
    atexit::register(|| say("runs in run_exitfuncs"));
    atexit::run_exitfuncs().unwrap();
    atexit::register(|| say("runs at exit"));
}

fn deadline_overrun() {
    atexit::set_deadline(Duration::from_millis(300));
    atexit::Registration::new(|| std::thread::sleep(Duration::from_secs(30))).name("stuck").register();
}

fn trace() {
    atexit::Registration::new(|| say("traced")).name("traced handler").register();
}

static LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());
static STARTED: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// The exiting thread holds the log's lock; the flush needs it.
fn time_limit_leaves_a_handler_behind() {
    STARTED.get_or_init(Instant::now);
    atexit::register(|| {
        let in_time = STARTED.get().unwrap().elapsed() < Duration::from_secs(1);
        say(&format!("registered before the flush: runs, in time {in_time}"));
    });
    atexit::Registration::new(|| say(&format!("flushed {} lines", LOG.lock().unwrap().len())))
        .name("flush log")
        .time_limit(Duration::from_millis(200))
        .register();
    let _held = LOG.lock().unwrap();
    atexit::exit(3);
}

fn async_handler() {
    atexit::register(|| say("sync handler, registered first"));
    atexit::register_async(Duration::from_secs(5), || async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        say("async handler slept and ran");
    });
    atexit::exit(4);
}

fn all() -> Vec<Case> {
    use Status::*;
    vec![
        case("main_returns", main_returns, expect("main done\nlast registered\nfirst registered\n", Code(0))),
        case("process_exit", process_exit, expect(per_platform("handler ran\n", ""), Code(7))),
        case(
            "process_exit_from_a_thread",
            process_exit_from_a_thread,
            expect(per_platform("handler ran\n", ""), Code(9)),
        ),
        case("atexit_exit", atexit_exit, expect("handler ran\n", Code(5))),
        case("panic_in_main", panic_in_main, expect("handler ran\n", Code(101))),
        main_case(
            "atexit_main_keeps_thread_locals",
            atexit_main_keeps_thread_locals,
            expect("flushing [\"from main\"]\n", Code(0)),
        ),
        case(
            "run_exitfuncs_then_exit",
            run_exitfuncs_then_exit,
            expect("runs in run_exitfuncs\nruns at exit\n", Code(0)),
        ),
        case(
            "deadline_overrun",
            deadline_overrun,
            Expect {
                stderr_has: &["atexit: exit deadline of 300ms passed while handler `stuck` was running"],
                ..expect("", Code(atexit::DEADLINE_EXIT_STATUS))
            },
        ),
        case(
            "trace",
            trace,
            Expect { stderr_has: &["atexit: trace: `traced handler` ok in "], ..expect("traced\n", Code(0)) },
        )
        .env(&[("ATEXIT_TRACE", "1")]),
        case(
            "time_limit_leaves_a_handler_behind",
            time_limit_leaves_a_handler_behind,
            Expect {
                stderr_has: &["atexit: handler `flush log` did not finish within its time limit of 200ms"],
                ..expect("registered before the flush: runs, in time true\n", Code(3))
            },
        ),
        case(
            "async_handler",
            async_handler,
            expect("async handler slept and ran\nsync handler, registered first\n", Code(4)),
        ),
    ]
}

fn main() -> ExitCode {
    common::run(all())
}
