//! Static handlers (submitted here as generated code submits them) merged
//! with runtime registrations by one run of the process registry: a unit
//! test of the registry, not of exit (child processes test that). A test
//! binary of its own, as the process registry is the process's.

use std::sync::Mutex;

use atexit_core::__private::{StaticHandler, identity_fn, inventory};

static LOG: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

fn say(what: &'static str) {
    LOG.lock().unwrap().push(what);
}

fn s5() {
    say("static 5");
}
fn s0a() {
    say("static 0, line 1");
}
fn s0b() {
    say("static 0, line 2");
    // At equal priority a runtime registration is newer than every static
    // handler: it runs next.
    atexit_core::register(|| say("runtime 0, registered by a static"));
}
fn sm5() {
    say("static -5");
}

inventory::submit! { StaticHandler::new(s5, identity_fn(&s5), "m", "m::s5", 9, 5, false, false) }
inventory::submit! { StaticHandler::new(s0a, identity_fn(&s0a), "m", "m::s0a", 1, 0, false, false) }
inventory::submit! { StaticHandler::new(s0b, identity_fn(&s0b), "m", "m::s0b", 2, 0, false, false) }
inventory::submit! { StaticHandler::new(sm5, identity_fn(&sm5), "m", "m::sm5", 3, -5, false, false) }

#[test]
fn static_and_runtime_handlers_run_as_one_order() {
    let priority =
        |p: i32, what: &'static str| atexit_core::Registration::new(move || say(what)).priority(p).register();
    // A stack of a higher priority, emptied: it must not hide the others.
    assert!(priority(10, "never").unregister());
    atexit_core::register(|| say("runtime 0"));
    priority(-5, "runtime -5");
    priority(3, "runtime 3");
    assert_eq!(atexit_core::ncallbacks(), 7);
    atexit_core::run_exitfuncs().unwrap();
    assert_eq!(
        *LOG.lock().unwrap(),
        [
            "static 5",
            "runtime 3",
            "runtime 0",
            "static 0, line 2",
            "runtime 0, registered by a static",
            "static 0, line 1",
            "runtime -5",
            "static -5",
        ]
    );
    assert_eq!(atexit_core::ncallbacks(), 0);
}
