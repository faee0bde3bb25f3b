//! hyper 1.x on zokio through `zokio::compat::hyper`: HTTP/1.1 and HTTP/2
//! servers (`hyper::server::conn`) and clients (`hyper::client::conn`), both
//! on zokio, over loopback TCP.
//!
//! Covered: request/response with headers and status codes; a streamed
//! 10 MiB upload and a streamed 10 MiB download, each checked with a
//! checksum; an echo of a streamed body; many requests on one kept-alive
//! HTTP/1.1 connection and many concurrent streams on one HTTP/2 connection
//! (spawned through `ZokioExecutor`); the header-read timeout against a slow
//! client (`ZokioTimer`); graceful shutdown with a request in flight; and an
//! HTTP/1.1 upgrade whose upgraded connection is read and written through
//! tokio's traits (`ZokioIo` the other way round).
//!
//! No tokio runtime exists in this process: anything that reached for one
//! (`tokio::spawn`, a tokio timer or reactor) would panic. Every test is
//! instantiated for each backend (`mio`, `io_uring`) on each flavor
//! (`current_thread`, `multi_thread` with two workers), runs under a
//! watchdog, and its body under `zokio::time::timeout`. Nothing synchronises
//! by sleeping and nothing asserts on timing.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::mpsc::{self as std_mpsc, RecvTimeoutError};
use std::task::{Context, Poll};
use std::thread;
use std::time::Duration;

use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use hyper::header::{CONNECTION, CONTENT_LENGTH, HeaderValue, UPGRADE};
use hyper::{Method, Request, Response, StatusCode, Version};
use zokio::compat::hyper::{ZokioExecutor, ZokioIo, ZokioTimer};
use zokio::io::{AsyncReadExt, AsyncWriteExt};
use zokio::net::{TcpListener, TcpStream};
use zokio::sync::{mpsc, oneshot};

/// How long a test body may run before it fails as hung.
const BODY_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a test, runtime start-up and shutdown included, may run before
/// the watchdog fails it (longer than `BODY_TIMEOUT`, so a hung body reports
/// through the body timeout).
const WATCHDOG: Duration = Duration::from_secs(120);

/// The size of the streamed bodies.
const LARGE: usize = 10 << 20;

/// The size of each chunk of a streamed body.
const CHUNK: usize = 64 << 10;

/// The header-read timeout of the test servers, and the one the slow-client
/// test waits out.
const HEADER_READ_TIMEOUT: Duration = Duration::from_millis(200);

// ---------------------------------------------------------------------------
// Data and checksums
// ---------------------------------------------------------------------------

/// Deterministic, non-repeating bytes: `len` of them from `seed`.
struct Pattern {
    state: u64,
    remaining: usize,
}

impl Pattern {
    fn new(seed: u64, len: usize) -> Self {
        Pattern {
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            remaining: len,
        }
    }

    /// The next chunk (at most `CHUNK` bytes), or `None` at the end.
    fn next_chunk(&mut self) -> Option<Bytes> {
        if self.remaining == 0 {
            return None;
        }
        let n = self.remaining.min(CHUNK);
        let mut chunk = Vec::with_capacity(n);
        while chunk.len() < n {
            // xorshift64
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            let word = self.state.to_le_bytes();
            let take = (n - chunk.len()).min(8);
            chunk.extend_from_slice(&word[..take]);
        }
        self.remaining -= n;
        Some(Bytes::from(chunk))
    }
}

/// FNV-1a over a byte stream, with its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Checksum {
    hash: u64,
    len: usize,
}

impl Checksum {
    fn new() -> Self {
        Checksum {
            hash: 0xCBF2_9CE4_8422_2325,
            len: 0,
        }
    }

    fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.hash ^= u64::from(b);
            self.hash = self.hash.wrapping_mul(0x0100_0000_01B3);
        }
        self.len += bytes.len();
    }

    fn of_pattern(seed: u64, len: usize) -> Self {
        let mut pattern = Pattern::new(seed, len);
        let mut sum = Checksum::new();
        while let Some(chunk) = pattern.next_chunk() {
            sum.update(&chunk);
        }
        sum
    }

    fn to_header(self) -> String {
        format!("{:016x}-{}", self.hash, self.len)
    }
}

