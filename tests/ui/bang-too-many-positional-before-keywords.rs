use atexit::prelude::*;

#[atexit::handler]
fn goodbye(name: &str) {
    println!("Goodbye {name}");
}

fn main() {
    register!(goodbye, "Donny", "Walter", name = "Maude");
}
