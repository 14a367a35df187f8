//! The macros at exit, proven in child processes (see `common/mod.rs`):
//! `#[atexit::register]` static handlers with and without runtime ones,
//! `register!` with positional and keyword arguments, and `#[atexit::main]`.
//!
//! The static handlers below are part of every scenario of this binary, as
//! statics are part of every run of a program; each scenario's expected
//! output therefore ends with them, in their documented order.

mod common;

use std::cell::RefCell;
use std::process::ExitCode;

use atexit::prelude::*;
use common::{Case, Expect, Status, case, expect, main_case};

fn say(s: &str) {
    println!("{s}");
}

#[atexit::register]
fn static_a() {
    say("static a");
}

#[atexit::register]
fn static_b() {
    say("static b");
}

#[atexit::register(priority = 10)]
fn static_high() {
    say("static high");
}

#[atexit::register(priority = -10, name = "the low one")]
fn static_low() {
    say("static low");
}

fn in_panicking_scenario() -> bool {
    std::env::var("ATEXIT_SCENARIO").as_deref() == Ok("a_panicking_static_is_reported_by_name")
}

/// Silent, except in the scenario that shows a panicking static handler.
#[atexit::register(priority = -20, name = "flaky static")]
fn flaky_static() {
    if in_panicking_scenario() {
        panic!("static failure");
    }
}

/// The same, named by its path.
#[atexit::register(priority = -20)]
fn flaky_unnamed_static() {
    if in_panicking_scenario() {
        panic!("unnamed static failure");
    }
}

mod later_module {
    #[atexit::register]
    fn static_in_later_module() {
        super::say("static in later module");
    }
}

// A runtime registration made before `main`, perhaps before the static
// handlers of this binary are submitted: it still counts as a runtime one,
// and every static handler still runs.
ctor::declarative::ctor! {
    #[ctor(unsafe)]
    fn register_before_main() {
        atexit::register(|| say("registered in a constructor"));
    }
}

/// The static handlers' part of every run, in exit order: by priority; at
/// equal priority after runtime handlers (the constructor's is the oldest of
/// those); the modules in the order the hashes of their paths give (here,
/// this file's before `later_module`'s), and within one, the later line first.
const STATICS_HIGH: &str = "static high\n";
const STATICS_DEFAULT: &str = "registered in a constructor\nstatic b\nstatic a\nstatic in later module\n";
const STATICS_LOW: &str = "static low\n";

fn only_statics() {}

fn statics_with_runtime_handlers() {
    atexit::Registration::new(|| say("runtime low")).priority(-10).register();
    atexit::register(|| say("runtime 1"));
    atexit::Registration::new(|| say("runtime high")).priority(10).register();
    atexit::register(|| say("runtime 2"));
}

fn statics_are_counted_callable_and_unregistrable() {
    say(&format!("pending {}", atexit::ncallbacks()));
    static_a();
    say(&format!("unregistered {}", atexit::unregister(static_a)));
    say(&format!("pending {}", atexit::ncallbacks()));
}

fn a_panicking_static_is_reported_by_name() {}

#[atexit::handler]
fn goodbye(name: &str, adjective: &str) {
    say(&format!("Goodbye {name}, it was {adjective} to meet you."));
}

#[atexit::handler]
fn tally(label: String, count: u32) {
    say(&format!("{label}: {count}"));
}

fn register_positional_and_keywords() {
    register!(goodbye, "Donny", "nice");
    register!(goodbye, adjective = "nice", name = "Walter");
    register!(goodbye, "Maude", adjective = "a pleasure");
    let mut label = String::from("evaluated at registration");
    let handle = register!(tally, label.clone(), count = 1);
    label.push_str(", not at exit");
    say(&format!("handle pending {}", handle.is_pending()));
}

fn unregister_removes_every_register_call() {
    register!(goodbye, "Donny", "nice");
    register!(goodbye, adjective = "nice", name = "Walter");
    let kept = register!(tally, "kept".to_string(), 2);
    register!(tally, "removed".to_string(), 3).unregister();
    say(&format!("unregistered {}", atexit::unregister(goodbye)));
    say(&format!("kept pending {}", kept.is_pending()));
}

#[atexit::handler]
fn failing(reason: &str, code: u32) {
    panic!("{reason} {code}");
}

