use atexit::prelude::*;

fn goodbye(name: &str) {
    println!("Goodbye {name}");
}

fn main() {
    let name = String::from("Donny");
    register!(goodbye, &name);
}
