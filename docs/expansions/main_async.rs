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
        match ::atexit::__private::CatchUnwind::new(async move {
                serve().await;
            })
            .await
        {
            ::std::result::Result::Ok(output) => {
                let output: () = output;
                let code = ::std::process::Termination::report(output);
                ::atexit::__private::run_exit_async(::std::option::Option::Some(code))
                    .await;
                code
            }
            ::std::result::Result::Err(payload) => {
                ::atexit::__private::run_exit_async(::std::option::Option::None).await;
                ::std::panic::resume_unwind(payload)
            }
        }
    }
    ::atexit::__private::run_main(__atexit_main)
}
