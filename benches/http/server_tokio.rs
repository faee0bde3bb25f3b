//! The HTTP benchmark's baseline server, on tokio (see `benches/README.md`).
//! It is `server_zokio.rs` line for line, with tokio's runtime and sockets
//! and hyper-util's tokio adapters (`TokioIo`, `TokioTimer`), the ones a
//! tokio user would take; the service and hyper's settings are
//! `service.rs`, shared.
//!
//! ```text
//! http_server_tokio [--addr 127.0.0.1:0] [--flavor multi_thread|current_thread]
//! ```
//!
//! `multi_thread` has 2 workers, like the zokio server. Once bound it prints
//! `listening on ADDR pid PID` on stdout; the runtime's description goes to
//! stderr. It serves until it is killed.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};

mod service;

const NAME: &str = "http_server_tokio";
const USAGE: &str =
    "usage: http_server_tokio [--addr HOST:PORT] [--flavor multi_thread|current_thread]";

async fn serve(addr: SocketAddr) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!(
        "listening on {} pid {}",
        listener.local_addr()?,
        std::process::id()
    );
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                tokio::spawn(connection(stream));
            }
            Err(e) => {
                eprintln!("{NAME}: accept: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn connection(stream: TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        eprintln!("{NAME}: set_nodelay: {e}");
    }
    let served = service::http1(TokioTimer::new())
        .serve_connection(
            TokioIo::new(stream),
            hyper::service::service_fn(service::hello),
        )
        .await;
    if let Err(e) = served {
        service::report(NAME, &e);
    }
}

fn main() -> ExitCode {
    let (addr, multi_thread, _) = match service::parse_args(USAGE, false) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{NAME}: {message}");
            return ExitCode::from(2);
        }
    };
    let mut builder = if multi_thread {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(2);
        builder
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let rt = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "tokio {} runtime{}",
        if multi_thread {
            "multi_thread"
        } else {
            "current_thread"
        },
        if multi_thread { ", 2 workers" } else { "" }
    );
    match rt.block_on(serve(addr)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            ExitCode::FAILURE
        }
    }
}
