struct Logger;

impl Logger {
    #[atexit::register]
    fn flush(&self) {}
}

fn main() {}
