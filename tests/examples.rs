//! The real-program examples, run as real programs: `examples/pidfile.rs`
//! (a PID file and a Unix socket removed on every normal exit, a stale pair
//! after SIGKILL found on the next start) and `examples/graceful_server.rs`
//! (a tokio server that drains on SIGTERM).

#![cfg(unix)]

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Builds an example with the cargo running this test (a no-op after
/// `cargo test`, which builds examples) and returns its path.
fn example(name: &str) -> PathBuf {
    let output = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", name, "--features", "signals", "--message-format=json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo");
    assert!(output.status.success(), "building the example failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let name_key = format!(r#""name":"{name}""#);
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains(r#""reason":"compiler-artifact""#) && l.contains(&name_key))
        .find_map(|l| {
            let start = l.find(r#""executable":""#)? + r#""executable":""#.len();
            let len = l[start..].find('"')?;
            Some(PathBuf::from(&l[start..start + len]))
        })
        .expect("cargo reported the example's executable")
}

/// A fresh directory for one run.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atexit-example-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Starts `command` with its output piped and reads its first line.
fn start(command: &mut Command) -> (Child, BufReader<std::process::ChildStdout>, String) {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start the example");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).expect("the example's first line");
    (child, stdout, first)
}

/// Waits for `child` and returns its whole output, `first` lines included.
fn finish(child: Child, mut stdout: BufReader<std::process::ChildStdout>, first: String) -> Output {
    let mut output = child.wait_with_output().expect("wait for the example");
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    output.stdout = (first + &rest).into_bytes();
    output
}

fn signal(child: &Child, signal: libc::c_int) {
    // SAFETY: signalling a child this test started and has not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

mod pidfile {
    use super::*;

    fn files(dir: &Path) -> (bool, bool) {
        (dir.join("demo.pid").exists(), dir.join("demo.sock").exists())
    }

    fn run(exe: &Path, dir: &Path, how: &str) -> Output {
        Command::new(exe).args(["--dir", dir.to_str().unwrap(), "--exit", how]).output().expect("run the example")
    }

    #[test]
    fn files_are_removed_on_every_normal_exit() {
        let exe = example("pidfile");
        for (how, status) in [("return", Some(0)), ("process-exit", Some(3)), ("panic", Some(101))] {
            let dir = scratch(&format!("pidfile-{how}"));
            let output = run(&exe, &dir, how);
            assert_eq!(output.status.code(), status, "{how}: {output:?}");
            assert!(stdout(&output).contains("removed "), "{how}: {output:?}");
            assert_eq!(files(&dir), (false, false), "{how}: files left");
        }
    }

    #[test]
    fn files_are_removed_on_sigint_sigterm_sighup() {
        let exe = example("pidfile");
        for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            let dir = scratch(&format!("pidfile-signal-{sig}"));
            let (child, out, first) =
                start(Command::new(&exe).args(["--dir", dir.to_str().unwrap(), "--exit", "wait"]));
            assert!(first.starts_with("running as"), "{first}");
            signal(&child, sig);
            let output = finish(child, out, first);
            assert_eq!(output.status.signal(), Some(sig), "{output:?}");
            assert!(stdout(&output).contains("removed "), "{output:?}");
            assert_eq!(files(&dir), (false, false), "signal {sig}: files left");
        }
    }

    #[test]
    fn a_stale_pair_left_by_sigkill_is_found_on_the_next_start() {
        let exe = example("pidfile");
        let dir = scratch("pidfile-sigkill");
        let (child, out, first) = start(Command::new(&exe).args(["--dir", dir.to_str().unwrap(), "--exit", "wait"]));
        let pid = child.id();
        signal(&child, libc::SIGKILL);
        let output = finish(child, out, first);
        assert_eq!(output.status.signal(), Some(libc::SIGKILL));
        assert!(!stdout(&output).contains("removed "), "SIGKILL ran a handler: {output:?}");
        assert_eq!(files(&dir), (true, true), "SIGKILL left nothing behind");

        let output = run(&exe, &dir, "return");
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let text = stdout(&output);
        assert!(text.starts_with(&format!("stale PID file of {pid}: removing it and its socket\n")), "{text}");
        assert!(text.contains("removed "), "{text}");
        assert_eq!(files(&dir), (false, false));
    }
}

mod graceful_server {
    use std::net::TcpStream;

    use super::*;

    /// Starts the server and returns it with its address.
    fn serve(request_ms: u64) -> (Child, BufReader<std::process::ChildStdout>, String, String) {
        let exe = example("graceful_server");
        let (child, out, first) = start(Command::new(exe).args(["--request-ms", &request_ms.to_string()]));
        let address = first.trim().strip_prefix("listening on ").expect("the address").to_owned();
        (child, out, first, address)
    }

    /// Sends one request; its reply comes when the server finishes it.
    fn request(address: &str) -> TcpStream {
        let mut stream = TcpStream::connect(address).expect("connect");
        stream.write_all(b"work\n").unwrap();
        stream
    }

    fn reply(stream: TcpStream) -> String {
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        line
    }

    #[test]
    fn sigterm_drains_in_flight_requests_then_the_handlers_run() {
        let (child, out, first, address) = serve(500);
        let in_flight = request(&address);
        std::thread::sleep(Duration::from_millis(150));
        signal(&child, libc::SIGTERM);
        std::thread::sleep(Duration::from_millis(100));
        // The listener is closed while it drains: a late client is refused,
        // not left hanging.
        let late = TcpStream::connect(&address).map(|_| ());
        assert_eq!(late.map_err(|e| e.kind()), Err(std::io::ErrorKind::ConnectionRefused), "a late connection");
        assert_eq!(reply(in_flight), "done\n", "the in-flight request was finished");
        let output = finish(child, out, first);
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        let text = stdout(&output);
        assert!(
            text.ends_with("shutdown requested by SIGTERM: draining 1 in flight\ndrained\nhandler: metrics flushed\n"),
            "{text}"
        );
    }

    #[test]
    fn a_second_sigterm_forces_the_exit() {
        let (child, out, first, address) = serve(30_000);
        let _stuck = request(&address);
        std::thread::sleep(Duration::from_millis(150));
        signal(&child, libc::SIGTERM);
        std::thread::sleep(Duration::from_millis(150));
        signal(&child, libc::SIGTERM);
        let output = finish(child, out, first);
        assert_eq!(output.status.signal(), Some(libc::SIGTERM), "{output:?}");
        let text = stdout(&output);
        assert!(text.contains("draining 1 in flight\n"), "{text}");
        assert!(text.ends_with("handler: metrics flushed\n"), "{text}");
        assert!(!text.contains("drained"), "{text}");
    }
}
