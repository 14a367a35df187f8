// An attribute sees only the function, not its `impl`: the type must be
// named with `Self = Type`.
struct Database;

impl Database {
    #[atexit::register]
    fn close_all() {}
}

fn main() {}
