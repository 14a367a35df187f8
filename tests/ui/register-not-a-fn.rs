#[atexit::register]
struct Logger;

fn main() {}
