//! TLS through the tokio-trait ecosystem: `tokio-rustls` (rustls with the
//! `ring` provider) over zokio's `TcpStream`, which implements tokio's
//! `AsyncRead`/`AsyncWrite`. Server and client are both tokio-rustls, both
//! running on zokio; the certificate is self-signed, made by rcgen when the
//! test runs.
//!
//! Every test is written once and instantiated for each backend (`mio`,
//! `io_uring`) on each flavor (`current_thread`, `multi_thread` with two
//! workers). Each runs on its own thread under a watchdog, its body under
//! `zokio::time::timeout`, so a hang fails the test instead of stalling CI.
//! Nothing here synchronises by sleeping and nothing asserts on timing.

mod support;
use support::run_on;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer, ServerName};
use tokio_rustls::rustls::{
    self, CertificateError, ClientConfig, ProtocolVersion, RootCertStore, ServerConfig,
};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use zokio::io::{AsyncReadExt, AsyncWriteExt};
use zokio::net::{TcpListener, TcpStream};

/// The name the certificate is issued for and the clients ask for (SNI).
const SERVER_NAME: &str = "localhost";

/// Bytes sent (and echoed back) by the large-payload test: many TLS records
/// (at most 16 KiB each), more than the socket buffers hold.
const LARGE: usize = 4 << 20;

/// Connections served at once by the concurrency test.
const CONCURRENT: usize = 16;

/// Instantiates the suite as module `$module` on the runtime configured by
/// the `runtime!` keys that follow.
macro_rules! tls_suite {
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
            fn handshake_then_echo_of_several_messages() {
                run(super::handshake_then_echo_of_several_messages);
            }

            #[test]
            fn large_payload_both_ways_checksummed() {
                run(super::large_payload_both_ways_checksummed);
            }

            #[test]
            fn concurrent_connections_in_separate_tasks() {
                run(super::concurrent_connections_in_separate_tasks);
            }

            #[test]
            fn untrusted_or_misnamed_certificate_fails_and_server_survives() {
                run(super::untrusted_or_misnamed_certificate_fails_and_server_survives);
            }

            #[test]
            fn refusing_client_alert_reaches_the_server() {
                run(super::refusing_client_alert_reaches_the_server);
            }

            #[test]
            fn closing_without_close_notify_is_reported_as_truncation() {
                run(super::closing_without_close_notify_is_reported_as_truncation);
            }
        }
    };
}

tls_suite!(
    mio_current_thread,
    flavor = "current_thread",
    backend = "mio"
);
tls_suite!(
    mio_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "mio"
);
tls_suite!(
    io_uring_current_thread,
    flavor = "current_thread",
    backend = "io_uring"
);
tls_suite!(
    io_uring_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "io_uring"
);

// ---------------------------------------------------------------------------
// Certificates, configurations and the echo server
// ---------------------------------------------------------------------------

/// A self-signed certificate for `SERVER_NAME` and its key, as rustls wants
/// them.
struct Identity {
    cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl Identity {
    /// A certificate whose subject (and so issuer) is `label`: two
    /// identities with different labels do not vouch for each other.
    fn new(label: &str) -> Identity {
        let mut params = rcgen::CertificateParams::new(vec![SERVER_NAME.to_owned()])
            .expect("a valid subject alternative name");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, label);
        let key = rcgen::KeyPair::generate().expect("generating a key");
        let cert = params.self_signed(&key).expect("self-signing");
        Identity {
            cert: cert.der().clone(),
            key: PrivatePkcs8KeyDer::from(key.serialize_der()),
        }
    }

    fn acceptor(&self) -> TlsAcceptor {
        let config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default protocol versions")
            .with_no_client_auth()
            .with_single_cert(vec![self.cert.clone()], self.key.clone_key().into())
            .expect("a valid certificate and key");
        TlsAcceptor::from(Arc::new(config))
    }

    /// A connector that trusts this certificate (and nothing else).
    fn trusting_connector(&self) -> TlsConnector {
        let mut roots = RootCertStore::empty();
        roots.add(self.cert.clone()).expect("a valid certificate");
        connector(roots)
    }

    /// Connects to `addr` and runs a TLS handshake for `name` as a client
    /// that trusts this certificate only.
    async fn connect(
        &self,
        addr: SocketAddr,
        name: &str,
    ) -> io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
        let tcp = TcpStream::connect(addr).await.expect("connecting");
        self.trusting_connector()
            .connect(server_name(name), tcp)
            .await
    }
}

fn connector(roots: RootCertStore) -> TlsConnector {
    let config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports the default protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

fn server_name(name: &str) -> ServerName<'static> {
    ServerName::try_from(name.to_owned()).expect("a valid DNS name")
}

/// What the echo server saw on one connection.
#[derive(Debug)]
struct Served {
    /// The name the client asked for (SNI).
    sni: Option<String>,
    /// Bytes echoed.
    bytes: u64,
}

