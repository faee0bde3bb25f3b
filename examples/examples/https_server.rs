//! An HTTPS server: rustls (through `tokio-rustls`) over zokio's
//! `TcpStream`, answering every request with a short plain-text page that
//! says what was negotiated.
//!
//! ```sh
//! cargo run -p zokio-examples --example https_server            # https://127.0.0.1:8443/
//! cargo run -p zokio-examples --example https_server -- --addr 127.0.0.1:9443
//! cargo run -p zokio-examples --example https_server -- --cert cert.pem --key key.pem
//! ```
//!
//! Without `--cert`/`--key` it makes a self-signed certificate for
//! `localhost` and `127.0.0.1` at start-up, which clients do not trust; tell
//! them to skip verification:
//!
//! ```sh
//! curl -k https://127.0.0.1:8443/hello
//! openssl s_client -connect 127.0.0.1:8443 -servername localhost   # then type: GET / HTTP/1.0 and two Enters
//! ```
//!
//! The HTTP/1.1 here is written by hand (one request per connection,
//! answered with `Connection: close`) to keep the example about TLS; the
//! `http_server` example shows hyper. A client that sends no complete
//! request head within `HEADER_TIMEOUT` is dropped, as is one whose
//! handshake fails; neither affects other connections.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::{ServerConfig, ServerConnection};
use tokio_rustls::{TlsAcceptor, server::TlsStream};
use zokio::io::{AsyncReadExt, AsyncWriteExt};
use zokio::net::{TcpListener, TcpStream};

zokio::runtime! {
    /// The HTTPS server's runtime: io_uring where the kernel allows it,
    /// mio (epoll) otherwise; the start-up summary says which.
    pub HttpsRuntime {
        flavor = "multi_thread",
        workers = "auto",
        backend = "auto",
    }
}

/// Where the server listens unless told otherwise.
const DEFAULT_ADDR: &str = "127.0.0.1:8443";

/// How long a client may take to send its request head after the handshake
/// (and how long the handshake itself may take).
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest request head accepted.
const MAX_HEAD: usize = 16 * 1024;

/// How long to wait before accepting again after `accept` fails.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

const USAGE: &str = "usage: https_server [--addr HOST:PORT] [--cert CERT.pem --key KEY.pem]
  --addr HOST:PORT  where to listen (default 127.0.0.1:8443)
  --cert CERT.pem   PEM certificate chain, leaf first
  --key KEY.pem     PEM private key (PKCS#8, PKCS#1 or SEC1)
Without --cert and --key, a self-signed certificate is made at start-up.";

struct Options {
    addr: String,
    identity: Option<(PathBuf, PathBuf)>,
}

fn main() -> ExitCode {
    if std::env::args().any(|a| a == "-h" || a == "--help") {
        println!("An HTTPS server on zokio and rustls.\n{USAGE}");
        return ExitCode::SUCCESS;
    }
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            eprintln!("https_server: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let config = match server_config(options.identity.as_ref()) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("https_server: {message}");
            return ExitCode::FAILURE;
        }
    };
    let rt = match HttpsRuntime::build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("https_server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", rt.describe());
    match rt.block_on(serve(&options.addr, TlsAcceptor::from(Arc::new(config)))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("https_server: cannot listen on {}: {e}", options.addr);
            ExitCode::FAILURE
        }
    }
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Options, String> {
    let mut addr = DEFAULT_ADDR.to_owned();
    let (mut cert, mut key) = (None, None);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--addr" => addr = value()?,
            "--cert" => cert = Some(PathBuf::from(value()?)),
            "--key" => key = Some(PathBuf::from(value()?)),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let identity = match (cert, key) {
        (Some(cert), Some(key)) => Some((cert, key)),
        (None, None) => None,
        _ => return Err("--cert and --key go together".to_owned()),
    };
    Ok(Options { addr, identity })
}

