//! An HTTP server: hyper on zokio, HTTP/1.1 and HTTP/2 on one port.
//!
//! ```sh
//! cargo run -p zokio-examples --example http_server            # 127.0.0.1:8080
//! cargo run -p zokio-examples --example http_server -- --addr 127.0.0.1:9000
//! ```
//!
//! Then, from another terminal:
//!
//! ```sh
//! curl http://127.0.0.1:8080/                                  # HTTP/1.1
//! curl --http2-prior-knowledge http://127.0.0.1:8080/          # HTTP/2 (h2c)
//! curl --data-binary @Cargo.toml http://127.0.0.1:8080/echo    # streamed back
//! cargo run -p zokio-examples --example http_client            # both protocols
//! ```
//!
//! * **Runtime**: declared below with `zokio::runtime!`, the configuration
//!   embedded in the program; it prints its description at start-up.
//! * **Protocols**: each connection's first bytes are read (under the
//!   header timeout); the HTTP/2 connection preface means HTTP/2 with prior
//!   knowledge, anything else HTTP/1.1. The bytes read are replayed to hyper.
//! * **Slow clients**: a client must send its first bytes, and each HTTP/1.1
//!   request head, within `HEADER_TIMEOUT` (hyper's `header_read_timeout`,
//!   run on zokio's timer through `ZokioTimer`); HTTP/2 connections are
//!   pinged and dropped if the peer stops answering.
//! * **Graceful shutdown**: on Ctrl-C (SIGINT) or SIGTERM the server stops
//!   accepting, tells every connection to finish the requests it has
//!   (HTTP/1.1: close after the current response; HTTP/2: GOAWAY), waits up
//!   to `SHUTDOWN_GRACE` for them, and exits. A second Ctrl-C exits at once.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::process::ExitCode;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue, SERVER};
use hyper::{Method, Request, Response, StatusCode};
use zokio::compat::hyper::{ZokioExecutor, ZokioIo, ZokioTimer};
use zokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use zokio::net::{TcpListener, TcpStream};
use zokio::signal::unix::{SignalKind, signal};
use zokio::sync::{mpsc, watch};

zokio::runtime! {
    /// The server's runtime: a worker per CPU, io_uring where the kernel
    /// allows it (mio otherwise).
    pub HttpRuntime {
        flavor = "multi_thread",
        workers = "auto",
        backend = "auto",
        timer(resolution = "1ms"),
    }
}

/// How long a client may take to send its first bytes, and each HTTP/1.1
/// request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How often an idle HTTP/2 connection is pinged, and how long the answer
/// may take.
const H2_KEEP_ALIVE: Duration = Duration::from_secs(20);

/// How long a graceful shutdown waits for connections to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What an HTTP/2 client sends first ("prior knowledge", RFC 9113 §3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

type Body = BoxBody<Bytes, hyper::Error>;

