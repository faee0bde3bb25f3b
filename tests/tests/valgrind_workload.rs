//! A reduced stress run, small enough to run under valgrind's memcheck
//! (`scripts/valgrind.sh` runs each test of this binary under
//! `valgrind --tool=memcheck --leak-check=full --error-exitcode=1`). Natively
//! it takes well under a second per runtime, so it also runs with the normal
//! suite.
//!
//! Each test, on one flavor and backend: tasks woken from another thread and
//! aborted at random, local tasks (`LocalSet`) the same way and then
//! cancelled by the set's drop, echoed TCP connections, timers fired and cancelled,
//! owned-buffer file reads and writes, blocking-pool jobs, and then the
//! runtime is dropped while tasks hold I/O in flight (socket reads and an
//! accept waiting, owned-buffer reads pending on io_uring), so memcheck sees
//! the shutdown release what the kernel was targeting.

use std::future::pending;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use zokio::io::{AsyncReadExt, AsyncWriteExt};
use zokio::net::{TcpListener, TcpStream};
use zokio::sync::oneshot;

/// Counts divided down from the stress tests, so each case takes seconds
/// under memcheck.
const TASKS: usize = 20_000;
const CONNECTIONS: usize = 200;
const TIMERS: usize = 2_000;
const LOCAL_TASKS: usize = 5_000;

struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

async fn tasks_woken_and_aborted() {
    let (wakes, to_wake) = mpsc::channel::<oneshot::Sender<()>>();
    let waker = thread::spawn(move || {
        for wake in to_wake {
            let _ = wake.send(());
        }
    });
    let drops = Arc::new(AtomicUsize::new(0));
    let mut handles = Vec::with_capacity(TASKS);
    for i in 0..TASKS {
        let (wake, woken) = oneshot::channel();
        let guard = DropCounter(drops.clone());
        let handle = zokio::spawn(async move {
            let _guard = guard;
            let _ = woken.await;
            // A boxed output, so a leaked or doubly dropped output shows.
            Box::new(i)
        });
        if i % 5 == 0 {
            handle.abort();
        }
        wakes.send(wake).unwrap();
        handles.push(handle);
    }
    let mut finished = 0;
    for handle in handles {
        match handle.await {
            Ok(_) => finished += 1,
            Err(err) => assert!(err.is_cancelled()),
        }
    }
    assert!(finished >= TASKS - TASKS / 5);
    drop(wakes);
    waker.join().unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), TASKS);
}

/// Local tasks (`LocalSet`, not `Send`, with `!Send` outputs) woken from
/// another thread, a fifth aborted; then tasks left pending when the set is
/// dropped, whose wakers another thread holds and drops (waking them) only
/// after the set is gone, so the last references to those cells go away
/// there.
async fn local_tasks() {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::sync::Mutex;
    use std::task::{Poll, Waker};
    use zokio::task::{self, LocalSet};

    let (wakes, to_wake) = mpsc::channel::<oneshot::Sender<()>>();
    let waker = thread::spawn(move || {
        for wake in to_wake {
            let _ = wake.send(());
        }
    });
    let drops = Arc::new(AtomicUsize::new(0));
    let local = LocalSet::new();
    local
        .run_until(async {
            let shared = Rc::new(RefCell::new(0usize));
            let mut handles = Vec::with_capacity(LOCAL_TASKS);
            for i in 0..LOCAL_TASKS {
                let (wake, woken) = oneshot::channel();
                let guard = DropCounter(drops.clone());
                let shared = shared.clone();
                let handle = task::spawn_local(async move {
                    let _guard = guard;
                    let _ = woken.await;
                    *shared.borrow_mut() += 1;
                    Box::new(Rc::new(i))
                });
                if i % 5 == 0 {
                    handle.abort();
                }
                wakes.send(wake).unwrap();
                handles.push(handle);
            }
            for (i, handle) in handles.into_iter().enumerate() {
                match handle.await {
                    Ok(output) => assert_eq!(**output, i),
                    Err(err) => assert!(err.is_cancelled()),
                }
            }
            assert!(*shared.borrow() >= LOCAL_TASKS - LOCAL_TASKS / 5);
        })
        .await;
    let held = Arc::new(Mutex::new(Vec::<Waker>::new()));
    const LEFT: usize = 100;
    for _ in 0..LEFT {
        let guard = DropCounter(drops.clone());
        let held = held.clone();
        local.spawn_local(async move {
            let _guard = guard;
            std::future::poll_fn(|cx| {
                held.lock().unwrap().push(cx.waker().clone());
                Poll::<()>::Pending
            })
            .await
        });
    }
    local.run_until(task::yield_now()).await;
    drop(local);
    assert_eq!(drops.load(Ordering::SeqCst), LOCAL_TASKS + LEFT);
    thread::spawn(move || {
        for w in held.lock().unwrap().drain(..) {
            w.wake();
        }
    })
    .join()
    .unwrap();
    drop(wakes);
    waker.join().unwrap();
}

