//! Adapters that let libraries written for other runtimes' traits run on
//! zokio.
//!
//! * `hyper` (feature `hyper`): hyper 1.x's runtime traits — I/O
//!   (`ZokioIo`), spawning (`ZokioExecutor`) and timers (`ZokioTimer`) — so
//!   hyper's HTTP/1.1 and HTTP/2 clients and servers run on zokio with no
//!   tokio runtime in the process.
//!
//! Code written for tokio's I/O traits needs no adapter: zokio's sockets
//! implement [`zokio::io::AsyncRead`](crate::io::AsyncRead) and
//! [`AsyncWrite`](crate::io::AsyncWrite), which *are* tokio's traits
//! (so tokio-rustls, tokio-tungstenite and tokio-util's codecs take zokio
//! streams as they are). With the `futures-io` feature the sockets also
//! implement `futures_io::{AsyncRead, AsyncWrite}` for the `futures`
//! ecosystem.

#[cfg(feature = "hyper")]
pub mod hyper;
