//! The child-process harness shared by the exit tests.
//!
//! A test binary built with `harness = false` is its own child program: run
//! with `ATEXIT_SCENARIO=name` it plays that scenario as a real program
//! (registers handlers, then ends the way the scenario says); run without
//! it, it is the parent, which runs every scenario in a fresh process and
//! checks its stdout, stderr and exit status. Arguments that do not start
//! with `-` select the scenarios whose name contains one of them;
//! `--skip=part` leaves out those whose name contains `part`.

#![allow(dead_code)] // each test binary uses part of it

use std::process::{Command, ExitCode, Output};
use std::time::{Duration, Instant};

/// How a scenario plays: a plain function (the process then ends as `main`
/// returning ends it, unless the scenario ends it first), or one that gives
/// the status `main` returns (for `#[atexit::main]` functions).
pub enum Play {
    Unit(fn()),
    Status(fn() -> ExitCode),
}

pub struct Case {
    pub name: &'static str,
    pub play: Play,
    pub expect: Expect,
    /// Environment variables the child gets.
    pub env: &'static [(&'static str, &'static str)],
    /// The row this case proves in the README's exit-path table: the exit
    /// path and what happens to the handlers. The status column is the
    /// status the case checked.
    pub row: Option<(&'static str, &'static str)>,
}

pub fn case(name: &'static str, play: fn(), expect: Expect) -> Case {
    Case { name, play: Play::Unit(play), expect, env: &[], row: None }
}

/// A case for a function that returns `main`'s status (`#[atexit::main]`).
pub fn main_case(name: &'static str, play: fn() -> ExitCode, expect: Expect) -> Case {
    Case { name, play: Play::Status(play), expect, env: &[], row: None }
}

impl Case {
    pub fn env(mut self, env: &'static [(&'static str, &'static str)]) -> Self {
        self.env = env;
        self
    }

    pub fn row(mut self, path: &'static str, handlers: &'static str) -> Self {
        self.row = Some((path, handlers));
        self
    }
}

/// A check of a child's output beyond the fixed expectations.
pub type OutputCheck = fn(&Output) -> Result<(), String>;

/// What a scenario must show.
pub struct Expect {
    /// The whole of stdout; `None` leaves it to `check`.
    pub stdout: Option<&'static str>,
    /// Lines that stderr must contain.
    pub stderr_has: &'static [&'static str],
    pub stderr_lacks: &'static [&'static str],
    pub status: Status,
    /// Further checks on the output.
    pub check: Option<OutputCheck>,
}