async fn echoed_connections() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = zokio::spawn(async move {
        for _ in 0..CONNECTIONS {
            let (mut stream, _) = listener.accept().await.unwrap();
            zokio::spawn(async move {
                let mut buf = vec![0; 1024];
                loop {
                    match stream.read(&mut buf).await.unwrap() {
                        0 => break,
                        n => stream.write_all(&buf[..n]).await.unwrap(),
                    }
                }
            });
        }
    });
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            zokio::spawn(async move {
                let mut stream = TcpStream::connect(addr).await.unwrap();
                let message = vec![i as u8; 1000];
                stream.write_all(&message).await.unwrap();
                let mut echoed = vec![0; 1000];
                stream.read_exact(&mut echoed).await.unwrap();
                assert_eq!(echoed, message);
            })
        })
        .collect();
    for client in clients {
        client.await.unwrap();
    }
    server.await.unwrap();
}

async fn timers_fired_and_cancelled() {
    let handles: Vec<_> = (0..TIMERS)
        .map(|i| {
            zokio::spawn(async move {
                let short = Duration::from_micros((i % 7) as u64 * 100);
                match i % 3 {
                    0 => zokio::time::sleep(short).await,
                    1 => {
                        let long = zokio::time::sleep(Duration::from_secs(60));
                        assert!(zokio::time::timeout(short, long).await.is_err());
                    }
                    _ => zokio::time::sleep(Duration::from_secs(60)).await,
                }
            })
        })
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        if i % 3 == 2 {
            handle.abort();
            assert!(handle.await.unwrap_err().is_cancelled());
        } else {
            handle.await.unwrap();
        }
    }
    assert_eq!(zokio::time::__live_timer_entries(), 0);
}

/// An empty buffer of `capacity` bytes whose spare capacity is zeroed:
/// memcheck cannot see the kernel write into memory through io_uring, so an
/// uninitialised buffer filled by a ring read would look uninitialised to
/// it when compared.
fn zeroed_spare(capacity: usize) -> Vec<u8> {
    let mut buf = vec![0u8; capacity];
    buf.clear();
    buf
}

async fn files_and_blocking_jobs(dir: &std::path::Path) {
    let path = dir.join("data");
    let file = zokio::fs::File::create(&path).await.unwrap();
    let data: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let (written, _) = file.write_all_at(data.clone(), 0).await;
    written.unwrap();
    drop(file);
    let file = zokio::fs::File::open(&path).await.unwrap();
    for offset in (0..data.len()).step_by(4096) {
        let (read, buf) = file.read_exact_at(zeroed_spare(4096), offset as u64).await;
        read.unwrap();
        assert!(
            buf[..] == data[offset..offset + 4096],
            "bytes at {offset} differ"
        );
    }
    // The same through registered buffers (`READ_FIXED` on io_uring).
    let pool = zokio::io::FixedBufPool::new(4, 4096).unwrap();
    for offset in (0..data.len()).step_by(4096) {
        let (read, buf) = file.read_exact_at(pool.get().await, offset as u64).await;
        read.unwrap();
        assert!(
            buf[..] == data[offset..offset + 4096],
            "bytes at {offset} differ (registered buffer)"
        );
    }
    let sums: Vec<_> = (0..8u64)
        .map(|i| zokio::task::spawn_blocking(move || (0..1000).map(|j| j * i).sum::<u64>()))
        .collect();
    for (i, sum) in sums.into_iter().enumerate() {
        assert_eq!(sum.await.unwrap(), 499_500 * i as u64);
    }
}

