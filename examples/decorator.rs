//! Python's decorator form, `@atexit.register`, in Rust: the function is
//! registered statically, before `main`, and stays an ordinary function.
//!
//! ```text
//! $ cargo run --example decorator
//! Still in the Python sector.
//! You are now leaving the Python sector.
//! ```

#[atexit::register]
fn goodbye() {
    println!("You are now leaving the Python sector.");
}

fn main() {
    println!("Still in the Python sector.");
}