/// A response body that generates a [`Pattern`] chunk by chunk as hyper
/// asks for it.
struct PatternBody(Pattern);

impl Body for PatternBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.next_chunk().map(|chunk| Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.0.remaining as u64)
    }
}

/// A request body fed by another task through a channel: the upload is
/// produced while it is being sent.
struct ChannelBody(mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

/// Reads `body` frame by frame (never collecting it) into a checksum.
async fn checksum_body(mut body: Incoming) -> Result<Checksum, hyper::Error> {
    let mut sum = Checksum::new();
    while let Some(frame) = body.frame().await {
        if let Some(data) = frame?.data_ref() {
            sum.update(data);
        }
    }
    Ok(sum)
}

// ---------------------------------------------------------------------------
// The server
// ---------------------------------------------------------------------------

type ServerBody = BoxBody<Bytes, hyper::Error>;

fn full(text: impl Into<Bytes>) -> ServerBody {
    Full::new(text.into())
        .map_err(|never| match never {})
        .boxed()
}

/// The test service:
///
/// * `GET /hello` answers with the protocol version it was asked in;
/// * `POST /checksum` streams the request body into a checksum and answers
///   with it;
/// * `GET /pattern/<seed>/<len>` streams `len` bytes of `Pattern` `seed`;
/// * `POST /echo` answers with the request body, streamed back as it comes;
/// * `GET /wait` answers once the test sends on the channel (for graceful
///   shutdown);
/// * `GET /upgrade` switches to a raw echo protocol (HTTP/1.1 only);
/// * anything else is 404.
async fn service(
    request: Request<Incoming>,
    wait: Option<std::sync::Arc<std::sync::Mutex<Option<oneshot::Receiver<()>>>>>,
) -> Result<Response<ServerBody>, hyper::Error> {
    let path = request.uri().path().to_owned();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let response = match (request.method(), parts.as_slice()) {
        (&Method::GET, ["hello"]) => {
            let version = format!("{:?}", request.version());
            Response::builder()
                .header("x-zokio", "yes")
                .body(full(format!("hello over {version}")))
                .unwrap()
        }
        (&Method::POST, ["checksum"]) => {
            let sum = checksum_body(request.into_body()).await?;
            Response::new(full(sum.to_header()))
        }
        (&Method::GET, ["pattern", seed, len]) => {
            let (Ok(seed), Ok(len)) = (seed.parse(), len.parse()) else {
                return Ok(status(StatusCode::BAD_REQUEST));
            };
            Response::new(
                PatternBody(Pattern::new(seed, len))
                    .map_err(|never| match never {})
                    .boxed(),
            )
        }
        (&Method::POST, ["echo"]) => Response::new(request.into_body().boxed()),
        (&Method::GET, ["wait"]) => {
            let rx = wait.and_then(|w| w.lock().unwrap().take());
            if let Some(rx) = rx {
                rx.await.expect("the test releases the request");
            }
            Response::new(full("released"))
        }
        (&Method::GET, ["upgrade"]) => {
            let on_upgrade = hyper::upgrade::on(request);
            zokio::spawn(async move {
                let upgraded = on_upgrade.await.expect("the upgrade completes");
                // hyper's traits -> tokio's: zokio::io's extension methods.
                let mut io = ZokioIo::new(upgraded);
                let mut buf = vec![0; 1024];
                loop {
                    let n = io
                        .read(&mut buf)
                        .await
                        .expect("reading the upgraded stream");
                    if n == 0 {
                        break;
                    }
                    io.write_all(&buf[..n])
                        .await
                        .expect("writing the upgraded stream");
                }
                io.shutdown().await.ok();
            });
            Response::builder()
                .status(StatusCode::SWITCHING_PROTOCOLS)
                .header(CONNECTION, "upgrade")
                .header(UPGRADE, "zokio-echo")
                .body(full(""))
                .unwrap()
        }
        _ => status(StatusCode::NOT_FOUND),
    };
    Ok(response)
}

fn status(code: StatusCode) -> Response<ServerBody> {
    let mut response = Response::new(full(""));
    *response.status_mut() = code;
    response
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Http1,
    Http2,
}

/// Serves one connection with the test service; the result of hyper's
/// connection future.
async fn serve_connection(
    stream: TcpStream,
    proto: Proto,
    wait: Option<std::sync::Arc<std::sync::Mutex<Option<oneshot::Receiver<()>>>>>,
) -> Result<(), hyper::Error> {
    let service = hyper::service::service_fn(move |request| service(request, wait.clone()));
    let io = ZokioIo::new(stream);
    match proto {
        Proto::Http1 => {
            hyper::server::conn::http1::Builder::new()
                .timer(ZokioTimer::new())
                .header_read_timeout(HEADER_READ_TIMEOUT)
                .serve_connection(io, service)
                .with_upgrades()
                .await
        }
        Proto::Http2 => {
            hyper::server::conn::http2::Builder::new(ZokioExecutor::new())
                .timer(ZokioTimer::new())
                .serve_connection(io, service)
                .await
        }
    }
}

/// Starts a server task accepting connections on a fresh loopback port;
/// each connection is served by its own task.
async fn start_server(proto: Proto) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    zokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.expect("accepting");
            zokio::spawn(async move {
                // A client that goes away mid-connection is not a failure of
                // the server; the assertions are on the client side.
                let _ = serve_connection(stream, proto, None).await;
            });
        }
    });
    addr
}

