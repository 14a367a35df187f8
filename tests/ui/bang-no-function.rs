use atexit::prelude::*;

fn main() {
    register!();
}