#[derive(Debug, PartialEq, Clone, Copy)]
pub enum Status {
    Code(i32),
    /// Any of these codes (racing threads).
    OneOf(&'static [i32]),
    Signal(i32),
    /// This code or this signal, whichever ends the process first.
    CodeOrSignal(i32, i32),
    /// Any status: the check compares it with something else.
    Any,
}

pub const fn expect(stdout: &'static str, status: Status) -> Expect {
    Expect { stdout: Some(stdout), stderr_has: &[], stderr_lacks: &[], status, check: None }
}

impl Status {
    /// How the README's table shows it.
    fn describe(self) -> String {
        match self {
            Status::Code(code) => format!("{code}"),
            Status::OneOf(_) => "one of the exiting threads' codes".to_owned(),
            Status::Signal(signal) => format!("killed by {} (a shell shows {})", signal_name(signal), 128 + signal),
            Status::CodeOrSignal(code, signal) => {
                format!("{code}, or killed by {}: whichever ends the process first", signal_name(signal))
            }
            Status::Any => "any".to_owned(),
        }
    }
}

fn signal_name(signal: i32) -> String {
    #[cfg(unix)]
    let known = [
        (libc::SIGINT, "SIGINT"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGKILL, "SIGKILL"),
    ];
    #[cfg(not(unix))]
    let known: [(i32, &str); 0] = [];
    known.iter().find(|(n, _)| *n == signal).map_or_else(|| format!("signal {signal}"), |(_, name)| (*name).to_owned())
}

#[cfg(unix)]
pub fn status_of(output: &Output) -> Option<Status> {
    use std::os::unix::process::ExitStatusExt;
    match (output.status.code(), output.status.signal()) {
        (Some(code), _) => Some(Status::Code(code)),
        (None, Some(signal)) => Some(Status::Signal(signal)),
        _ => None,
    }
}

#[cfg(not(unix))]
pub fn status_of(output: &Output) -> Option<Status> {
    output.status.code().map(Status::Code)
}

pub fn check(expect: &Expect, output: &Output) -> Result<(), String> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut problems = Vec::new();
    if expect.stdout.is_some_and(|expected| stdout != expected) {
        problems.push(format!("stdout was {stdout:?}, expected {:?}", expect.stdout.unwrap_or_default()));
    }
    if let Some(Err(problem)) = expect.check.map(|check| check(output)) {
        problems.push(problem);
    }
    let status = status_of(output);
    let status_ok = match (expect.status, status) {
        (Status::OneOf(codes), Some(Status::Code(c))) => codes.contains(&c),
        (Status::CodeOrSignal(code, _), Some(Status::Code(c))) => code == c,
        (Status::CodeOrSignal(_, signal), Some(Status::Signal(s))) => signal == s,
        (Status::Any, _) => true,
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
    let stderr: String = stderr.chars().take(2000).collect();
    if problems.is_empty() { Ok(()) } else { Err(format!("{}\n  stderr: {stderr:?}", problems.join("\n  "))) }
}

/// How long a scenario may take before it counts as hung. Every scenario
/// ends within a few seconds when it passes; a hang is a failure, reported
/// with what the child had written, not a test run that never ends.
pub const CHILD_TIME_LIMIT: Duration = Duration::from_secs(20);

/// Gives the child every signal's default action: a signal this process
/// ignores stays ignored across `exec` (a shell's `&` ignores SIGINT and
/// SIGQUIT, `nohup` SIGHUP), and the runtime leaves an ignored signal
/// ignored, so the signal scenarios would hang however the tests were
/// started. They test a program started from a terminal.
#[cfg(unix)]
pub fn default_signal_actions(command: &mut Command) -> &mut Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: between `fork` and `exec` the closure calls only `sigaction`,
    // async-signal-safe, on a zeroed local (no flags, empty mask, the
    // default action); it fails harmlessly for SIGKILL and SIGSTOP.
    unsafe {
        command.pre_exec(|| {
            let mut default: libc::sigaction = std::mem::zeroed();
            default.sa_sigaction = libc::SIG_DFL;
            for signal in 1..32 {
                libc::sigaction(signal, &default, std::ptr::null_mut());
            }
            Ok(())
        })
    }
}

/// Runs `command` to its end, as `Command::output` does, but kills it and
/// says so if it is still running after `limit`.
pub fn output_within(mut command: Command, limit: Duration) -> Result<Output, String> {
    use std::io::Read;
    use std::process::Stdio;
    #[cfg(unix)]
    default_signal_actions(&mut command);
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawning the child: {e}"))?;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("waiting for the child: {e}"))? {
            break Some(status);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    // A grandchild may still hold the pipes open; do not wait for it forever.
    let collect = |reader: std::thread::JoinHandle<Vec<u8>>| {
        let waited = Instant::now();
        while !reader.is_finished() && waited.elapsed() < Duration::from_secs(2) {
            std::thread::sleep(Duration::from_millis(5));
        }
        if reader.is_finished() { reader.join().unwrap_or_default() } else { Vec::new() }
    };
    let (stdout, stderr) = (collect(stdout), collect(stderr));
    match status {
        Some(status) => Ok(Output { status, stdout, stderr }),
        None => Err(format!(
            "the child was still running after {limit:?} (hung); killed it\n  stdout: {:?}\n  stderr: {:?}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr).chars().take(2000).collect::<String>()
        )),
    }
}

/// Waits for child `pid` and says how it ended.
#[cfg(unix)]
pub fn wait_for(pid: libc::pid_t) -> String {
    let mut status = 0;
    // SAFETY: waiting for a child of this process.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("exited {}", libc::WEXITSTATUS(status))
    }
}

