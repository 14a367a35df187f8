//! Exit behaviour, proven in child processes.
//!
//! This test binary is its own child program: run with `ATEXIT_SCENARIO=name`
//! it plays that scenario as a real program (registers handlers, then ends
//! the way the scenario says); run without it, it is the parent, which runs
//! every scenario in a fresh process and checks its stdout, stderr and exit
//! status. `cargo test --test exit_paths -- NAME` runs the scenarios whose
//! name contains NAME.

use std::process::{Command, ExitCode, Output};

mod scenarios {
    use std::cell::RefCell;
    use std::sync::{Arc, Barrier};
    use std::thread;
    use std::time::Duration;

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
        atexit::register(|| say(&format!("handler ran on {}", thread::current().name().unwrap_or("?"))));
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

    pub fn process_exit_loses_thread_locals() {
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

    pub fn process_exit_inside_handler_aborts() {
        atexit::register(|| say("earlier handler"));
        atexit::register(|| std::process::exit(4));
    }

    pub fn priorities_order_the_exit() {
        atexit::Registration::new(|| say("low")).priority(-1).register();
        atexit::register(|| say("default"));
        atexit::Registration::new(|| say("high")).priority(1).register();
    }
}

/// What a scenario must show.
struct Expect {
    stdout: &'static str,
    /// Lines that stderr must contain.
    stderr_has: &'static [&'static str],
    stderr_lacks: &'static [&'static str],
    status: Status,
}

