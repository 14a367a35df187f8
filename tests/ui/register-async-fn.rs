#[atexit::register]
async fn flush() {}

fn main() {}
