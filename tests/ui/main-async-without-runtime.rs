#[atexit::main]
async fn main() {}
