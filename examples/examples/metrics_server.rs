//! A runtime that serves its own metrics: `/metrics` in the
//! Prometheus/OpenMetrics text format (through `prometheus-client`), and
//! `/tasks`, a dump of its live tasks, over HTTP/1.1 with hyper on zokio.
//!
//! ```sh
//! cargo run -p zokio-examples --example metrics_server              # 127.0.0.1:9898
//! cargo run -p zokio-examples --example metrics_server -- --addr 127.0.0.1:9000
//! ```
//!
//! Then, from another terminal:
//!
//! ```sh
//! curl http://127.0.0.1:9898/metrics      # zokio_* families
//! curl http://127.0.0.1:9898/tasks        # the live tasks and where they were spawned
//! curl http://127.0.0.1:9898/block        # a handler that blocks its worker for 300ms:
//!                                         # the server logs the blocked-worker warning
//! ```
//!
//! * **Runtime**: declared with `metrics = true` (per-worker counters) and
//!   `detect_blocking = "100ms"` (a poll that runs longer is logged, with
//!   the task's spawn location, on the `log` target `zokio`; this example
//!   prints log records to stderr with a ten-line logger).
//! * **Registry**: built once; `zokio::metrics::register` adds a collector
//!   that takes a fresh snapshot of the runtime on every scrape.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Request, Response, StatusCode};
use prometheus_client::registry::Registry;
use zokio::compat::hyper::ZokioIo;
use zokio::net::TcpListener;
use zokio::runtime::Handle;

zokio::runtime! {
    /// The server's runtime, with its counters compiled in.
    pub MetricsRuntime {
        flavor = "multi_thread",
        workers = 2,
        metrics = true,
        detect_blocking = "100ms",
    }
}

/// The OpenMetrics content type `prometheus-client` writes.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Prints `log` records (the detector's warnings among them) to stderr.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Info
    }
    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            eprintln!("[{} {}] {}", record.level(), record.target(), record.args());
        }
    }
    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

async fn handle(
    registry: Arc<Registry>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let response = match request.uri().path() {
        "/metrics" => {
            let mut body = String::new();
            match prometheus_client::encoding::text::encode(&mut body, &registry) {
                Ok(()) => text(StatusCode::OK, OPENMETRICS, body),
                Err(e) => text(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "text/plain",
                    format!("encoding failed: {e}\n"),
                ),
            }
        }
        "/tasks" => text(
            StatusCode::OK,
            "text/plain; charset=utf-8",
            Handle::current().dump().to_string(),
        ),
        "/block" => {
            // The mistake the detector is for: a blocking call in a task.
            std::thread::sleep(Duration::from_millis(300));
            text(
                StatusCode::OK,
                "text/plain",
                "blocked a worker for 300ms\n".into(),
            )
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /metrics, /tasks or /block\n".into(),
        ),
    };
    Ok(response)
}

async fn run(addr: SocketAddr) -> std::io::Result<()> {
    let mut registry = Registry::default();
    zokio::metrics::register(&mut registry, Handle::current());
    let registry = Arc::new(registry);
    let listener = TcpListener::bind(addr).await?;
    eprintln!(
        "metrics_server: listening on http://{}/metrics",
        listener.local_addr()?
    );
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                eprintln!("metrics_server: accept: {e}");
                continue;
            }
        };
        let registry = registry.clone();
        zokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |request| handle(registry.clone(), request));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(ZokioIo::new(stream), service)
                .await
            {
                eprintln!("metrics_server: {peer}: {e}");
            }
        });
    }
}

fn main() -> std::io::Result<()> {
    let _ = log::set_logger(&LOGGER).map(|()| log::set_max_level(log::LevelFilter::Info));
    let mut args = std::env::args().skip(1);
    let mut addr: SocketAddr = ([127, 0, 0, 1], 9898).into();
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => {
                addr = value.parse().map_err(|e| {
                    std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("--addr: {e}"))
                })?;
            }
            _ => {
                eprintln!("usage: metrics_server [--addr HOST:PORT]");
                std::process::exit(2);
            }
        }
    }
    let runtime = MetricsRuntime::build()?;
    eprintln!("{}", runtime.describe());
    runtime.block_on(run(addr))
}
