//! Two libraries that flush at exit, one logging through the other (the cookbook's recipe): at one named priority
//! their order follows a hash of their module paths, so renaming a crate can lose the telemetry's last log line; at
//! `LATE` and `LOGGING` it cannot. Their static handlers are submitted as generated code submits them, under two
//! namings; each pair has a log of its own. A unit test of the process registry's order, not of exit.

use std::sync::Mutex;

use atexit_core::__private::{StaticHandler, identity_fn, inventory};
use atexit_core::priority::{LATE, LOGGING};

/// Per pair: the lines buffered by the log library, and whether its flush has run.
static LOGS: [Mutex<(Vec<&str>, bool)>; 4] = [const { Mutex::new((Vec::new(), false)) }; 4];
/// Per pair: the lines the log library wrote out.
static WRITTEN: [Mutex<Vec<&str>>; 4] = [const { Mutex::new(Vec::new()) }; 4];

fn log(pair: usize, line: &'static str) {
    let mut log = LOGS[pair].lock().unwrap();
    if !log.1 {
        log.0.push(line);
    }
}

fn flush_log(pair: usize) {
    let mut log = LOGS[pair].lock().unwrap();
    log.1 = true;
    WRITTEN[pair].lock().unwrap().append(&mut log.0);
}

macro_rules! pair {
    ($pair:literal, $telemetry:ident @ $telemetry_module:literal, $log:ident @ $log_module:literal, $log_priority:expr) => {
        fn $telemetry() {
            log($pair, "telemetry: last spans exported");
        }
        fn $log() {
            flush_log($pair);
        }
        inventory::submit! {
            StaticHandler::new($telemetry, identity_fn(&$telemetry), $telemetry_module, "flush", 1, LATE, false, false)
        }
        inventory::submit! {
            StaticHandler::new($log, identity_fn(&$log), $log_module, "flush", 1, $log_priority, false, false)
        }
    };
}

// FNV-1a of "telemetry" is above that of "logger", and of "mytelemetry" below that of "mylog": at one priority, the
// first naming runs the telemetry's flush first, the second the log's.
pair!(0, telemetry_0 @ "telemetry", log_0 @ "logger", LATE);
pair!(1, telemetry_1 @ "mytelemetry", log_1 @ "mylog", LATE);
pair!(2, telemetry_2 @ "telemetry", log_2 @ "logger", LOGGING);
pair!(3, telemetry_3 @ "mytelemetry", log_3 @ "mylog", LOGGING);

#[test]
fn logging_after_late_keeps_the_telemetrys_line_whatever_the_names() {
    atexit_core::run_exitfuncs().unwrap();
    let kept: Vec<bool> =
        WRITTEN.iter().map(|w| w.lock().unwrap().contains(&"telemetry: last spans exported")).collect();
    // At one priority a rename loses the line; at `LATE` and `LOGGING` neither naming does.
    assert_eq!(kept, [true, false, true, true]);
}
