#[atexit::register(priority = 1, priority = 2)]
fn flush() {}

fn main() {}
