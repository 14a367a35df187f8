//! The process registry and its run, driven by `run_exitfuncs` (unit tests
//! of the registry, not of exit: those run child processes). One test, as
//! the registry is the process's; Miri runs it too.

use std::sync::{Arc, Mutex};

#[test]
fn the_process_registry_runs_in_order_with_rights_inside_its_run() {
    let log = Arc::new(Mutex::new(Vec::new()));
    let say = |s: &'static str| {
        let log = Arc::clone(&log);
        move || log.lock().unwrap().push(s)
    };
    fn gone() {}
    atexit_core::register(gone);
    atexit_core::register(say("first registered"));
    atexit_core::Registration::new(say("high")).priority(1).name("high").register();
    let inner = say("registered inside");
    let log_in_run = Arc::clone(&log);
    atexit_core::register(move || {
        // Inside the run: registrations are kept, the reason is the run's,
        // and a nested run goes on with it.
        atexit_core::register(inner);
        log_in_run.lock().unwrap().push(if atexit_core::is_exiting() { "exiting" } else { "running" });
        assert_eq!(atexit_core::exit_reason(), Some(atexit_core::ExitReason::RunExitfuncs));
        atexit_core::run_exitfuncs().unwrap();
    });
    atexit_core::Registration::new(|| panic!("boom")).name("failing").register();
    assert_eq!(atexit_core::unregister(gone), 1);
    assert_eq!(atexit_core::ncallbacks(), 4);

    let panic = atexit_core::run_exitfuncs().unwrap_err();
    assert_eq!((panic.name(), panic.message()), ("failing", "boom"));
    assert_eq!(*log.lock().unwrap(), ["high", "running", "registered inside", "first registered"]);
    assert_eq!((atexit_core::ncallbacks(), atexit_core::is_exiting(), atexit_core::exit_reason()), (0, false, None));
}
