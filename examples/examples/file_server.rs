//! A static file server: hyper (HTTP/1.1) on zokio, files read with
//! `zokio::fs` (through io_uring where the kernel allows it).
//!
//! ```sh
//! cargo run -p zokio-examples --example file_server              # serves . on 127.0.0.1:8081
//! cargo run -p zokio-examples --example file_server -- /some/dir 127.0.0.1:9000
//! ```
//!
//! Then: `curl http://127.0.0.1:8081/` (a directory listing) or
//! `curl -O http://127.0.0.1:8081/Cargo.toml`.
//!
//! * Directories are listed with `zokio::fs::read_dir`; files are sized
//!   with `zokio::fs::statx` and streamed in 256 KiB `File::read_at` chunks
//!   (owned buffers: on io_uring the kernel reads straight into them), so a
//!   large file never sits in memory whole.
//! * Paths with `..`, or that resolve outside the served directory through
//!   a symlink, are refused with 403.
//! * `GET` and `HEAD` only (405 otherwise); a slow client gets
//!   `HEADER_TIMEOUT` to send its request head.

use std::convert::Infallible;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Bytes, Frame, Incoming};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use zokio::compat::hyper::{ZokioIo, ZokioTimer};
use zokio::net::TcpListener;

zokio::runtime! {
    /// The file server's runtime.
    pub FileRuntime {
        flavor = "multi_thread",
        workers = "auto",
        backend = "auto",
    }
}

/// How long a client may take to send a request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Bytes per read of a served file.
const CHUNK: usize = 256 * 1024;

type Body = UnsyncBoxBody<Bytes, std::io::Error>;

fn text(status: StatusCode, message: &str) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(format!("{message}\n")))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// The file under `root` that `uri_path` names, or `None` if the path
/// tries to leave `root` (`..`, or a symlink pointing outside).
async fn resolve(root: &Path, uri_path: &str) -> Option<PathBuf> {
    let relative = Path::new(uri_path.trim_start_matches('/'));
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return None;
    }
    let full = root.join(relative);
    match zokio::fs::canonicalize(&full).await {
        Ok(real) if real.starts_with(root) => Some(real),
        Ok(_) => None,
        // Missing: let the caller report 404 for the path as asked.
        Err(_) => Some(full),
    }
}

/// Escapes text for HTML.
fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

async fn listing(dir: &Path, uri_path: &str) -> std::io::Result<Response<Body>> {
    let mut names = Vec::new();
    let mut entries = zokio::fs::read_dir(dir).await?;
    while let Some(entry) = entries.next_entry().await? {
        let mut name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().await.is_ok_and(|t| t.is_dir()) {
            name.push('/');
        }
        names.push(name);
    }
    names.sort();
    let base = if uri_path.ends_with('/') {
        uri_path.to_owned()
    } else {
        format!("{uri_path}/")
    };
    let mut html = format!(
        "<!doctype html><title>{0}</title><h1>{0}</h1><ul>",
        html_escape(&base)
    );
    for name in names {
        let escaped = html_escape(&name);
        let href = html_escape(&format!("{base}{name}"));
        html.push_str(&format!("<li><a href=\"{href}\">{escaped}</a></li>"));
    }
    html.push_str("</ul>\n");
    let mut response = Response::new(
        Full::new(Bytes::from(html))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Ok(response)
}

/// Streams the file in `CHUNK`-sized owned-buffer reads.
fn file_body(file: zokio::fs::File, len: u64) -> Body {
    let state = (Arc::new(file), 0u64);
    let chunks = futures_util::stream::unfold(state, move |(file, offset)| async move {
        if offset >= len {
            return None;
        }
        let want = CHUNK.min((len - offset) as usize);
        let (result, buf) = file.read_at(Vec::with_capacity(want), offset).await;
        match result {
            // The file shrank while being served: end the body early (the
            // client sees fewer bytes than Content-Length promised).
            Ok(0) => None,
            Ok(n) => Some((Ok(Frame::data(Bytes::from(buf))), (file, offset + n as u64))),
            Err(e) => Some((Err(e), (file, len))),
        }
    });
    StreamBody::new(chunks).boxed_unsync()
}

fn guess_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html" | "htm") => "text/html; charset=utf-8",
        Some("txt" | "md" | "rs" | "toml") => "text/plain; charset=utf-8",
        Some("json") => "application/json",
        Some("css") => "text/css",
        Some("js") => "text/javascript",
        Some("png") => "image/png",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

async fn serve(
    root: Arc<PathBuf>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let head = request.method() == Method::HEAD;
    if request.method() != Method::GET && !head {
        return Ok(text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD"));
    }
    let uri_path = request.uri().path().to_owned();
    let Some(path) = resolve(&root, &uri_path).await else {
        return Ok(text(
            StatusCode::FORBIDDEN,
            "that path leaves the served directory",
        ));
    };
    let response = async {
        let stat = zokio::fs::statx(&path).await?;
        if stat.is_dir() {
            return listing(&path, &uri_path).await;
        }
        let file = zokio::fs::File::open(&path).await?;
        let mut response = Response::new(if head {
            Full::new(Bytes::new())
                .map_err(|never| match never {})
                .boxed_unsync()
        } else {
            file_body(file, stat.len())
        });
        let headers = response.headers_mut();
        headers.insert(CONTENT_LENGTH, HeaderValue::from(stat.len()));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(guess_type(&path)));
        Ok::<_, std::io::Error>(response)
    }
    .await;
    Ok(response.unwrap_or_else(|e| match e.kind() {
        std::io::ErrorKind::NotFound => text(StatusCode::NOT_FOUND, "not found"),
        std::io::ErrorKind::PermissionDenied => text(StatusCode::FORBIDDEN, "permission denied"),
        _ => text(StatusCode::INTERNAL_SERVER_ERROR, &format!("error: {e}")),
    }))
}

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let root = std::fs::canonicalize(args.next().unwrap_or_else(|| ".".into()))?;
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8081".into());
    let rt = FileRuntime::build()?;
    println!("{}", rt.describe());
    rt.block_on(async move {
        let listener = TcpListener::bind(&addr).await?;
        println!(
            "serving {} on http://{}/ (Ctrl-C to stop)",
            root.display(),
            listener.local_addr()?
        );
        let root = Arc::new(root);
        loop {
            let (stream, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                // Out of descriptors, a connection reset before accept:
                // the listener keeps working.
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    continue;
                }
            };
            let root = root.clone();
            zokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request| serve(root.clone(), request));
                let connection = hyper::server::conn::http1::Builder::new()
                    .timer(ZokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(ZokioIo::new(stream), service);
                if let Err(e) = connection.await {
                    eprintln!("{peer}: {e}");
                }
            });
        }
    })
}
