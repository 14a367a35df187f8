//! A tokio TCP server with the usual graceful shutdown, on
//! `atexit::signals::install_graceful()`: SIGTERM (or Ctrl-C) closes the
//! listener (a late connection is refused, not left hanging), the requests
//! in flight finish, `main` returns, and then the exit handlers run
//! (flushing metrics here), with status 0. A second signal while it drains
//! runs the handlers at once and the process dies of it.
//!
//! ```text
//! cargo run --example graceful_server
//! # listening on 127.0.0.1:PORT; each line sent gets "done" after --request-ms (default 200)
//! ```

#[cfg(unix)]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    use std::time::Duration;

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;
    use tokio::task::JoinSet;

    let request_ms: u64 = std::env::args()
        .skip_while(|a| a != "--request-ms")
        .nth(1)
        .map_or(200, |ms| ms.parse().expect("--request-ms N"));
    let shutdown = atexit::signals::install_graceful().expect("signal handlers");
    // With `--exit-as-signal`, the drained server then dies of the signal
    // that asked, for a supervisor that reads the status.
    let exit_as_signal = std::env::args().any(|a| a == "--exit-as-signal");
    atexit::register(|| println!("handler: metrics flushed"));

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!("listening on {}", listener.local_addr().expect("an address"));

    let mut in_flight = JoinSet::new();
    let cause = loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                in_flight.spawn(async move {
                    let (read, mut write) = stream.into_split();
                    let mut line = String::new();
                    if BufReader::new(read).read_line(&mut line).await.is_ok() {
                        tokio::time::sleep(Duration::from_millis(request_ms)).await;
                        let _ = write.write_all(b"done\n").await;
                    }
                });
            }
            cause = shutdown.requested_async() => break cause,
        }
    };
    drop(listener);
    println!("shutdown requested by {cause}: draining {} in flight", in_flight.len());
    while in_flight.join_next().await.is_some() {}
    println!("drained");
    if exit_as_signal {
        shutdown.exit_as_requested();
    }
}

#[cfg(not(unix))]
fn main() {
    eprintln!("this example uses atexit::signals: Unix only");
}
