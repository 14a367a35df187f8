//! A command-line tool's scratch space: a temporary directory, and a lock
//! file that keeps a second copy from running at the same time, both
//! removed on every normal exit: `main` returning, `std::process::exit`,
//! `atexit::exit`, a panic, and SIGINT, SIGTERM or SIGHUP after
//! `atexit::signals::install()`. SIGKILL runs nothing, so it leaves both:
//! the next start finds the lock and says what to remove.
//!
//! ```text
//! cargo run --example temp_files -- --dir /tmp --exit wait
//! # Ctrl-C: "removed /tmp/temp_files-PID" and "removed /tmp/temp_files.lock"
//! ```
//!
//! Options: `--dir DIR` (default: the system's temporary directory), and
//! `--exit HOW`, where HOW is `return` (default), `process-exit` (status 3),
//! `atexit-exit` (status 4), `panic`, or `wait` (until a signal).

use std::fs::OpenOptions;
use std::io::{ErrorKind, Write};
use std::path::PathBuf;

/// The tool's own static handler (a summary, say), which like the rest of
/// the program may count on the lock: it runs while the lock is held.
#[atexit::register]
fn report() {
    println!("report: done");
}

fn main() {
    let mut base = std::env::temp_dir();
    let mut how = String::from("return");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => base = PathBuf::from(args.next().expect("--dir DIR")),
            "--exit" => how = args.next().expect("--exit HOW"),
            other => panic!("unknown argument {other}"),
        }
    }

    // Before anything is created: from then on, a signal runs the handlers.
    #[cfg(any(unix, windows))]
    atexit::signals::install().expect("signal handlers");

    // The lock first: `create_new` fails if the file exists, so only one
    // copy gets past here.
    let lock = base.join("temp_files.lock");
    match OpenOptions::new().write(true).create_new(true).open(&lock) {
        Ok(mut file) => writeln!(file, "{}", std::process::id()).expect("write the lock file"),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => {
            eprintln!("{} exists: another copy is running, or one was killed (remove it then)", lock.display());
            std::process::exit(1);
        }
        Err(e) => panic!("cannot create {}: {e}", lock.display()),
    }
    // Removed last: `LAST` runs after every handler of normal priority (the
    // static ones, like `report`, run after the runtime ones at equal
    // priority), so nothing else runs once the lock is gone.
    {
        let lock = lock.clone();
        atexit::Registration::new(move || {
            let _ = std::fs::remove_file(&lock);
            println!("removed {}", lock.display());
        })
        .name("remove the lock file")
        .priority(atexit::priority::LAST)
        .register();
    }

    // The scratch directory, registered as soon as it exists.
    let scratch = base.join(format!("temp_files-{}", std::process::id()));
    std::fs::create_dir(&scratch).expect("create the temporary directory");
    {
        let scratch = scratch.clone();
        atexit::Registration::new(move || {
            let _ = std::fs::remove_dir_all(&scratch);
            println!("removed {}", scratch.display());
        })
        .name("remove the temporary directory")
        .register();
    }

    std::fs::write(scratch.join("part-1.tmp"), "work in progress\n").expect("write a temporary file");
    println!("working in {} under {}", scratch.display(), lock.display());
    match how.as_str() {
        "return" => {}
        "process-exit" => std::process::exit(3),
        "atexit-exit" => atexit::exit(4),
        "panic" => panic!("the tool failed"),
        "wait" => loop {
            std::thread::park();
        },
        other => panic!("unknown exit {other}"),
    }
}
