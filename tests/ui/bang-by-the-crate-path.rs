// The function-like `register!` is `atexit::prelude::register!`: the
// attribute holds `atexit::register` in the one macro namespace, and rustc
// says so before any macro runs (documented on both).
#[atexit::handler]
fn goodbye(name: &str) {
    let _ = name;
}

fn main() {
    atexit::register!(goodbye, "Donny");
}
