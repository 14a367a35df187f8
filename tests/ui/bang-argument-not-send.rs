use atexit::prelude::*;
use std::rc::Rc;

fn report(count: Rc<u32>) {
    println!("{count}");
}

fn main() {
    register!(report, Rc::new(1));
}
