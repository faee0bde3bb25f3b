//! Shutdown racing the workers' last steps (issue 8). Each test repeats a
//! short runtime life many times under a watchdog, because the races it
//! looks for are narrow: a hang fails the test with the iteration it hung in.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use zokio::io::{AsyncReadExt, AsyncWriteExt};
use zokio::net::{TcpListener, TcpStream};

zokio::runtime! { UringMt { flavor = "multi_thread", workers = 2, backend = "io_uring" } }
zokio::runtime! { MioMt { flavor = "multi_thread", workers = 2, backend = "mio" } }

/// How many runtime lives each test goes through.
const LIVES: usize = 300;

/// How long all the lives may take before the test fails as hung: far longer
/// than they need (well under a second each).
const WATCHDOG: Duration = Duration::from_secs(60);

/// One short life: a few echoed connections keep both workers' drivers
/// active (registered sockets, operations in flight) until the runtime is
/// dropped.
fn life<S: zokio::Spec>() {
    let rt = zokio::Runtime::<S>::build().expect("building the runtime");
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = zokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                zokio::spawn(async move {
                    let mut byte = [0];
                    while stream.read_exact(&mut byte).await.is_ok() {
                        if stream.write_all(&byte).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let clients: Vec<_> = (0..4u8)
            .map(|n| {
                zokio::spawn(async move {
                    let mut stream = TcpStream::connect(addr).await.unwrap();
                    stream.write_all(&[n]).await.unwrap();
                    let mut byte = [0];
                    stream.read_exact(&mut byte).await.unwrap();
                    assert_eq!(byte, [n]);
                    // Kept open: the server's read stays in flight.
                    stream
                })
            })
            .collect();
        let mut streams = Vec::new();
        for client in clients {
            streams.push(client.await.unwrap());
        }
        drop(server);
        // Dropped with the block_on future, the server's reads in flight.
        drop(streams);
    });
}

fn lives<S: zokio::Spec>() {
    let (done, finished) = mpsc::channel();
    let progress = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = progress.clone();
    thread::spawn(move || {
        for i in 0..LIVES {
            life::<S>();
            seen.store(i + 1, std::sync::atomic::Ordering::SeqCst);
        }
        let _ = done.send(());
    });
    if finished.recv_timeout(WATCHDOG).is_err() {
        panic!(
            "runtime life {} of {LIVES} did not finish within {WATCHDOG:?}: \
             dropping the runtime hung (a worker that never saw the shutdown?)",
            progress.load(std::sync::atomic::Ordering::SeqCst) + 1
        );
    }
}

/// A worker parked in its io_uring wait must see the shutdown unpark. It
/// once missed it: another worker's `poll_other_drivers` polled this
/// worker's driver with the owner's `poll_now`, which reset the pending
/// NOTIFIED to EMPTY, so the parking worker slept without a timeout and the
/// runtime's drop waited for it forever. Fixed in 83c5252 (foreign polls go
/// through `poll_foreign`, which leaves NOTIFIED alone); this hung within a
/// few dozen lives before.
#[test]
fn dropping_a_busy_io_uring_multi_thread_runtime_never_hangs() {
    lives::<UringMt>();
}

#[test]
fn dropping_a_busy_mio_multi_thread_runtime_never_hangs() {
    lives::<MioMt>();
}
