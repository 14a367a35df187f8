#[atexit::register(priorty = 5)]
fn flush() {}

fn main() {}
