use atexit::prelude::*;

#[atexit::handler]
fn goodbye(name: &str, adjective: &str) {
    println!("Goodbye {name}, it was {adjective} to meet you.");
}

fn main() {
    register!(goodbye, name = "Donny", adjective = "nice", name = "Walter");
}
