//! Unit tests of the registry through its public API. Exit itself is tested
//! in child processes (the facade's `tests/exit_paths.rs`); these run under
//! Miri too.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use atexit_core::{Registration, Registry};

/// A shared log of which handlers ran, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push(s.into());
    }

    fn entries(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// A handler that logs `name`.
    fn handler(&self, name: &str) -> impl FnOnce() + Send + 'static {
        let log = self.clone();
        let name = name.to_owned();
        move || log.push(name)
    }
}

#[test]
fn runs_last_registered_first() {
    let log = Log::default();
    let r = Registry::new();
    for name in ["a", "b", "c"] {
        r.register(log.handler(name));
    }
    assert_eq!(r.len(), 3);
    r.run().unwrap();
    assert_eq!(log.entries(), ["c", "b", "a"]);
}

#[test]
fn higher_priority_first_then_lifo() {
    let log = Log::default();
    let r = Registry::new();
    Registration::new(log.handler("low1")).priority(-5).register_in(&r);
    r.register(log.handler("zero1"));
    Registration::new(log.handler("high1")).priority(10).register_in(&r);
    Registration::new(log.handler("low2")).priority(-5).register_in(&r);
    r.register(log.handler("zero2"));
    Registration::new(log.handler("high2")).priority(10).register_in(&r);
    r.run().unwrap();
    assert_eq!(log.entries(), ["high2", "high1", "zero2", "zero1", "low2", "low1"]);
}

static DUPLICATE_RUNS: AtomicUsize = AtomicUsize::new(0);
fn count_duplicate_run() {
    DUPLICATE_RUNS.fetch_add(1, Ordering::SeqCst);
}

#[test]
fn the_same_function_registered_three_times_runs_three_times() {
    let r = Registry::new();
    for _ in 0..3 {
        r.register(count_duplicate_run);
    }
    assert_eq!(r.len(), 3);
    r.run().unwrap();
    assert_eq!(DUPLICATE_RUNS.load(Ordering::SeqCst), 3);
}

fn goodbye(log: Log, name: &'static str) {
    log.push(format!("goodbye {name}"));
}
fn unrelated() {}

#[test]
fn unregister_removes_every_registration_whatever_its_arguments() {
    let log = Log::default();
    let r = Registry::new();
    for name in ["Donny", "Walter", "Maude"] {
        let l = log.clone();
        Registration::new(move || goodbye(l, name)).identity_of(&goodbye).register_in(&r);
    }
    r.register(log.handler("kept"));
    assert_eq!(r.unregister(goodbye), 3);
    assert_eq!(r.unregister(goodbye), 0);
    assert_eq!(r.unregister(unrelated), 0, "an unknown function is not an error");
    assert_eq!(r.len(), 1);
    r.run().unwrap();
    assert_eq!(log.entries(), ["kept"]);
}

#[test]
fn unregister_matches_fn_items_and_fn_pointers() {
    fn a() {}
    fn b() {}
    // Rust does not promise that two casts of one function give one address
    // (Miri makes them differ), so a pointer is kept and passed again.
    let (pa, pb): (fn(), fn()) = (a, b);
    let r = Registry::new();
    r.register(a);
    r.register(pa);
    r.register(pb);
    r.register(b);
    // A fn item and a pointer to the same function are different values in
    // Rust: the item is matched by its type, the pointer by its address.
    assert_eq!(r.unregister(a), 1);
    assert_eq!(r.unregister(pa), 1);
    assert_eq!(r.unregister(pb), 1);
    assert_eq!(r.len(), 1);
}

