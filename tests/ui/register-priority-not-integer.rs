#[atexit::register(priority = "high")]
fn flush() {}

fn main() {}
