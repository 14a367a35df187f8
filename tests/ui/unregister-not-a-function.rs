fn main() {
    let handle = atexit::register(|| {});
    atexit::unregister(handle);
}
