#[atexit::handler]
fn goodbye(name: impl std::fmt::Display) {
    println!("Goodbye {name}");
}

fn main() {}
