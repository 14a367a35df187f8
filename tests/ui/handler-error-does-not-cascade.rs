use atexit::prelude::*;

#[atexit::handler]
async fn goodbye(name: &str, adjective: &str) {
    println!("Goodbye {name}, it was {adjective} to meet you.");
}

fn main() {
    register!(goodbye, name = "Donny", adjective = "nice");
    register!(goodbye, "Walter", adjective = "nice");
}
