//! A tokio TCP server with the usual graceful shutdown, on
//! `atexit::signals::install_graceful()`: SIGTERM (or Ctrl-C) closes the
//! listener (a late connection is refused, not left hanging), the requests
//! in flight finish, `main` returns, and then the exit handlers run: an
//! async one asks the application's metrics task to flush and waits for its
//! answer, on the application's runtime (`#[atexit::main]` above
//! `#[tokio::main]`), with status 0. A second signal while it drains runs
//! the handlers at once (the runtime still runs the task) and the process
//! dies of it.
//!
//! ```text
//! cargo run --example graceful_server --features signals,tokio
//! # listening on 127.0.0.1:PORT; each line sent gets "done" after --request-ms (default 200)
//! ```

#[cfg(unix)]
#[atexit::main]
#[tokio::main(flavor = "current_thread")]
async fn main() {
    use std::time::Duration;

    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;
    use tokio::sync::{mpsc, oneshot};
    use tokio::task::JoinSet;

    let request_ms: u64 = std::env::args()
        .skip_while(|a| a != "--request-ms")
        .nth(1)
        .map_or(200, |ms| ms.parse().expect("--request-ms N"));
    let shutdown = atexit::signals::install_graceful().expect("signal handlers");
    // With `--exit-as-signal`, the drained server then dies of the signal
    // that asked, for a supervisor that reads the status.
    let exit_as_signal = std::env::args().any(|a| a == "--exit-as-signal");

    // The application's metrics task: counts requests, and flushes when asked.
    enum Metrics {
        Request,
        Flush(oneshot::Sender<()>),
    }
    let (metrics, mut received) = mpsc::unbounded_channel::<Metrics>();
    tokio::spawn(async move {
        let mut requests = 0;
        while let Some(message) = received.recv().await {
            match message {
                Metrics::Request => requests += 1,
                Metrics::Flush(done) => {
                    println!("metrics task: flushed {requests} requests");
                    let _ = done.send(());
                }
            }
        }
    });
    // The flush needs that task: an async handler, with a time limit.
    let flush = metrics.clone();
    atexit::register_async(Duration::from_secs(2), move || async move {
        let (done, flushed) = oneshot::channel();
        let _ = flush.send(Metrics::Flush(done));
        if flushed.await.is_ok() {
            println!("handler: metrics flushed");
        }
    });

    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    println!("listening on {}", listener.local_addr().expect("an address"));

    let mut in_flight = JoinSet::new();
    let cause = loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = metrics.send(Metrics::Request);
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
        // Not `shutdown.exit_as_requested()`: called here it would block the
        // runtime's one thread, and the metrics task with it.
        atexit::end_with(shutdown.requested_ending());
    }
}

#[cfg(not(unix))]
fn main() {
    eprintln!("this example uses atexit::signals: Unix only");
}
