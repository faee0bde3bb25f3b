//! The HTTP benchmark's service and connection settings, shared by the
//! zokio and tokio servers so that both run exactly the same hyper code.

use std::convert::Infallible;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response};

/// The body of every response.
pub const HELLO: &[u8] = b"Hello, World!";

/// Hello world: the same 13-byte plain-text response to every request.
pub async fn hello(_request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut response = Response::new(Full::new(Bytes::from_static(HELLO)));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    Ok(response)
}

/// hyper's HTTP/1.1 server settings for both servers: keep-alive (hyper's
/// default) and the given runtime timer, so hyper's header-read timeout
/// (30 s by default once a timer is set) runs on both.
pub fn http1<T>(timer: T) -> hyper::server::conn::http1::Builder
where
    T: hyper::rt::Timer + Send + Sync + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(timer);
    builder
}

/// Logs a connection error other than the client going away mid-request
/// (which the load generator does when it stops).
pub fn report(server: &str, error: &hyper::Error) {
    if !error.is_incomplete_message() {
        eprintln!("{server}: connection: {error}");
    }
}

/// Parses `--addr HOST:PORT` and `--flavor multi_thread|current_thread`,
/// plus `--backend mio|io_uring` where `backends` is true. Returns (address,
/// multi_thread, io_uring) or the usage line.
pub fn parse_args(
    usage: &'static str,
    backends: bool,
) -> Result<(std::net::SocketAddr, bool, bool), String> {
    let mut addr: std::net::SocketAddr = ([127, 0, 0, 1], 0).into();
    let (mut multi_thread, mut uring) = (true, false);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        match (flag.as_str(), value.as_deref()) {
            ("--addr", Some(v)) => addr = v.parse().map_err(|e| format!("--addr {v}: {e}"))?,
            ("--flavor", Some("multi_thread")) => multi_thread = true,
            ("--flavor", Some("current_thread")) => multi_thread = false,
            ("--backend", Some("mio")) if backends => uring = false,
            ("--backend", Some("io_uring")) if backends => uring = true,
            _ => return Err(usage.to_owned()),
        }
    }
    Ok((addr, multi_thread, uring))
}
