// Input:
#[atexit::main]
#[tokio::main]
async fn main() {
    serve().await;
}

// Output:
fn main() -> ::std::process::ExitCode {
    #[tokio::main]
    async fn __atexit_main() {
        let output: () = async move {
            serve().await;
        }
            .await;
        ::atexit::__private::run_exit_async().await;
        output
    }
    ::atexit::__private::run_main(__atexit_main)
}