/// A handler `register!` binds arguments to is reported under the path of
/// the function it calls, as `atexit::register(failing)` would be.
fn register_bang_handlers_are_named_after_their_function() {
    register!(failing, "positional", 1);
    register!(failing, reason = "by keyword", code = 2);
    register!(failing, "positional", code = 3);
}

fn register_bang_with_closures_and_no_arguments() {
    register!(|| say("closure, no arguments"));
    register!(|a: i32, b: i32| say(&format!("closure {a} + {b} = {}", a + b)), 2, 3);
    register!(static_a);
}

thread_local! {
    static PENDING: RefCell<Vec<&'static str>> = const { RefCell::new(Vec::new()) };
}

fn flush_pending() {
    PENDING.with(|p| say(&format!("flushing {:?}", p.borrow())));
}

#[atexit::main]
fn main_returns_with_thread_locals() {
    atexit::register(flush_pending);
    PENDING.with(|p| p.borrow_mut().push("from main"));
}

#[atexit::main]
fn main_panics_with_thread_locals() {
    atexit::register(flush_pending);
    PENDING.with(|p| p.borrow_mut().push("before the panic"));
    panic!("main failed");
}

#[derive(Debug)]
struct AppError;

#[atexit::main]
fn main_returns_err() -> Result<(), AppError> {
    atexit::register(|| say("handler after the error"));
    Err(AppError)
}

#[atexit::main]
fn main_returns_exit_code() -> ExitCode {
    atexit::register(|| say("handler ran"));
    ExitCode::from(3)
}

#[atexit::main]
fn main_with_exit_in_handler() {
    atexit::register(|| atexit::exit(4));
}

// `#[atexit::main]` with a runtime attribute, in both orders: above it, the
// runtime's attribute moves to the inner function; below it, the runtime's
// expansion keeps `#[atexit::main]` on the function it writes.
#[atexit::main]
#[tokio::main(flavor = "current_thread")]
async fn main_async_atexit_above_tokio() {
    atexit::register(flush_pending);
    tokio::task::yield_now().await;
    PENDING.with(|p| p.borrow_mut().push("atexit above tokio"));
}

#[tokio::main(flavor = "current_thread")]
#[atexit::main]
async fn main_async_tokio_above_atexit() {
    atexit::register(flush_pending);
    tokio::task::yield_now().await;
    PENDING.with(|p| p.borrow_mut().push("tokio above atexit"));
}

/// Async handlers on the application's runtime: one accepts a connection
/// on a listener of that runtime (which only that runtime's driver can
/// serve); a hung one is dropped at its limit; the order holds.
#[atexit::main]
#[tokio::main(flavor = "current_thread")]
async fn main_async_handlers_on_the_application_runtime() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    atexit::register(|| say("sync handler, registered first"));
    atexit::register_async(std::time::Duration::from_secs(5), move || async move {
        let connect = tokio::net::TcpStream::connect(address);
        let (accepted, connected) = tokio::join!(listener.accept(), connect);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        say(&format!("accepted on the application's runtime: {}", accepted.is_ok() && connected.is_ok()));
    });
    atexit::register_async(std::time::Duration::from_millis(50), std::future::pending::<()>);
    say("main returns");
}

