//! A WebSocket echo server (and a small client to talk to it):
//! `tokio-tungstenite` over zokio's `TcpStream`, with no tokio runtime.
//!
//! ```sh
//! cargo run -p zokio-examples --example websocket_echo                 # ws://127.0.0.1:9001/
//! cargo run -p zokio-examples --example websocket_echo -- --addr 127.0.0.1:9002
//! ```
//!
//! Then, from another terminal, with the example's own client mode (it sends
//! each argument as a text message, then a binary message and a ping, prints
//! what comes back and closes):
//!
//! ```sh
//! cargo run -p zokio-examples --example websocket_echo -- --client ws://127.0.0.1:9001/ hello "second message"
//! ```
//!
//! or with any WebSocket client, e.g. `websocat ws://127.0.0.1:9001/` (type
//! lines, see them echoed).
//!
//! The server echoes text and binary messages, answers pings (tungstenite
//! does that while reading), and completes the close handshake. Each
//! connection has its own task; an error ends that connection only.

use std::io;
use std::process::ExitCode;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{accept_async, client_async};
use zokio::net::{TcpListener, TcpStream};

zokio::runtime! {
    /// The echo server's runtime: io_uring where the kernel allows it, mio
    /// (epoll) otherwise; the start-up summary says which.
    pub WsRuntime {
        flavor = "multi_thread",
        workers = "auto",
        backend = "auto",
    }
}

/// Where the server listens unless told otherwise.
const DEFAULT_ADDR: &str = "127.0.0.1:9001";

/// How long a client may take to complete the WebSocket handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the client mode waits for each reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait before accepting again after `accept` fails.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

const USAGE: &str =
    "usage: websocket_echo [--addr HOST:PORT]            serve (default 127.0.0.1:9001)
       websocket_echo --client [ws://HOST:PORT/PATH] [MESSAGE...]
                                                   send MESSAGEs, print the echoes";

enum Mode {
    Serve { addr: String },
    Client { url: String, messages: Vec<String> },
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "-h" || a == "--help") {
        println!("A WebSocket echo server on zokio and tokio-tungstenite.\n{USAGE}");
        return ExitCode::SUCCESS;
    }
    let mode = match parse_args(std::env::args().skip(1).collect()) {
        Ok(mode) => mode,
        Err(message) => {
            eprintln!("websocket_echo: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let rt = match WsRuntime::build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("websocket_echo: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = match mode {
        Mode::Serve { addr } => {
            println!("{}", rt.describe());
            rt.block_on(serve(&addr))
                .map_err(|e| format!("cannot listen on {addr}: {e}"))
        }
        Mode::Client { url, messages } => rt.block_on(client(&url, messages)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("websocket_echo: {message}");
            ExitCode::FAILURE
        }
    }
}

fn parse_args(args: Vec<String>) -> Result<Mode, String> {
    let mut args = args.into_iter().peekable();
    match args.next().as_deref() {
        None => Ok(Mode::Serve {
            addr: DEFAULT_ADDR.to_owned(),
        }),
        Some("--addr") => {
            let addr = args.next().ok_or("--addr needs HOST:PORT")?;
            match args.next() {
                None => Ok(Mode::Serve { addr }),
                Some(extra) => Err(format!("unexpected argument `{extra}`")),
            }
        }
        Some("--client") => {
            let url = match args.peek() {
                Some(url) if url.starts_with("ws://") => args.next().unwrap(),
                _ => format!("ws://{DEFAULT_ADDR}/"),
            };
            Ok(Mode::Client {
                url,
                messages: args.collect(),
            })
        }
        Some(other) => Err(format!("unexpected argument `{other}`")),
    }
}

// ---------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------

/// Binds, then accepts forever; only a failure to bind ends it.
async fn serve(addr: &str) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("listening on ws://{local}/");
    println!(
        "try: cargo run -p zokio-examples --example websocket_echo -- --client ws://{local}/ hello"
    );
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                zokio::spawn(async move {
                    match echo(tcp).await {
                        Ok(count) => println!("{peer}: closed after {count} messages"),
                        Err(e) => eprintln!("{peer}: {e}"),
                    }
                });
            }
            Err(e) => {
                // Out of descriptors and the like: the listener still works.
                eprintln!("accept failed: {e}; retrying in {ACCEPT_BACKOFF:?}");
                zokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// Echoes one connection's text and binary messages until the close
/// handshake is over; returns how many were echoed.
async fn echo(tcp: TcpStream) -> Result<usize, WsError> {
    let mut ws = zokio::time::timeout(HANDSHAKE_TIMEOUT, accept_async(tcp))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "handshake timed out"))??;
    let mut count = 0;
    // The stream ends (`None`) once the close handshake is complete; pings
    // are answered and close frames replied to by tungstenite itself.
    while let Some(message) = ws.next().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
            count += 1;
        }
    }
    Ok(count)
}

// ---------------------------------------------------------------------------
// Client
// ---------------------------------------------------------------------------

/// Connects to `url`, sends each message as text, then a binary message and
/// a ping, prints every reply, and closes.
async fn client(url: &str, messages: Vec<String>) -> Result<(), String> {
    let authority = url
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .filter(|authority| !authority.is_empty())
        .ok_or_else(|| format!("`{url}` is not a ws://HOST:PORT/ URL"))?;
    let authority = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let tcp = TcpStream::connect(&authority)
        .await
        .map_err(|e| format!("connecting to {authority}: {e}"))?;
    let (mut ws, response) = client_async(url, tcp)
        .await
        .map_err(|e| format!("WebSocket handshake with {url}: {e}"))?;
    println!("connected to {url} ({})", response.status());

    let mut outgoing: Vec<Message> = messages.into_iter().map(Message::text).collect();
    if outgoing.is_empty() {
        outgoing.push(Message::text("hello from zokio"));
    }
    outgoing.push(Message::binary(vec![0xde, 0xad, 0xbe, 0xef]));
    outgoing.push(Message::Ping(b"are you there?".to_vec().into()));

    for message in outgoing {
        println!("> {}", show(&message));
        ws.send(message)
            .await
            .map_err(|e| format!("sending: {e}"))?;
        let reply = zokio::time::timeout(REPLY_TIMEOUT, ws.next())
            .await
            .map_err(|_| "no reply in time".to_owned())?
            .ok_or("the server closed the connection")?
            .map_err(|e| format!("reading: {e}"))?;
        println!("< {}", show(&reply));
    }

    ws.close(Some(CloseFrame {
        code: CloseCode::Normal,
        reason: "bye".into(),
    }))
    .await
    .map_err(|e| format!("closing: {e}"))?;
    // Read the server's close reply; the stream then ends.
    while let Some(message) = zokio::time::timeout(REPLY_TIMEOUT, ws.next())
        .await
        .map_err(|_| "no close reply in time".to_owned())?
    {
        println!("< {}", show(&message.map_err(|e| format!("reading: {e}"))?));
    }
    println!("closed");
    Ok(())
}

fn show(message: &Message) -> String {
    match message {
        Message::Text(text) => format!("text {:?}", text.as_str()),
        Message::Binary(data) => format!("binary {:02x?}", &data[..]),
        Message::Ping(data) => format!("ping {:?}", String::from_utf8_lossy(data)),
        Message::Pong(data) => format!("pong {:?}", String::from_utf8_lossy(data)),
        Message::Close(Some(frame)) => format!("close {} {:?}", frame.code, frame.reason.as_str()),
        Message::Close(None) => "close".to_owned(),
        Message::Frame(frame) => format!("frame {frame:?}"),
    }
}
