//! Descriptor and thread hygiene (issue 8): once a runtime is dropped, the
//! process has exactly the file descriptors and threads it had before the
//! runtime was built: drivers' epoll/io_uring/eventfd descriptors, sockets,
//! files, worker threads and blocking-pool threads are all gone.
//!
//! One test function runs every flavor and backend in turn: thread counts
//! are per process, so nothing else may run in this binary meanwhile.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use support::{assert_same_fds, open_fds};
use zokio::io::{AsyncReadExt, AsyncWriteExt};
use zokio::net::{TcpListener, TcpStream, UdpSocket, UnixStream};

/// The process's threads, by id, with their names, leaving out the kernel's
/// io_uring workers (`iou-wrk-*`, `iou-sqp-*`): the kernel starts them for a
/// ring's blocking operations and they exit on their own once the ring's
/// teardown finishes, which the kernel does asynchronously after the ring's
/// descriptor is closed. That the ring itself is gone shows in the
/// descriptor count.
fn threads() -> BTreeMap<u32, String> {
    std::fs::read_dir("/proc/self/task")
        .expect("listing /proc/self/task")
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let tid = entry.file_name().to_string_lossy().parse().ok()?;
            let name = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            let name = name.trim_end().to_owned();
            (!name.starts_with("iou-")).then_some((tid, name))
        })
        .collect()
}

/// Uses everything that opens a descriptor or starts a thread: TCP, UDP and
/// Unix sockets, a file, timers, blocking-pool jobs running at once, tasks
/// left waiting on I/O at shutdown.
async fn exercise(dir: std::path::PathBuf) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = zokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut buf = [0; 4];
        stream.read_exact(&mut buf).await.unwrap();
        stream.write_all(&buf).await.unwrap();
        // Waits on the listener until shutdown.
        let _ = listener.accept().await;
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(b"ping").await.unwrap();
    let mut buf = [0; 4];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
    // A task still reading when the runtime is dropped.
    zokio::spawn(async move {
        let _ = client.read(&mut buf).await;
    });
    drop(server);

    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    udp.send_to(b"x", udp.local_addr().unwrap()).await.unwrap();
    let mut byte = [0; 1];
    udp.recv_from(&mut byte).await.unwrap();

    let (mut left, mut right) = UnixStream::pair().unwrap();
    left.write_all(b"u").await.unwrap();
    right.read_exact(&mut byte).await.unwrap();

    let path = dir.join("hygiene");
    zokio::fs::write(&path, b"contents").await.unwrap();
    assert_eq!(zokio::fs::read(&path).await.unwrap(), b"contents");
    let file = zokio::fs::File::open(&path).await.unwrap();
    let (read, _) = file.read_at(Vec::with_capacity(8), 0).await;
    assert_eq!(read.unwrap(), 8);

    zokio::time::sleep(Duration::from_millis(1)).await;
    // Several blocking jobs at once, so the pool starts several threads: all
    // wait at a barrier until the last one arrives.
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(3));
    let jobs: Vec<_> = (0..3)
        .map(|_| {
            let barrier = barrier.clone();
            zokio::task::spawn_blocking(move || {
                barrier.wait();
            })
        })
        .collect();
    for job in jobs {
        job.await.unwrap();
    }
}

fn check<S: zokio::Spec>(what: &str, dir: &std::path::Path) {
    let fds_before = open_fds();
    let threads_before = threads();
    let rt = zokio::Runtime::<S>::build().expect("building the runtime");
    rt.block_on(exercise(dir.to_owned()));
    let during = threads().len();
    drop(rt);
    let fds_after = open_fds();
    let threads_after = threads();
    assert_same_fds(
        &fds_before,
        &fds_after,
        &format!("{what}: before the runtime vs after it was dropped"),
    );
    assert_eq!(
        threads_before, threads_after,
        "{what}: threads before the runtime vs after it was dropped ({during} while it ran)"
    );
}

zokio::runtime! { CurrentMio { flavor = "current_thread", backend = "mio" } }
zokio::runtime! { CurrentUring { flavor = "current_thread", backend = "io_uring" } }
zokio::runtime! { MultiMio { flavor = "multi_thread", workers = 2, backend = "mio" } }
zokio::runtime! { MultiUring { flavor = "multi_thread", workers = 2, backend = "io_uring" } }

#[test]
fn runtimes_leave_no_descriptor_or_thread_behind() {
    let dir = std::env::temp_dir().join(format!("zokio-hygiene-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Twice each: the second round would show anything the first one left
    // that only appears on a rebuild (a lazily started helper thread).
    for _ in 0..2 {
        check::<CurrentMio>("current_thread, mio", &dir);
        check::<CurrentUring>("current_thread, io_uring", &dir);
        check::<MultiMio>("multi_thread, mio", &dir);
        check::<MultiUring>("multi_thread, io_uring", &dir);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
