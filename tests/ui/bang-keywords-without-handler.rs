use atexit::prelude::*;

fn goodbye(name: &str) {
    println!("Goodbye {name}");
}

fn main() {
    register!(goodbye, name = "Donny");
}
