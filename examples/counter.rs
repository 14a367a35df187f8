//! The example from Python's `atexit` documentation, in Rust: a counter
//! loaded from a file when the program starts and saved back by an exit
//! handler, so no increment is lost however the program ends normally.
//!
//! ```text
//! cargo run --example counter                 # count is now 1
//! cargo run --example counter -- --by 5       # count is now 6
//! cargo run --example counter -- --exit panic # count is now 7, then panics; still saved
//! ```
//!
//! Options: `--by N` (increment, default 1), `--file PATH` (default
//! `counterfile`), `--exit HOW`, where HOW is one of `return` (default),
//! `process-exit`, `atexit-exit`, `panic`, `thread-exit` (std::process::exit
//! from another thread), `wait` (wait to be stopped by a signal such as
//! Ctrl-C: with the `signals` feature the count is saved, then the signal
//! ends the process) and `abort` (the one way that loses the increment).

use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNT: AtomicU64 = AtomicU64::new(0);
static FILE: Mutex<Option<PathBuf>> = Mutex::new(None);

fn load(path: &Path) -> u64 {
    match fs::read_to_string(path) {
        Ok(text) => text.trim().parse().unwrap_or_else(|e| panic!("{}: not a count: {e}", path.display())),
        Err(e) if e.kind() == ErrorKind::NotFound => 0,
        Err(e) => panic!("{}: {e}", path.display()),
    }
}

fn incrcounter(n: u64) {
    COUNT.fetch_add(n, Ordering::SeqCst);
}

/// The exit handler. Writes a temporary file and renames it over the old one,
/// so a crash mid-write cannot leave a torn count.
fn savecounter() {
    let path = FILE.lock().unwrap().clone().expect("the counter was loaded");
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, COUNT.load(Ordering::SeqCst).to_string()).expect("write the counter");
    fs::rename(&tmp, &path).expect("replace the counter file");
}

fn main() {
    let mut by = 1;
    let mut path = PathBuf::from("counterfile");
    let mut how = String::from("return");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--by" => by = value().parse().expect("--by takes a whole number"),
            "--file" => path = value().into(),
            "--exit" => how = value(),
            other => panic!("unknown option {other}; see the comment at the top of examples/counter.rs"),
        }
    }

    #[cfg(all(unix, feature = "signals"))]
    atexit::signals::install().expect("install the signal handlers");

    COUNT.store(load(&path), Ordering::SeqCst);
    *FILE.lock().unwrap() = Some(path);
    atexit::register(savecounter);

    incrcounter(by);
    println!("count is now {}", COUNT.load(Ordering::SeqCst));

    match how.as_str() {
        "return" => {}
        "process-exit" => std::process::exit(0),
        "atexit-exit" => atexit::exit(0),
        "panic" => panic!("the program failed after counting"),
        "thread-exit" => {
            let _ = std::thread::spawn(|| std::process::exit(0)).join();
        }
        "wait" => loop {
            std::thread::park();
        },
        "abort" => std::process::abort(),
        other => panic!("unknown exit path {other}"),
    }
}