/// Serves one TLS connection: completes the handshake, writes back every
/// byte it reads until the client's `close_notify` (a read of 0 bytes; a TCP
/// close without `close_notify` is an error), then sends its own
/// `close_notify`.
async fn serve_echo(acceptor: TlsAcceptor, tcp: TcpStream) -> io::Result<Served> {
    let mut tls = acceptor.accept(tcp).await?;
    let sni = tls.get_ref().1.server_name().map(str::to_owned);
    let mut buf = vec![0u8; 32 * 1024];
    let mut bytes = 0;
    loop {
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        tls.write_all(&buf[..n]).await?;
        // rustls holds what the socket has not taken yet; on io_uring a
        // write is only started by `poll_write`, so this is what sends it.
        tls.flush().await?;
        bytes += n as u64;
    }
    tls.shutdown().await?;
    Ok(Served { sni, bytes })
}

/// A listener on loopback and a task serving its next `connections`
/// connections one after another; the task returns each connection's result
/// in order (an error ends that connection, not the server).
async fn echo_server(
    acceptor: TlsAcceptor,
    connections: usize,
) -> (SocketAddr, zokio::task::JoinHandle<Vec<io::Result<Served>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
    let addr = listener.local_addr().expect("local address");
    let server = zokio::spawn(async move {
        let mut results = Vec::with_capacity(connections);
        for _ in 0..connections {
            let (tcp, _) = listener.accept().await.expect("accepting");
            results.push(serve_echo(acceptor.clone(), tcp).await);
        }
        results
    });
    (addr, server)
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

/// The rustls error inside an I/O error from tokio-rustls, if there is one.
fn rustls_error(error: &io::Error) -> Option<&rustls::Error> {
    error.get_ref()?.downcast_ref::<rustls::Error>()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

async fn handshake_then_echo_of_several_messages() {
    let identity = Identity::new("zokio test server");
    let (addr, server) = echo_server(identity.acceptor(), 1).await;

    let mut tls = identity
        .connect(addr, SERVER_NAME)
        .await
        .expect("the handshake succeeds with a trusted certificate");
    let session = tls.get_ref().1;
    assert_eq!(session.protocol_version(), Some(ProtocolVersion::TLSv1_3));
    assert!(session.negotiated_cipher_suite().is_some());

    let messages: [&[u8]; 4] = [b"hello", b"over TLS", &[0u8; 1], &[0xa5; 20_000]];
    let mut sent = 0u64;
    for message in messages {
        tls.write_all(message).await.expect("writing");
        tls.flush().await.expect("flushing");
        let mut echo = vec![0u8; message.len()];
        tls.read_exact(&mut echo).await.expect("reading the echo");
        assert_eq!(echo, message);
        sent += message.len() as u64;
    }

    // Clean close: our close_notify ends the server's read loop with a
    // 0-byte read (not an error), and its close_notify ends ours the same way.
    tls.shutdown().await.expect("sending close_notify");
    let mut rest = Vec::new();
    let n = tls
        .read_to_end(&mut rest)
        .await
        .expect("the server closes with close_notify");
    assert_eq!(n, 0, "nothing after the last echo");

    let mut results = server.await.expect("the server task");
    let served = results
        .pop()
        .unwrap()
        .expect("the server saw a clean close");
    assert_eq!(served.bytes, sent);
    assert_eq!(served.sni.as_deref(), Some(SERVER_NAME));
}

async fn large_payload_both_ways_checksummed() {
    let identity = Identity::new("zokio test server");
    let (addr, server) = echo_server(identity.acceptor(), 1).await;
    let tls = identity
        .connect(addr, SERVER_NAME)
        .await
        .expect("handshake");

    // Write and read at once: the echo would fill the socket buffers and
    // stall a client that wrote everything before reading.
    let data = payload(LARGE, 0x5eed);
    let expected = fnv1a(&data);
    let (mut reader, mut writer) = zokio::io::split(tls);
    let write = zokio::spawn(async move {
        for chunk in data.chunks(100_000) {
            writer.write_all(chunk).await?;
        }
        writer.shutdown().await?;
        io::Result::Ok(writer)
    });
    let mut received = Vec::with_capacity(LARGE);
    reader
        .read_to_end(&mut received)
        .await
        .expect("reading the echo up to the server's close_notify");
    let writer = write.await.expect("the writer task").expect("writing");
    drop(reader.unsplit(writer));

    assert_eq!(received.len(), LARGE);
    assert_eq!(
        fnv1a(&received),
        expected,
        "the echo differs from what was sent"
    );
    let served = server.await.expect("the server task").pop().unwrap();
    assert_eq!(served.expect("a clean close").bytes, LARGE as u64);
}

async fn concurrent_connections_in_separate_tasks() {
    let identity = Identity::new("zokio test server");
    let acceptor = identity.acceptor();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binding");
    let addr = listener.local_addr().expect("local address");
    let server = zokio::spawn(async move {
        let mut connections = Vec::new();
        for _ in 0..CONCURRENT {
            let (tcp, _) = listener.accept().await.expect("accepting");
            connections.push(zokio::spawn(serve_echo(acceptor.clone(), tcp)));
        }
        let mut total = 0;
        for connection in connections {
            total += connection
                .await
                .expect("a connection task")
                .expect("served")
                .bytes;
        }
        total
    });

    let connector = identity.trusting_connector();
    let clients: Vec<_> = (0..CONCURRENT)
        .map(|i| {
            let connector = connector.clone();
            zokio::spawn(async move {
                let tcp = TcpStream::connect(addr).await?;
                let mut tls = connector.connect(server_name(SERVER_NAME), tcp).await?;
                let message = payload(1000 + i * 100, i as u64);
                for _ in 0..10 {
                    tls.write_all(&message).await?;
                    tls.flush().await?;
                    let mut echo = vec![0u8; message.len()];
                    tls.read_exact(&mut echo).await?;
                    assert_eq!(echo, message, "client {i}: wrong echo");
                }
                tls.shutdown().await?;
                io::Result::Ok(10 * message.len() as u64)
            })
        })
        .collect();
    let mut sent = 0;
    for client in clients {
        sent += client.await.expect("a client task").expect("a client");
    }
    assert_eq!(server.await.expect("the server task"), sent);
}

async fn untrusted_or_misnamed_certificate_fails_and_server_survives() {
    let identity = Identity::new("zokio test server");
    let (addr, server) = echo_server(identity.acceptor(), 3).await;

    // A client that trusts another certificate only.
    let stranger = Identity::new("zokio test stranger");
    let error = stranger
        .connect(addr, SERVER_NAME)
        .await
        .expect_err("a certificate from an unknown issuer must be refused");
    assert!(
        matches!(
            rustls_error(&error),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            ))
        ),
        "unexpected error: {error:?}"
    );

    // A client that trusts the certificate but asks for another name.
    let error = identity
        .connect(addr, "not-localhost.invalid")
        .await
        .expect_err("a certificate for another name must be refused");
    assert!(
        matches!(
            rustls_error(&error),
            Some(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForNameContext { .. }
            ))
        ),
        "unexpected error: {error:?}"
    );

    // The server is still serving: a trusting client gets its echo.
    let mut tls = identity
        .connect(addr, SERVER_NAME)
        .await
        .expect("the handshake succeeds after the failed ones");
    tls.write_all(b"still there?").await.expect("writing");
    tls.flush().await.expect("flushing");
    let mut echo = [0u8; 12];
    tls.read_exact(&mut echo).await.expect("reading");
    assert_eq!(&echo, b"still there?");
    tls.shutdown().await.expect("close_notify");

    let results = server.await.expect("the server task");
    assert_eq!(results.len(), 3);
    // The refusing clients end the handshake with an alert, and the server's
    // handshake fails with it (see `refusing_client_alert_reaches_the_server`).
    for (i, failed) in results[..2].iter().enumerate() {
        let error = failed.as_ref().expect_err("the server's handshake failed");
        assert!(
            matches!(rustls_error(error), Some(rustls::Error::AlertReceived(_))),
            "connection {i}: unexpected server error: {error:?}"
        );
    }
    assert_eq!(results[2].as_ref().expect("served").bytes, 12);
}

