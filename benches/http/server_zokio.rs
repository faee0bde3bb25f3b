//! The HTTP benchmark's zokio server (see `benches/README.md`): hyper's
//! HTTP/1.1 server with the shared hello-world service, over
//! `zokio::compat::hyper`.
//!
//! ```text
//! http_server_zokio [--addr 127.0.0.1:0] [--backend mio|io_uring]
//!                   [--flavor multi_thread|current_thread]
//! ```
//!
//! `multi_thread` has 2 workers, like the tokio server. Once bound it prints
//! `listening on ADDR pid PID` on stdout; the runtime's description goes to
//! stderr. It serves until it is killed.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use zokio::compat::hyper::{ZokioIo, ZokioTimer};
use zokio::net::{TcpListener, TcpStream};

mod service;

zokio::runtime! { MioMultiThread { flavor = "multi_thread", workers = 2, backend = "mio" } }
zokio::runtime! { UringMultiThread { flavor = "multi_thread", workers = 2, backend = "io_uring" } }
zokio::runtime! { MioCurrentThread { flavor = "current_thread", backend = "mio" } }
zokio::runtime! { UringCurrentThread { flavor = "current_thread", backend = "io_uring" } }

const NAME: &str = "http_server_zokio";
const USAGE: &str = "usage: http_server_zokio [--addr HOST:PORT] [--backend mio|io_uring] \
                     [--flavor multi_thread|current_thread]";

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
                zokio::spawn(connection(stream));
            }
            Err(e) => {
                eprintln!("{NAME}: accept: {e}");
                zokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

async fn connection(stream: TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        eprintln!("{NAME}: set_nodelay: {e}");
    }
    let served = service::http1(ZokioTimer::new())
        .serve_connection(
            ZokioIo::new(stream),
            hyper::service::service_fn(service::hello),
        )
        .await;
    if let Err(e) = served {
        service::report(NAME, &e);
    }
}

/// Runs the server on runtime type `S` through its one-shot entry point,
/// the one `#[zokio::main]` uses (build, run, shut down on this thread).
macro_rules! run {
    ($rt:ty, $addr:expr) => {{
        eprintln!("{}", <$rt>::describe());
        <$rt>::block_on(serve($addr))
    }};
}

fn main() -> ExitCode {
    let (addr, multi_thread, uring) = match service::parse_args(USAGE, true) {
        Ok(parsed) => parsed,
        Err(message) => {
            eprintln!("{NAME}: {message}");
            return ExitCode::from(2);
        }
    };
    let result = match (uring, multi_thread) {
        (false, true) => run!(MioMultiThread, addr),
        (true, true) => run!(UringMultiThread, addr),
        (false, false) => run!(MioCurrentThread, addr),
        (true, false) => run!(UringCurrentThread, addr),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{NAME}: {e}");
            ExitCode::FAILURE
        }
    }
}
