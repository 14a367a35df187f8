// An async closure is an async handler: `register` says to use `register_async`.
fn main() {
    atexit::register(|| async {});
}