#[test]
fn a_fn_pointer_with_arguments_matches_by_address() {
    fn two(_: &str, _: u32) {}
    let p: fn(&'static str, u32) = two;
    let r = Registry::new();
    Registration::new(move || p("x", 1)).identity_of(&p).register_in(&r);
    assert_eq!(r.unregister(two), 0, "the fn item is another value than a pointer to it");
    assert_eq!(r.unregister(p), 1);
}

#[test]
fn unregister_of_a_closure_removes_that_closure_only() {
    let log = Log::default();
    let r = Registry::new();
    let l = log.clone();
    let first = move || l.push("first");
    let second = || {};
    r.register(first.clone());
    r.register(first.clone());
    r.register(second);
    assert_eq!(r.unregister(first), 2);
    assert_eq!(r.len(), 1);
}

#[test]
fn handle_unregister_removes_exactly_one() {
    let log = Log::default();
    let r = Registry::new();
    r.register(count_nothing);
    let h = r.register(count_nothing);
    r.register(count_nothing);
    r.register(log.handler("other"));
    assert!(h.is_pending());
    assert_eq!(h.priority(), 0);
    assert!(h.unregister());
    assert_eq!(r.len(), 3);
    assert_eq!(r.unregister(count_nothing), 2);
    assert_eq!(r.len(), 1);
}

fn count_nothing() {}

#[test]
fn handle_unregister_after_run_clear_or_removal_is_false() {
    let r = Registry::new();
    let ran = r.register(|| {});
    let twice = r.register(|| {});
    let removed = r.register(count_nothing);
    assert_eq!(r.unregister(count_nothing), 1);
    assert!(!removed.unregister());
    r.run().unwrap();
    assert!(!ran.is_pending());
    assert!(!ran.unregister());
    let cleared = r.register(|| {});
    r.clear();
    assert!(!cleared.unregister());
    // Sequence numbers are not reused after `clear`: an old handle never
    // removes a new registration.
    let fresh = r.register(|| {});
    assert!(!twice.unregister());
    assert!(fresh.is_pending());
}

#[test]
fn handle_outliving_its_registry_is_false() {
    let r = Registry::new();
    let h = r.register(|| {});
    drop(r);
    assert!(!h.is_pending());
    assert!(!h.unregister());
}

#[test]
fn clear_drops_without_running() {
    let log = Log::default();
    let r = Registry::new();
    r.register(log.handler("a"));
    r.register(log.handler("b"));
    r.clear();
    assert_eq!(r.len(), 0);
    assert!(r.is_empty());
    r.run().unwrap();
    assert!(log.entries().is_empty());
}

#[test]
fn a_run_empties_the_registry_and_runs_each_once() {
    let log = Log::default();
    let r = Registry::new();
    r.register(log.handler("a"));
    r.run().unwrap();
    assert_eq!(r.len(), 0);
    r.run().unwrap();
    assert_eq!(log.entries(), ["a"]);
}

#[test]
fn dropping_a_registry_runs_what_is_pending() {
    let log = Log::default();
    let r = Registry::new();
    r.register(log.handler("a"));
    r.register(log.handler("b"));
    drop(r);
    assert_eq!(log.entries(), ["b", "a"]);
}

#[test]
fn handlers_registered_during_a_run_run_next() {
    let log = Log::default();
    let r = Arc::new(Registry::new());
    r.register(log.handler("first registered"));
    let (l, r2) = (log.clone(), Arc::clone(&r));
    r.register(move || {
        l.push("registers two");
        r2.register(l.handler("registered during run 1"));
        r2.register(l.handler("registered during run 2"));
    });
    r.run().unwrap();
    assert_eq!(
        log.entries(),
        ["registers two", "registered during run 2", "registered during run 1", "first registered"]
    );
    assert_eq!(r.len(), 0);
}

#[test]
fn pending_handlers_unregistered_during_a_run_do_not_run() {
    let log = Log::default();
    let r = Arc::new(Registry::new());
    let doomed = r.register(log.handler("doomed by handle"));
    r.register(count_nothing);
    r.register(log.handler("survivor"));
    let (l, r2) = (log.clone(), Arc::clone(&r));
    r.register(move || {
        l.push("remover");
        assert!(doomed.unregister());
        assert_eq!(r2.unregister(count_nothing), 1);
    });
    r.run().unwrap();
    assert_eq!(log.entries(), ["remover", "survivor"]);
}

#[test]
fn a_handler_may_run_the_registry_again_without_deadlock() {
    let log = Log::default();
    let r = Arc::new(Registry::new());
    r.register(log.handler("bottom"));
    let (l, r2) = (log.clone(), Arc::clone(&r));
    r.register(move || {
        l.push("nested run");
        r2.run().unwrap();
    });
    r.run().unwrap();
    assert_eq!(log.entries(), ["nested run", "bottom"]);
}

#[test]
fn panics_are_caught_the_rest_run_and_the_last_is_returned() {
    let log = Log::default();
    let r = Registry::new();
    r.register(log.handler("a"));
    Registration::new(|| panic!("first failure")).name("first").register_in(&r);
    r.register(log.handler("b"));
    Registration::new(|| std::panic::panic_any(String::from("second failure"))).name("second").register_in(&r);
    r.register(log.handler("c"));
    let err = r.run().unwrap_err();
    assert_eq!(log.entries(), ["c", "b", "a"]);
    assert_eq!(err.name(), "first", "the last panic raised is the first registered");
    assert_eq!(err.message(), "first failure");
    let resumed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| err.resume())).unwrap_err();
    assert_eq!(resumed.downcast_ref::<&str>(), Some(&"first failure"));
}