/// The test binary's `main`: plays the scenario named in the environment,
/// or runs them all as the parent.
pub fn run(cases: Vec<Case>) -> ExitCode {
    if let Ok(name) = std::env::var("ATEXIT_SCENARIO") {
        let case = cases.iter().find(|c| c.name == name).expect("unknown scenario");
        return match case.play {
            Play::Unit(play) => {
                play();
                ExitCode::SUCCESS
            }
            Play::Status(play) => play(),
        };
    }
    // The parent is no scenario: its own exit handlers (the static ones of
    // the binary) are not under test.
    atexit::clear();
    let filters: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let skips: Vec<String> = std::env::args().filter_map(|a| a.strip_prefix("--skip=").map(str::to_owned)).collect();
    let exe = std::env::current_exe().expect("own path");
    let (mut passed, mut failed) = (0, 0);
    for case in &cases {
        if !filters.is_empty() && !filters.iter().any(|f| case.name.contains(f.as_str()))
            || skips.iter().any(|s| case.name.contains(s.as_str()))
        {
            continue;
        }
        let mut command = Command::new(&exe);
        command.env("ATEXIT_SCENARIO", case.name).envs(case.env.iter().copied());
        let outcome = output_within(command, CHILD_TIME_LIMIT).and_then(|output| check(&case.expect, &output));
        match outcome {
            Ok(()) => {
                passed += 1;
                println!("exit path {} ... ok", case.name);
            }
            Err(why) => {
                failed += 1;
                println!("exit path {} ... FAILED\n  {why}", case.name);
            }
        }
    }
    if filters.is_empty() && skips.is_empty() && failed == 0 && cases.iter().any(|c| c.row.is_some()) {
        match check_readme_table(EXIT_MATRIX_BEGIN, EXIT_MATRIX_END, &exit_path_table(&cases)) {
            Ok(()) => {
                passed += 1;
                println!("exit path table in README.md ... ok");
            }
            Err(why) => {
                failed += 1;
                println!("exit path table in README.md ... FAILED\n  {why}");
            }
        }
    }
    println!("\n{passed} passed, {failed} failed");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

const EXIT_MATRIX_BEGIN: &str =
    "<!-- exit-matrix:begin (written by tests/exit_paths.rs; ATEXIT_BLESS=1 rewrites it) -->\n";
const EXIT_MATRIX_END: &str = "<!-- exit-matrix:end -->";

/// The exit-path table: one row for each case that proves one.
fn exit_path_table(cases: &[Case]) -> String {
    let mut table = String::from("| Exit path | Exit handlers | Exit status |\n|---|---|---|\n");
    for case in cases {
        if let Some((path, handlers)) = case.row {
            table.push_str(&format!("| {path} | {handlers} | {} |\n", case.expect.status.describe()));
        }
    }
    table
}

/// A table of README.md, the text between the line `begin` (with its
/// newline) and `end`, is `table`: what this run's cases just proved, so
/// that it cannot drift from the truth. With `ATEXIT_BLESS` set, a table
/// that differs is rewritten instead. Call it only when every case passed.
pub fn check_readme_table(begin: &str, end: &str, table: &str) -> Result<(), String> {
    let readme_path = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
    let readme = std::fs::read_to_string(readme_path).map_err(|e| format!("reading README.md: {e}"))?;
    let start =
        readme.find(begin).ok_or_else(|| format!("README.md lacks the marker {:?}", begin.trim_end()))? + begin.len();
    let stop = start + readme[start..].find(end).ok_or_else(|| format!("README.md lacks the marker {end:?}"))?;
    if readme[start..stop] == *table {
        return Ok(());
    }
    if std::env::var_os("ATEXIT_BLESS").is_some() {
        let updated = format!("{}{table}{}", &readme[..start], &readme[stop..]);
        std::fs::write(readme_path, updated).map_err(|e| format!("writing README.md: {e}"))?;
        return Ok(());
    }
    Err(format!(
        "README.md's table after {:?} differs from what the cases prove; rerun with ATEXIT_BLESS=1 to write it:\n{table}",
        begin.trim_end()
    ))
}
