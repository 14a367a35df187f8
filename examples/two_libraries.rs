//! Two libraries that flush at exit, one logging through the other: the
//! cookbook's recipe (`docs/cookbook.md`). Each module stands for a crate.
//!
//! The telemetry library's flush logs what it exported, so it must run
//! before the log library's flush. At one named priority their order would
//! follow a hash of their crates' names (a rename could lose that last
//! line); the telemetry flushes at `priority::LATE` and the log at
//! `priority::LOGGING`, which runs after it, whatever the names.
//!
//! ```sh
//! cargo run --example two_libraries
//! ```

/// The log library: lines are buffered, and written out by its exit handler.
mod mylog {
    use std::sync::Mutex;

    static BUFFER: Mutex<Vec<String>> = Mutex::new(Vec::new());

    pub fn info(line: impl Into<String>) {
        BUFFER.lock().unwrap().push(line.into());
    }

    #[atexit::register(priority = atexit::priority::LOGGING, name = "mylog: flush")]
    fn flush() {
        for line in BUFFER.lock().unwrap().drain(..) {
            println!("log: {line}");
        }
    }
}

/// The telemetry library, which logs through `mylog`.
mod mytelemetry {
    use std::sync::atomic::{AtomicUsize, Ordering};

    static PENDING: AtomicUsize = AtomicUsize::new(0);

    pub fn record_span() {
        PENDING.fetch_add(1, Ordering::Relaxed);
    }

    #[atexit::register(priority = atexit::priority::LATE, name = "mytelemetry: flush")]
    fn flush() {
        let spans = PENDING.swap(0, Ordering::Relaxed);
        crate::mylog::info(format!("mytelemetry: exported {spans} spans"));
    }
}

fn main() {
    mytelemetry::record_span();
    mytelemetry::record_span();
    mylog::info("main: done");
}
