//! The TCP echo benchmark's baseline server, on tokio (see
//! `benches/README.md`). It is `server_zokio.rs` line for line, with tokio's
//! runtime and sockets; the echo loop itself is `connection.rs`, shared.
//!
//! ```text
//! echo_server_tokio [--addr 127.0.0.1:0] [--flavor multi_thread|current_thread]
//! ```
//!
//! `multi_thread` has 2 workers, like the zokio server. Once bound it prints
//! `listening on ADDR pid PID` on stdout; the runtime's description goes to
//! stderr. It serves until it is killed.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;

use tokio::net::{TcpListener, TcpStream};

mod connection;

const USAGE: &str =
    "usage: echo_server_tokio [--addr HOST:PORT] [--flavor multi_thread|current_thread]";

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
                tokio::spawn(echo(stream));
            }
            Err(e) => {
                eprintln!("echo_server_tokio: accept: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    }
}

/// Echoes until the peer closes (the loop shared with the other server).
async fn echo(stream: TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        eprintln!("echo_server_tokio: set_nodelay: {e}");
    }
    connection::echo("echo_server_tokio", stream).await;
}

fn main() -> ExitCode {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut multi_thread = true;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value.as_deref()) {
            ("--addr", Some(v)) => match v.parse() {
                Ok(a) => addr = a,
                Err(e) => {
                    eprintln!("echo_server_tokio: --addr {v}: {e}");
                    return ExitCode::from(2);
                }
            },
            ("--flavor", Some("multi_thread")) => multi_thread = true,
            ("--flavor", Some("current_thread")) => multi_thread = false,
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    let runtime = if multi_thread {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    };
    let result = runtime.and_then(|rt| {
        eprintln!(
            "tokio runtime: {}",
            if multi_thread {
                "multi_thread, 2 workers"
            } else {
                "current_thread"
            }
        );
        rt.block_on(serve(addr))
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server_tokio: {e}");
            ExitCode::FAILURE
        }
    }
}