// ---------------------------------------------------------------------------
// The client
// ---------------------------------------------------------------------------

/// A connected hyper client of either protocol.
enum Client<B: Body> {
    Http1(hyper::client::conn::http1::SendRequest<B>),
    Http2(hyper::client::conn::http2::SendRequest<B>),
}

/// Connects a zokio hyper client to `addr`; its connection task is spawned.
async fn connect<B>(addr: SocketAddr, proto: Proto) -> Client<B>
where
    B: Body + Send + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = TcpStream::connect(addr).await.expect("connecting");
    stream.set_nodelay(true).unwrap();
    let io = ZokioIo::new(stream);
    match proto {
        Proto::Http1 => {
            let (sender, connection) = hyper::client::conn::http1::handshake(io)
                .await
                .expect("HTTP/1.1 handshake");
            zokio::spawn(async move {
                connection.with_upgrades().await.ok();
            });
            Client::Http1(sender)
        }
        Proto::Http2 => {
            let (sender, connection) =
                hyper::client::conn::http2::Builder::new(ZokioExecutor::new())
                    .timer(ZokioTimer::new())
                    .handshake(io)
                    .await
                    .expect("HTTP/2 handshake");
            zokio::spawn(async move {
                connection.await.ok();
            });
            Client::Http2(sender)
        }
    }
}

impl<B> Client<B>
where
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    async fn send(&mut self, request: Request<B>) -> Response<Incoming> {
        match self {
            Client::Http1(sender) => {
                sender.ready().await.expect("connection ready");
                sender
                    .send_request(request)
                    .await
                    .expect("HTTP/1.1 request")
            }
            Client::Http2(sender) => {
                sender.ready().await.expect("connection ready");
                sender.send_request(request).await.expect("HTTP/2 request")
            }
        }
    }
}

fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(format!("http://127.0.0.1{path}"))
        .body(Full::new(Bytes::new()))
        .unwrap()
}

async fn text(response: Response<Incoming>) -> String {
    let body = response
        .into_body()
        .collect()
        .await
        .expect("reading the body");
    String::from_utf8(body.to_bytes().to_vec()).expect("a UTF-8 body")
}

fn version_of(proto: Proto) -> Version {
    match proto {
        Proto::Http1 => Version::HTTP_11,
        Proto::Http2 => Version::HTTP_2,
    }
}

// ---------------------------------------------------------------------------
// Tests, each run for both protocols where it applies
// ---------------------------------------------------------------------------

