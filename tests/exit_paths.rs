//! Exit behaviour of the runtime, proven in child processes (see
//! `common/mod.rs`). `cargo test --test exit_paths -- NAME` runs the
//! scenarios whose name contains NAME.

mod common;

use common::{Case, Expect, Status, case, expect};
use std::process::ExitCode;

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

fn all() -> Vec<Case> {
    use Status::*;
    use scenarios::*;
    const NO_PANIC: &[&str] = &["panicked"];
    vec![
        case(
            "main_returns",
            main_returns,
            Expect { stderr_lacks: NO_PANIC, ..expect("main done\nc\nb\na\n", Code(0)) },
        ),
        case("process_exit_keeps_status", process_exit_keeps_status, expect("handler ran\n", Code(7))),
        case(
            "process_exit_from_worker_thread",
            process_exit_from_worker_thread,
            expect("handler ran on worker\n", Code(3)),
        ),
        case(
            "four_threads_exit_at_once",
            four_threads_exit_at_once,
            expect("third\nsecond\nfirst\n", OneOf(&[10, 11, 12, 13])),
        ),
        case(
            "atexit_exit_keeps_thread_locals",
            atexit_exit_keeps_thread_locals,
            Expect { stderr_lacks: NO_PANIC, ..expect("flushing [\"last words\"]\n", Code(5)) },
        ),
        case(
            "process_exit_loses_thread_locals",
            process_exit_loses_thread_locals,
            Expect {
                stderr_has: &["atexit: exit handler `exit_paths::scenarios::flush_pending` panicked"],
                ..expect("other handler ran\n", Code(0))
            },
        ),
        case(
            "exit_inside_handler_after_main_returns",
            exit_inside_handler_after_main_returns,
            Expect {
                stderr_lacks: NO_PANIC,
                ..expect("exiting handler calls exit(9)\nexiting handler unwound\nearlier handler ran\n", Code(9))
            },
        ),
        case(
            "exit_inside_handler_after_atexit_exit",
            exit_inside_handler_after_atexit_exit,
            Expect {
                stderr_lacks: NO_PANIC,
                ..expect("exiting handler calls exit(9)\nexiting handler unwound\nearlier handler ran\n", Code(9))
            },
        ),
        case(
            "exit_inside_handler_during_run_exitfuncs",
            exit_inside_handler_during_run_exitfuncs,
            Expect {
                stderr_lacks: NO_PANIC,
                ..expect("exiting handler calls exit(9)\nexiting handler unwound\nearlier handler ran\n", Code(9))
            },
        ),
        case(
            "panic_in_main",
            panic_in_main,
            Expect { stderr_has: &["main failed"], ..expect("handler ran\n", Code(101)) },
        ),
        case(
            "panicking_handler_is_named",
            panicking_handler_is_named,
            Expect {
                stderr_has: &["atexit: exit handler `flush logs` panicked: disk full"],
                ..expect("registered last, runs first\nregistered first, runs last\n", Code(0))
            },
        ),
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
        case("abort_runs_none", abort_runs_none, expect("", Signal(libc::SIGABRT))),
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
        case(
            "process_exit_inside_handler_aborts",
            process_exit_inside_handler_aborts,
            Expect { stderr_has: &["std::process::exit called re-entrantly"], ..expect("", Signal(libc::SIGABRT)) },
        ),
        case("priorities_order_the_exit", priorities_order_the_exit, expect("high\ndefault\nlow\n", Code(0))),
    ]
}

fn main() -> ExitCode {
    common::run(all())
}
