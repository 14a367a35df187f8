use atexit::prelude::*;

fn goodbye(name: &str, adjective: &str) {
    println!("Goodbye {name}, it was {adjective} to meet you.");
}

fn main() {
    register!(goodbye, "Donny");
}
