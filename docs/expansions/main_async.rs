// Input:
#[atexit::main]
#[tokio::main]
async fn main() {
    serve().await;
}

// Output:
fn main() -> ::std::process::ExitCode {
    #[tokio::main]
    async fn __atexit_main() -> ::std::process::ExitCode {
        let output: () = async move {
            serve().await;
        }
            .await;
        let code = ::std::process::Termination::report(output);
        ::atexit::__private::run_exit_async(code).await;
        code
    }
    ::atexit::__private::run_main(__atexit_main)
}