async fn request_response(proto: Proto) {
    let addr = start_server(proto).await;
    let mut client = connect::<Full<Bytes>>(addr, proto).await;

    let response = client.send(get("/hello")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.version(), version_of(proto));
    assert_eq!(response.headers()["x-zokio"], "yes");
    assert_eq!(
        text(response).await,
        format!("hello over {:?}", version_of(proto))
    );

    let response = client.send(get("/nowhere")).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_eq!(text(response).await, "");

    let echo = Request::post("http://127.0.0.1/echo")
        .body(Full::new(Bytes::from_static(b"round trip")))
        .unwrap();
    let response = client.send(echo).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(text(response).await, "round trip");
}

/// 10 MiB up, produced by another task while it is sent, checksummed by the
/// server as it streams in; then 10 MiB down, generated chunk by chunk by
/// the server, checksummed by the client as it streams in.
async fn streamed_10_mib_checksummed(proto: Proto) {
    let addr = start_server(proto).await;

    let (chunks_tx, chunks_rx) = mpsc::channel::<Bytes>(4);
    let producer = zokio::spawn(async move {
        let mut pattern = Pattern::new(7, LARGE);
        while let Some(chunk) = pattern.next_chunk() {
            chunks_tx
                .send(chunk)
                .await
                .expect("the upload is being read");
        }
    });
    let mut uploader = connect::<ChannelBody>(addr, proto).await;
    let upload = Request::post("http://127.0.0.1/checksum")
        .body(ChannelBody(chunks_rx))
        .unwrap();
    let response = uploader.send(upload).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        text(response).await,
        Checksum::of_pattern(7, LARGE).to_header()
    );
    producer.await.unwrap();

    let mut downloader = connect::<Full<Bytes>>(addr, proto).await;
    let response = downloader.send(get(&format!("/pattern/11/{LARGE}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    if proto == Proto::Http1 {
        // The exact size hint becomes a Content-Length, not chunked framing.
        assert_eq!(
            response.headers().get(CONTENT_LENGTH),
            Some(&HeaderValue::from(LARGE))
        );
    }
    let sum = checksum_body(response.into_body()).await.unwrap();
    assert_eq!(sum, Checksum::of_pattern(11, LARGE));

    // And a large body echoed back while it is still being sent.
    let mut echoer = connect::<PatternBody>(addr, proto).await;
    let echo = Request::post("http://127.0.0.1/echo")
        .body(PatternBody(Pattern::new(13, LARGE / 2)))
        .unwrap();
    let response = echoer.send(echo).await;
    let sum = checksum_body(response.into_body()).await.unwrap();
    assert_eq!(sum, Checksum::of_pattern(13, LARGE / 2));
}

/// Many requests one after the other on one kept-alive HTTP/1.1
/// connection, or all at once as streams of one HTTP/2 connection (each
/// request from its own task).
async fn many_requests_on_one_connection(proto: Proto) {
    const REQUESTS: u64 = 200;
    let addr = start_server(proto).await;
    match connect::<Full<Bytes>>(addr, proto).await {
        mut client @ Client::Http1(_) => {
            for seed in 0..REQUESTS {
                let response = client.send(get(&format!("/pattern/{seed}/1000"))).await;
                let sum = checksum_body(response.into_body()).await.unwrap();
                assert_eq!(sum, Checksum::of_pattern(seed, 1000));
            }
        }
        Client::Http2(sender) => {
            let mut tasks = zokio::task::JoinSet::new();
            for seed in 0..REQUESTS {
                let mut client = Client::Http2(sender.clone());
                tasks.spawn(async move {
                    let response = client.send(get(&format!("/pattern/{seed}/70000"))).await;
                    let sum = checksum_body(response.into_body()).await.unwrap();
                    assert_eq!(sum, Checksum::of_pattern(seed, 70_000));
                });
            }
            let mut done = 0;
            while let Some(result) = tasks.join_next().await {
                result.expect("a request task");
                done += 1;
            }
            assert_eq!(done, REQUESTS);
        }
    }
}

/// A client that sends half a request head and stalls is disconnected once
/// the header-read timeout (run by `ZokioTimer`) expires; the server's
/// connection ends with a timeout error.
async fn http1_header_read_timeout_disconnects_a_slow_client() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (result_tx, result_rx) = oneshot::channel();
    zokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let result = serve_connection(stream, Proto::Http1, None).await;
        result_tx.send(result).unwrap();
    });

    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /hello HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        .await
        .unwrap();
    // Never finish the head: the server must hang up (EOF, or a reset).
    let mut buf = [0; 256];
    let mut received = Vec::new();
    loop {
        match slow.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("reading from the server: {e}"),
        }
    }
    assert!(
        !received.starts_with(b"HTTP/1.1 200"),
        "a half-sent request was answered"
    );
    let error = result_rx
        .await
        .unwrap()
        .expect_err("the connection ended without an error");
    assert!(error.is_timeout(), "not a timeout: {error:?}");
}

