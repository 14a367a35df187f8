// `Self = Type` is for an associated function, in an `impl` block.
struct Database;

#[atexit::register(Self = Database)]
fn close_all() {}

fn main() {
    let _ = Database;
}
