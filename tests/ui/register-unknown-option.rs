#[atexit::register(order = 1)]
fn flush() {}

fn main() {}
