#[atexit::register]
fn flush() -> std::io::Result<()> {
    Ok(())
}

fn main() {}
