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

async fn scenario() {
    let work = async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Fill the descriptor table with std clients (each connection is
        // queued in the backlog without an accept).
        let mut hoard = Vec::new();
        let mut accepted = Vec::new();
        let error = loop {
            // When the table is full this fails too; the accept below then
            // fails the same way (the kernel takes the new descriptor before
            // it looks at the backlog).
            if let Ok(c) = std::net::TcpStream::connect(addr) {
                hoard.push(c);
            }
            match listener.accept().await {
                Ok((s, _)) => accepted.push(s),
                Err(e) => break e,
            }
            assert!(hoard.len() < 1000, "never ran out of descriptors");
        };
        let code = error.raw_os_error();
        assert!(
            code == Some(libc_emfile()) || code == Some(libc_enfile()),
            "expected EMFILE/ENFILE, got {error:?}"
        );
        // Free every descriptor the scenario took; the listener must accept
        // again (a connection left in the backlog by the last client is
        // accepted too and skipped: its client is gone).
        accepted.clear();
        drop(hoard);
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

fn libc_emfile() -> i32 {
    24
}

fn libc_enfile() -> i32 {
    23
}
