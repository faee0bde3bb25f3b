//! The TCP echo benchmark's zokio server (see `benches/README.md`).
//!
//! ```text
//! echo_server_zokio [--addr 127.0.0.1:0] [--backend mio|io_uring|io_uring-sqpoll]
//!                   [--flavor multi_thread|current_thread] [--owned]
//! ```
//!
//! One runtime is declared per (backend, flavor) pair; `multi_thread` has 2
//! workers, like the tokio server. `io_uring-sqpoll` is io_uring with
//! `io(uring_sqpoll = "2ms")` (`multi_thread` only). Each connection echoes with one reusable
//! buffer: `read` then `write_all` through `AsyncReadExt`/`AsyncWriteExt`,
//! or, with `--owned`, `read_owned` then `write_all_owned`, which hand the
//! buffer to the runtime and back (on io_uring the kernel reads into and
//! writes from it directly, without a copy through a runtime buffer).
//!
//! Once bound it prints `listening on ADDR pid PID` on stdout; the runtime's
//! description goes to stderr. It serves until it is killed.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use zokio::net::{TcpListener, TcpStream};

mod connection;

zokio::runtime! { MioMultiThread { flavor = "multi_thread", workers = 2, backend = "mio" } }
zokio::runtime! { UringMultiThread { flavor = "multi_thread", workers = 2, backend = "io_uring" } }
zokio::runtime! { MioCurrentThread { flavor = "current_thread", backend = "mio" } }
zokio::runtime! { UringCurrentThread { flavor = "current_thread", backend = "io_uring" } }
zokio::runtime! {
    UringSqpollMultiThread {
        flavor = "multi_thread", workers = 2, backend = "io_uring", io(uring_sqpoll = "2ms")
    }
}

const USAGE: &str = "usage: echo_server_zokio [--addr HOST:PORT] \
                     [--backend mio|io_uring|io_uring-sqpoll] \
                     [--flavor multi_thread|current_thread] [--owned]";

async fn serve(addr: SocketAddr, owned: bool) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    println!(
        "listening on {} pid {}",
        listener.local_addr()?,
        std::process::id()
    );
    loop {
        match listener.accept().await {
            Ok((stream, _peer)) => {
                if owned {
                    zokio::spawn(echo_owned(stream));
                } else {
                    zokio::spawn(echo(stream));
                }
            }
            Err(e) => {
                eprintln!("echo_server_zokio: accept: {e}");
                zokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Echoes until the peer closes (the loop shared with the other server).
async fn echo(stream: TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        eprintln!("echo_server_zokio: set_nodelay: {e}");
    }
    connection::echo("echo_server_zokio", stream).await;
}

/// [`echo`] with the owned-buffer calls: the buffer moves into each call and
/// comes back with its result.
async fn echo_owned(stream: TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        eprintln!("echo_server_zokio: set_nodelay: {e}");
    }
    let mut buf = Vec::with_capacity(connection::BUFFER);
    loop {
        let (result, returned) = stream.read_owned(buf).await;
        buf = returned;
        match result {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => return connection::report("echo_server_zokio", &e),
        }
        let (result, returned) = stream.write_all_owned(buf).await;
        buf = returned;
        if let Err(e) = result {
            return connection::report("echo_server_zokio", &e);
        }
        buf.clear();
    }
}

/// Runs the server on runtime type `S` through its one-shot entry point,
/// the one `#[zokio::main]` uses (build, run, shut down on this thread).
macro_rules! run {
    ($rt:ty, $addr:expr, $owned:expr) => {{
        eprintln!("{}", <$rt>::describe());
        eprintln!(
            "  echo                  = {}",
            if $owned {
                "read_owned/write_all_owned"
            } else {
                "read/write_all"
            }
        );
        <$rt>::block_on(serve($addr, $owned))
    }};
}

fn main() -> ExitCode {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 0).into();
    let mut uring = false;
    let mut sqpoll = false;
    let mut multi_thread = true;
    let mut owned = false;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--owned" {
            owned = true;
            continue;
        }
        let value = args.next();
        match (flag.as_str(), value.as_deref()) {
            ("--addr", Some(v)) => match v.parse() {
                Ok(a) => addr = a,
                Err(e) => {
                    eprintln!("echo_server_zokio: --addr {v}: {e}");
                    return ExitCode::from(2);
                }
            },
            ("--backend", Some("mio")) => uring = false,
            ("--backend", Some("io_uring")) => uring = true,
            ("--backend", Some("io_uring-sqpoll")) => (uring, sqpoll) = (true, true),
            ("--flavor", Some("multi_thread")) => multi_thread = true,
            ("--flavor", Some("current_thread")) => multi_thread = false,
            _ => {
                eprintln!("{USAGE}");
                return ExitCode::from(2);
            }
        }
    }
    if sqpoll && !multi_thread {
        eprintln!("echo_server_zokio: io_uring-sqpoll is multi_thread only\n{USAGE}");
        return ExitCode::from(2);
    }
    let result = match (uring, multi_thread) {
        _ if sqpoll => run!(UringSqpollMultiThread, addr, owned),
        (false, true) => run!(MioMultiThread, addr, owned),
        (true, true) => run!(UringMultiThread, addr, owned),
        (false, false) => run!(MioCurrentThread, addr, owned),
        (true, false) => run!(UringCurrentThread, addr, owned),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("echo_server_zokio: {e}");
            ExitCode::FAILURE
        }
    }
}
