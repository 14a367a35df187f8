#[atexit::handler]
fn goodbye((first, last): (&str, &str)) {
    println!("Goodbye {first} {last}");
}

fn main() {}