#[test]
fn a_panic_says_its_message_whatever_the_payload() {
    let r = Registry::new();
    Registration::new(|| std::panic::panic_any(42u8)).name("number").register_in(&r);
    let err = r.run().unwrap_err();
    assert_eq!(err.to_string(), "exit handler `number` panicked: Box<dyn Any>");
    assert_eq!(err.into_payload().downcast_ref::<u8>(), Some(&42));
    Registration::new(|| std::panic::panic_any(String::from("owned"))).register_in(&r);
    assert_eq!(r.run().unwrap_err().message(), "owned");
}

#[test]
fn a_panicking_closure_is_named_after_where_it_was_registered() {
    let r = Registry::new();
    let line = line!() + 1;
    r.register(|| panic!("boom"));
    let err = r.run().unwrap_err();
    // `file!()`: the path differs between the workspace and the published crate.
    let at = format!(
        "registry::a_panicking_closure_is_named_after_where_it_was_registered::{{closure@{}:{line}:7}}",
        file!()
    );
    assert_eq!(err.name(), at);
    assert!(err.to_string().ends_with("panicked: boom"), "{err}");
    Registration::new(|| panic!("boom")).name("given").register_in(&r);
    assert_eq!(r.run().unwrap_err().name(), "given", "a name given wins");
    fn item() {
        panic!("boom")
    }
    r.register(item);
    assert_eq!(
        r.run().unwrap_err().name(),
        "registry::a_panicking_closure_is_named_after_where_it_was_registered::item"
    );
}

#[test]
fn compaction_keeps_order_and_handles() {
    let log = Log::default();
    let r = Registry::new();
    let handles: Vec<_> = (0..100).map(|i| r.register(log.handler(&i.to_string()))).collect();
    let mut kept = Vec::new();
    for (i, h) in handles.into_iter().enumerate() {
        if i % 4 == 0 {
            kept.push(h);
        } else {
            assert!(h.unregister());
        }
    }
    assert_eq!(r.len(), 25);
    // Handles still find their slots after the stack was compacted.
    assert!(kept.pop().unwrap().unregister());
    assert!(kept.iter().all(|h| h.is_pending()));
    r.run().unwrap();
    let expected: Vec<String> = (0..=92).rev().filter(|i| i % 4 == 0).map(|i| i.to_string()).collect();
    assert_eq!(log.entries(), expected);
}

#[test]
fn removing_the_oldest_first_keeps_order_and_handles() {
    // Cutting empty slots off the bottom of a stack moves its base; handles
    // made before and after the cut must all still find their slots.
    let log = Log::default();
    let r = Registry::new();
    let mut handles: Vec<_> = (0..100).map(|i| Some(r.register(log.handler(&i.to_string())))).collect();
    for h in &mut handles[..60] {
        assert!(h.take().unwrap().unregister());
    }
    handles.extend((100..110).map(|i| Some(r.register(log.handler(&i.to_string())))));
    for h in &mut handles[60..70] {
        assert!(h.take().unwrap().unregister());
    }
    for (i, h) in handles.iter_mut().enumerate().skip(100) {
        if i % 2 == 1 {
            assert!(h.take().unwrap().unregister());
        }
    }
    assert_eq!(r.len(), 35);
    assert!(handles.iter().flatten().all(|h| h.is_pending()));
    r.run().unwrap();
    let expected: Vec<String> = (70..110).rev().filter(|&i| i < 100 || i % 2 == 0).map(|i| i.to_string()).collect();
    assert_eq!(log.entries(), expected);
    assert!(handles.into_iter().flatten().all(|h| !h.unregister()));
}

#[test]
fn concurrent_runs_run_each_handler_once() {
    let r = Arc::new(Registry::new());
    let count = Arc::new(AtomicUsize::new(0));
    let n = if cfg!(miri) { 20 } else { 1000 };
    for _ in 0..n {
        let c = Arc::clone(&count);
        r.register(move || {
            c.fetch_add(1, Ordering::SeqCst);
        });
    }
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let r = Arc::clone(&r);
            std::thread::spawn(move || r.run().unwrap())
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(count.load(Ordering::SeqCst), n);
}

