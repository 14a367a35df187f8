//! Python's `atexit.register(goodbye, 'Donny', 'nice')` and
//! `atexit.register(goodbye, adjective='nice', name='Donny')`, in Rust.
//!
//! `#[atexit::handler]` lets `register!` pass arguments by keyword, checked
//! at compile time: a misspelt or missing keyword does not compile.
//!
//! ```text
//! $ cargo run --example goodbye
//! Goodbye Donny, it was nice to meet you.
//! Goodbye Walter, it was nice to meet you.
//! Goodbye Donny, it was nice to meet you.
//! ```

use atexit::prelude::*;

#[atexit::handler]
fn goodbye(name: &str, adjective: &str) {
    println!("Goodbye {name}, it was {adjective} to meet you.");
}

fn main() {
    // Positional, as `atexit.register(goodbye, 'Donny', 'nice')`.
    register!(goodbye, "Donny", "nice");
    // Keywords in any order, as `atexit.register(goodbye, adjective='nice', name='Donny')`.
    register!(goodbye, adjective = "nice", name = "Walter");
    // Positional first, then keywords.
    register!(goodbye, "Donny", adjective = "nice");
}
