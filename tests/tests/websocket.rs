//! WebSocket through the tokio-trait ecosystem: `tokio-tungstenite`'s
//! `accept_hdr_async` and `client_async` over zokio's `TcpStream` (tokio's
//! `AsyncRead`/`AsyncWrite`), with no tokio runtime: both ends run on zokio.
//!
//! Every test is written once and instantiated for each backend (`mio`,
//! `io_uring`) on each flavor (`current_thread`, `multi_thread` with two
//! workers). Each runs on its own thread under a watchdog, its body under
//! `zokio::time::timeout`, so a hang fails the test instead of stalling CI.
//! Nothing here synchronises by sleeping and nothing asserts on timing.

mod support;
use support::run_on;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::handshake::server::{
    Callback, ErrorResponse, Request, Response,
};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{WebSocketStream, accept_hdr_async, client_async};
use zokio::io::{AsyncReadExt, AsyncWriteExt};
use zokio::net::{TcpListener, TcpStream};

/// The size of the large binary frame: one frame (tungstenite does not
/// fragment), far more than the socket buffers hold, within tungstenite's
/// default 16 MiB frame limit.
const LARGE: usize = 4 << 20;

/// The text message that asks the echo server to ping the client first.
const PING_ME: &str = "ping me";

/// The text message that asks the echo server to start the close handshake.
const CLOSE_ME: &str = "close me";

/// Instantiates the suite as module `$module` on the runtime configured by
/// the `runtime!` keys that follow.
macro_rules! websocket_suite {
    ($module:ident, $($config:tt)*) => {
        mod $module {
            use super::*;

            zokio::runtime! { Rt { $($config)* } }

            fn run<F, Fut>(body: F)
            where
                F: FnOnce() -> Fut + Send + 'static,
                Fut: Future<Output = ()>,
            {
                run_on::<Rt, _, _>(body);
            }

            #[test]
            fn text_and_binary_frames_echo_in_order() {
                run(super::text_and_binary_frames_echo_in_order);
            }

            #[test]
            fn large_binary_frame_checksummed() {
                run(super::large_binary_frame_checksummed);
            }

            #[test]
            fn ping_pong_both_directions() {
                run(super::ping_pong_both_directions);
            }

            #[test]
            fn close_handshake_started_by_the_client() {
                run(super::close_handshake_started_by_the_client);
            }

            #[test]
            fn close_handshake_started_by_the_server() {
                run(super::close_handshake_started_by_the_server);
            }

            #[test]
            fn plain_http_request_is_refused_and_server_survives() {
                run(super::plain_http_request_is_refused_and_server_survives);
            }
        }
    };
}

websocket_suite!(
    mio_current_thread,
    flavor = "current_thread",
    backend = "mio"
);
websocket_suite!(
    mio_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "mio"
);
websocket_suite!(
    io_uring_current_thread,
    flavor = "current_thread",
    backend = "io_uring"
);
websocket_suite!(
    io_uring_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "io_uring"
);

// ---------------------------------------------------------------------------
// The echo server
// ---------------------------------------------------------------------------

/// What the echo server saw on one connection.
#[derive(Debug, Default)]
struct Served {
    /// The path of the upgrade request.
    path: String,
    /// Text and binary messages echoed.
    echoed: usize,
    /// Pings received (tungstenite answers them itself).
    pings: usize,
    /// The close frame that ended the connection, whoever sent it first.
    close: Option<CloseFrame>,
}

/// A handshake callback that records the request's path and accepts.
struct RecordPath(Arc<Mutex<String>>);

impl Callback for RecordPath {
    fn on_request(self, request: &Request, response: Response) -> Result<Response, ErrorResponse> {
        *self.0.lock().unwrap() = request.uri().path().to_owned();
        Ok(response)
    }
}

/// Serves one WebSocket connection: echoes text and binary messages;
/// `PING_ME` is echoed after a ping to the client has been answered;
/// `CLOSE_ME` makes the server start the close handshake. Returns when the
/// close handshake is over.
async fn serve_echo(tcp: TcpStream) -> Result<Served, WsError> {
    let path = Arc::new(Mutex::new(String::new()));
    let mut ws = accept_hdr_async(tcp, RecordPath(Arc::clone(&path))).await?;
    let mut served = Served {
        path: path.lock().unwrap().clone(),
        ..Served::default()
    };
    while let Some(message) = ws.next().await {
        match message? {
            Message::Text(text) if text.as_str() == PING_ME => {
                ws.send(Message::Ping(b"from the server".to_vec().into()))
                    .await?;
                expect_pong(&mut ws, b"from the server").await?;
                ws.send(Message::Text(text)).await?;
                served.echoed += 1;
            }
            Message::Text(text) if text.as_str() == CLOSE_ME => {
                ws.close(Some(CloseFrame {
                    code: CloseCode::Away,
                    reason: "server going away".into(),
                }))
                .await?;
            }
            message @ (Message::Text(_) | Message::Binary(_)) => {
                ws.send(message).await?;
                served.echoed += 1;
            }
            Message::Ping(_) => served.pings += 1,
            Message::Pong(_) => {}
            Message::Close(frame) => served.close = frame,
            Message::Frame(_) => unreachable!("raw frames are not read"),
        }
    }
    Ok(served)
}

