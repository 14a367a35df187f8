//! The real-program examples, run as real programs: `examples/pidfile.rs`
//! (a PID file and a Unix socket removed on every normal exit, a stale pair
//! after SIGKILL found on the next start), `examples/graceful_server.rs`
//! (a tokio server that drains on SIGTERM), and the cookbook's recipes
//! (`docs/cookbook.md`): `examples/tracing_flush.rs`,
//! `examples/terminal_restore.rs`, `examples/temp_files.rs`,
//! `examples/two_libraries.rs`; `examples/terminal_crash.rs` (crash
//! actions), under a pseudo-terminal.

#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

/// Builds an example with the cargo running this test (a no-op after
/// `cargo test`, which builds examples) and returns its path.
fn example(name: &str) -> PathBuf {
    let output = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", name, "--features", "signals,crash", "--message-format=json"])
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
    let mut child = common::default_signal_actions(command)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the example");
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
            text.ends_with(
                "shutdown requested by SIGTERM: draining 1 in flight\ndrained\nmetrics task: flushed 1 requests\n\
                 handler: metrics flushed\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn with_exit_as_signal_the_drained_server_dies_of_the_signal_after_the_handlers() {
        let exe = example("graceful_server");
        let (child, out, first) = start(Command::new(exe).args(["--request-ms", "500", "--exit-as-signal"]));
        let address = first.trim().strip_prefix("listening on ").expect("the address").to_owned();
        let in_flight = request(&address);
        std::thread::sleep(Duration::from_millis(150));
        signal(&child, libc::SIGTERM);
        assert_eq!(reply(in_flight), "done\n", "the in-flight request was finished");
        let output = finish(child, out, first);
        assert_eq!(output.status.signal(), Some(libc::SIGTERM), "{output:?}");
        let text = stdout(&output);
        assert!(
            text.ends_with(
                "draining 1 in flight\ndrained\nmetrics task: flushed 1 requests\nhandler: metrics flushed\n"
            ),
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
        assert!(text.ends_with("metrics task: flushed 1 requests\nhandler: metrics flushed\n"), "{text}");
        assert!(!text.contains("drained"), "{text}");
    }
}

mod tracing_flush {
    use super::*;

    /// The log's lines that carry a message, in the order written.
    fn log_lines(log: &Path) -> Vec<String> {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        text.lines().map(str::to_owned).collect()
    }

    /// Every line the program logs is in the file, in the order the exit
    /// runs the handlers: the runtime handler, the static one, then the
    /// flush (priority `LATE`) with the exit's reason.
    fn assert_complete(log: &Path, how: &str, reason: &str, output: &Output) {
        let lines = log_lines(log);
        let expected = [
            format!("main: started, will end by {how}"),
            "runtime handler: closing the session".to_owned(),
            "static handler: goodbye".to_owned(),
            format!("flushing the log (exit: {reason})"),
        ];
        let mut found = lines.iter();
        for wanted in &expected {
            assert!(
                found.any(|line| line.ends_with(wanted.as_str())),
                "{how}: the log lacks {wanted:?} (or has it out of order):\n{}\n{output:?}",
                lines.join("\n")
            );
        }
        assert_eq!(lines.len(), expected.len() + usize::from(how == "panic"), "{how}: {lines:#?}");
    }

    #[test]
    fn the_log_has_every_line_on_every_exit() {
        let exe = example("tracing_flush");
        let paths = [
            ("return", Some(0), "exit(0)"),
            ("process-exit", Some(3), "exit(3)"),
            ("atexit-exit", Some(4), "atexit::exit(4)"),
            ("panic", Some(101), "exit(101)"),
        ];
        for (how, status, reason) in paths {
            let dir = scratch(&format!("tracing-{how}"));
            let log = dir.join("app.log");
            let output =
                Command::new(&exe).args(["--log", log.to_str().unwrap(), "--exit", how]).output().expect("run it");
            assert_eq!(output.status.code(), status, "{how}: {output:?}");
            assert_complete(&log, how, reason, &output);
            if how == "panic" {
                let lines = log_lines(&log);
                assert!(lines.iter().any(|l| l.contains("ERROR") && l.contains("main gave up")), "{lines:#?}");
            }
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn the_log_has_every_line_after_sigterm() {
        let exe = example("tracing_flush");
        let dir = scratch("tracing-sigterm");
        let log = dir.join("app.log");
        let (child, out, first) = start(Command::new(&exe).args(["--log", log.to_str().unwrap(), "--exit", "wait"]));
        assert!(first.starts_with("logging to"), "{first}");
        signal(&child, libc::SIGTERM);
        let output = finish(child, out, first);
        assert_eq!(output.status.signal(), Some(libc::SIGTERM), "{output:?}");
        assert_complete(&log, "wait", "SIGTERM", &output);
        let _ = std::fs::remove_dir_all(dir);
    }
}

mod terminal_restore {
    use std::fs::File;

    use super::*;

    const ENTER: &str = "\x1b[?1049h";
    const LEAVE: &str = "\x1b[?1049l";
    const RESTORED: &str = "terminal restored\n";

    /// Runs the example with stdin not a terminal, and its stdout and
    /// stderr written to one file, as a terminal shows them: in the order
    /// they were written.
    fn run(how: &str) -> (Output, String) {
        let exe = example("terminal_restore");
        let dir = scratch(&format!("terminal-{how}"));
        let screen_path = dir.join("screen");
        let screen = File::create(&screen_path).unwrap();
        let output = Command::new(exe)
            .args(["--exit", how])
            .stdin(Stdio::null())
            .stdout(screen.try_clone().unwrap())
            .stderr(screen)
            .output()
            .expect("run the example");
        let screen = std::fs::read_to_string(screen_path).unwrap();
        let _ = std::fs::remove_dir_all(dir);
        (output, screen)
    }

    /// The screen is entered, then left once, and the restore reported
    /// once, right after; raw mode was skipped and said so.
    fn assert_restored_once(how: &str, screen: &str) -> usize {
        assert!(screen.starts_with("stdin is not a terminal: raw mode skipped\n"), "{how}: {screen:?}");
        assert_eq!(screen.matches(ENTER).count(), 1, "{how}: {screen:?}");
        assert_eq!(screen.matches(LEAVE).count(), 1, "{how}: restored more than once, or never: {screen:?}");
        assert_eq!(screen.matches(RESTORED).count(), 1, "{how}: {screen:?}");
        let leave = screen.find(LEAVE).unwrap();
        assert!(screen.find(ENTER).unwrap() < leave, "{how}: {screen:?}");
        assert!(screen[leave + LEAVE.len()..].starts_with(RESTORED), "{how}: {screen:?}");
        leave
    }

    #[test]
    fn a_panic_message_is_printed_after_the_terminal_is_restored() {
        let (output, screen) = run("panic");
        assert_eq!(output.status.code(), Some(101), "{screen:?}");
        let leave = assert_restored_once("panic", &screen);
        let message = screen.find("the program failed in raw mode").expect("the panic message");
        assert!(leave < message, "the panic message came before the terminal was restored: {screen:?}");
        assert!(screen[leave..].contains("panicked at"), "{screen:?}");
    }

    #[test]
    fn the_terminal_is_restored_once_on_return_and_exit() {
        for (how, status) in [("return", 0), ("exit", 3)] {
            let (output, screen) = run(how);
            assert_eq!(output.status.code(), Some(status), "{how}: {screen:?}");
            let leave = assert_restored_once(how, &screen);
            assert!(screen.ends_with(RESTORED) && leave > 0, "{how}: {screen:?}");
        }
    }
}

mod temp_files {
    use super::*;

    /// Whether the lock file and the temporary directory are there.
    fn left(dir: &Path, pid: u32) -> (bool, bool) {
        (dir.join("temp_files.lock").exists(), dir.join(format!("temp_files-{pid}")).exists())
    }

    fn assert_removed_both(how: &str, output: &Output) {
        let text = stdout(output);
        let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with("working in")).collect();
        // The directory, the static handler, then the lock (priority
        // `LAST`), each once.
        assert_eq!(lines.len(), 3, "{how}: {output:?}");
        assert!(lines[0].starts_with("removed ") && lines[0].contains("temp_files-"), "{how}: {lines:?}");
        assert_eq!(lines[1], "report: done", "{how}: {lines:?}");
        assert!(lines[2].starts_with("removed ") && lines[2].ends_with("temp_files.lock"), "{how}: {lines:?}");
    }

    #[test]
    fn both_are_removed_on_every_normal_exit() {
        let exe = example("temp_files");
        let paths = [("return", 0), ("process-exit", 3), ("atexit-exit", 4), ("panic", 101)];
        for (how, status) in paths {
            let dir = scratch(&format!("temp-{how}"));
            let (child, out, first) = start(Command::new(&exe).args(["--dir", dir.to_str().unwrap(), "--exit", how]));
            assert!(first.starts_with("working in"), "{how}: {first}");
            let pid = child.id();
            let output = finish(child, out, first);
            assert_eq!(output.status.code(), Some(status), "{how}: {output:?}");
            assert_removed_both(how, &output);
            assert_eq!(left(&dir, pid), (false, false), "{how}: left behind");
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn both_are_removed_on_sigint_and_sigterm() {
        let exe = example("temp_files");
        for sig in [libc::SIGINT, libc::SIGTERM] {
            let dir = scratch(&format!("temp-signal-{sig}"));
            let (child, out, first) =
                start(Command::new(&exe).args(["--dir", dir.to_str().unwrap(), "--exit", "wait"]));
            let pid = child.id();
            assert_eq!(left(&dir, pid), (true, true), "signal {sig}: not created");
            signal(&child, sig);
            let output = finish(child, out, first);
            assert_eq!(output.status.signal(), Some(sig), "{output:?}");
            assert_removed_both(&format!("signal {sig}"), &output);
            assert_eq!(left(&dir, pid), (false, false), "signal {sig}: left behind");
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[test]
    fn sigkill_leaves_both_and_the_next_start_refuses() {
        let exe = example("temp_files");
        let dir = scratch("temp-sigkill");
        let (child, out, first) = start(Command::new(&exe).args(["--dir", dir.to_str().unwrap(), "--exit", "wait"]));
        let pid = child.id();
        signal(&child, libc::SIGKILL);
        let output = finish(child, out, first);
        assert_eq!(output.status.signal(), Some(libc::SIGKILL), "{output:?}");
        assert!(!stdout(&output).contains("removed "), "SIGKILL ran a handler: {output:?}");
        assert_eq!(left(&dir, pid), (true, true), "SIGKILL removed something");

        let output = Command::new(&exe).args(["--dir", dir.to_str().unwrap()]).output().expect("run it again");
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        assert!(String::from_utf8_lossy(&output.stderr).contains("temp_files.lock exists"), "{output:?}");
        // The refused copy removed nothing of the killed one's.
        assert_eq!(left(&dir, pid), (true, true));
        let _ = std::fs::remove_dir_all(dir);
    }
}

mod two_libraries {
    use super::*;

    #[test]
    fn the_telemetrys_last_line_is_logged() {
        let output = Command::new(example("two_libraries")).output().unwrap();
        assert!(output.status.success(), "{output:?}");
        assert_eq!(stdout(&output), "log: main: done\nlog: mytelemetry: exported 2 spans\n");
    }
}

mod terminal_crash {
    use std::fs::File;
    use std::os::fd::{AsRawFd, FromRawFd};

    use super::*;

    const ENTER: &str = "\x1b[?1049h";
    const LEAVE: &str = "\x1b[?1049l";

    fn mode(fd: i32) -> libc::termios {
        // SAFETY: a zeroed `termios` is a valid out-parameter; `fd` is an open terminal.
        unsafe {
            let mut mode: libc::termios = std::mem::zeroed();
            assert_eq!(libc::tcgetattr(fd, &mut mode), 0, "tcgetattr");
            mode
        }
    }

    /// Runs the example on a new pseudo-terminal, ending `how`: its exit
    /// status, what it wrote to the terminal, and the terminal's mode
    /// before and after.
    fn run(how: &str) -> (std::process::ExitStatus, String, libc::termios, libc::termios) {
        let exe = example("terminal_crash");
        let (mut master, mut slave) = (0, 0);
        // SAFETY: `openpty` fills the two descriptors; the other arguments may be null.
        let opened = unsafe {
            libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null_mut(), std::ptr::null_mut())
        };
        assert_eq!(opened, 0, "openpty");
        // SAFETY: both are open descriptors that nothing else owns.
        let (master, slave) = unsafe { (File::from_raw_fd(master), File::from_raw_fd(slave)) };
        let before = mode(slave.as_raw_fd());
        let status = Command::new(exe)
            .arg(how)
            .stdin(slave.try_clone().unwrap())
            .stdout(slave.try_clone().unwrap())
            .stderr(slave.try_clone().unwrap())
            .status()
            .expect("run the example");
        let after = mode(slave.as_raw_fd());
        // Everything it wrote is in the master's buffer (a few hundred bytes).
        // SAFETY: `master` is open; non-blocking only changes how `read` waits.
        unsafe { libc::fcntl(master.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        let mut screen = Vec::new();
        let _ = (&master).read_to_end(&mut screen);
        (status, String::from_utf8_lossy(&screen).into_owned(), before, after)
    }

    fn assert_restored(how: &str, screen: &str, before: &libc::termios, after: &libc::termios) {
        assert!(screen.contains("drawing the screen"), "{how}: {screen:?}");
        let (enter, leave) = (screen.find(ENTER), screen.rfind(LEAVE));
        assert!(enter.is_some() && leave > enter, "{how}: the alternate screen was not left: {screen:?}");
        assert_eq!(screen.matches(LEAVE).count(), 1, "{how}: left more than once: {screen:?}");
        let flags = |m: &libc::termios| (m.c_iflag, m.c_oflag, m.c_lflag, m.c_cflag);
        assert_eq!(flags(after), flags(before), "{how}: the terminal's mode was not restored");
    }

    #[test]
    fn the_terminal_is_restored_after_each_crash() {
        for (how, signal) in [("segv", libc::SIGSEGV), ("abort", libc::SIGABRT), ("overflow", libc::SIGABRT)] {
            let (status, screen, before, after) = run(how);
            assert_eq!(status.signal(), Some(signal), "{how}: {status:?} {screen:?}");
            assert_restored(how, &screen, &before, &after);
        }
        let (_, screen, ..) = run("overflow");
        assert!(screen.contains("has overflowed its stack"), "std's message is still printed: {screen:?}");
    }

    #[test]
    fn the_terminal_is_restored_at_a_normal_exit_and_a_panic() {
        for (how, code) in [("return", 0), ("panic", 101)] {
            let (status, screen, before, after) = run(how);
            assert_eq!(status.code(), Some(code), "{how}: {status:?} {screen:?}");
            assert_restored(how, &screen, &before, &after);
        }
    }
}
