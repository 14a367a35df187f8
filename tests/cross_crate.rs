//! A static handler in a library that the binary names only with
//! `use that_crate as _;` runs at exit, in a debug and in a release build
//! with full LTO; and the macros work through a re-export, for a crate that
//! does not depend on `atexit` itself (`tests/fixtures/`); and a static
//! handler submitted after a constructor used the registry still runs; and
//! a plugin's handlers run when it is unloaded; and with `panic = "abort"`
//! a handler's `exit` loses nothing it printed.

#![cfg(unix)]

use std::path::PathBuf;
use std::process::Command;

/// Builds a fixture binary with `profile` and returns its path.
fn build_fixture(package: &str, profile: &str) -> PathBuf {
    build_artifact(package, profile, r#""executable":""#)
}

/// Builds a fixture and returns the path that follows `key` in cargo's
/// report of it.
fn build_artifact(package: &str, profile: &str, key: &str) -> PathBuf {
    let output = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "--profile", profile, "-p", package, "--message-format=json"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo");
    assert!(output.status.success(), "building the fixture failed:\n{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8(output.stdout).unwrap();
    let line = stdout.lines().find(|l| l.contains(key) && l.contains(package)).expect("an executable");
    let start = line.find(key).unwrap() + key.len();
    PathBuf::from(&line[start..start + line[start..].find('"').unwrap()])
}

fn assert_library_handler_runs(profile: &str) {
    assert_library_handler_runs_after(profile, "");
}

/// Runs the fixture after its constructor used the registry whole (see
/// its `main.rs`): `early` names the call.
fn assert_library_handler_runs_after(profile: &str, early: &str) {
    let output = Command::new(build_fixture("atexit-fixture-static-bin", profile))
        .env("ATEXIT_FIXTURE_EARLY", early)
        .output()
        .expect("run the fixture");
    assert_eq!(output.status.code(), Some(0), "{early}: {output:?}");
    // At equal priority the application's handlers run before its
    // libraries'. The early `run_exitfuncs` runs the application's handler
    // before `main` if the binary's own submission ran before that
    // constructor (the order of one binary's constructors is the linker's).
    let at_exit = "main returns\nstatic handler of the application ran\nstatic handler of a library ran\n";
    let before_main = "static handler of the application ran\nmain returns\nstatic handler of a library ran\n";
    let stdout = String::from_utf8_lossy(&output.stdout);
    let allowed: &[&str] = if early == "run_exitfuncs" { &[at_exit, before_main] } else { &[at_exit] };
    assert!(allowed.contains(&&*stdout), "{early}: {stdout:?}");
}

#[test]
fn statics_submitted_after_a_constructor_used_the_registry_still_run() {
    for early in ["ncallbacks", "unregister", "run_exitfuncs"] {
        assert_library_handler_runs_after("dev", early);
    }
}

#[test]
fn debug_build() {
    assert_library_handler_runs("dev");
}

#[test]
fn release_build_with_lto() {
    assert_library_handler_runs("release-lto");
}

#[test]
fn macros_through_a_reexport() {
    let output = Command::new(build_fixture("atexit-fixture-reexport-bin", "dev")).output().expect("run the fixture");
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        // The application's static handlers run before its libraries'.
        "goodbye re-exporter\nstatic handler through a re-export\nstatic handler of a library ran\n"
    );
}

/// glibc runs a shared object's C `atexit` functions when it is unloaded:
/// a plugin built with atexit has its own runtime, whose handlers run at
/// `dlclose`, before the host goes on; the host's run at its own exit.
///
/// However its handler runs (a time limit kept or overrun, async, one that
/// calls `atexit::exit`, a deadline from the environment), it runs on the
/// unloading thread and is waited for: no code of the plugin runs after
/// `dlclose` returns (the host would crash), no watchdog ends the host, and
/// `exit` inside ends only that handler.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn a_plugin_runs_its_handlers_at_dlclose() {
    let plugin = build_artifact("atexit-fixture-plugin", "dev", r#""filenames":[""#);
    let host = build_fixture("atexit-fixture-plugin-host", "dev");
    // The kind of handler, the host's environment, what it prints.
    type Case = (&'static str, &'static [(&'static str, &'static str)], &'static str);
    let cases: &[Case] = &[
        ("plain", &[], ""),
        ("limited", &[], "plugin: limited handler\n"),
        ("overrun", &[], "plugin: slow handler done\n"),
        ("overrun", &[("ATEXIT_DEADLINE_MS", "50")], "plugin: slow handler done\n"),
        ("async", &[], "plugin: async handler\n"),
        ("exit", &[], ""),
    ];
    for (kind, env, first) in cases {
        let output =
            Command::new(&host).arg(&plugin).arg(kind).envs(env.iter().copied()).output().expect("run the host");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let expected = format!(
            "host: before dlclose\nplugin: runtime handler\n{first}plugin: static handler\nhost: after dlclose\nhost: alive\nhost: handler\n"
        );
        assert_eq!((output.status.code(), &*stdout), (Some(0), &*expected), "{kind} {env:?}: {output:?}");
        assert!(!String::from_utf8_lossy(&output.stderr).contains("time limit"), "{kind}: {output:?}");
    }
}

/// A plugin still loaded when the process exits (a thread-local destructor
/// of it pending, which keeps glibc from unloading it at `dlclose`) runs
/// its handlers at the exit as the program does: on a fresh thread (a
/// thread-local reads fresh), with time limits; its `atexit::exit(9)` ends
/// only that handler, and the host's status and handlers stay.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn a_plugin_still_loaded_at_exit_runs_its_handlers_as_the_program_does() {
    let plugin = build_artifact("atexit-fixture-plugin", "dev", r#""filenames":[""#);
    let host = build_fixture("atexit-fixture-plugin-host", "dev");
    let cases: &[(&str, &str)] = &[
        ("pinned", ""),
        ("pinned-exit", ""),
        ("pinned-overrun", "handler `plugin: slow` did not finish within its time limit"),
    ];
    for (kind, stderr_has) in cases {
        let output = Command::new(&host).arg(&plugin).arg(kind).output().expect("run the host");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        let expected = "host: before dlclose\nhost: after dlclose\nhost: alive\nplugin: runtime handler\nplugin: thread-local []\nplugin: static handler\nhost: handler\n";
        assert_eq!((output.status.code(), &*stdout), (Some(0), expected), "{kind}: {output:?}");
        assert!(stderr.contains(stderr_has) && !stderr.contains("panicked"), "{kind}: {output:?}");
    }
}

/// A plugin that registers a crash action is pinned (its signal handler's
/// code must outlive `dlclose`): the host's crash after `dlclose` runs the
/// plugin's action and dies of the fault, and the plugin's exit handlers,
/// pinned too, do not run at `dlclose`.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn a_plugin_with_a_crash_action_is_pinned() {
    use std::os::unix::process::ExitStatusExt;
    let plugin = build_artifact("atexit-fixture-plugin", "dev", r#""filenames":[""#);
    let host = build_fixture("atexit-fixture-plugin-host", "dev");
    let output = Command::new(&host).arg(&plugin).arg("crash").output().expect("run the host");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.signal(), Some(libc::SIGSEGV), "{output:?}");
    assert_eq!(stdout, "host: before dlclose\nhost: after dlclose\nplugin: crash action\n", "{output:?}");
}

/// `ATEXIT_TRACE` (like every setting from the environment) is ignored in a
/// setuid process: an unprivileged caller cannot make a privileged program
/// print its handlers' names. Needs root, to make a setuid copy owned by
/// another user (`nobody`); says so and checks only the plain run otherwise.
#[cfg(target_os = "linux")]
#[test]
fn settings_from_the_environment_are_ignored_when_setuid() {
    use std::os::unix::fs::PermissionsExt;
    let probe = build_fixture("atexit-fixture-wasm-probe", "dev");
    let traced = |program: &std::path::Path| {
        let output = Command::new(program).env("ATEXIT_TRACE", "1").output().expect("run the probe");
        assert_eq!(output.status.code(), Some(0), "{output:?}");
        String::from_utf8_lossy(&output.stderr).contains("atexit: trace:")
    };
    assert!(traced(&probe), "ATEXIT_TRACE=1 traces an ordinary process");
    // SAFETY: `geteuid` has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("not root: the setuid half of this test cannot run");
        return;
    }
    let dir = std::env::temp_dir().join(format!("atexit-setuid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let copy = dir.join("probe");
    std::fs::copy(&probe, &copy).unwrap();
    let nobody = 65534;
    std::os::unix::fs::chown(&copy, Some(nobody), Some(nobody)).unwrap();
    std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let setuid_traced = traced(&copy);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!setuid_traced, "ATEXIT_TRACE=1 was obeyed by a setuid process");
}

/// With `panic = "abort"` a handler's `atexit::exit(7)` cannot unwind: the
/// rest run nested inside it and the process ends there, with stdout
/// flushed as `std::process::exit` flushes it.
#[test]
fn with_panic_abort_a_handlers_exit_flushes_what_the_handlers_printed() {
    let probe = build_fixture("atexit-fixture-abort-probe", "abort");
    for how in ["return", "exit", "run"] {
        let output = Command::new(&probe).arg(how).output().unwrap();
        assert_eq!(
            (String::from_utf8_lossy(&output.stdout).as_ref(), output.status.code()),
            ("second-without-newline tail-without-newline", Some(7)),
            "{how}: {output:?}"
        );
    }
    // A thread holding stdout's lock for ever: the flush gives up, and the
    // process still ends with 7 (`timeout` kills it with 124 if it hangs).
    let output = Command::new("timeout").arg("20").arg(&probe).arg("stdout_held").output().unwrap();
    assert_eq!(output.status.code(), Some(7), "{output:?}");
}

/// A panic ends a `panic = "abort"` build by `SIGABRT`: the crash actions
/// run before the panic's message is printed (on the screen the user sees,
/// not an alternate one an action leaves).
#[cfg(unix)]
#[test]
fn with_panic_abort_crash_actions_run_before_the_panic_message() {
    let probe = build_fixture("atexit-fixture-abort-probe", "abort");
    {
        use std::os::unix::process::ExitStatusExt;
        let output = Command::new(&probe).arg("crash_panic").output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.signal(), Some(libc::SIGABRT), "{output:?}");
        let (action, message) = (stderr.find("crash action\n"), stderr.find("panicked at"));
        assert!(action.is_some() && action < message && stderr.matches("crash action").count() == 1, "{stderr}");
    }
}

/// Without the `signals` feature, `atexit::signals::install()` does not
/// compile, and the error names the feature.
#[test]
fn without_the_signals_feature_the_error_names_it() {
    let output = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "atexit-fixture-no-signals"])
        .env("ATEXIT_FIXTURE_MISUSE", "1")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "it built: {stderr}");
    assert!(stderr.contains("`atexit::signals` needs the `signals` feature"), "{stderr}");
    assert!(stderr.contains(r#"features = ["signals"]"#), "{stderr}");
}
