// A time limit is the process registry's: a local registry refuses it.
use std::time::Duration;

fn main() {
    let registry = atexit::Registry::new();
    atexit::Registration::new(|| {}).time_limit(Duration::from_millis(100)).register_in(&registry);
}