/// Reads messages until a pong; it must carry `payload`.
async fn expect_pong<S>(ws: &mut WebSocketStream<S>, payload: &[u8]) -> Result<(), WsError>
where
    S: zokio::io::AsyncRead + zokio::io::AsyncWrite + Unpin,
{
    loop {
        match ws
            .next()
            .await
            .expect("the connection ended before the pong")?
        {
            Message::Pong(data) => {
                assert_eq!(&data[..], payload, "the pong carries the ping's payload");
                return Ok(());
            }
            Message::Ping(_) => {}
            other => panic!("expected a pong, got {other:?}"),
        }
    }
}

/// A listener on loopback and a task serving its next `connections`
/// connections one after another; the task returns each connection's result
/// in order (an error ends that connection, not the server).
async fn echo_server(
    connections: usize,
) -> (
    SocketAddr,
    zokio::task::JoinHandle<Vec<Result<Served, WsError>>>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
    let addr = listener.local_addr().expect("local address");
    let server = zokio::spawn(async move {
        let mut results = Vec::with_capacity(connections);
        for _ in 0..connections {
            let (tcp, _) = listener.accept().await.expect("accepting");
            results.push(serve_echo(tcp).await);
        }
        results
    });
    (addr, server)
}

/// Connects a WebSocket client to `addr`, asking for `path`.
async fn connect(addr: SocketAddr, path: &str) -> WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.expect("connecting");
    let (ws, response) = client_async(format!("ws://localhost:{}{path}", addr.port()), tcp)
        .await
        .expect("the WebSocket handshake");
    assert_eq!(response.status(), 101, "Switching Protocols");
    ws
}

/// The next message, which must be there.
async fn next(ws: &mut WebSocketStream<TcpStream>) -> Message {
    ws.next()
        .await
        .expect("the connection ended early")
        .expect("reading a message")
}

/// Waits for the server task and returns the one connection it served.
async fn served_one(server: zokio::task::JoinHandle<Vec<Result<Served, WsError>>>) -> Served {
    server
        .await
        .expect("the server task")
        .pop()
        .unwrap()
        .expect("the server's connection")
}

/// FNV-1a, 64-bit: a checksum that notices reordered, lost or altered bytes.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// `len` bytes with no short period (xorshift), seeded by `seed`.
fn payload(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

/// Closes from the client side with a normal close frame and reads up to the
/// end of the connection; returns the server's reply.
async fn close_from_client(ws: &mut WebSocketStream<TcpStream>) -> Option<CloseFrame> {
    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "done".into(),
    }))
    .await
    .expect("sending the close frame");
    let mut reply = None;
    while let Some(message) = ws.next().await {
        match message.expect("reading the close reply") {
            Message::Close(frame) => reply = frame,
            other => panic!("a message after our close: {other:?}"),
        }
    }
    reply
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

async fn text_and_binary_frames_echo_in_order() {
    let (addr, server) = echo_server(1).await;
    let mut ws = connect(addr, "/echo").await;

    let messages = vec![
        Message::text("hello"),
        Message::text("héllo wörld ✓"),
        Message::text(""),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::binary(Vec::new()),
        Message::binary(payload(70_000, 7)),
        Message::text("x".repeat(200)),
    ];
    // All sent before any is read: the echoes come back in order.
    for message in &messages {
        ws.send(message.clone()).await.expect("sending");
    }
    for message in &messages {
        let echo = next(&mut ws).await;
        assert_eq!(&echo, message);
    }

    let reply = close_from_client(&mut ws).await;
    assert_eq!(reply.map(|f| f.code), Some(CloseCode::Normal));
    let served = served_one(server).await;
    assert_eq!(served.path, "/echo");
    assert_eq!(served.echoed, messages.len());
}

