//! `backend = "auto"` end to end: where io_uring is refused, the runtime
//! starts on mio, says so, and serves sockets. The refusal is simulated with
//! `ZOKIO_NO_IO_URING` (the probe's own switch), in a child process, since
//! the probe's answer is computed once per process.

use std::process::Command;

use zokio::io::{AsyncReadExt, AsyncWriteExt};
use zokio::net::{TcpListener, TcpStream};
use zokio::runtime::ActiveBackend;

zokio::runtime! { AutoRt { flavor = "multi_thread", workers = 2, backend = "auto" } }
zokio::runtime! { UringRt { flavor = "current_thread", backend = "io_uring" } }

const CHILD: &str = "ZOKIO_FALLBACK_CHILD";

#[test]
fn auto_falls_back_to_mio_when_io_uring_is_refused() {
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child", "--nocapture", "--test-threads", "1"])
        .env(CHILD, "1")
        .env("ZOKIO_NO_IO_URING", "1")
        .status()
        .unwrap();
    assert!(status.success(), "the child failed: {status}");
}

/// Runs only in the child started above.
#[test]
fn child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    // `auto` chose mio, and says so.
    let rt = AutoRt::build().unwrap();
    assert_eq!(rt.backend(), ActiveBackend::Mio);
    let described = rt.describe();
    assert!(
        described.contains("backend in use        = mio"),
        "{described}"
    );
    assert!(described.contains("ZOKIO_NO_IO_URING"), "{described}");
    // Forcing io_uring where it is refused is an error naming the reason and
    // the alternatives, not a panic.
    let err = UringRt::build().unwrap_err();
    let msg = err.to_string();
    assert_eq!(err.kind(), std::io::ErrorKind::Unsupported);
    assert!(msg.contains("ZOKIO_NO_IO_URING"), "{msg}");
    assert!(msg.contains("backend = \"auto\""), "{msg}");
    // And the mio runtime serves a real connection.
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = zokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0; 5];
            conn.read_exact(&mut buf).await.unwrap();
            conn.write_all(&buf).await.unwrap();
        });
        let mut client = TcpStream::connect(addr).await.unwrap();
        client.write_all(b"hello").await.unwrap();
        let mut buf = [0; 5];
        client.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
        server.await.unwrap();
    });
}
