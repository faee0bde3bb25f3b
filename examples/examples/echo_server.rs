//! A TCP echo server: every byte a client sends comes straight back.
//!
//! ```sh
//! cargo run -p zokio-examples --example echo_server              # 127.0.0.1:7878
//! cargo run -p zokio-examples --example echo_server -- 0.0.0.0:9000
//! cargo run -p zokio-examples --example echo_server -- --addr [::1]:7878
//! ```
//!
//! Then, from another terminal, type lines and see them echoed:
//!
//! ```sh
//! nc 127.0.0.1 7878
//! ```
//!
//! Each connection is served by its own task; an error on one connection is
//! logged and ends that connection only, and an error from `accept` (running
//! out of file descriptors, say) is logged and retried after a short pause,
//! so the server keeps running whatever its clients do.

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use zokio::io::{AsyncReadExt, AsyncWriteExt};
use zokio::net::{TcpListener, TcpStream};

zokio::runtime! {
    /// The echo server's runtime.
    ///
    /// `backend = "auto"` uses io_uring where the kernel allows it and mio
    /// (epoll) otherwise; the line `backend = ...` printed at start-up says
    /// which was chosen. Write `backend = "io_uring"` to insist on io_uring
    /// (the server then fails to start, with a clear error, where io_uring is
    /// unavailable) or `backend = "mio"` to always use epoll.
    pub EchoRuntime {
        flavor = "multi_thread",
        workers = "auto",
        backend = "auto",
    }
}

/// Where the server listens unless told otherwise.
const DEFAULT_ADDR: &str = "127.0.0.1:7878";

/// How long to wait before accepting again after `accept` fails.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

const USAGE: &str = "usage: echo_server [[--addr] HOST:PORT]   (default 127.0.0.1:7878)";

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "-h" || a == "--help") {
        println!("A TCP echo server.\n{USAGE}");
        return ExitCode::SUCCESS;
    }
    let addr = match parse_addr(std::env::args().skip(1)) {
        Ok(addr) => addr,
        Err(message) => {
            eprintln!("echo_server: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = match EchoRuntime::build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("echo_server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", rt.describe());
    match rt.block_on(serve(&addr)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server: cannot listen on {addr}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the address from `--addr HOST:PORT` or a lone `HOST:PORT`; a host
/// name (`localhost:7878`) is resolved by `bind`.
fn parse_addr(mut args: impl Iterator<Item = String>) -> Result<String, String> {
    let text = match args.next() {
        None => DEFAULT_ADDR.to_owned(),
        Some(flag) if flag == "--addr" => args.next().ok_or("--addr needs HOST:PORT")?,
        Some(addr) => addr,
    };
    if let Some(extra) = args.next() {
        return Err(format!("unexpected argument `{extra}`"));
    }
    Ok(text)
}

/// Binds, then accepts forever; only a failure to bind ends it.
async fn serve(addr: &str) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {}", listener.local_addr()?);
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                println!("{peer}: connected");
                zokio::spawn(async move {
                    match echo(stream).await {
                        Ok(bytes) => println!("{peer}: closed after {bytes} bytes"),
                        Err(e) => eprintln!("{peer}: connection error: {e}"),
                    }
                });
            }
            Err(e) => {
                // EMFILE, ENFILE, ENOBUFS, ECONNABORTED...: the listener is
                // still good. Pause so a persistent condition (no free file
                // descriptors) does not turn into a busy loop.
                eprintln!("accept failed: {e}; retrying in {ACCEPT_BACKOFF:?}");
                zokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Writes back everything read until the peer closes; returns the byte count.
async fn echo(mut stream: TcpStream) -> io::Result<u64> {
    let mut buf = vec![0u8; 4096];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(total);
        }
        stream.write_all(&buf[..n]).await?;
        total += n as u64;
    }
}