/// The rustls configuration, with the `ring` provider, from the given PEM
/// files or a fresh self-signed certificate.
fn server_config(identity: Option<&(PathBuf, PathBuf)>) -> Result<ServerConfig, String> {
    let (chain, key) = match identity {
        Some((cert_path, key_path)) => {
            let chain = CertificateDer::pem_file_iter(cert_path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("reading {}: {e}", cert_path.display()))?;
            if chain.is_empty() {
                return Err(format!("{}: no certificate found", cert_path.display()));
            }
            let key = PrivateKeyDer::from_pem_file(key_path)
                .map_err(|e| format!("reading {}: {e}", key_path.display()))?;
            println!("certificate: {}", cert_path.display());
            (chain, key)
        }
        None => {
            let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
            let certified = rcgen::generate_simple_self_signed(names)
                .map_err(|e| format!("making a self-signed certificate: {e}"))?;
            println!(
                "certificate: self-signed for localhost and 127.0.0.1, made now \
                 (not trusted by clients: use curl -k)"
            );
            let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
            (vec![certified.cert.der().clone()], key.into())
        }
    };
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate and key do not fit together: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Binds, then accepts forever; only a failure to bind ends it.
async fn serve(addr: &str, acceptor: TlsAcceptor) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    println!("listening on https://{local}/   (try: curl -k https://{local}/)");
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => {
                let acceptor = acceptor.clone();
                zokio::spawn(async move {
                    match handle(acceptor, tcp).await {
                        Ok(line) => println!("{peer}: {line}"),
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

/// One connection: the handshake, one request, one response, then
/// `close_notify`. Returns the request line for the log.
async fn handle(acceptor: TlsAcceptor, tcp: TcpStream) -> io::Result<String> {
    let mut tls = zokio::time::timeout(HEADER_TIMEOUT, acceptor.accept(tcp))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
        .map_err(|e| io::Error::new(e.kind(), format!("TLS handshake failed: {e}")))?;
    let head = zokio::time::timeout(HEADER_TIMEOUT, read_head(&mut tls))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "no request head in time"))??;
    let request_line = head.lines().next().unwrap_or_default().to_owned();
    let mut parts = request_line.split(' ');
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));

    let (status, body) = match method {
        "GET" | "HEAD" => ("200 OK", describe_session(tls.get_ref().1, path)),
        _ => (
            "405 Method Not Allowed",
            "only GET and HEAD are served\n".to_owned(),
        ),
    };
    let mut response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    if method != "HEAD" {
        response.push_str(&body);
    }
    tls.write_all(response.as_bytes()).await?;
    // Sends what rustls still holds, then our close_notify.
    tls.shutdown().await?;
    Ok(format!("{request_line} -> {status}"))
}

/// Reads up to the blank line that ends an HTTP request head (anything the
/// client sent after it is ignored: no bodies, one request per connection).
async fn read_head(tls: &mut TlsStream<TcpStream>) -> io::Result<String> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    let end = loop {
        if let Some(end) = find_end_of_head(&head) {
            break end;
        }
        if head.len() > MAX_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head too long",
            ));
        }
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed before a complete request head",
            ));
        }
        head.extend_from_slice(&buf[..n]);
    };
    head.truncate(end);
    String::from_utf8(head)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "request head is not UTF-8"))
}

/// Where the head ends: after the first empty line (CRLF CRLF, or LF LF
/// from a hand-typed request).
fn find_end_of_head(bytes: &[u8]) -> Option<usize> {
    let crlf = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| i + 4);
    let lf = bytes.windows(2).position(|w| w == b"\n\n").map(|i| i + 2);
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The page: what the TLS session negotiated.
fn describe_session(session: &ServerConnection, path: &str) -> String {
    let version = session
        .protocol_version()
        .map_or_else(|| "?".to_owned(), |v| format!("{v:?}"));
    let suite = session
        .negotiated_cipher_suite()
        .map_or_else(|| "?".to_owned(), |s| format!("{:?}", s.suite()));
    let sni = session.server_name().unwrap_or("(none)");
    let alpn = session.alpn_protocol().map_or_else(
        || "(none)".to_owned(),
        |p| String::from_utf8_lossy(p).into_owned(),
    );
    format!(
        "Hello over TLS from zokio!\n\
         path:         {path}\n\
         version:      {version}\n\
         cipher suite: {suite}\n\
         server name:  {sni}\n\
         ALPN:         {alpn}\n"
    )
}
