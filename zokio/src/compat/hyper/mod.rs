//! hyper 1.x on zokio (feature `hyper`).
//!
//! hyper leaves I/O, spawning and timers to its user through the traits of
//! [`hyper::rt`]. This module implements them over zokio:
//!
//! | hyper needs | zokio gives | used for |
//! |---|---|---|
//! | [`rt::Read`](::hyper::rt::Read) + [`rt::Write`](::hyper::rt::Write) | [`ZokioIo`] around a [`TcpStream`](crate::net::TcpStream), [`UnixStream`](crate::net::UnixStream), a TLS stream, ... | every connection |
//! | [`rt::Executor`](::hyper::rt::Executor) | [`ZokioExecutor`] ([`zokio::spawn`](crate::spawn)) | HTTP/2 streams, client connection tasks |
//! | [`rt::Timer`](::hyper::rt::Timer) | [`ZokioTimer`] ([`zokio::time`](crate::time)) | header-read timeout, HTTP/2 keep-alive, pool expiry |
//!
//! With these, hyper's `server::conn::{http1, http2}` and
//! `client::conn::{http1, http2}` run on a zokio runtime, either backend and
//! either flavor, and no tokio runtime exists in the process (hyper itself
//! uses only tokio's runtime-agnostic `sync` module). hyper-util's
//! tokio-specific parts (`TokioIo`, `TokioExecutor`, `TokioTimer`) are what
//! these replace; its runtime-independent parts, such as the
//! HTTP/1-or-HTTP/2 `auto` server builder, take zokio's adapters as they
//! are.
//!
//! `ZokioIo` also works the other way round: it gives tokio's
//! [`AsyncRead`](crate::io::AsyncRead)/[`AsyncWrite`](crate::io::AsyncWrite)
//! to a hyper-trait object, such as an upgraded connection, for libraries
//! that take tokio's traits.
//!
//! # Example
//!
//! An HTTP/1.1 server and client, each a task on one runtime:
//!
//! ```
//! use http_body_util::{BodyExt, Full};
//! use hyper::body::{Bytes, Incoming};
//! use hyper::{Request, Response};
//! use zokio::compat::hyper::{ZokioIo, ZokioTimer};
//! use zokio::net::{TcpListener, TcpStream};
//!
//! zokio::runtime! { Rt { flavor = "multi_thread", workers = 2 } }
//!
//! async fn hello(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
//!     let name = request.into_body().collect().await?.to_bytes();
//!     let reply = format!("hello, {}", String::from_utf8_lossy(&name));
//!     Ok(Response::new(Full::new(Bytes::from(reply))))
//! }
//!
//! Rt::block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
//!     let addr = listener.local_addr().unwrap();
//!     zokio::spawn(async move {
//!         let (stream, _) = listener.accept().await.unwrap();
//!         hyper::server::conn::http1::Builder::new()
//!             .timer(ZokioTimer::new())
//!             .serve_connection(ZokioIo::new(stream), hyper::service::service_fn(hello))
//!             .await
//!             .unwrap();
//!     });
//!
//!     let stream = TcpStream::connect(addr).await.unwrap();
//!     let (mut sender, connection) =
//!         hyper::client::conn::http1::handshake(ZokioIo::new(stream)).await.unwrap();
//!     zokio::spawn(connection);
//!     let request = Request::post("/").body(Full::new(Bytes::from("zokio"))).unwrap();
//!     let response = sender.send_request(request).await.unwrap();
//!     assert!(response.status().is_success());
//!     let body = response.into_body().collect().await.unwrap().to_bytes();
//!     assert_eq!(body, "hello, zokio");
//! });
//! ```
//!
//! HTTP/2 takes an executor as well:
//! `hyper::server::conn::http2::Builder::new(ZokioExecutor::new())` and
//! `hyper::client::conn::http2::handshake(ZokioExecutor::new(), io)`.

mod executor;
mod io;
mod timer;

pub use executor::ZokioExecutor;
pub use io::ZokioIo;
pub use timer::ZokioTimer;
