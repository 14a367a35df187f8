#[atexit::handler(priority = 1)]
fn goodbye(name: &str) {
    println!("Goodbye {name}");
}

fn main() {}