#[test]
fn eight_threads_registering_and_unregistering() {
    const THREADS: usize = 8;
    let per_thread = if cfg!(miri) { 12 } else { 500 };
    let r = Arc::new(Registry::new());
    // runs[t][i]: how many times thread t's i-th handler ran.
    let runs: Arc<Vec<Vec<AtomicUsize>>> =
        Arc::new((0..THREADS).map(|_| (0..per_thread).map(|_| AtomicUsize::new(0)).collect()).collect());
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (r, runs) = (Arc::clone(&r), Arc::clone(&runs));
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                for i in 0..per_thread {
                    let runs = Arc::clone(&runs);
                    let h = r.register(move || {
                        runs[t][i].fetch_add(1, Ordering::SeqCst);
                    });
                    // Every third registration is removed again, some at once,
                    // some after others were added on top of it.
                    if i % 3 == 0 {
                        assert!(h.unregister());
                    } else if i % 3 == 1 && i % 2 == 0 {
                        kept.push((i, h));
                    }
                    if i % 10 == 9 {
                        if let Some((_, h)) = kept.pop() {
                            assert!(h.unregister());
                        }
                    }
                }
                kept.into_iter().map(|(i, _)| i).collect::<Vec<_>>()
            })
        })
        .collect();
    let kept_pending: Vec<Vec<usize>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    r.run().unwrap();
    for t in 0..THREADS {
        for i in 0..per_thread {
            let ran = runs[t][i].load(Ordering::SeqCst);
            let removed_at_once = i % 3 == 0;
            let held = i % 3 == 1 && i % 2 == 0;
            let expected = if removed_at_once || (held && !kept_pending[t].contains(&i)) { 0 } else { 1 };
            assert_eq!(ran, expected, "thread {t} handler {i}");
        }
    }
}

#[test]
fn unregister_stays_exact_as_registrations_come_and_go() {
    fn a() {}
    fn b() {}
    fn c() {}
    let n = if cfg!(miri) { 100 } else { 3000 };
    let r = Registry::new();
    let handles: Vec<_> = (0..n).map(|_| r.register(a)).collect();
    r.register(b);
    // Indexes everything pending so far.
    assert_eq!(r.unregister(c), 0);
    for h in handles {
        assert!(h.unregister());
    }
    r.register(b);
    // The index now lists many removed registrations; it must still be exact.
    assert_eq!(r.unregister(a), 0);
    assert_eq!(r.unregister(b), 2);
    for _ in 0..10 {
        r.register(a);
    }
    r.run().unwrap();
    r.register(a);
    assert_eq!(r.unregister(a), 1, "registrations that ran are not counted");
    assert!(r.is_empty());
}

#[test]
fn a_pending_closure_capturing_an_atomic_survives_unregister_and_runs() {
    // Interior mutability captured by value: the registry must never read
    // it through a shared reference that it then writes through (Miri
    // checks this under Stacked and Tree Borrows).
    use std::sync::atomic::AtomicU64;
    let r = Registry::new();
    let counter = AtomicU64::new(0);
    r.register(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        assert_eq!(counter.load(Ordering::SeqCst), 1);
    });
    let cell = std::cell::Cell::new(5u32);
    let unsync = std::sync::Mutex::new(cell);
    r.register(move || unsync.lock().unwrap().set(6));
    assert_eq!(r.unregister(unrelated), 0);
    assert_eq!(r.len(), 2);
    r.run().unwrap();
}

#[test]
fn random_priorities_and_removals_agree_with_a_plain_model() {
    // The registry against the simplest thing that could be right: a list
    // of (priority, number) run by priority, then newest first. Registrations
    // switch between priorities (the registry keeps the stack used last
    // apart from the others), and removals through handles compact stacks.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let priorities = [-5, 0, 0, 0, 3, 10];
    let rounds = if cfg!(miri) { 3 } else { 40 };
    for _ in 0..rounds {
        let log = Log::default();
        let r = Registry::new();
        let mut model: Vec<(i32, usize)> = Vec::new();
        let mut handles = Vec::new();
        for number in 0..(if cfg!(miri) { 40 } else { 300 }) {
            if next(4) == 0 && !handles.is_empty() {
                let (priority, n, handle): (i32, usize, atexit_core::Handle) =
                    handles.swap_remove(next(handles.len() as u64) as usize);
                assert!(handle.is_pending());
                assert_eq!(handle.priority(), priority);
                assert!(handle.unregister());
                model.retain(|&(_, m)| m != n);
            } else {
                let priority = priorities[next(priorities.len() as u64) as usize];
                let handle = Registration::new(log.handler(&number.to_string())).priority(priority).register_in(&r);
                model.push((priority, number));
                handles.push((priority, number, handle));
            }
            assert_eq!(r.len(), model.len());
        }
        r.run().unwrap();
        model.sort_by_key(|&(priority, n)| std::cmp::Reverse((priority, n)));
        let expected: Vec<String> = model.iter().map(|(_, n)| n.to_string()).collect();
        assert_eq!(log.entries(), expected);
        assert!(handles.iter().all(|(_, _, h)| !h.is_pending()));
    }
}
