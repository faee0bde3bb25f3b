//! A program whose runtime is declared in `zokio.toml` instead of a
//! `runtime!` invocation: `build.rs` calls `zokio_codegen::build`, and
//! `zokio::include_runtime!()` brings in the generated `EchoRuntime`.
//!
//! ```sh
//! cargo run -p zokio-example-build-rs-config                      # self-check, then exit
//! cargo run -p zokio-example-build-rs-config -- --serve           # echo server on 127.0.0.1:7879
//! ZOKIO_WORKERS=4 cargo run -p zokio-example-build-rs-config      # a build-time override
//! ```
//!
//! Without arguments it prints the runtime's configuration, starts a TCP
//! echo server on a free loopback port, runs `CLIENTS` concurrent clients
//! against it (each sends `BYTES_PER_CLIENT` bytes and checks every byte of
//! the echo), and exits. With `--serve [HOST:PORT]` it keeps serving; talk to
//! it with `nc 127.0.0.1 7879`.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;

use zokio::io::{AsyncReadExt, AsyncWriteExt};
use zokio::net::{TcpListener, TcpStream};

zokio::include_runtime!();

/// Where `--serve` listens unless told otherwise.
const DEFAULT_ADDR: &str = "127.0.0.1:7879";

/// Clients run at once by the self-check.
const CLIENTS: usize = 8;

/// Bytes each self-check client sends (and reads back).
const BYTES_PER_CLIENT: usize = 256 * 1024;

const USAGE: &str = "usage: build_rs_config               run the self-check and exit
       build_rs_config --serve [HOST:PORT]   serve TCP echo (default 127.0.0.1:7879)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let serve_addr = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => None,
        ["--serve"] => Some(DEFAULT_ADDR.to_owned()),
        ["--serve", addr] => Some(addr.to_owned()),
        ["-h" | "--help"] => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("build_rs_config: unexpected arguments\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = match EchoRuntime::build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("build_rs_config: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", rt.describe());
    let result = match serve_addr {
        Some(addr) => rt.block_on(async {
            let listener = TcpListener::bind(&addr).await?;
            println!("echo server on {} (nc to it)", listener.local_addr()?);
            serve(listener, None).await
        }),
        None => rt
            .block_on(self_check(CLIENTS, BYTES_PER_CLIENT))
            .map(|total| {
                println!("self-check: {CLIENTS} clients echoed {total} bytes, every byte checked");
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("build_rs_config: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Accepts `limit` connections (or forever), echoing each in its own task;
/// waits for the echo tasks when there is a limit.
async fn serve(listener: TcpListener, limit: Option<usize>) -> io::Result<()> {
    let mut connections = Vec::new();
    while limit.is_none_or(|limit| connections.len() < limit) {
        let (stream, _) = listener.accept().await?;
        let task = zokio::spawn(echo(stream));
        if limit.is_some() {
            connections.push(task);
        }
    }
    for connection in connections {
        connection
            .await
            .map_err(|e| io::Error::other(format!("echo task: {e}")))??;
    }
    Ok(())
}

/// Writes back everything read until the peer closes.
async fn echo(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

/// Runs an echo server on a free loopback port and `clients` clients against
/// it; returns the bytes echoed, all checked.
async fn self_check(clients: usize, bytes_each: usize) -> io::Result<usize> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = zokio::spawn(serve(listener, Some(clients)));
    let tasks: Vec<_> = (0..clients)
        .map(|i| zokio::spawn(client(addr, pattern(bytes_each, i as u64))))
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task
            .await
            .map_err(|e| io::Error::other(format!("client task: {e}")))??;
    }
    server
        .await
        .map_err(|e| io::Error::other(format!("server task: {e}")))??;
    Ok(total)
}

/// Sends `data` while reading the echo (in another task, so neither side's
/// socket buffer fills and stalls), then checks it byte for byte.
async fn client(addr: SocketAddr, data: Vec<u8>) -> io::Result<usize> {
    let (mut reader, mut writer) = TcpStream::connect(addr).await?.into_split();
    let len = data.len();
    let writing = zokio::spawn(async move {
        writer.write_all(&data).await?;
        // Dropping the write half shuts down writing: the server sees the
        // end and finishes its echo.
        io::Result::Ok(data)
    });
    let mut echoed = Vec::with_capacity(len);
    reader.read_to_end(&mut echoed).await?;
    let data = writing
        .await
        .map_err(|e| io::Error::other(format!("writer task: {e}")))??;
    if echoed != data {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("echo differs: sent {len} bytes, got {} back", echoed.len()),
        ));
    }
    Ok(len)
}

/// `len` bytes of a pattern that differs per `seed` (xorshift).
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use zokio::spec::{Backend, Flavor, LocalQueueCapacity, Workers};

    #[test]
    fn the_runtime_is_the_one_zokio_toml_declares() {
        assert_eq!(EchoRuntime::NAME, "EchoRuntime");
        assert_eq!(EchoRuntime::FLAVOR, Flavor::MultiThread);
        // `ZOKIO_WORKERS` overrides the file at build time.
        if std::env::var_os("ZOKIO_WORKERS").is_none() {
            assert_eq!(EchoRuntime::WORKERS, Workers::Fixed(2));
        }
        assert_eq!(EchoRuntime::BACKEND, Backend::Auto);
        assert_eq!(
            <<EchoRuntime as zokio::Spec>::LocalQueue as LocalQueueCapacity>::DEPTH,
            512
        );
        assert_eq!(EchoRuntime::BUDGET, 128);
    }

    #[test]
    fn self_check_echoes_every_byte() {
        let rt = EchoRuntime::build().expect("building the runtime");
        let total = rt
            .block_on(self_check(4, 64 * 1024))
            .expect("the self-check");
        assert_eq!(total, 4 * 64 * 1024);
    }

    #[test]
    fn a_wrong_echo_is_caught() {
        // The check is real: a server that alters one byte fails it.
        let rt = EchoRuntime::build().expect("building the runtime");
        let error = rt.block_on(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            zokio::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                let mut data = Vec::new();
                stream.read_to_end(&mut data).await.unwrap();
                data[100] ^= 1;
                stream.write_all(&data).await.unwrap();
            });
            client(addr, pattern(1000, 3)).await.unwrap_err()
        });
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
    }
}
