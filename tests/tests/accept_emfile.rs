//! Accept robustness: running out of file descriptors (`EMFILE`) makes
//! `accept` return an error, whether the accept was already waiting when
//! the table filled or the connection was, and the listener works again
//! once descriptors are free. The descriptor limit is per process, so each
//! case re-runs this test binary under `ulimit -n` with the case's name;
//! the child does the work and the parent checks that it passed.

use std::process::Command;
use std::time::Duration;

use zokio::io::{AsyncReadExt, AsyncWriteExt};
use zokio::net::{TcpListener, TcpStream};

zokio::runtime! { MioRt { flavor = "current_thread", backend = "mio" } }
zokio::runtime! { UringRt { flavor = "current_thread", backend = "io_uring" } }
zokio::runtime! { MioMt { flavor = "multi_thread", workers = 2, backend = "mio" } }
zokio::runtime! { UringMt { flavor = "multi_thread", workers = 2, backend = "io_uring" } }

/// The child's environment variable naming the case to run.
const CASE: &str = "ZOKIO_EMFILE_CASE";

fn run_in_child(case: &str) {
    let exe = std::env::current_exe().unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -n 64 && exec "$0" --exact child --nocapture --test-threads 1"#)
        .arg(exe)
        .env(CASE, case)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "case {case} failed in the child: {status}"
    );
}

#[test]
fn emfile_on_accept_is_an_error_and_the_listener_recovers_mio() {
    run_in_child("mio");
}

#[test]
fn emfile_on_accept_is_an_error_and_the_listener_recovers_io_uring() {
    run_in_child("io_uring");
}

#[test]
fn emfile_on_accept_is_an_error_and_the_listener_recovers_mio_multi_thread() {
    run_in_child("mio_mt");
}

#[test]
fn emfile_on_accept_is_an_error_and_the_listener_recovers_io_uring_multi_thread() {
    run_in_child("io_uring_mt");
}

/// Runs only in a child started by the tests above.
#[test]
fn child() {
    let Ok(case) = std::env::var(CASE) else {
        return;
    };
    match case.as_str() {
        "mio" => both_ways::<MioRt>(),
        "io_uring" => both_ways::<UringRt>(),
        "mio_mt" => both_ways::<MioMt>(),
        "io_uring_mt" => both_ways::<UringMt>(),
        other => panic!("unknown case {other}"),
    }
}

/// The two ways an accept meets a full descriptor table, each on a runtime
/// of its own (so every descriptor the first closed is closed before the
/// second starts).
fn both_ways<S: zokio::Spec>() {
    let rt = zokio::Runtime::<S>::build().unwrap();
    rt.block_on(bounded(a_connection_arrives_while_the_table_is_full()));
    drop(rt);
    let rt = zokio::Runtime::<S>::build().unwrap();
    rt.block_on(bounded(the_table_fills_with_a_connection_waiting()));
}

async fn bounded(work: impl std::future::Future<Output = ()>) {
    zokio::time::timeout(Duration::from_secs(30), work)
        .await
        .expect("the scenario hung");
}

/// Opens `/dev/null` until the process is out of descriptors.
fn fill_the_table() -> Vec<std::fs::File> {
    let mut hoard = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => hoard.push(f),
            Err(e) => {
                assert_out_of_descriptors(&e);
                return hoard;
            }
        }
        assert!(hoard.len() < 10_000, "never ran out of descriptors");
    }
}

/// An accept already waiting (on io_uring, the multishot accept the first
/// connection armed, which stays armed) when the table fills fails once a
/// connection arrives. (Before this was tested on its own, it hung: the
/// armed accept waits for a connection, where `accept4` fails at once.)
async fn a_connection_arrives_while_the_table_is_full() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let first_client = std::net::TcpStream::connect(addr).unwrap();
    let (first, _) = listener.accept().await.unwrap();
    // A client socket made while descriptors are free; connecting it takes
    // none.
    let late_client =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let hoard = fill_the_table();
    late_client.connect(&addr.into()).unwrap();
    accept_fails_then_recovers(listener, hoard, (first, first_client, late_client)).await;
}

/// The table fills with a connection waiting in the backlog: `accept`
/// fails (the kernel takes the new descriptor before it looks at the
/// backlog).
async fn the_table_fills_with_a_connection_waiting() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut hoard = fill_the_table();
    // One descriptor for the client's socket: the table is full again.
    hoard.pop();
    let client = std::net::TcpStream::connect(addr).unwrap();
    accept_fails_then_recovers(listener, hoard, client).await;
}

/// With the table full and a connection there, `accept` fails for lack of
/// descriptors; once `hoard` and `sockets` are closed, the listener
/// recovers.
async fn accept_fails_then_recovers<T>(
    listener: TcpListener,
    hoard: Vec<std::fs::File>,
    sockets: T,
) {
    let error = listener
        .accept()
        .await
        .expect_err("accepted with a full descriptor table");
    assert_out_of_descriptors(&error);
    drop(hoard);
    drop(sockets);
    listener_recovers(listener).await;
}

/// With descriptors free again, the listener accepts and serves a
/// connection (connections left in the backlog by clients now gone are
/// accepted too and skipped).
async fn listener_recovers(listener: TcpListener) {
    let addr = listener.local_addr().unwrap();
    let server = zokio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = [0; 4];
            if conn.read_exact(&mut buf).await.is_ok() {
                conn.write_all(&buf).await.unwrap();
                return;
            }
        }
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"ping").await.unwrap();
    let mut buf = [0; 4];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    server.await.unwrap();
}

fn assert_out_of_descriptors(error: &std::io::Error) {
    let code = error.raw_os_error();
    assert!(
        code == Some(libc::EMFILE) || code == Some(libc::ENFILE),
        "expected EMFILE/ENFILE, got {error:?}"
    );
}
