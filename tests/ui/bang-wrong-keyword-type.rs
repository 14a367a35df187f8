use atexit::prelude::*;

#[atexit::handler]
fn goodbye(name: &str, times: u32) {
    println!("Goodbye {name} x{times}");
}

fn main() {
    register!(goodbye, times = "three", name = "Donny");
}
