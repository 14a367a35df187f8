//! A daemon's PID file and Unix socket, removed however the program ends
//! normally, and a stale pair (left by `SIGKILL`, which runs nothing) found
//! and cleaned on the next start.
//!
//! ```text
//! cargo run --example pidfile -- --dir /tmp/demo --exit wait
//! # Ctrl-C: "removed /tmp/demo/demo.pid and /tmp/demo/demo.sock", dies of SIGINT
//! ```
//!
//! Options: `--dir DIR` (default: the current directory), `--exit HOW`,
//! where HOW is `return` (default), `process-exit` (status 3), `panic`, or
//! `wait` (until a signal: SIGINT, SIGTERM or SIGHUP run the handler, then
//! end the process; SIGKILL leaves the files behind).

#[cfg(unix)]
fn main() {
    use std::os::unix::net::UnixListener;
    use std::path::PathBuf;

    let mut dir = PathBuf::from(".");
    let mut how = String::from("return");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--dir" => dir = PathBuf::from(args.next().expect("--dir DIR")),
            "--exit" => how = args.next().expect("--exit HOW"),
            other => panic!("unknown argument {other}"),
        }
    }
    let pid_file = dir.join("demo.pid");
    let socket = dir.join("demo.sock");

    if let Ok(text) = std::fs::read_to_string(&pid_file) {
        let pid: i32 = text.trim().parse().expect("a PID file holds a number");
        if alive(pid) {
            eprintln!("already running as {pid}");
            std::process::exit(1);
        }
        // Left by a process that could not clean up (SIGKILL, a crash).
        println!("stale PID file of {pid}: removing it and its socket");
        let _ = std::fs::remove_file(&pid_file);
        let _ = std::fs::remove_file(&socket);
    }

    std::fs::write(&pid_file, format!("{}\n", std::process::id())).expect("write the PID file");
    let listener = UnixListener::bind(&socket).expect("bind the socket");
    {
        let (pid_file, socket) = (pid_file.clone(), socket.clone());
        atexit::Registration::new(move || {
            let _ = std::fs::remove_file(&socket);
            let _ = std::fs::remove_file(&pid_file);
            println!("removed {} and {}", pid_file.display(), socket.display());
        })
        .name("remove PID file and socket")
        .register();
    }
    #[cfg(feature = "signals")]
    atexit::signals::install().expect("signal handlers");

    println!("running as {}", std::process::id());
    match how.as_str() {
        "return" => {}
        "process-exit" => std::process::exit(3),
        "panic" => panic!("the daemon failed"),
        "wait" => loop {
            // A real daemon would serve the socket here.
            let _ = &listener;
            std::thread::park();
        },
        other => panic!("unknown exit {other}"),
    }
}

/// Whether a process with this id exists (signal 0 checks without sending).
#[cfg(unix)]
fn alive(pid: i32) -> bool {
    // SAFETY: `kill` with signal 0 only checks that `pid` exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[cfg(not(unix))]
fn main() {
    eprintln!("this example uses a Unix socket");
}
