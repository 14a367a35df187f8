//! A `tracing` log written by `tracing-appender`'s non-blocking writer, with
//! every line in the file however the program ends: `main` returning,
//! `std::process::exit`, `atexit::exit`, a panic, or SIGTERM.
//!
//! The non-blocking writer hands each line to a thread of its own and
//! gives back a `WorkerGuard`; dropping the guard writes out what is still
//! queued. Kept in `main` as `let _guard`, it is dropped only when `main`
//! returns or a panic unwinds out of it: a `std::process::exit`, a signal
//! or a handler that logs at exit loses the last lines. Here the guard lives in a static and an exit
//! handler of priority `atexit::priority::LATE` drops it, after every
//! handler of normal priority (the static ones of the program and of its
//! libraries included) has logged.
//!
//! ```text
//! cargo run --example tracing_flush -- --log /tmp/demo.log --exit process-exit
//! cat /tmp/demo.log
//! ```
//!
//! Options: `--log FILE` (default `tracing_flush.log`), `--exit HOW`, where
//! HOW is `return` (default), `process-exit` (status 3), `atexit-exit`
//! (status 4), `panic`, or `wait` (until SIGINT, SIGTERM or SIGHUP).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use tracing_appender::non_blocking::WorkerGuard;

/// The log writer's guard, from start-up until the exit handler takes it.
static LOG_GUARD: Mutex<Option<WorkerGuard>> = Mutex::new(None);

/// A static handler of the application's, which logs through the writer
/// like any other code.
#[atexit::register]
fn say_goodbye() {
    tracing::info!("static handler: goodbye");
}

/// Drops the guard, which writes out every queued line and stops the
/// writer's thread. `LATE` puts it after the handlers of normal priority,
/// whichever way they were registered, so that their lines are written.
/// Without it, this handler, written below `say_goodbye`, would run before
/// it (within a module, the static handler written last runs first), and a
/// library's static handler that logs, which at equal priority runs after
/// the application's, would lose its lines too.
#[atexit::register(priority = atexit::priority::LATE, name = "flush the log")]
fn flush_log() {
    let guard = LOG_GUARD.lock().unwrap_or_else(PoisonError::into_inner).take();
    if let Some(guard) = guard {
        let reason = atexit::exit_reason().map_or_else(|| "unknown".to_owned(), |reason| reason.to_string());
        tracing::info!("flushing the log (exit: {reason})");
        drop(guard);
    }
}

/// Sends the log to `path` through a non-blocking writer, and keeps its
/// guard for the exit handler.
fn start_logging(path: &Path) {
    let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let file = path.file_name().expect("--log names a file");
    let (writer, guard) = tracing_appender::non_blocking(tracing_appender::rolling::never(dir, file));
    tracing_subscriber::fmt().with_writer(writer).init();
    *LOG_GUARD.lock().unwrap_or_else(PoisonError::into_inner) = Some(guard);

    // A panic's message goes to stderr as usual, and into the log too.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload.downcast_ref::<&str>().copied().or(payload.downcast_ref::<String>().map(String::as_str));
        let location = info.location().map_or_else(String::new, |at| format!(" at {at}"));
        tracing::error!("panicked{location}: {}", message.unwrap_or("(not a string)"));
        default_hook(info);
    }));
}

fn main() {
    let mut log = PathBuf::from("tracing_flush.log");
    let mut how = String::from("return");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--log" => log = PathBuf::from(args.next().expect("--log FILE")),
            "--exit" => how = args.next().expect("--exit HOW"),
            other => panic!("unknown argument {other}"),
        }
    }

    start_logging(&log);
    #[cfg(any(unix, windows))]
    atexit::signals::install().expect("signal handlers");
    atexit::register(|| tracing::info!("runtime handler: closing the session"));

    tracing::info!("main: started, will end by {how}");
    println!("logging to {}", log.display());
    match how.as_str() {
        "return" => {}
        "process-exit" => std::process::exit(3),
        "atexit-exit" => atexit::exit(4),
        "panic" => panic!("main gave up"),
        "wait" => loop {
            std::thread::park();
        },
        other => panic!("unknown exit {other}"),
    }
}
