#[atexit::register]
fn goodbye(name: &str) {
    println!("Goodbye {name}");
}

fn main() {}
