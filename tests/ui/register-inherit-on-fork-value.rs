#[atexit::register(inherit_on_fork = true)]
fn flush() {}

fn main() {}