/// A hostile async handler: it blocks its thread instead of awaiting, so
/// on the application's runtime it cannot be dropped at its limit; it is
/// left behind there, and the exit goes on without it.
#[atexit::main]
#[tokio::main(flavor = "current_thread")]
async fn main_async_handler_blocking_its_thread() {
    atexit::set_deadline(std::time::Duration::from_millis(300));
    atexit::register_async(std::time::Duration::from_millis(50), || async {
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
}

/// The other order with an async handler: `main`'s runtime is gone when the
/// handlers run, so it runs on one built at exit, and stderr says why.
#[tokio::main(flavor = "current_thread")]
#[atexit::main]
async fn main_async_handler_tokio_above_atexit() {
    atexit::register_async(std::time::Duration::from_secs(5), || async {
        tokio::task::yield_now().await;
        say("async handler ran");
    });
}

/// An exporter task of the application's, and an async handler that asks
/// it to flush and awaits its answer: the handler needs the runtime's tasks
/// to run while it waits.
fn flush_through_an_app_task() {
    use tokio::sync::{mpsc, oneshot};
    let (flush, mut requests) = mpsc::channel::<oneshot::Sender<()>>(1);
    tokio::spawn(async move {
        while let Some(done) = requests.recv().await {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            say("exporter flushed");
            let _ = done.send(());
        }
    });
    atexit::AsyncRegistration::new(move || async move {
        let (done, flushed) = oneshot::channel();
        let _ = flush.send(done).await;
        say(&format!("the handler saw it: {}", flushed.await.is_ok()));
    })
    .name("flush")
    .time_limit(std::time::Duration::from_secs(2))
    .register();
}

/// `end_with` inside a `current_thread` runtime: `main` returns, the async
/// handler flushes through the application's task, then the status is 5
/// (a diverging `atexit::exit(5)` there would stop the runtime).
#[atexit::main]
#[tokio::main(flavor = "current_thread")]
async fn main_end_with_inside_a_current_thread_runtime() {
    flush_through_an_app_task();
    atexit::end_with(atexit::Ending::Status(5));
}

/// The same from a task of a multi-thread runtime.
#[atexit::main]
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main_end_with_from_a_task_of_a_multi_thread_runtime() {
    flush_through_an_app_task();
    tokio::spawn(async { atexit::end_with(atexit::Ending::Status(5)) }).await.unwrap();
}

/// `atexit::exit(5)` from a task of a multi-thread runtime, with a sync
/// handler that sends the exporter a record before the async flush: the
/// exporter, woken from the exiting worker, still runs (that worker hands
/// its tasks off while the handlers run), so the record and the flush are
/// not lost.
#[atexit::main]
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main_exit_from_a_task_after_a_sync_handler_wakes_the_exporter() {
    use tokio::sync::{mpsc, oneshot};
    enum Message {
        Record(&'static str),
        Flush(oneshot::Sender<()>),
    }
    let (to_exporter, mut messages) = mpsc::unbounded_channel::<Message>();
    tokio::spawn(async move {
        while let Some(message) = messages.recv().await {
            match message {
                Message::Record(record) => say(&format!("exporter got {record}")),
                Message::Flush(done) => {
                    say("exporter flushed");
                    let _ = done.send(());
                }
            }
        }
    });
    let flush = to_exporter.clone();
    atexit::AsyncRegistration::new(move || async move {
        let (done, flushed) = oneshot::channel();
        let _ = flush.send(Message::Flush(done));
        say(&format!("the handler saw it: {}", flushed.await.is_ok()));
    })
    .time_limit(std::time::Duration::from_secs(2))
    .register();
    atexit::register(move || drop(to_exporter.send(Message::Record("the last span"))));
    tokio::spawn(async { atexit::exit(5) }).await.unwrap();
}

/// The line of the closure registered below.
const NAMED_AT: u32 = line!() + 8;

/// A closure registered in an async `main` under `#[atexit::main]` is named
/// `macros::<main>::{closure@FILE:LINE:COLUMN}`, the attribute's wrapping
/// left out.
#[atexit::main]
#[tokio::main(flavor = "current_thread")]
async fn main_closure_named_under_the_attribute() {
    atexit::register(|| say("named"));
}

fn named_under_the_attribute(output: &std::process::Output) -> Result<(), String> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let wanted = format!(
        "atexit: trace: `macros::main_closure_named_under_the_attribute::{{closure@tests/macros.rs:{NAMED_AT}:5}}` ok"
    );
    if stderr.contains(&wanted) { Ok(()) } else { Err(format!("stderr lacks {wanted:?}")) }
}

/// A sync handler that blocks on an application task's answer with
/// tokio's own blocking call, on a multi-thread runtime: it works (the
/// handlers run as a blocking region), after `main` returns and from a task
/// that exits.
fn blocking_sync_handler() {
    let (ask, mut questions) = tokio::sync::mpsc::unbounded_channel::<tokio::sync::oneshot::Sender<&'static str>>();
    tokio::spawn(async move {
        while let Some(answer) = questions.recv().await {
            let _ = answer.send("the app task's answer");
        }
    });
    atexit::register(move || {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let _ = ask.send(answer);
        say(&format!("sync handler got {:?}", answered.blocking_recv()));
    });
}

#[atexit::main]
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main_blocking_sync_handler_after_main_returns() {
    blocking_sync_handler();
}

#[atexit::main]
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main_blocking_sync_handler_exit_from_a_task() {
    blocking_sync_handler();
    tokio::spawn(async { atexit::exit(6) }).await.unwrap();
}

/// As above, on a multi-thread runtime.
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
#[atexit::main]
async fn main_async_handler_multi_thread_tokio_above_atexit() {
    atexit::register_async(std::time::Duration::from_secs(5), || async {
        tokio::task::yield_now().await;
        say("async handler ran");
    });
}

/// A plain `main` that blocks on a runtime of its own, not `#[tokio::main]`'s
/// expansion: no message about the attributes' order.
#[atexit::main]
fn main_blocking_on_a_runtime_of_its_own() {
    let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let answer = runtime.block_on(async { 42 });
    drop(runtime);
    atexit::register_async(std::time::Duration::from_secs(5), move || async move {
        say(&format!("async handler ran: {answer}"));
    });
}

fn all() -> Vec<Case> {
    use Status::*;
    let with_statics = |runtime_default: &str| format!("{STATICS_HIGH}{runtime_default}{STATICS_DEFAULT}{STATICS_LOW}");
    let leak = |s: String| -> &'static str { s.leak() };
    vec![
        case("only_statics", only_statics, expect(leak(with_statics("")), Code(0))),
        case(
            "statics_with_runtime_handlers",
            statics_with_runtime_handlers,
            expect(
                "runtime high\nstatic high\nruntime 2\nruntime 1\nregistered in a constructor\nstatic b\n\
                 static a\nstatic in later module\nruntime low\nstatic low\n",
                Code(0),
            ),
        ),
        case(
            "statics_are_counted_callable_and_unregistrable",
            statics_are_counted_callable_and_unregistrable,
            expect(
                "pending 8\nstatic a\nunregistered 1\npending 7\nstatic high\nregistered in a constructor\n\
                 static b\nstatic in later module\nstatic low\n",
                Code(0),
            ),
        ),
        case(
            "a_panicking_static_is_reported_by_name",
            a_panicking_static_is_reported_by_name,
            Expect {
                stderr_has: &[
                    "atexit: exit handler `flaky static` panicked: static failure",
                    "atexit: exit handler `macros::flaky_unnamed_static` panicked: unnamed static failure",
                ],
                ..expect(leak(with_statics("")), Code(0))
            },
        ),
        case(
            "register_positional_and_keywords",
            register_positional_and_keywords,
            expect(
                leak(
                    with_statics(
                        "evaluated at registration: 1\nGoodbye Maude, it was a pleasure to meet you.\n\
                     Goodbye Walter, it was nice to meet you.\nGoodbye Donny, it was nice to meet you.\n",
                    )
                    .replacen("static high\n", "handle pending true\nstatic high\n", 1),
                ),
                Code(0),
            ),
        ),
        case(
            "unregister_removes_every_register_call",
            unregister_removes_every_register_call,
            expect(
                leak(with_statics("kept: 2\n").replacen(
                    "static high\n",
                    "unregistered 2\nkept pending true\nstatic high\n",
                    1,
                )),
                Code(0),
            ),
        ),
        case(
            "register_bang_handlers_are_named_after_their_function",
            register_bang_handlers_are_named_after_their_function,
            Expect {
                stderr_has: &[
                    "atexit: exit handler `macros::failing` panicked: positional 3",
                    "atexit: exit handler `macros::failing` panicked: by keyword 2",
                    "atexit: exit handler `macros::failing` panicked: positional 1",
                ],
                ..expect(leak(with_statics("")), Code(0))
            },
        ),
        case(
            "register_bang_with_closures_and_no_arguments",
            register_bang_with_closures_and_no_arguments,
            expect(leak(with_statics("static a\nclosure 2 + 3 = 5\nclosure, no arguments\n")), Code(0)),
        ),
        main_case(
            "main_returns_with_thread_locals",
            main_returns_with_thread_locals,
            Expect { stderr_lacks: &["panicked"], ..expect(leak(with_statics("flushing [\"from main\"]\n")), Code(0)) },
        ),
        main_case(
            "main_panics_with_thread_locals",
            main_panics_with_thread_locals,
            Expect {
                stderr_has: &["main failed"],
                stderr_lacks: &["atexit: exit handler"],
                ..expect(leak(with_statics("flushing [\"before the panic\"]\n")), Code(101))
            },
        ),
        main_case(
            "main_returns_err",
            main_returns_err,
            Expect {
                stderr_has: &["Error: AppError"],
                ..expect(leak(with_statics("handler after the error\n")), Code(1))
            },
        ),
        main_case(
            "main_returns_exit_code",
            main_returns_exit_code,
            expect(leak(with_statics("handler ran\n")), Code(3)),
        ),
        main_case("main_with_exit_in_handler", main_with_exit_in_handler, expect(leak(with_statics("")), Code(4))),
        main_case(
            "main_async_handlers_on_the_application_runtime",
            main_async_handlers_on_the_application_runtime,
            Expect {
                stderr_has: &["did not finish within its time limit of 50ms; dropped, the other handlers run"],
                ..expect(
                    leak(
                        with_statics("accepted on the application's runtime: true\nsync handler, registered first\n")
                            .replacen("static high\n", "main returns\nstatic high\n", 1),
                    ),
                    Code(0),
                )
            },
        ),
        main_case(
            "main_async_handler_blocking_its_thread",
            main_async_handler_blocking_its_thread,
            // Over its limit it cannot be dropped (it never yields): it is
            // left behind on the main thread, and the rest run from a new
            // thread, before the deadline.
            Expect {
                stderr_has: &[
                    "atexit: handler `macros::main_async_handler_blocking_its_thread",
                    "did not finish within its time limit of 50ms",
                ],
                stderr_lacks: &["deadline"],
                ..expect(leak(with_statics("")), Code(0))
            },
        ),
        main_case(
            "main_async_atexit_above_tokio",
            main_async_atexit_above_tokio,
            expect(leak(with_statics("flushing [\"atexit above tokio\"]\n")), Code(0)),
        ),
        main_case(
            "main_async_tokio_above_atexit",
            main_async_tokio_above_atexit,
            expect(leak(with_statics("flushing [\"tokio above atexit\"]\n")), Code(0)),
        ),
        main_case(
            "main_end_with_inside_a_current_thread_runtime",
            main_end_with_inside_a_current_thread_runtime,
            expect(leak(with_statics("exporter flushed\nthe handler saw it: true\n")), Code(5)),
        ),
        main_case(
            "main_end_with_from_a_task_of_a_multi_thread_runtime",
            main_end_with_from_a_task_of_a_multi_thread_runtime,
            expect(leak(with_statics("exporter flushed\nthe handler saw it: true\n")), Code(5)),
        ),
        main_case(
            "main_exit_from_a_task_after_a_sync_handler_wakes_the_exporter",
            main_exit_from_a_task_after_a_sync_handler_wakes_the_exporter,
            expect(
                leak(with_statics("exporter got the last span\nexporter flushed\nthe handler saw it: true\n")),
                Code(5),
            ),
        ),
        main_case(
            "main_closure_named_under_the_attribute",
            main_closure_named_under_the_attribute,
            Expect { check: Some(named_under_the_attribute), ..expect(leak(with_statics("named\n")), Code(0)) },
        )
        .env(&[("ATEXIT_TRACE", "1")]),
        main_case(
            "main_blocking_sync_handler_after_main_returns",
            main_blocking_sync_handler_after_main_returns,
            expect(leak(with_statics("sync handler got Ok(\"the app task's answer\")\n")), Code(0)),
        ),
        main_case(
            "main_blocking_sync_handler_exit_from_a_task",
            main_blocking_sync_handler_exit_from_a_task,
            expect(leak(with_statics("sync handler got Ok(\"the app task's answer\")\n")), Code(6)),
        ),
        main_case(
            "main_async_handler_multi_thread_tokio_above_atexit",
            main_async_handler_multi_thread_tokio_above_atexit,
            Expect {
                stderr_has: &["(`#[tokio::main]` is above `#[atexit::main]`); put `#[atexit::main]` above it"],
                ..expect(leak(with_statics("async handler ran\n")), Code(0))
            },
        ),
        main_case(
            "main_blocking_on_a_runtime_of_its_own",
            main_blocking_on_a_runtime_of_its_own,
            Expect { stderr_lacks: &["is above"], ..expect(leak(with_statics("async handler ran: 42\n")), Code(0)) },
        ),
        main_case(
            "main_async_handler_tokio_above_atexit",
            main_async_handler_tokio_above_atexit,
            Expect {
                stderr_has: &["(`#[tokio::main]` is above `#[atexit::main]`); put `#[atexit::main]` above it"],
                ..expect(leak(with_statics("async handler ran\n")), Code(0))
            },
        ),
    ]
}

fn main() -> ExitCode {
    common::run(all())
}