/// `graceful_shutdown` lets the request in flight finish (its response
/// arrives complete), then closes the connection instead of keeping it
/// alive.
async fn http1_graceful_shutdown_finishes_the_request_in_flight() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (release_tx, release_rx) = oneshot::channel();
    let (shutdown_tx, shutdown_rx) = oneshot::channel::<()>();
    let (arrived_tx, mut arrived_rx) = mpsc::channel::<()>(1);
    let server = zokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let wait = std::sync::Arc::new(std::sync::Mutex::new(Some(release_rx)));
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let wait = wait.clone();
            let arrived_tx = arrived_tx.clone();
            async move {
                arrived_tx.send(()).await.ok();
                service(request, Some(wait)).await
            }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(ZokioTimer::new())
            .serve_connection(ZokioIo::new(stream), service);
        let mut connection = std::pin::pin!(connection);
        zokio::select! {
            result = connection.as_mut() => panic!("ended before the shutdown: {result:?}"),
            _ = shutdown_rx => {}
        }
        connection.as_mut().graceful_shutdown();
        connection.await
    });

    let Client::Http1(mut sender) = connect::<Full<Bytes>>(addr, Proto::Http1).await else {
        unreachable!("an HTTP/1.1 client")
    };
    let request = zokio::spawn(async move {
        let response = sender.send_request(get("/wait")).await;
        (sender, response)
    });
    arrived_rx
        .recv()
        .await
        .expect("the request reached the service");
    shutdown_tx.send(()).unwrap();
    release_tx.send(()).unwrap();
    let (mut sender, response) = request.await.unwrap();
    let response = response.expect("the request in flight completes");
    assert_eq!(text(response).await, "released");
    server
        .await
        .unwrap()
        .expect("the connection closes cleanly after the shutdown");
    // The server has closed the connection: no further request gets an
    // answer on it (the client may not have noticed the close yet, so
    // `ready()` could still succeed; sending cannot).
    let again = sender.send_request(get("/hello")).await;
    assert!(
        again.is_err(),
        "a request was answered after a graceful shutdown: {again:?}"
    );
}

/// An HTTP/1.1 upgrade: after `101 Switching Protocols`, both ends hold an
/// `Upgraded` connection, used through tokio's traits via `ZokioIo`.
async fn http1_upgrade_through_tokio_traits() {
    let addr = start_server(Proto::Http1).await;
    let mut client = connect::<Full<Bytes>>(addr, Proto::Http1).await;
    let request = Request::get("http://127.0.0.1/upgrade")
        .header(CONNECTION, "upgrade")
        .header(UPGRADE, "zokio-echo")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = client.send(request).await;
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let upgraded = hyper::upgrade::on(response).await.expect("upgrading");
    let mut io = ZokioIo::new(upgraded);
    let mut sent = Checksum::new();
    let mut echoed = Checksum::new();
    let mut pattern = Pattern::new(3, 1 << 20);
    let mut buf = vec![0; CHUNK];
    while let Some(chunk) = pattern.next_chunk() {
        io.write_all(&chunk).await.unwrap();
        sent.update(&chunk);
        let mut got = 0;
        while got < chunk.len() {
            let n = io.read(&mut buf[..chunk.len() - got]).await.unwrap();
            assert_ne!(n, 0, "the echo ended early");
            echoed.update(&buf[..n]);
            got += n;
        }
    }
    io.shutdown().await.unwrap();
    assert_eq!(
        io.read(&mut buf).await.unwrap(),
        0,
        "the echo closes after us"
    );
    assert_eq!(echoed, sent);
    assert_eq!(sent.len, 1 << 20);
}

