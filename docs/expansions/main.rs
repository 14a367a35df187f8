// Input:
#[atexit::main]
fn main() -> Result<(), Error> { run() }

// Output:
fn main() -> ::std::process::ExitCode {
    fn __atexit_main() -> Result<(), Error> {
        run()
    }
    ::atexit::__private::run_main(__atexit_main)
}