/// A client that refuses the certificate sends a fatal alert before it
/// closes, and the server's handshake fails with that alert (as it does over
/// std sockets and tokio's). tokio-rustls writes the alert with a single
/// last-gasp `poll_write_vectored` of rustls' queued records (the
/// middlebox-compatibility ChangeCipherSpec, then the alert), polled once:
/// the streams must send every slice (tokio's default `poll_write_vectored`
/// writes only the first), and must send them in that one poll (on io_uring
/// a send left pending would be cancelled when the stream is dropped).
async fn refusing_client_alert_reaches_the_server() {
    let identity = Identity::new("zokio test server");
    let (addr, server) = echo_server(identity.acceptor(), 1).await;
    let stranger = Identity::new("zokio test stranger");
    let tcp = TcpStream::connect(addr).await.expect("connecting");
    stranger
        .trusting_connector()
        .connect(server_name(SERVER_NAME), tcp)
        .await
        .expect_err("a certificate from an unknown issuer must be refused");
    let error = server
        .await
        .expect("the server task")
        .pop()
        .unwrap()
        .expect_err("the server's handshake failed");
    assert!(
        matches!(
            rustls_error(&error),
            Some(rustls::Error::AlertReceived(
                rustls::AlertDescription::UnknownCA
            ))
        ),
        "the server did not get the client's alert: {error:?}"
    );
}

async fn closing_without_close_notify_is_reported_as_truncation() {
    let identity = Identity::new("zokio test server");
    let (addr, server) = echo_server(identity.acceptor(), 1).await;
    let mut tls = identity
        .connect(addr, SERVER_NAME)
        .await
        .expect("handshake");
    tls.write_all(b"cut").await.expect("writing");
    tls.flush().await.expect("flushing");
    let mut echo = [0u8; 3];
    tls.read_exact(&mut echo).await.expect("reading");
    // Close the TCP connection under the TLS session: no close_notify.
    let (tcp, _) = tls.into_inner();
    drop(tcp);

    let error = server
        .await
        .expect("the server task")
        .pop()
        .unwrap()
        .expect_err("a TCP close without close_notify is not a clean end");
    assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof, "{error:?}");
}
