// `Self = Type` must name the `impl` block's own type.
struct Database;
struct Cache;

impl Cache {
    fn close_all() {}
}

impl Database {
    #[atexit::register(Self = Cache)]
    fn close_all() {}
}

fn main() {
    Cache::close_all();
}
