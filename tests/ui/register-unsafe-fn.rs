#[atexit::register]
unsafe fn flush() {}

fn main() {}
