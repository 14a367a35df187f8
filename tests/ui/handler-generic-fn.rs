#[atexit::handler]
fn goodbye<T: std::fmt::Display>(name: T) {
    println!("Goodbye {name}");
}

fn main() {}
