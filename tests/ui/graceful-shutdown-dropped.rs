// A `Shutdown` dropped at once cannot see the request: a warning, denied here.
#![deny(unused_must_use)]

fn main() -> std::io::Result<()> {
    atexit::signals::install_graceful()?;
    Ok(())
}
