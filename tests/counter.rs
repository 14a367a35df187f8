//! The counter example (`examples/counter.rs`), run as a real program over
//! and over through exit paths chosen at random, signals included: every
//! normal exit saves the count, so the file ends with the exact total;
//! `abort` saves nothing.

#![cfg(unix)]

mod common;

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Builds the example with the cargo running this test (a no-op after
/// `cargo test`, which builds examples) and returns its path.
fn counter_example() -> PathBuf {
    let output = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--example", "counter", "--message-format=json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo");
    assert!(output.status.success(), "building the example failed:\n{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|l| l.contains(r#""reason":"compiler-artifact""#) && l.contains(r#""name":"counter""#))
        .find_map(|l| {
            let start = l.find(r#""executable":""#)? + r#""executable":""#.len();
            let len = l[start..].find('"')?;
            Some(PathBuf::from(&l[start..start + len]))
        })
        .expect("cargo reported the example's executable")
}

/// Runs the example once. A signal path runs it with `--exit wait` and
/// sends the signal once it has counted, as a terminal or an orchestrator would.
fn run(exe: &Path, file: &Path, by: u64, how: &str) -> std::process::Output {
    let signal = match how {
        "sigint" => Some(libc::SIGINT),
        "sigterm" => Some(libc::SIGTERM),
        "sighup" => Some(libc::SIGHUP),
        _ => None,
    };
    let mut command = Command::new(exe);
    common::default_signal_actions(&mut command);
    command.args(["--file", file.to_str().unwrap(), "--by", &by.to_string()]);
    command.args(["--exit", if signal.is_some() { "wait" } else { how }]);
    let Some(signal) = signal else { return command.output().expect("run the example") };
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start the example");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).expect("the example counts");
    // SAFETY: signalling the child this test started and has not reaped.
    unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    let mut output = child.wait_with_output().expect("wait for the example");
    let mut rest = Vec::new();
    stdout.read_to_end(&mut rest).unwrap();
    output.stdout = [line.into_bytes(), rest].concat();
    output
}

fn read_count(file: &Path) -> u64 {
    std::fs::read_to_string(file).unwrap().trim().parse().unwrap()
}

fn scratch_file(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("atexit-counter-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("counterfile");
    let _ = std::fs::remove_file(&file);
    file
}

#[test]
fn fifty_runs_through_random_exit_paths_signals_included_lose_nothing() {
    let exe = counter_example();
    let file = scratch_file("normal");
    let paths = ["return", "process-exit", "atexit-exit", "panic", "thread-exit", "sigint", "sigterm", "sighup"];
    let check_status = |how: &str, status: std::process::ExitStatus| match how {
        "panic" => status.code() == Some(101),
        "sigint" => status.signal() == Some(libc::SIGINT),
        "sigterm" => status.signal() == Some(libc::SIGTERM),
        "sighup" => status.signal() == Some(libc::SIGHUP),
        _ => status.code() == Some(0),
    };
    // A fixed-seed generator: the same 50 runs every time, all paths covered.
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut total = 0;
    for i in 0..50 {
        let how = if i < paths.len() { paths[i] } else { paths[(next() % paths.len() as u64) as usize] };
        let by = next() % 10 + 1;
        total += by;
        let out = run(&exe, &file, by, how);
        assert!(check_status(how, out.status), "run {i} via {how}: {out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), format!("count is now {total}\n"), "run {i} via {how}");
        assert_eq!(read_count(&file), total, "run {i} via {how} lost the count");
    }
}

#[test]
fn abort_saves_nothing() {
    let exe = counter_example();
    let file = scratch_file("abort");
    assert!(run(&exe, &file, 3, "return").status.success());
    let out = run(&exe, &file, 4, "abort");
    assert_eq!(out.status.code(), None, "abort ends by a signal");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "count is now 7\n");
    assert_eq!(read_count(&file), 3, "no handler runs on abort");
}
