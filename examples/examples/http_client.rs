//! An HTTP client: hyper on zokio, talking to the `http_server` example.
//!
//! ```sh
//! cargo run -p zokio-examples --example http_server        # in one terminal
//! cargo run -p zokio-examples --example http_client        # in another
//! cargo run -p zokio-examples --example http_client -- http://127.0.0.1:8080/ --http2
//! ```
//!
//! With no protocol flag it fetches the URL over HTTP/1.1 and over HTTP/2
//! (prior knowledge, as `curl --http2-prior-knowledge` does), then posts a
//! body to `/echo` and checks that it comes back. Plain `http://` only (for
//! TLS see the `https_server` example). Exits non-zero if any request fails.

use std::io;
use std::process::ExitCode;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::header::HOST;
use hyper::{Request, Uri};
use zokio::compat::hyper::{ZokioExecutor, ZokioIo, ZokioTimer};
use zokio::net::TcpStream;

zokio::runtime! {
    /// One thread is plenty for a few requests.
    ClientRuntime { flavor = "current_thread", backend = "auto" }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Proto {
    Http1,
    Http2,
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Sends `request` to `uri`'s host on a new connection with `proto`, and
/// returns the response's status line and body.
async fn fetch(
    proto: Proto,
    uri: &Uri,
    request: Request<Full<Bytes>>,
) -> Result<(String, Bytes), Error> {
    let host = uri.host().ok_or("the URL has no host")?;
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    let io = ZokioIo::new(stream);
    let response = match proto {
        Proto::Http1 => {
            let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
            // The connection task does the I/O; it ends when `sender` is dropped.
            zokio::spawn(async move {
                if let Err(e) = connection.await {
                    eprintln!("http_client: HTTP/1.1 connection: {e}");
                }
            });
            sender.send_request(request).await?
        }
        Proto::Http2 => {
            let (mut sender, connection) =
                hyper::client::conn::http2::Builder::new(ZokioExecutor::new())
                    .timer(ZokioTimer::new())
                    .handshake(io)
                    .await?;
            zokio::spawn(async move {
                if let Err(e) = connection.await {
                    eprintln!("http_client: HTTP/2 connection: {e}");
                }
            });
            sender.send_request(request).await?
        }
    };
    let status = format!("{:?} {}", response.version(), response.status());
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, body))
}

/// A request for `path_and_query` on `uri`'s host. HTTP/1.1 needs `Host`;
/// HTTP/2 takes the full URI (its `:authority`).
fn request(
    proto: Proto,
    uri: &Uri,
    method: &str,
    path: &str,
    body: Bytes,
) -> Result<Request<Full<Bytes>>, Error> {
    let authority = uri.authority().ok_or("the URL has no host")?.as_str();
    let builder = match proto {
        Proto::Http1 => Request::builder().uri(path).header(HOST, authority),
        Proto::Http2 => Request::builder().uri(format!("http://{authority}{path}")),
    };
    Ok(builder.method(method).body(Full::new(body))?)
}

async fn run(uri: Uri, protos: &[Proto]) -> Result<(), Error> {
    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    for &proto in protos {
        let (status, body) = fetch(
            proto,
            &uri,
            request(proto, &uri, "GET", path, Bytes::new())?,
        )
        .await?;
        println!("GET {uri} ({proto:?}): {status}");
        print!("{}", String::from_utf8_lossy(&body));

        let sent = Bytes::from_static(b"zokio says hi, and hears it back\n");
        let echo = request(proto, &uri, "POST", "/echo", sent.clone())?;
        let (status, body) = fetch(proto, &uri, echo).await?;
        println!(
            "POST /echo ({proto:?}): {status}, {} bytes back",
            body.len()
        );
        if body != sent {
            return Err(io::Error::other(format!("/echo answered {body:?}, not {sent:?}")).into());
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let mut uri: Uri = Uri::from_static("http://127.0.0.1:8080/");
    let mut protos = vec![Proto::Http1, Proto::Http2];
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--http1" => protos = vec![Proto::Http1],
            "--http2" => protos = vec![Proto::Http2],
            url if url.starts_with("http://") => match url.parse() {
                Ok(u) => uri = u,
                Err(e) => {
                    eprintln!("http_client: {url}: {e}");
                    return ExitCode::from(2);
                }
            },
            _ => {
                eprintln!("usage: http_client [http://HOST:PORT/PATH] [--http1 | --http2]");
                return ExitCode::from(2);
            }
        }
    }
    let result = match ClientRuntime::build() {
        Ok(rt) => rt.block_on(run(uri, &protos)),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("http_client: {e}");
            ExitCode::FAILURE
        }
    }
}
