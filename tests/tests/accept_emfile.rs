//! Accept robustness: running out of file descriptors (`EMFILE`) makes
//! `accept` return an error, and the listener works again once descriptors
//! are free. The descriptor limit is per process, so each case re-runs this
//! test binary under `ulimit -n` with the case's name; the child does the
//! work and the parent checks that it passed.

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
    let scenario = scenario();
    match case.as_str() {
        "mio" => MioRt::build().unwrap().block_on(scenario),
        "io_uring" => UringRt::build().unwrap().block_on(scenario),
        "mio_mt" => MioMt::build().unwrap().block_on(scenario),
        "io_uring_mt" => UringMt::build().unwrap().block_on(scenario),
        other => panic!("unknown case {other}"),
    }
}

/// Runs the scenario twice: once as the descriptors fall and once with one
/// more descriptor taken first. Each round of the fill loop takes two
/// descriptors (the client's and the accepted one), so the two runs reach the
/// limit at the two different points: on the client's `connect` or on the
/// `accept`.
async fn scenario() {
    for extra in 0..2 {
        let taken: Vec<_> = (0..extra)
            .map(|_| std::fs::File::open("/dev/null").unwrap())
            .collect();
        one_run().await;
        drop(taken);
    }
}

async fn one_run() {
    let work = async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // A client socket made while descriptors are free, connected only
        // once the table is full (connecting needs no new descriptor).
        let late_client =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        // Fill the descriptor table: one client and one accepted connection
        // per round.
        let mut hoard = Vec::new();
        let mut accepted = Vec::new();
        let error = loop {
            assert!(hoard.len() < 1000, "never ran out of descriptors");
            match std::net::TcpStream::connect(addr) {
                Ok(c) => hoard.push(c),
                Err(e) => {
                    // The table is full and no connection waits. An accept
                    // may fail at once (epoll) or wait for a connection
                    // (io_uring multishot): either way, a connection that
                    // arrives now must make it fail.
                    assert_out_of_descriptors(&e);
                    late_client.connect(&addr.into()).unwrap();
                    match listener.accept().await {
                        Ok(_) => panic!("accepted with a full descriptor table"),
                        Err(e) => break e,
                    }
                }
            }
            match listener.accept().await {
                Ok((s, _)) => accepted.push(s),
                Err(e) => break e,
            }
        };
        assert_out_of_descriptors(&error);
        // Free every descriptor the scenario took; the listener must accept
        // again (a connection left in the backlog by a client now gone is
        // accepted too and skipped).
        accepted.clear();
        drop(hoard);
        drop(late_client);
        let server = zokio::spawn(async move {
            loop {
                let (mut conn, _) = listener.accept().await.unwrap();
                let mut buf = [0; 4];
                // Skip backlog leftovers, whose clients are gone.
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
    };
    zokio::time::timeout(Duration::from_secs(30), work)
        .await
        .expect("the scenario hung");
}

fn assert_out_of_descriptors(error: &std::io::Error) {
    let code = error.raw_os_error();
    assert!(
        code == Some(libc::EMFILE) || code == Some(libc::ENFILE),
        "expected EMFILE/ENFILE, got {error:?}"
    );
}