/// `GET /` says hello in the protocol it was asked in; `POST /echo` streams
/// the request body back as it arrives; anything else is 404.
async fn handle(request: Request<Incoming>) -> Result<Response<Body>, Infallible> {
    let mut response = match (request.method(), request.uri().path()) {
        (&Method::GET, "/") => {
            let text = format!("Hello from zokio over {:?}!\n", request.version());
            let mut response = Response::new(full(text));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            response
        }
        (&Method::POST, "/echo") => Response::new(request.into_body().boxed()),
        _ => {
            let mut response = Response::new(full("not found\n"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    };
    response
        .headers_mut()
        .insert(SERVER, HeaderValue::from_static("zokio-http-server"));
    Ok(response)
}

fn full(text: impl Into<Bytes>) -> Body {
    Full::new(text.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A stream with some bytes already read from it put back in front.
struct Rewind<T> {
    prefix: Vec<u8>,
    consumed: usize,
    inner: T,
}

impl<T: AsyncRead + Unpin> AsyncRead for Rewind<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.consumed < this.prefix.len() {
            let rest = &this.prefix[this.consumed..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.consumed += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Rewind<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Reads until the first bytes either are the whole HTTP/2 preface or
/// cannot be; returns whether they are, and the stream with those bytes put
/// back.
async fn sniff(mut stream: TcpStream) -> io::Result<(bool, Rewind<TcpStream>)> {
    let mut prefix = Vec::with_capacity(H2_PREFACE.len());
    let mut buf = [0; H2_PREFACE.len()];
    while prefix.len() < H2_PREFACE.len() && H2_PREFACE.starts_with(&prefix) {
        let n = stream
            .read(&mut buf[..H2_PREFACE.len() - prefix.len()])
            .await?;
        if n == 0 {
            break;
        }
        prefix.extend_from_slice(&buf[..n]);
    }
    let is_h2 = prefix == H2_PREFACE;
    let stream = Rewind {
        prefix,
        consumed: 0,
        inner: stream,
    };
    Ok((is_h2, stream))
}

/// Serves one connection until it ends or, after `shutdown` changes, until
/// its requests in flight are done.
async fn serve(stream: TcpStream, peer: SocketAddr, mut shutdown: watch::Receiver<bool>) {
    if let Err(e) = stream.set_nodelay(true) {
        eprintln!("http_server: {peer}: set_nodelay: {e}");
    }
    let (is_h2, stream) = match zokio::time::timeout(HEADER_TIMEOUT, sniff(stream)).await {
        Ok(Ok(sniffed)) => sniffed,
        Ok(Err(e)) => return eprintln!("http_server: {peer}: {e}"),
        Err(_) => return eprintln!("http_server: {peer}: sent nothing for {HEADER_TIMEOUT:?}"),
    };
    let io = ZokioIo::new(stream);
    let service = hyper::service::service_fn(handle);
    let result = if is_h2 {
        let connection = hyper::server::conn::http2::Builder::new(ZokioExecutor::new())
            .timer(ZokioTimer::new())
            .keep_alive_interval(H2_KEEP_ALIVE)
            .keep_alive_timeout(H2_KEEP_ALIVE)
            .serve_connection(io, service);
        let mut connection = std::pin::pin!(connection);
        zokio::select! {
            result = connection.as_mut() => result,
            _ = shutdown.changed() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        }
    } else {
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(ZokioTimer::new())
            .header_read_timeout(HEADER_TIMEOUT)
            .serve_connection(io, service);
        let mut connection = std::pin::pin!(connection);
        zokio::select! {
            result = connection.as_mut() => result,
            _ = shutdown.changed() => {
                connection.as_mut().graceful_shutdown();
                connection.await
            }
        }
    };
    if let Err(e) = result {
        if e.is_timeout() {
            eprintln!("http_server: {peer}: request head not received within {HEADER_TIMEOUT:?}");
        } else if !e.is_incomplete_message() {
            eprintln!("http_server: {peer}: {e}");
        }
    }
}

/// Counts SIGINTs and SIGTERMs (`zokio::signal`): the count goes up by one
/// for each delivery a listener sees. The count is a `watch` so that
/// awaiting a change is cancel safe (a `select!` that loses drops nothing
/// but a borrow).
fn shutdown_signals() -> io::Result<watch::Receiver<u32>> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    let (count_tx, count_rx) = watch::channel(0);
    zokio::spawn(async move {
        loop {
            let delivered = zokio::select! {
                got = interrupt.recv() => got,
                got = terminate.recv() => got,
            };
            if delivered.is_none() {
                return;
            }
            count_tx.send_modify(|count| *count += 1);
        }
    });
    Ok(count_rx)
}

async fn run(addr: SocketAddr) -> io::Result<()> {
    let mut signals = shutdown_signals()?;
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("listening on http://{local}");
    println!("  try: curl http://{local}/   or   curl --http2-prior-knowledge http://{local}/");

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    // Every connection task holds a sender; when all are gone, all are done.
    let (active_tx, mut active_rx) = mpsc::channel::<()>(1);
    loop {
        zokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let (shutdown, active) = (shutdown_rx.clone(), active_tx.clone());
                    zokio::spawn(async move {
                        serve(stream, peer, shutdown).await;
                        drop(active);
                    });
                }
                // Out of file descriptors, a connection reset before accept,
                // ...: log it and keep serving.
                Err(e) => {
                    eprintln!("http_server: accept: {e}");
                    zokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = signals.changed() => break,
        }
    }

    drop(listener);
    drop(active_tx);
    println!("shutting down: finishing the requests in flight (Ctrl-C again to exit now)");
    shutdown_tx.send_replace(true);
    zokio::select! {
        _ = active_rx.recv() => println!("all connections closed"),
        _ = zokio::time::sleep(SHUTDOWN_GRACE) => {
            println!("connections still open after {SHUTDOWN_GRACE:?}; exiting");
        }
        _ = signals.changed() => println!("exiting now"),
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut addr: SocketAddr = ([127, 0, 0, 1], 8080).into();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        match (flag.as_str(), args.next().map(|v| v.parse())) {
            ("--addr", Some(Ok(a))) => addr = a,
            _ => {
                eprintln!("usage: http_server [--addr HOST:PORT]   (default 127.0.0.1:8080)");
                return ExitCode::from(2);
            }
        }
    }
    let rt = match HttpRuntime::build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("http_server: starting the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", rt.describe());
    match rt.block_on(run(addr)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_server: {e}");
            ExitCode::FAILURE
        }
    }
}