#[derive(Debug, PartialEq, Clone, Copy)]
enum Status {
    Code(i32),
    /// Any of these codes (racing threads).
    OneOf(&'static [i32]),
    Signal(i32),
}

const fn expect(stdout: &'static str, status: Status) -> Expect {
    Expect { stdout, stderr_has: &[], stderr_lacks: &[], status }
}

type Scenario = (&'static str, fn(), Expect);

fn all() -> Vec<Scenario> {
    use Status::*;
    use scenarios::*;
    const NO_PANIC: &[&str] = &["panicked"];
    vec![
        ("main_returns", main_returns, Expect { stderr_lacks: NO_PANIC, ..expect("main done\nc\nb\na\n", Code(0)) }),
        ("process_exit_keeps_status", process_exit_keeps_status, expect("handler ran\n", Code(7))),
        (
            "process_exit_from_worker_thread",
            process_exit_from_worker_thread,
            expect("handler ran on worker\n", Code(3)),
        ),
        (
            "four_threads_exit_at_once",
            four_threads_exit_at_once,
            expect("third\nsecond\nfirst\n", OneOf(&[10, 11, 12, 13])),
        ),
        (
            "atexit_exit_keeps_thread_locals",
            atexit_exit_keeps_thread_locals,
            Expect { stderr_lacks: NO_PANIC, ..expect("flushing [\"last words\"]\n", Code(5)) },
        ),
        (
            "process_exit_loses_thread_locals",
            process_exit_loses_thread_locals,
            Expect {
                stderr_has: &["atexit: exit handler `exit_paths::scenarios::flush_pending` panicked"],
                ..expect("other handler ran\n", Code(0))
            },
        ),
        (
            "exit_inside_handler_after_main_returns",
            exit_inside_handler_after_main_returns,
            Expect {
                stderr_lacks: NO_PANIC,
                ..expect("exiting handler calls exit(9)\nexiting handler unwound\nearlier handler ran\n", Code(9))
            },
        ),
        (
            "exit_inside_handler_after_atexit_exit",
            exit_inside_handler_after_atexit_exit,
            Expect {
                stderr_lacks: NO_PANIC,
                ..expect("exiting handler calls exit(9)\nexiting handler unwound\nearlier handler ran\n", Code(9))
            },
        ),
        (
            "exit_inside_handler_during_run_exitfuncs",
            exit_inside_handler_during_run_exitfuncs,
            Expect {
                stderr_lacks: NO_PANIC,
                ..expect("exiting handler calls exit(9)\nexiting handler unwound\nearlier handler ran\n", Code(9))
            },
        ),
        ("panic_in_main", panic_in_main, Expect { stderr_has: &["main failed"], ..expect("handler ran\n", Code(101)) }),
        (
            "panicking_handler_is_named",
            panicking_handler_is_named,
            Expect {
                stderr_has: &["atexit: exit handler `flush logs` panicked: disk full"],
                ..expect("registered last, runs first\nregistered first, runs last\n", Code(0))
            },
        ),
        (
            "handler_registered_during_exit_runs",
            handler_registered_during_exit_runs,
            expect("top registers another\nregistered during exit\nbottom\n", Code(0)),
        ),
        (
            "handler_unregistered_during_exit_does_not_run",
            handler_unregistered_during_exit_does_not_run,
            expect("removed 1\n", Code(0)),
        ),
        ("abort_runs_none", abort_runs_none, expect("", Signal(libc::SIGABRT))),
        (
            "run_exitfuncs_then_exit_runs_each_once",
            run_exitfuncs_then_exit_runs_each_once,
            expect("early\npending 1\nlate\n", Code(0)),
        ),
        (
            "unregistered_and_cleared_handlers_do_not_run",
            unregistered_and_cleared_handlers_do_not_run,
            expect("unregistered 2\nhandle true\nkept\n", Code(0)),
        ),
        ("clear_drops_everything", clear_drops_everything, expect("pending 0\n", Code(0))),
        (
            "is_exiting_only_while_handlers_run",
            is_exiting_only_while_handlers_run,
            expect("in main: false\nin handler: true\n", Code(0)),
        ),
        ("registered_from_a_thread_runs", registered_from_a_thread_runs, expect("from main\nfrom thread\n", Code(0))),
        (
            "process_exit_inside_handler_aborts",
            process_exit_inside_handler_aborts,
            Expect { stderr_has: &["std::process::exit called re-entrantly"], ..expect("", Signal(libc::SIGABRT)) },
        ),
        ("priorities_order_the_exit", priorities_order_the_exit, expect("high\ndefault\nlow\n", Code(0))),
    ]
}

#[cfg(unix)]
fn status_of(output: &Output) -> Option<Status> {
    use std::os::unix::process::ExitStatusExt;
    match (output.status.code(), output.status.signal()) {
        (Some(code), _) => Some(Status::Code(code)),
        (None, Some(signal)) => Some(Status::Signal(signal)),
        _ => None,
    }
}

#[cfg(not(unix))]
fn status_of(output: &Output) -> Option<Status> {
    output.status.code().map(Status::Code)
}

fn check(expect: &Expect, output: &Output) -> Result<(), String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut problems = Vec::new();
    if stdout != expect.stdout {
        problems.push(format!("stdout was {stdout:?}, expected {:?}", expect.stdout));
    }
    let status = status_of(output);
    let status_ok = match (expect.status, status) {
        (Status::OneOf(codes), Some(Status::Code(c))) => codes.contains(&c),
        (wanted, got) => Some(wanted) == got,
    };
    if !status_ok {
        problems.push(format!("status was {status:?}, expected {:?}", expect.status));
    }
    for needle in expect.stderr_has {
        if !stderr.contains(needle) {
            problems.push(format!("stderr lacks {needle:?}"));
        }
    }
    for needle in expect.stderr_lacks {
        if stderr.contains(needle) {
            problems.push(format!("stderr has {needle:?}"));
        }
    }
    if problems.is_empty() { Ok(()) } else { Err(format!("{}\n  stderr: {stderr:?}", problems.join("\n  "))) }
}

fn main() -> ExitCode {
    let scenarios = all();
    if let Ok(name) = std::env::var("ATEXIT_SCENARIO") {
        let (_, play, _) = scenarios.iter().find(|(n, _, _)| *n == name).expect("unknown scenario");
        play();
        return ExitCode::SUCCESS;
    }
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let exe = std::env::current_exe().expect("own path");
    let (mut passed, mut failed) = (0, 0);
    for (name, _, expect) in &scenarios {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        let output = Command::new(&exe).env("ATEXIT_SCENARIO", name).output().expect("spawn child");
        match check(expect, &output) {
            Ok(()) => {
                passed += 1;
                println!("exit path {name} ... ok");
            }
            Err(why) => {
                failed += 1;
                println!("exit path {name} ... FAILED\n  {why}");
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
