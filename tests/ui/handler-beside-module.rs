// `#[atexit::handler]` defines a type named like the function; a module of
// that name beside it is a second `cleanup` in the type namespace.
mod cleanup {}

#[atexit::handler]
fn cleanup(path: &str) {
    let _ = path;
}

fn main() {}
