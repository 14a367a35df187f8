//! The child-process harness shared by the exit tests.
//!
//! A test binary built with `harness = false` is its own child program: run
//! with `ATEXIT_SCENARIO=name` it plays that scenario as a real program
//! (registers handlers, then ends the way the scenario says); run without
//! it, it is the parent, which runs every scenario in a fresh process and
//! checks its stdout, stderr and exit status. Arguments that do not start
//! with `-` select the scenarios whose name contains one of them.

#![allow(dead_code)] // each test binary uses part of it

use std::process::{Command, ExitCode, Output};

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
}

pub fn case(name: &'static str, play: fn(), expect: Expect) -> Case {
    Case { name, play: Play::Unit(play), expect }
}

/// What a scenario must show.
pub struct Expect {
    pub stdout: &'static str,
    /// Lines that stderr must contain.
    pub stderr_has: &'static [&'static str],
    pub stderr_lacks: &'static [&'static str],
    pub status: Status,
}

#[derive(Debug, PartialEq, Clone, Copy)]
pub enum Status {
    Code(i32),
    /// Any of these codes (racing threads).
    OneOf(&'static [i32]),
    Signal(i32),
}

pub const fn expect(stdout: &'static str, status: Status) -> Expect {
    Expect { stdout, stderr_has: &[], stderr_lacks: &[], status }
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
    let exe = std::env::current_exe().expect("own path");
    let (mut passed, mut failed) = (0, 0);
    for case in &cases {
        if !filters.is_empty() && !filters.iter().any(|f| case.name.contains(f.as_str())) {
            continue;
        }
        let output = Command::new(&exe).env("ATEXIT_SCENARIO", case.name).output().expect("spawn child");
        match check(&case.expect, &output) {
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
    println!("\n{passed} passed, {failed} failed");
    if failed == 0 { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
