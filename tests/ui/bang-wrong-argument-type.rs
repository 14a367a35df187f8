use atexit::prelude::*;

fn goodbye(name: &str, times: u32) {
    println!("Goodbye {name} x{times}");
}

fn main() {
    register!(goodbye, "Donny", "three");
}