/// Leaves tasks waiting in I/O when the runtime is dropped: reads on
/// connections whose peer never writes, an accept nobody connects to, and
/// owned-buffer file reads (some into registered buffers) racing the
/// shutdown.
async fn io_in_flight(dir: &std::path::Path) -> Vec<std::net::TcpStream> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut peers = Vec::new();
    for _ in 0..4 {
        let peer = std::net::TcpStream::connect(addr).unwrap();
        let (mut stream, _) = listener.accept().await.unwrap();
        zokio::spawn(async move {
            let mut buf = vec![0; 4096];
            let _ = stream.read(&mut buf).await;
            pending::<()>().await;
        });
        peers.push(peer);
    }
    zokio::spawn(async move {
        let _ = listener.accept().await;
    });
    let path = dir.join("data");
    let file = Arc::new(zokio::fs::File::open(&path).await.unwrap());
    for i in 0..8u64 {
        let file = file.clone();
        zokio::spawn(async move {
            loop {
                let (read, _) = file.read_at(zeroed_spare(4096), i * 4096).await;
                read.unwrap();
            }
        });
    }
    let pool = zokio::io::FixedBufPool::new(4, 4096).unwrap();
    for i in 0..4u64 {
        let (file, pool) = (file.clone(), pool.clone());
        zokio::spawn(async move {
            loop {
                let (read, _) = file.read_at(pool.get().await, i * 4096).await;
                read.unwrap();
            }
        });
    }
    // Let every task start its operation.
    for _ in 0..10 {
        zokio::task::yield_now().await;
    }
    peers
}

fn workload<S: zokio::Spec>() {
    let dir = std::env::temp_dir().join(format!(
        "zokio-valgrind-{}-{}",
        std::process::id(),
        std::any::type_name::<S>().replace("::", "-")
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let rt = zokio::Runtime::<S>::build().expect("building the runtime");
    // First, so that the script's summary (the `test` line) shows which
    // kernel features this run went through.
    let describe = rt.describe();
    let backend = describe
        .lines()
        .find(|line| line.contains("backend in use"))
        .unwrap_or("backend in use: unknown");
    println!("{}", backend.trim());
    let peers = rt.block_on(async {
        println!("tasks");
        tasks_woken_and_aborted().await;
        println!("local tasks");
        local_tasks().await;
        println!("connections");
        echoed_connections().await;
        println!("timers");
        timers_fired_and_cancelled().await;
        println!("files");
        files_and_blocking_jobs(&dir).await;
        println!("in flight");
        io_in_flight(&dir).await
    });
    // Shut down with the reads, the accept and the file reads in flight.
    println!("shutdown");
    drop(rt);
    println!("done");
    drop(peers);
    std::fs::remove_dir_all(&dir).unwrap();
}

zokio::runtime! { CurrentMio { flavor = "current_thread", backend = "mio" } }
zokio::runtime! { CurrentUring { flavor = "current_thread", backend = "io_uring" } }
zokio::runtime! { MultiMio { flavor = "multi_thread", workers = 2, backend = "mio" } }
zokio::runtime! { MultiUring { flavor = "multi_thread", workers = 2, backend = "io_uring" } }

#[test]
fn current_thread_mio() {
    workload::<CurrentMio>();
}

#[test]
fn current_thread_io_uring() {
    workload::<CurrentUring>();
}

#[test]
fn multi_thread_mio() {
    workload::<MultiMio>();
}

#[test]
fn multi_thread_io_uring() {
    workload::<MultiUring>();
}