// ---------------------------------------------------------------------------
// Harness and instantiation
// ---------------------------------------------------------------------------

/// Runs `test` on a fresh thread and fails if it panics or has not finished
/// within `WATCHDOG`.
fn guarded(name: &'static str, test: impl FnOnce() + Send + 'static) {
    let (done, finished) = std_mpsc::channel::<()>();
    let handle = thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            test();
            let _ = done.send(());
        })
        .expect("spawning the test thread");
    match finished.recv_timeout(WATCHDOG) {
        Ok(()) | Err(RecvTimeoutError::Disconnected) => {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(RecvTimeoutError::Timeout) => panic!("{name}: did not finish within {WATCHDOG:?}"),
    }
}

macro_rules! hyper_suite {
    ($module:ident, $($config:tt)*) => {
        mod $module {
            use super::*;

            zokio::runtime! { Rt { $($config)* } }

            /// Runs `body` as a task on a fresh `Rt` under the body timeout
            /// and the watchdog.
            fn run<Fut>(name: &'static str, body: impl FnOnce() -> Fut + Send + 'static)
            where
                Fut: Future<Output = ()> + Send + 'static,
            {
                guarded(name, move || {
                    let rt = Rt::build().expect("building the runtime");
                    rt.block_on(async move {
                        let task = zokio::spawn(body());
                        match zokio::time::timeout(BODY_TIMEOUT, task).await {
                            Ok(Ok(())) => {}
                            Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                            Ok(Err(e)) => panic!("the test task failed: {e}"),
                            Err(_) => panic!("the test body did not finish within {BODY_TIMEOUT:?}"),
                        }
                    });
                });
            }

            #[test]
            fn http1_request_response() {
                run("http1_request_response", || request_response(Proto::Http1));
            }

            #[test]
            fn http2_request_response() {
                run("http2_request_response", || request_response(Proto::Http2));
            }

            #[test]
            fn http1_streamed_10_mib_checksummed() {
                run("http1_streamed_10_mib_checksummed", || streamed_10_mib_checksummed(Proto::Http1));
            }

            #[test]
            fn http2_streamed_10_mib_checksummed() {
                run("http2_streamed_10_mib_checksummed", || streamed_10_mib_checksummed(Proto::Http2));
            }

            #[test]
            fn http1_many_requests_on_one_kept_alive_connection() {
                run("http1_many_requests_on_one_kept_alive_connection", || {
                    many_requests_on_one_connection(Proto::Http1)
                });
            }

            #[test]
            fn http2_many_concurrent_streams_on_one_connection() {
                run("http2_many_concurrent_streams_on_one_connection", || {
                    many_requests_on_one_connection(Proto::Http2)
                });
            }

            #[test]
            fn http1_header_read_timeout_disconnects_a_slow_client() {
                run("http1_header_read_timeout_disconnects_a_slow_client", super::http1_header_read_timeout_disconnects_a_slow_client);
            }

            #[test]
            fn http1_graceful_shutdown_finishes_the_request_in_flight() {
                run("http1_graceful_shutdown_finishes_the_request_in_flight", super::http1_graceful_shutdown_finishes_the_request_in_flight);
            }

            #[test]
            fn http1_upgrade_through_tokio_traits() {
                run("http1_upgrade_through_tokio_traits", super::http1_upgrade_through_tokio_traits);
            }
        }
    };
}

hyper_suite!(
    mio_current_thread,
    flavor = "current_thread",
    backend = "mio"
);
hyper_suite!(
    mio_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "mio"
);
hyper_suite!(
    io_uring_current_thread,
    flavor = "current_thread",
    backend = "io_uring"
);
hyper_suite!(
    io_uring_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "io_uring"
);