async fn large_binary_frame_checksummed() {
    let (addr, server) = echo_server(1).await;
    let mut ws = connect(addr, "/large").await;

    let data = payload(LARGE, 0xb1a5);
    let expected = fnv1a(&data);
    // The server reads the whole frame before it echoes it, so sending it
    // all first cannot deadlock.
    ws.send(Message::binary(data)).await.expect("sending");
    match next(&mut ws).await {
        Message::Binary(echo) => {
            assert_eq!(echo.len(), LARGE);
            assert_eq!(
                fnv1a(&echo),
                expected,
                "the echo differs from what was sent"
            );
        }
        other => panic!("expected a binary message, got {other:?}"),
    }

    close_from_client(&mut ws).await;
    assert_eq!(served_one(server).await.echoed, 1);
}

async fn ping_pong_both_directions() {
    let (addr, server) = echo_server(1).await;
    let mut ws = connect(addr, "/ping").await;

    // Client to server: tungstenite on the server answers by itself.
    ws.send(Message::Ping(b"from the client".to_vec().into()))
        .await
        .expect("sending a ping");
    match next(&mut ws).await {
        Message::Pong(data) => assert_eq!(&data[..], b"from the client"),
        other => panic!("expected a pong, got {other:?}"),
    }

    // Server to client: the server echoes `PING_ME` only once our
    // tungstenite has answered its ping (done while we read).
    ws.send(Message::text(PING_ME)).await.expect("sending");
    match next(&mut ws).await {
        Message::Ping(data) => assert_eq!(&data[..], b"from the server"),
        other => panic!("expected the server's ping, got {other:?}"),
    }
    assert_eq!(next(&mut ws).await, Message::text(PING_ME));

    close_from_client(&mut ws).await;
    let served = served_one(server).await;
    assert_eq!(served.pings, 1);
    assert_eq!(served.echoed, 1);
}

async fn close_handshake_started_by_the_client() {
    let (addr, server) = echo_server(1).await;
    let mut ws = connect(addr, "/close").await;
    ws.send(Message::text("before closing"))
        .await
        .expect("sending");
    assert_eq!(next(&mut ws).await, Message::text("before closing"));

    let reply = close_from_client(&mut ws).await.expect("a close frame");
    // The reply echoes our code (RFC 6455 §5.5.1).
    assert_eq!(reply.code, CloseCode::Normal);
    let served = served_one(server).await;
    let close = served.close.expect("the server got our close frame");
    assert_eq!(close.code, CloseCode::Normal);
    assert_eq!(close.reason.as_str(), "done");

    // After the handshake the server has closed the TCP connection.
    let mut tcp = ws.into_inner();
    let mut rest = Vec::new();
    assert_eq!(tcp.read_to_end(&mut rest).await.expect("reading"), 0);
}

async fn close_handshake_started_by_the_server() {
    let (addr, server) = echo_server(1).await;
    let mut ws = connect(addr, "/close").await;
    ws.send(Message::text(CLOSE_ME)).await.expect("sending");
    match next(&mut ws).await {
        Message::Close(Some(frame)) => {
            assert_eq!(frame.code, CloseCode::Away);
            assert_eq!(frame.reason.as_str(), "server going away");
        }
        other => panic!("expected the server's close frame, got {other:?}"),
    }
    // Our tungstenite replies while we read on; then the stream ends.
    assert!(
        ws.next().await.is_none(),
        "nothing after the close handshake"
    );
    // Sending now is refused.
    let error = ws
        .send(Message::text("too late"))
        .await
        .expect_err("sending after the close handshake");
    assert!(
        matches!(error, WsError::ConnectionClosed | WsError::AlreadyClosed),
        "{error:?}"
    );
    let served = served_one(server).await;
    // The server saw our reply, which echoes its code.
    assert_eq!(served.close.map(|f| f.code), Some(CloseCode::Away));
}

async fn plain_http_request_is_refused_and_server_survives() {
    let (addr, server) = echo_server(2).await;

    // A plain HTTP request, without the upgrade headers.
    let mut tcp = TcpStream::connect(addr).await.expect("connecting");
    tcp.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .expect("writing");
    let mut response = Vec::new();
    tcp.read_to_end(&mut response).await.expect("reading");
    drop(tcp);

    // A WebSocket client after it is served.
    let mut ws = connect(addr, "/after").await;
    ws.send(Message::text("still there?"))
        .await
        .expect("sending");
    assert_eq!(next(&mut ws).await, Message::text("still there?"));
    close_from_client(&mut ws).await;

    let mut results = server.await.expect("the server task");
    let served = results.pop().unwrap().expect("the WebSocket connection");
    assert_eq!(served.path, "/after");
    let refused = results.pop().unwrap().expect_err("the plain request");
    assert!(matches!(refused, WsError::Protocol(_)), "{refused:?}");
    // The server closed the connection without switching protocols
    // (tungstenite writes no response to a request it refuses).
    let response = String::from_utf8_lossy(&response);
    assert!(!response.contains(" 101 "), "{response}");
}
