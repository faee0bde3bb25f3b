//! The io_uring backend's own tests: the driver alone (park, unpark,
//! timeouts), then sockets on real runtimes, with the number of live
//! operation states (`LIVE_OPS`) checked after thousands of dropped
//! operations, a read whose buffer the kernel fills after its future was
//! dropped, cancellation from another thread and futures that outlive the
//! runtime.
//!
//! The tests take `SERIAL`, since `LIVE_OPS` and `SKIP_CANCEL` are
//! process-wide.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, mpsc};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::{Duration, Instant};

use super::driver::NO_OPTIONAL_FEATURES;
use super::fixed::FIXED_OPS;
use super::op::{BOUND_STOPS, LIVE_OPS};
use super::op::{Closing, Home};
use super::socket::{ACCEPT_AHEAD, MULTISHOT_ACCEPTS, RECV_FALLBACKS, RECV_MOVES, WRITABLE_POLLS};
use super::submit::{FORCE_SETTLE, SKIP_CANCEL, Submitter, uring_of};
use super::{UringDriver, describe_setup_error, probe_ring};
use crate::io::{AsyncReadExt, AsyncWriteExt, FixedBuf, FixedBufPool};
use crate::net::{TcpListener, TcpStream, UdpSocket};
use crate::runtime::io::{DriverConfig, IoHandle};
use crate::spec::Backend;

crate::runtime! { Ct { flavor = "current_thread", backend = "io_uring" } }
crate::runtime! { Mt { flavor = "multi_thread", workers = 2, backend = "io_uring" } }
crate::runtime! {
    /// A ring of two entries: every batch overflows the submission queue.
    Tiny { flavor = "multi_thread", workers = 2, backend = "io_uring", io(uring_entries = 2) }
}

crate::runtime! {
    /// Rings whose submissions a kernel thread polls.
    Sq { flavor = "multi_thread", workers = 2, backend = "io_uring", io(uring_sqpoll = "2ms") }
}
crate::runtime! {
    SqCt { flavor = "current_thread", backend = "io_uring", io(uring_sqpoll = "2ms") }
}

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn live_ops() -> usize {
    LIVE_OPS.load(Ordering::SeqCst)
}

/// Small rings, no submission polling.
fn config(single_issuer: bool) -> DriverConfig {
    DriverConfig {
        events_per_tick: 64,
        uring_entries: 8,
        uring_sqpoll: None,
        single_issuer,
    }
}

fn driver() -> UringDriver {
    UringDriver::new(config(false)).expect("creating a ring")
}

/// Polls `future` once: its output if it completed, `None` if pending.
async fn poll_once<F: Future + ?Sized>(mut future: Pin<&mut F>) -> Option<F::Output> {
    poll_fn(move |cx| {
        Poll::Ready(match future.as_mut().poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}

/// Waits (asynchronously) until `done` holds; fails after 10 s.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        crate::time::sleep(Duration::from_millis(1)).await;
    }
}

async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

// ---------------------------------------------------------------------------
// Probe and driver
// ---------------------------------------------------------------------------

#[test]
fn probe_accepts_this_kernel() {
    assert_eq!(probe_ring(), Ok(()));
}

#[test]
fn setup_errors_say_what_may_forbid_io_uring() {
    let msg = describe_setup_error(&io::Error::from_raw_os_error(libc::EPERM));
    assert!(
        msg.starts_with("io_uring_setup failed: Operation not permitted"),
        "{msg}"
    );
    assert!(msg.contains("seccomp"), "{msg}");
    assert!(msg.contains("kernel.io_uring_disabled = 1"), "{msg}");
    let msg = describe_setup_error(&io::Error::from_raw_os_error(libc::ENOSYS));
    assert!(msg.contains("without io_uring"), "{msg}");
}

fn unpark_ends_park(driver: &Arc<UringDriver>) {
    // An unpark before the park makes it return at once.
    driver.unpark();
    driver.park(None);
    // An unpark from another thread ends a park in progress (repeatedly:
    // the eventfd read is re-armed after each wake-up).
    for _ in 0..3 {
        let (parking, parked) = mpsc::channel();
        let waker = {
            let driver = driver.clone();
            thread::spawn(move || {
                parked.recv().unwrap();
                thread::sleep(Duration::from_millis(20));
                driver.unpark();
            })
        };
        parking.send(()).unwrap();
        driver.park(None);
        waker.join().unwrap();
    }
    // A timeout ends a park nobody unparks.
    driver.park(Some(Duration::from_millis(5)));
    driver.park(Some(Duration::ZERO));
    driver.poll_now();
}

#[test]
fn park_ends_on_unpark_and_on_timeout() {
    let _serial = serial();
    let driver = Arc::new(driver());
    unpark_ends_park(&driver);
    driver.shutdown();
    // Parking a shut-down driver does not block.
    driver.park(None);
}

#[test]
fn park_ends_on_unpark_and_on_timeout_with_a_timeout_sqe() {
    let _serial = serial();
    let driver = Arc::new(driver());
    driver.force_timeout_sqe();
    unpark_ends_park(&driver);
    // Consecutive timed parks replace each other's timeout.
    for _ in 0..5 {
        driver.park(Some(Duration::from_millis(1)));
    }
    driver.unpark();
    driver.park(Some(Duration::from_secs(3600)));
}

// ---------------------------------------------------------------------------
// Sockets on runtimes
// ---------------------------------------------------------------------------

async fn echo_round_trips(connections: usize, rounds: usize) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = crate::spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..connections {
            let (mut stream, _) = listener.accept().await.unwrap();
            tasks.push(crate::spawn(async move {
                let mut buf = [0u8; 256];
                loop {
                    let n = stream.read(&mut buf).await.unwrap();
                    if n == 0 {
                        break;
                    }
                    stream.write_all(&buf[..n]).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    let mut clients = Vec::new();
    for c in 0..connections {
        clients.push(crate::spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            for r in 0..rounds {
                let message = format!("connection {c} round {r}");
                stream.write_all(message.as_bytes()).await.unwrap();
                let mut back = vec![0u8; message.len()];
                stream.read_exact(&mut back).await.unwrap();
                assert_eq!(back, message.as_bytes());
            }
        }));
    }
    for client in clients {
        client.await.unwrap();
    }
    server.await.unwrap();
}

#[test]
fn tcp_echo_current_thread() {
    let _serial = serial();
    Ct::block_on(echo_round_trips(8, 200));
}

#[test]
fn tcp_echo_multi_thread() {
    let _serial = serial();
    Mt::block_on(echo_round_trips(16, 200));
}

/// The paths a kernel without multishot accept and receive takes: one
/// accept and one receive operation per call.
#[test]
fn tcp_echo_without_optional_features() {
    let _serial = serial();
    without_optional_features::<Ct>().block_on(echo_round_trips(8, 100));
    without_optional_features::<Mt>().block_on(echo_round_trips(16, 100));
}

#[test]
fn tcp_echo_through_a_ring_smaller_than_every_batch() {
    let _serial = serial();
    Tiny::block_on(echo_round_trips(16, 50));
}

/// A socket with nothing outstanding settles on ring 0 (the primary) while
/// ring 0's owner is attentive, whichever thread starts its operation, and
/// on the starter's own ring while it is not; a one-ring runtime has only
/// its ring.
#[test]
fn sockets_settle_on_the_primary_ring_while_its_owner_is_attentive() {
    let _serial = serial();
    let config = config(false);
    let handle = Arc::new(IoHandle::new(Backend::IoUring, 2, config).expect("two rings"));
    let primary = uring_of(handle.driver(0));
    let sub = Submitter::new(handle.clone(), 1);
    // A new ring counts as just looked at.
    assert_eq!(sub.settle_ring(Some(1)), Some(0), "from worker 1");
    assert_eq!(sub.settle_ring(None), Some(0), "from a thread with no ring");
    assert_eq!(sub.settle_ring(Some(0)), Some(0), "from worker 0");

    primary.forget_visit();
    assert_eq!(sub.settle_ring(Some(1)), Some(1), "inattentive primary");
    assert_eq!(sub.settle_ring(None), None, "inattentive primary, no ring");
    assert_eq!(sub.settle_ring(Some(0)), Some(0), "the primary's own owner");

    // The owner looks at its ring again (a busy worker's periodic poll).
    primary.poll_now();
    assert_eq!(sub.settle_ring(Some(1)), Some(0), "attentive again");

    // And the home follows: it moves only with nothing outstanding.
    let home = Home::<Closing>::new(1);
    assert_eq!(home.acquire(Some(1), || sub.settle_ring(Some(1))), 0);
    primary.forget_visit();
    assert_eq!(
        home.acquire(Some(1), || sub.settle_ring(Some(1))),
        0,
        "one outstanding: stays on the primary"
    );
    home.release();
    home.release();
    assert_eq!(home.acquire(Some(1), || sub.settle_ring(Some(1))), 1);
    home.release();
    handle.shutdown();

    let single = Arc::new(IoHandle::new(Backend::IoUring, 1, config).expect("one ring"));
    uring_of(single.driver(0)).forget_visit();
    let sub = Submitter::new(single.clone(), 0);
    assert_eq!(sub.settle_ring(Some(0)), Some(0));
    assert_eq!(sub.settle_ring(None), Some(0));
    single.shutdown();
}

#[test]
fn io_from_threads_that_own_no_ring_goes_through_the_remote_queue() {
    let _serial = serial();
    let rt = Mt::build().unwrap();
    rt.block_on(async {
        // `block_on` of a multi_thread runtime owns no ring.
        let (mut client, mut server) = tcp_pair().await;
        client.write_all(b"from block_on").await.unwrap();
        let mut buf = [0u8; 13];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"from block_on");
        // Nor does a thread of the program's own.
        let handle = crate::runtime::Handle::current();
        let (client, server) = std::thread::spawn(move || {
            handle.block_on(async move {
                let mut client = client;
                let mut server = server;
                client.write_all(b"from the pool").await.unwrap();
                let mut buf = [0u8; 13];
                server.read_exact(&mut buf).await.unwrap();
                assert_eq!(&buf, b"from the pool");
                (client, server)
            })
        })
        .join()
        .unwrap();
        // And a worker picks up sockets made elsewhere.
        crate::spawn(async move {
            let (mut client, mut server) = (client, server);
            client.write_all(b"on a worker").await.unwrap();
            let mut buf = [0u8; 11];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"on a worker");
        })
        .await
        .unwrap();
    });
}

/// Starts and drops thousands of accepts, stream reads and owned reads
/// (from `block_on` and from a task), checks that the cancelled operations'
/// states are all freed once their completions arrive, that the sockets
/// still work and lost no bytes, and that nothing is left after shutdown.
fn dropped_operations_are_all_released<S: crate::Spec>() {
    const DROPS: usize = 3000;
    let before = live_ops();
    let rt = crate::Runtime::<S>::build().unwrap();
    let body = async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = listener.accept().await.unwrap();
        for _ in 0..DROPS {
            assert!(poll_once(pin!(listener.accept())).await.is_none());
            let mut buf = [0u8; 32];
            assert!(poll_once(pin!(server.read(&mut buf))).await.is_none());
            let owned = pin!(server.read_owned(Vec::with_capacity(32)));
            assert!(poll_once(owned).await.is_none());
        }
        // Only the slots' operations (accept, read) and the sockets'
        // remain; every dropped owned read is freed once cancelled.
        eventually("the cancelled operations to be freed", || {
            live_ops() <= before + 4
        })
        .await;
        // Nothing was lost: the pending slot read gets the bytes.
        client.write_all(b"after the drops").await.unwrap();
        let mut buf = [0u8; 15];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"after the drops");
        let other = TcpStream::connect(addr).await.unwrap();
        let (accepted, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, other.local_addr().unwrap());
        drop((other, accepted));
        // The owned-buffer path still works after its drops.
        client.write_all(b"owned").await.unwrap();
        let (n, buf) = server.read_owned(Vec::with_capacity(16)).await;
        assert_eq!((n.unwrap(), &buf[..]), (5, &b"owned"[..]));
    };
    rt.block_on(async {
        body.await;
        crate::spawn(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let (mut client, mut server) = tcp_pair().await;
            for _ in 0..DROPS {
                assert!(poll_once(pin!(listener.accept())).await.is_none());
                let owned = pin!(server.read_owned(Vec::with_capacity(32)));
                assert!(poll_once(owned).await.is_none());
            }
            client.write_all(b"task").await.unwrap();
            let mut buf = [0u8; 4];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"task");
        })
        .await
        .unwrap();
    });
    drop(rt);
    assert_eq!(live_ops(), before, "operation states left after shutdown");
}

#[test]
fn dropped_operations_are_all_released_current_thread() {
    let _serial = serial();
    dropped_operations_are_all_released::<Ct>();
}

#[test]
fn dropped_operations_are_all_released_multi_thread() {
    let _serial = serial();
    dropped_operations_are_all_released::<Mt>();
}

/// A runtime whose rings use none of the optional kernel features (as on
/// an older kernel).
fn without_optional_features<S: crate::Spec>() -> crate::Runtime<S> {
    NO_OPTIONAL_FEATURES.store(true, Ordering::SeqCst);
    let rt = crate::Runtime::<S>::build();
    NO_OPTIONAL_FEATURES.store(false, Ordering::SeqCst);
    let rt = rt.unwrap();
    let describe = rt.describe();
    assert!(!describe.contains("multishot"), "{describe}");
    assert!(!describe.contains("registered buffers"), "{describe}");
    rt
}

/// A read whose future is dropped without cancelling it (a test switch):
/// the kernel completes it later, writing into a buffer that only the ring
/// still owns. Had the buffer been freed at the drop, the allocations made
/// after it would reuse its memory and the kernel's write would show up in
/// them. (Without multishot receives: an armed one would take the bytes
/// first, into the ring's provided buffers, and the owned read would wait
/// for it instead of reaching the kernel.)
fn kernel_writes_into_a_dropped_read_buffer<S: crate::Spec>() {
    const SIZE: usize = 4096;
    let before = live_ops();
    without_optional_features::<S>().block_on(async {
        let (mut client, mut server) = tcp_pair().await;
        // Both sockets' slot operations exist before the counting starts.
        client.write_all(b"warm").await.unwrap();
        server.read_exact(&mut [0u8; 4]).await.unwrap();
        for round in 0..50u8 {
            SKIP_CANCEL.store(true, Ordering::SeqCst);
            {
                let read = pin!(server.read_owned(Vec::with_capacity(SIZE)));
                assert!(poll_once(read).await.is_none());
            }
            SKIP_CANCEL.store(false, Ordering::SeqCst);
            let ops = live_ops();
            // Allocations of the same size, likely to reuse a freed buffer.
            let canaries: Vec<Vec<u8>> = (0..64).map(|_| vec![0xAA; SIZE]).collect();
            let payload = vec![round; SIZE];
            client.write_all(&payload).await.unwrap();
            // The orphaned read takes (some of) the bytes, then its state
            // is freed.
            eventually("the orphaned read to complete", || live_ops() < ops).await;
            for canary in &canaries {
                assert!(
                    canary.iter().all(|&b| b == 0xAA),
                    "a freed buffer was written"
                );
            }
            // Whatever the orphan did not take is still readable; the
            // stream stays usable.
            client.write_all(b"!").await.unwrap();
            let mut rest = Vec::new();
            loop {
                let mut buf = [0u8; SIZE];
                let n = server.read(&mut buf).await.unwrap();
                rest.extend_from_slice(&buf[..n]);
                if rest.last() == Some(&b'!') {
                    break;
                }
            }
            assert!(rest[..rest.len() - 1].iter().all(|&b| b == round));
        }
    });
    assert_eq!(live_ops(), before);
}

#[test]
fn kernel_writes_into_a_dropped_read_buffer_current_thread() {
    let _serial = serial();
    kernel_writes_into_a_dropped_read_buffer::<Ct>();
}

#[test]
fn kernel_writes_into_a_dropped_read_buffer_multi_thread() {
    let _serial = serial();
    kernel_writes_into_a_dropped_read_buffer::<Mt>();
}

/// A read started on a worker and dropped on another thread is cancelled
/// through the worker's ring before the drop returns: bytes sent after the
/// drop go to the next read.
#[test]
fn read_dropped_on_another_thread_is_cancelled_without_losing_bytes() {
    let _serial = serial();
    let before = live_ops();
    Mt::block_on(async {
        let (client, server) = tcp_pair().await;
        let server = Arc::new(server);
        let mut client = client;
        for round in 0..200u32 {
            let (tx, rx) = mpsc::channel::<Pin<Box<dyn Future<Output = ()> + Send>>>();
            let started = crate::spawn({
                let server = server.clone();
                async move {
                    let mut read = Box::pin(async move {
                        let (r, _) = server.read_owned(Vec::with_capacity(64)).await;
                        panic!("the read completed: {r:?}");
                    });
                    assert!(poll_once(read.as_mut()).await.is_none());
                    tx.send(read).unwrap();
                }
            });
            started.await.unwrap();
            // Dropped here, on the `block_on` thread, which owns no ring.
            drop(rx.recv().unwrap());
            let message = round.to_le_bytes();
            client.write_all(&message).await.unwrap();
            let (n, buf) = server.read_owned(Vec::with_capacity(64)).await;
            assert_eq!(n.unwrap(), 4, "round {round}");
            assert_eq!(buf, message);
        }
    });
    assert_eq!(live_ops(), before);
}

/// Futures that outlive their runtime: the shutdown cancelled their
/// operations, so they complete with the shutdown error; new operations fail
/// with it too; nothing crashes.
fn futures_outliving_the_runtime_fail_with_the_shutdown_error<S: crate::Spec>() {
    let before = live_ops();
    let rt = crate::Runtime::<S>::build().unwrap();
    type Pending = Pin<Box<dyn Future<Output = (io::Result<usize>, TcpStream)> + Send>>;
    let (mut owned, mut borrowed, peers) = rt.block_on(async {
        let (client, server) = tcp_pair().await;
        let (other_client, other) = tcp_pair().await;
        let mut owned: Pending = Box::pin(async move {
            let (r, _) = server.read_owned(Vec::with_capacity(64)).await;
            (r, server)
        });
        let mut borrowed: Pending = Box::pin(async move {
            let mut other = other;
            let mut buf = [0u8; 64];
            let r = other.read(&mut buf).await;
            (r, other)
        });
        assert!(poll_once(owned.as_mut()).await.is_none());
        assert!(poll_once(borrowed.as_mut()).await.is_none());
        let pending: (Pending, Pending) = (owned, borrowed);
        (pending.0, pending.1, (client, other_client))
    });
    drop(rt);
    let mut cx = Context::from_waker(Waker::noop());
    let Poll::Ready((result, mut server)) = owned.as_mut().poll(&mut cx) else {
        panic!("an owned read outliving the runtime is still pending");
    };
    assert_eq!(
        result.unwrap_err().to_string(),
        crate::runtime::io::shutdown_error().to_string()
    );
    let Poll::Ready((result, other)) = borrowed.as_mut().poll(&mut cx) else {
        panic!("a read outliving the runtime is still pending");
    };
    assert_eq!(
        result.unwrap_err().to_string(),
        crate::runtime::io::shutdown_error().to_string()
    );
    // New operations fail the same way.
    {
        let mut read = pin!(server.read_owned(Vec::with_capacity(8)));
        match read.as_mut().poll(&mut cx) {
            Poll::Ready((Err(e), _)) => assert_eq!(
                e.to_string(),
                crate::runtime::io::shutdown_error().to_string()
            ),
            other => panic!("a read after shutdown: {:?}", other.map(|(r, _)| r)),
        }
    }
    {
        let mut write = pin!(server.write_all(b"late"));
        assert!(matches!(write.as_mut().poll(&mut cx), Poll::Ready(Err(_))));
    }
    drop((server, other, peers));
    assert_eq!(live_ops(), before);
}

#[test]
fn futures_outliving_the_runtime_fail_with_the_shutdown_error_current_thread() {
    let _serial = serial();
    futures_outliving_the_runtime_fail_with_the_shutdown_error::<Ct>();
}

#[test]
fn futures_outliving_the_runtime_fail_with_the_shutdown_error_multi_thread() {
    let _serial = serial();
    futures_outliving_the_runtime_fail_with_the_shutdown_error::<Mt>();
}

/// Many tasks sending on one UDP socket at once all get their datagrams
/// out (each exactly once), and a receiver shared by several tasks gets
/// every one of them.
#[test]
fn udp_socket_shared_by_many_senders_and_receivers() {
    const TASKS: usize = 8;
    const EACH: usize = 50;
    let _serial = serial();
    Mt::block_on(async {
        let receiver = {
            let socket = socket2::Socket::new(
                socket2::Domain::IPV4,
                socket2::Type::DGRAM,
                Some(socket2::Protocol::UDP),
            )
            .unwrap();
            socket.set_recv_buffer_size(4 << 20).unwrap();
            socket
                .bind(
                    &"127.0.0.1:0"
                        .parse::<std::net::SocketAddr>()
                        .unwrap()
                        .into(),
                )
                .unwrap();
            Arc::new(UdpSocket::from_std(socket.into()).unwrap())
        };
        let target = receiver.local_addr().unwrap();
        let sender = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let receivers: Vec<_> = (0..4)
            .map(|_| {
                let receiver = receiver.clone();
                let received = received.clone();
                crate::spawn(async move {
                    loop {
                        let mut buf = [0u8; 64];
                        let (n, _) = receiver.recv_from(&mut buf).await.unwrap();
                        let mut all = received.lock().unwrap();
                        all.push(buf[..n].to_vec());
                        if all.len() == TASKS * EACH {
                            return;
                        }
                    }
                })
            })
            .collect();
        let senders: Vec<_> = (0..TASKS)
            .map(|t| {
                let sender = sender.clone();
                crate::spawn(async move {
                    for i in 0..EACH {
                        let message = format!("{t}:{i}");
                        let n = sender.send_to(message.as_bytes(), target).await.unwrap();
                        assert_eq!(n, message.len());
                    }
                })
            })
            .collect();
        for s in senders {
            s.await.unwrap();
        }
        eventually("every datagram to arrive", || {
            received.lock().unwrap().len() >= TASKS * EACH
        })
        .await;
        let mut all = received.lock().unwrap().clone();
        all.sort();
        let mut expected: Vec<Vec<u8>> = (0..TASKS)
            .flat_map(|t| (0..EACH).map(move |i| format!("{t}:{i}").into_bytes()))
            .collect();
        expected.sort();
        assert_eq!(all, expected);
        for r in receivers {
            // The others wait for datagrams that never come; shutdown
            // cancels them.
            if r.is_finished() {
                r.await.unwrap();
            }
        }
    });
}

fn fd_is_open(fd: i32) -> bool {
    std::path::Path::new(&format!("/proc/self/fd/{fd}")).exists()
}

/// Dropping a socket whose read is pending (on its ring, from a thread
/// that owns that ring or not) cancels the read and closes the descriptor
/// before the drop returns; the peer then sees end of stream (a read left
/// in the kernel would hold the socket open).
fn dropping_a_socket_with_a_pending_read_closes_it<S: crate::Spec>() {
    use std::os::fd::AsRawFd;
    let before = live_ops();
    crate::Runtime::<S>::build().unwrap().block_on(async {
        for round in 0..50 {
            let (mut client, mut server) = tcp_pair().await;
            if round % 2 == 1 {
                // The read is started on a worker (current_thread: the
                // same thread), the drop happens here.
                server = crate::spawn(async move {
                    let mut buf = [0u8; 16];
                    assert!(poll_once(pin!(server.read(&mut buf))).await.is_none());
                    server
                })
                .await
                .unwrap();
            } else {
                let mut buf = [0u8; 16];
                assert!(poll_once(pin!(server.read(&mut buf))).await.is_none());
            }
            let fd = server.as_raw_fd();
            drop(server);
            assert!(
                !fd_is_open(fd),
                "round {round}: the descriptor outlived the drop"
            );
            let mut buf = [0u8; 16];
            assert_eq!(client.read(&mut buf).await.unwrap(), 0, "round {round}");
        }
    });
    assert_eq!(live_ops(), before);
}

#[test]
fn dropping_a_socket_with_a_pending_read_closes_it_current_thread() {
    let _serial = serial();
    dropping_a_socket_with_a_pending_read_closes_it::<Ct>();
}

#[test]
fn dropping_a_socket_with_a_pending_read_closes_it_multi_thread() {
    let _serial = serial();
    dropping_a_socket_with_a_pending_read_closes_it::<Mt>();
}

/// An accept whose caller went away completes into the listener's slot; if
/// nobody takes that connection before the listener is dropped, it is
/// closed (the client sees end of stream), not leaked.
#[test]
fn an_accepted_connection_nobody_takes_is_closed() {
    let _serial = serial();
    let before = live_ops();
    Mt::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert!(poll_once(pin!(listener.accept())).await.is_none());
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        // Let the slot's accept complete, then drop the listener with the
        // connection unclaimed.
        crate::time::sleep(Duration::from_millis(20)).await;
        drop(listener);
        let mut buf = [0u8; 4];
        let n = client.read(&mut buf).await.unwrap();
        assert_eq!(n, 0);
    });
    assert_eq!(live_ops(), before);
}

/// Several tasks send on one datagram socket whose peer's queue is full, so
/// their sends block (one in the write slot, the others waiting for the
/// socket to become writable); once the peer reads, every datagram arrives
/// exactly once.
#[test]
fn blocked_datagram_senders_all_get_through() {
    const TASKS: usize = 4;
    const EACH: usize = 300;
    let _serial = serial();
    let before = live_ops();
    let polls_before = WRITABLE_POLLS.load(Ordering::SeqCst);
    Mt::block_on(async {
        let (a, b) = crate::net::UnixDatagram::pair().unwrap();
        let a = Arc::new(a);
        let senders: Vec<_> = (0..TASKS)
            .map(|t| {
                let a = a.clone();
                crate::spawn(async move {
                    for i in 0..EACH {
                        let message = format!("{t}:{i:>96}");
                        assert_eq!(a.send(message.as_bytes()).await.unwrap(), message.len());
                    }
                })
            })
            .collect();
        // Let the senders fill the peer's queue and block.
        crate::time::sleep(Duration::from_millis(50)).await;
        assert!(
            senders.iter().any(|s| !s.is_finished()),
            "no sender blocked"
        );
        let mut received = Vec::new();
        while received.len() < TASKS * EACH {
            let mut buf = [0u8; 256];
            let n = b.recv(&mut buf).await.unwrap();
            received.push(String::from_utf8(buf[..n].to_vec()).unwrap());
        }
        for s in senders {
            s.await.unwrap();
        }
        assert!(
            WRITABLE_POLLS.load(Ordering::SeqCst) > polls_before,
            "no sender waited for the socket to become writable"
        );
        received.sort();
        let mut expected: Vec<String> = (0..TASKS)
            .flat_map(|t| (0..EACH).map(move |i| format!("{t}:{i:>96}")))
            .collect();
        expected.sort();
        assert_eq!(received, expected);
    });
    assert_eq!(live_ops(), before);
}

/// A multishot accept takes connections ahead of the application; once
/// `ACCEPT_AHEAD` wait untaken its ring stops it (the rest wait in the
/// kernel's backlog) and later accepts re-arm it. Every connection is
/// accepted exactly once, with its peer's address, and a handful of accept
/// SQEs took them all.
#[test]
fn multishot_accept_stops_at_its_bound_and_loses_no_connection() {
    let _serial = serial();
    let before = live_ops();
    let stops = BOUND_STOPS.load(Ordering::SeqCst);
    let arms = MULTISHOT_ACCEPTS.load(Ordering::SeqCst);
    let rt = crate::Runtime::<Ct>::build().unwrap();
    assert!(
        rt.describe().contains("multishot accept"),
        "{}",
        rt.describe()
    );
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // The first accept arms the multishot accept.
        let first = std::net::TcpStream::connect(addr).unwrap();
        let (_first, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, first.local_addr().unwrap());
        // Twice the bound connect while nobody accepts: the ring queues
        // connections until the bound, then stops the accept.
        let clients = crate::task::spawn_blocking(move || {
            (0..2 * ACCEPT_AHEAD)
                .map(|_| std::net::TcpStream::connect(addr).unwrap())
                .collect::<Vec<_>>()
        })
        .await
        .unwrap();
        eventually("the ring to stop the accept at its bound", || {
            BOUND_STOPS.load(Ordering::SeqCst) > stops
        })
        .await;
        let mut peers = Vec::new();
        for _ in &clients {
            let (stream, peer) = listener.accept().await.unwrap();
            assert_eq!(stream.peer_addr().unwrap(), peer);
            peers.push(peer);
        }
        let mut expected: Vec<_> = clients.iter().map(|c| c.local_addr().unwrap()).collect();
        peers.sort();
        expected.sort();
        assert_eq!(peers, expected, "a connection lost or accepted twice");
    });
    drop(rt);
    let armed = MULTISHOT_ACCEPTS.load(Ordering::SeqCst) - arms;
    // Each accept SQE but the last took at least `ACCEPT_AHEAD` connections
    // (one may take them all: what the kernel accepted before the ring's
    // cancel reached it still arrives).
    assert!(
        (1..=1 + (2 * ACCEPT_AHEAD + 1).div_ceil(ACCEPT_AHEAD)).contains(&armed),
        "{armed} multishot accepts armed for {} connections",
        2 * ACCEPT_AHEAD + 1
    );
    assert_eq!(live_ops(), before, "operation states left after shutdown");
}

/// On a kernel without the optional features (as the probe reports them),
/// accepts go one operation per connection, and still work.
#[test]
fn without_multishot_accept_each_accept_is_one_operation() {
    let _serial = serial();
    let arms = MULTISHOT_ACCEPTS.load(Ordering::SeqCst);
    without_optional_features::<Mt>().block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        for _ in 0..3 {
            let client = TcpStream::connect(addr).await.unwrap();
            let (mut server, peer) = listener.accept().await.unwrap();
            assert_eq!(peer, client.local_addr().unwrap());
            server.write_all(b"hi").await.unwrap();
        }
    });
    assert_eq!(MULTISHOT_ACCEPTS.load(Ordering::SeqCst), arms);
}

/// A reader slower than its sender: the stream's multishot receive fills
/// `RECV_AHEAD` provided buffers, its ring stops it, and the reader later
/// gets every byte, in order, through re-armed receives.
#[test]
fn multishot_receive_stops_at_its_bound_and_loses_no_byte() {
    const TOTAL: usize = 1 << 20;
    let _serial = serial();
    let stops = BOUND_STOPS.load(Ordering::SeqCst);
    let rt = crate::Runtime::<Mt>::build().unwrap();
    assert!(
        rt.describe().contains("multishot recv"),
        "{}",
        rt.describe()
    );
    rt.block_on(async {
        let (mut client, mut server) = tcp_pair().await;
        // The first read arms the receive.
        client.write_all(b"go").await.unwrap();
        let mut go = [0u8; 2];
        server.read_exact(&mut go).await.unwrap();
        let writer = crate::spawn(async move {
            let data: Vec<u8> = (0..TOTAL).map(|i| (i % 251) as u8).collect();
            client.write_all(&data).await.unwrap();
            client
        });
        eventually("the ring to stop the receive at its bound", || {
            BOUND_STOPS.load(Ordering::SeqCst) > stops
        })
        .await;
        let mut got = vec![0u8; TOTAL];
        server.read_exact(&mut got).await.unwrap();
        assert!(
            got.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8),
            "bytes lost or reordered"
        );
        drop(writer.await.unwrap());
        let mut end = [0u8; 1];
        assert_eq!(server.read(&mut end).await.unwrap(), 0, "end of stream");
    });
}

/// Sockets dropped while holding received, unread data give their provided
/// buffers back: more rounds than the ring has buffers, and no receive ever
/// finds them all taken.
#[test]
fn dropped_sockets_give_their_provided_buffers_back() {
    let _serial = serial();
    let fallbacks = RECV_FALLBACKS.load(Ordering::SeqCst);
    Ct::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        for _ in 0..300 {
            let mut client = TcpStream::connect(addr).await.unwrap();
            let (mut server, _) = listener.accept().await.unwrap();
            // Two buffers' worth: the first is held after a one-byte
            // read, the rest waits in the receive's items (or the socket).
            client.write_all(&[7u8; 8192]).await.unwrap();
            let mut one = [0u8; 1];
            server.read_exact(&mut one).await.unwrap();
            assert_eq!(one, [7]);
            drop(server);
        }
    });
    assert_eq!(
        RECV_FALLBACKS.load(Ordering::SeqCst),
        fallbacks,
        "a receive found no provided buffer: some were never given back"
    );
}

/// A multishot receive armed on a non-primary ring (as when the primary's
/// owner was busy) is stopped once the primary is attentive again and
/// re-armed there, without losing or reordering a byte.
#[test]
fn multishot_receive_moves_to_the_primary_ring() {
    let _serial = serial();
    let moves = RECV_MOVES.load(Ordering::SeqCst);
    Mt::block_on(async {
        // Sockets settle on ring 1 while this holds.
        FORCE_SETTLE.store(1, Ordering::SeqCst);
        let (mut client, mut server) = tcp_pair().await;
        client.write_all(b"armed on ring 1").await.unwrap();
        let mut buf = [0u8; 15];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"armed on ring 1");
        assert_eq!(RECV_MOVES.load(Ordering::SeqCst), moves);
        // Ring 0 is the settle ring again: data arriving while its owner is
        // attentive (parked, or looked at its ring lately) moves the
        // receive. On a loaded machine the owner may be descheduled for a
        // while, so the rounds go on until the move (bounded), each
        // checking that no byte is lost or reordered.
        FORCE_SETTLE.store(usize::MAX, Ordering::SeqCst);
        for round in 0..2000u32 {
            let message = format!("round {:04}", round % 10_000);
            client.write_all(message.as_bytes()).await.unwrap();
            let mut back = [0u8; 10];
            server.read_exact(&mut back).await.unwrap();
            assert_eq!(&back, message.as_bytes());
            if round >= 20 && RECV_MOVES.load(Ordering::SeqCst) > moves {
                break;
            }
        }
    });
    FORCE_SETTLE.store(usize::MAX, Ordering::SeqCst);
    assert!(
        RECV_MOVES.load(Ordering::SeqCst) > moves,
        "the receive never left ring 1"
    );
}

/// `io(uring_sqpoll = ...)`: the rings share one submission-polling kernel
/// thread, and everything that depends on when the kernel takes a
/// submission (cancelling a dropped operation, closing a socket with
/// operations queued, shutdown with operations in flight) holds as without
/// it.
#[test]
fn submission_polling_rings_keep_every_guarantee() {
    let _serial = serial();
    for describe in [
        crate::Runtime::<Sq>::build().unwrap().describe(),
        crate::Runtime::<SqCt>::build().unwrap().describe(),
    ] {
        assert!(
            describe.contains("uring_sqpoll 2ms") && describe.contains("SQPOLL"),
            "this kernel refused IORING_SETUP_SQPOLL (or the runtime did not ask): {describe}"
        );
    }
    Sq::block_on(echo_round_trips(16, 100));
    SqCt::block_on(echo_round_trips(8, 100));
    dropped_operations_are_all_released::<Sq>();
    dropped_operations_are_all_released::<SqCt>();
    dropping_a_socket_with_a_pending_read_closes_it::<Sq>();
    futures_outliving_the_runtime_fail_with_the_shutdown_error::<Sq>();
}

/// The submission-polling thread of the ring `fd` (its `fdinfo`'s
/// `SqThread`), if it has one.
fn sq_thread(fd: i32) -> Option<i64> {
    std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .unwrap()
        .lines()
        .find_map(|line| line.strip_prefix("SqThread:"))
        .and_then(|tid| tid.trim().parse().ok())
        .filter(|&tid| tid > 0)
}

/// A runtime's rings share one submission-polling thread (`ATTACH_WQ`);
/// rings without `uring_sqpoll` have none.
#[test]
fn submission_polling_rings_share_one_kernel_thread() {
    let _serial = serial();
    let config = DriverConfig {
        uring_sqpoll: Some(Duration::from_millis(2)),
        ..config(false)
    };
    let handle = IoHandle::new(Backend::IoUring, 3, config).expect("three rings");
    let threads: Vec<_> = (0..3)
        .map(|ring| {
            let driver = uring_of(handle.driver(ring));
            assert!(driver.features().sqpoll, "ring {ring}");
            sq_thread(driver.ring_fd())
        })
        .collect();
    assert!(threads[0].is_some(), "{threads:?}");
    assert!(
        threads.iter().all(|t| *t == threads[0]),
        "one polling thread for three rings: {threads:?}"
    );
    handle.shutdown();
    let plain = driver();
    assert_eq!(sq_thread(plain.ring_fd()), None);
    assert!(!plain.features().sqpoll);
}

/// `multi_thread` workers' rings are single-issuer with deferred completion
/// work; `current_thread` rings (driven by whichever thread calls
/// `block_on`) are not, unless the runtime is built for one driving thread
/// (`#[zokio::main]`'s entry point), which then owns the ring.
#[test]
fn worker_rings_defer_completion_work() {
    let _serial = serial();
    let mt = crate::Runtime::<Mt>::build().unwrap().describe();
    assert!(mt.contains("deferred completion work"), "{mt}");
    let ct = crate::Runtime::<Ct>::build().unwrap().describe();
    assert!(!ct.contains("deferred completion work"), "{ct}");
    let single = crate::Runtime::<Ct>::build_single_driver().unwrap();
    let text = single.describe();
    assert!(text.contains("deferred completion work"), "{text}");
    // The driving thread becomes the issuer and does I/O through the ring.
    let echoed = single.block_on(async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (mut a, mut b) = crate::net::UnixStream::pair().unwrap();
        a.write_all(b"ring").await.unwrap();
        let mut buf = [0u8; 4];
        b.read_exact(&mut buf).await.unwrap();
        buf
    });
    assert_eq!(&echoed, b"ring");
    assert_eq!(
        uring_of(single.handle().shared.io().driver(0)).caller_is_issuer(),
        Some(true),
        "the thread that drove it is the ring's issuer"
    );
}

/// A single-issuer ring: its owner enables it and becomes the only thread
/// the kernel lets register with it; another thread's registered-buffer
/// updates go through the owner (and succeed), and the owner shuts the
/// ring down as it leaves.
#[test]
fn single_issuer_rings_are_driven_by_their_owner_only() {
    let _serial = serial();
    let config = config(true);
    let handle = Arc::new(IoHandle::new(Backend::IoUring, 1, config).expect("a ring"));
    assert!(uring_of(handle.driver(0)).features().defer_taskrun);
    let stop = Arc::new(AtomicBool::new(false));
    let (adopted, on_adopted) = mpsc::channel();
    let owner = std::thread::spawn({
        let handle = handle.clone();
        let stop = stop.clone();
        move || {
            let _owner = handle.enter_owner(0);
            let ring = uring_of(handle.driver(0));
            adopted.send(ring.register_errno()).unwrap();
            while !stop.load(Ordering::SeqCst) {
                ring.park(None);
            }
            handle.driver(0).owner_leaving();
        }
    });
    assert_eq!(
        on_adopted.recv().unwrap(),
        Some(libc::ENOENT),
        "the owner may"
    );
    let ring = uring_of(handle.driver(0));
    assert_eq!(ring.register_errno(), Some(libc::EEXIST), "others may not");
    let mut page = vec![0u8; 4096];
    let region = libc::iovec {
        iov_base: page.as_mut_ptr().cast(),
        iov_len: page.len(),
    };
    let empty = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    };
    // SAFETY: `page` outlives the registration, which is emptied again
    // before it goes, and no operation names the slot.
    unsafe {
        ring.set_fixed(0, region, &mut || {})
            .expect("registered through the owner");
        ring.set_fixed(0, empty, &mut || {})
            .expect("emptied through the owner");
    }
    // A region the kernel cannot pin fails, and the owner says why.
    let bad = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 4096,
    };
    // SAFETY: the kernel refuses the region; nothing is registered.
    let refused = unsafe { ring.set_fixed(1, bad, &mut || {}) }.unwrap_err();
    assert_eq!(refused.raw_os_error(), Some(libc::EFAULT), "{refused}");
    stop.store(true, Ordering::SeqCst);
    ring.unpark();
    owner.join().unwrap();
    assert!(ring.is_shut_down(), "the owner shut its ring down");
    drop(page);
    handle.shutdown();
}

/// The park of a ring its owner could not enable (a worker that keeps
/// parking until the runtime stops) sleeps until an unpark or its timeout
/// instead of returning at once, and an unpark before it is not lost.
#[test]
fn parking_on_a_ring_that_could_not_be_enabled_sleeps_until_unparked() {
    let ring = Arc::new(driver());
    ring.fail_adoption();
    assert!(ring.is_shut_down());
    ring.unpark();
    ring.park(None); // the earlier unpark: returns at once
    let parked = Arc::new(AtomicBool::new(false));
    let sleeper = thread::spawn({
        let ring = ring.clone();
        let parked = parked.clone();
        move || {
            parked.store(true, Ordering::SeqCst);
            ring.park(None);
        }
    });
    while !parked.load(Ordering::SeqCst) {
        thread::yield_now();
    }
    // Whether the unpark lands before or during the park, it ends it.
    ring.unpark();
    sleeper.join().unwrap();
    let started = Instant::now();
    ring.park(Some(Duration::from_millis(20)));
    assert!(started.elapsed() >= Duration::from_millis(20), "it slept");
}

// ---------------------------------------------------------------------------
// Registered buffers (`FixedBufPool`)
// ---------------------------------------------------------------------------

crate::runtime! { MioCt { flavor = "current_thread", backend = "mio" } }

fn fixed_ops() -> usize {
    FIXED_OPS.load(Ordering::SeqCst)
}

/// A temporary file's path, removed when dropped.
struct TempPath(std::path::PathBuf);

impl TempPath {
    fn new(name: &str) -> TempPath {
        TempPath(std::env::temp_dir().join(format!(
            "zokio-uring-{name}-{}-{:?}",
            std::process::id(),
            thread::current().id()
        )))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A buffer from `pool` holding `fill` repeated.
async fn filled(pool: &FixedBufPool, fill: u8) -> FixedBuf {
    let mut buf = pool.get().await;
    let size = buf.capacity();
    buf.extend_from_slice(&vec![fill; size]);
    buf
}

/// Writes `blocks` blocks of the pool's size through its buffers (block
/// `i` filled with `i`) and reads them back through them, from tasks
/// spread over the workers; returns how many operations named a
/// registered buffer.
async fn fixed_round_trip(pool: &FixedBufPool, path: &std::path::Path, blocks: u8) -> usize {
    let before = fixed_ops();
    let size = pool.buf_size();
    let file = crate::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)
        .await
        .unwrap();
    let file = Arc::new(file);
    let mut tasks = Vec::new();
    for i in 0..blocks {
        let (pool, file) = (pool.clone(), file.clone());
        tasks.push(crate::spawn(async move {
            let buf = filled(&pool, i).await;
            let (r, _) = file.write_all_at(buf, u64::from(i) * size as u64).await;
            r.unwrap();
        }));
    }
    for t in tasks.drain(..) {
        t.await.unwrap();
    }
    for i in 0..blocks {
        let (pool, file) = (pool.clone(), file.clone());
        tasks.push(crate::spawn(async move {
            let (r, buf) = file
                .read_exact_at(pool.get().await, u64::from(i) * size as u64)
                .await;
            r.unwrap();
            assert_eq!(buf.len(), size);
            assert!(buf.iter().all(|&b| b == i), "block {i}");
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // A plain buffer reads what the registered ones wrote.
    let (r, all) = file
        .read_exact_at(Vec::with_capacity(size * usize::from(blocks)), 0)
        .await;
    r.unwrap();
    for (i, block) in all.chunks(size).enumerate() {
        assert!(block.iter().all(|&b| usize::from(b) == i), "block {i}");
    }
    fixed_ops() - before
}

/// A pool registered with every ring carries file reads and writes as
/// `READ_FIXED`/`WRITE_FIXED`: the kernel accepts them (an address outside
/// the registered region, or an empty slot, fails with `EFAULT`) and the
/// bytes are right.
#[test]
fn registered_buffers_carry_file_reads_and_writes() {
    let _serial = serial();
    let path = TempPath::new("fixed");
    let ct = crate::Runtime::<Ct>::build().unwrap();
    let mt = crate::Runtime::<Mt>::build().unwrap();
    for describe in [ct.describe(), mt.describe()] {
        assert!(describe.contains("registered buffers"), "{describe}");
    }
    let named = ct.block_on(async {
        let pool = FixedBufPool::new(4, 4096).unwrap();
        assert!(pool.is_registered());
        fixed_round_trip(&pool, &path.0, 16).await
    });
    assert_eq!(named, 32, "16 writes and 16 reads name the slot");
    let named = mt.block_on(async {
        let pool = FixedBufPool::new(8, 8192).unwrap();
        assert!(pool.is_registered());
        fixed_round_trip(&pool, &path.0, 32).await
    });
    assert!(
        named >= 64,
        "32 writes and 32 reads, and more for short ones: {named}"
    );
}

/// Where a pool cannot be registered it still works, with the plain
/// opcodes: a kernel without the table, the mio backend, and a buffer used
/// with another runtime's files.
#[test]
fn unregistered_fixed_buffers_take_the_plain_opcodes() {
    let _serial = serial();
    let path = TempPath::new("unregistered");
    let named = without_optional_features::<Ct>().block_on(async {
        let pool = FixedBufPool::new(4, 4096).unwrap();
        assert!(!pool.is_registered());
        fixed_round_trip(&pool, &path.0, 8).await
    });
    assert_eq!(named, 0);
    let named = crate::Runtime::<MioCt>::build().unwrap().block_on(async {
        let pool = FixedBufPool::new(4, 4096).unwrap();
        assert!(!pool.is_registered());
        fixed_round_trip(&pool, &path.0, 8).await
    });
    assert_eq!(named, 0);
    // Registered with `ct`'s rings, used on `other`'s.
    let ct = crate::Runtime::<Ct>::build().unwrap();
    let pool = ct.block_on(async { FixedBufPool::new(2, 4096).unwrap() });
    assert!(pool.is_registered());
    let other = crate::Runtime::<Ct>::build().unwrap();
    let named = other.block_on(fixed_round_trip(&pool, &path.0, 4));
    assert_eq!(named, 0);
    assert_eq!(ct.block_on(fixed_round_trip(&pool, &path.0, 4)), 8);
    // A pool that outlives its runtime empties its slot on the shut-down
    // rings when it goes.
    drop(ct);
    let buf = pool.try_get().unwrap();
    drop(pool);
    drop(buf);
}

/// A registered one-buffer pool in each of the runtime's slots.
fn every_slot_taken() -> Vec<FixedBufPool> {
    let pools: Vec<_> = (0..super::FIXED_SLOTS)
        .map(|_| FixedBufPool::new(1, 4096).unwrap())
        .collect();
    assert!(pools.iter().all(FixedBufPool::is_registered));
    pools
}

/// Each live pool holds one slot of the rings' tables, until the pool and
/// every buffer taken from it are gone; a slot given back is emptied, and
/// a new pool's memory replaces the old in it.
#[test]
fn a_pool_holds_its_slot_until_it_and_its_buffers_are_gone() {
    let _serial = serial();
    let path = TempPath::new("slots");
    Mt::block_on(async {
        let mut pools = every_slot_taken();
        let extra = FixedBufPool::new(1, 4096).unwrap();
        assert!(!extra.is_registered(), "every slot is taken");
        // A buffer keeps its pool's slot.
        let kept = pools.pop().unwrap().try_get().unwrap();
        assert!(!FixedBufPool::new(1, 4096).unwrap().is_registered());
        drop(kept);
        let replacement = FixedBufPool::new(2, 4096).unwrap();
        assert!(replacement.is_registered());
        // The slot now holds the replacement's memory.
        assert_eq!(fixed_round_trip(&replacement, &path.0, 4).await, 8);
        drop(pools);
        let again: Vec<_> = (0..super::FIXED_SLOTS - 1)
            .map(|_| FixedBufPool::new(1, 4096).unwrap())
            .collect();
        assert!(again.iter().all(FixedBufPool::is_registered));
    });
}

/// A pool dropped on a worker thread (which does not wait for the other
/// workers to empty its slot) gives the slot back once every ring has
/// emptied it, and a new pool then registers in it.
#[test]
fn a_pool_dropped_on_a_worker_gives_its_slot_back() {
    let _serial = serial();
    let path = TempPath::new("worker-drop");
    Mt::block_on(async {
        let mut pools = every_slot_taken();
        let last = pools.pop().unwrap();
        crate::spawn(async move {
            assert!(
                crate::runtime::io::current_io().owned_index().is_some(),
                "dropped on a worker"
            );
            drop(last);
        })
        .await
        .unwrap();
        let mut replacement = None;
        eventually("the slot to come back", || {
            let pool = FixedBufPool::new(2, 4096).unwrap();
            let registered = pool.is_registered();
            replacement = registered.then_some(pool);
            registered
        })
        .await;
        let replacement = replacement.unwrap();
        assert_eq!(fixed_round_trip(&replacement, &path.0, 4).await, 8);
    });
}

/// Two workers creating pools at the same moment each need the other to
/// update its ring: each drives its own ring while it waits, so both pools
/// are registered (instead of both waits running out).
#[test]
fn pools_created_on_two_workers_at_once_are_both_registered() {
    let _serial = serial();
    Mt::block_on(async {
        for _ in 0..100 {
            let arrived = Arc::new(AtomicUsize::new(0));
            let create = |arrived: Arc<AtomicUsize>| async move {
                let worker = crate::runtime::io::current_io().owned_index();
                arrived.fetch_add(1, Ordering::SeqCst);
                // Both at once (bounded: the two may share a worker).
                let deadline = Instant::now() + Duration::from_secs(1);
                while arrived.load(Ordering::SeqCst) < 2 && Instant::now() < deadline {
                    std::hint::spin_loop();
                }
                let together = arrived.load(Ordering::SeqCst) == 2;
                let pool = FixedBufPool::new(1, 4096).unwrap();
                (worker, together, pool.is_registered())
            };
            let a = crate::spawn(create(arrived.clone()));
            let b = crate::spawn(create(arrived));
            let (a, b) = (a.await.unwrap(), b.await.unwrap());
            if a.0.is_some() && b.0.is_some() && a.0 != b.0 && a.1 && b.1 {
                assert!(a.2 && b.2, "registered: {} and {}", a.2, b.2);
                return;
            }
        }
        panic!("the two tasks never ran on different workers at the same time");
    });
}

/// A pool with every buffer taken makes `get` wait until one comes back,
/// and rejects sizes it cannot hold with an error naming them.
#[test]
fn fixed_buffer_pool_get_waits_and_bad_sizes_are_errors() {
    let _serial = serial();
    Ct::block_on(async {
        let pool = FixedBufPool::new(2, 16).unwrap();
        let a = pool.try_get().unwrap();
        let mut b = pool.try_get().unwrap();
        assert!(pool.try_get().is_none());
        assert_eq!(pool.available(), 0);
        let waiter = crate::spawn({
            let pool = pool.clone();
            async move { pool.get().await.capacity() }
        });
        crate::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(a);
        assert_eq!(waiter.await.unwrap(), 16);
        // `io::Write` appends what fits.
        use std::io::Write;
        assert_eq!(b.write(&[7; 20]).unwrap(), 16);
        assert_eq!(b.write(&[7]).unwrap(), 0);
        assert_eq!(&b[..], &[7; 16]);
        b.truncate(3);
        assert_eq!(b.len(), 3);
        b.clear();
        assert!(b.is_empty());
        for (count, size) in [
            (0, 4096),
            (4, 0),
            (2, 1 << 30),
            (usize::MAX, 2),
            (1 << 17, 1),
        ] {
            let e = FixedBufPool::new(count, size).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
            assert!(e.to_string().contains(&format!("({count}, {size})")), "{e}");
        }
    });
}

/// Dropping pending fixed reads (on a pipe, where a read waits) cancels
/// them and gives every buffer back once the kernel is done with it;
/// nothing leaks.
fn dropped_fixed_reads_give_their_buffers_back<S: crate::Spec>() {
    const ROUNDS: usize = 2000;
    let before_ops = live_ops();
    let before_named = fixed_ops();
    crate::Runtime::<S>::build().unwrap().block_on(async {
        let (reader, mut writer) = io::pipe().unwrap();
        let reader = Arc::new(crate::fs::File::from_std(std::fs::File::from(
            std::os::fd::OwnedFd::from(reader),
        )));
        let pool = FixedBufPool::new(4, 4096).unwrap();
        assert!(pool.is_registered());
        for _ in 0..ROUNDS {
            let read = pin!(reader.read_at(pool.get().await, 0));
            assert!(poll_once(read).await.is_none(), "nothing to read yet");
        }
        // Every buffer comes back (`get` waits for the cancelled reads'
        // completions).
        let all: Vec<_> = futures_all(&pool).await;
        assert_eq!(all.len(), pool.count());
        drop(all);
        // The pipe still works, and a read gets what was written after the
        // cancellations.
        std::io::Write::write_all(&mut writer, b"after").unwrap();
        let (n, buf) = reader.read_at(pool.get().await, 0).await;
        assert_eq!(&buf[..n.unwrap()], b"after");
        // A read in flight keeps its pool's memory registered after the
        // last `FixedBufPool` handle is gone.
        let alone = FixedBufPool::new(1, 4096).unwrap();
        let mut read = pin!(reader.read_at(alone.try_get().unwrap(), 0));
        assert!(poll_once(read.as_mut()).await.is_none());
        drop(alone);
        std::io::Write::write_all(&mut writer, b"late").unwrap();
        let (n, buf) = read.await;
        assert_eq!(&buf[..n.unwrap()], b"late");
    });
    assert_eq!(fixed_ops() - before_named, ROUNDS + 2);
    assert_eq!(live_ops(), before_ops, "operation states leaked");
}

/// Takes every buffer of `pool`, waiting for those still in flight.
async fn futures_all(pool: &FixedBufPool) -> Vec<FixedBuf> {
    let mut all = Vec::new();
    for _ in 0..pool.count() {
        all.push(
            crate::time::timeout(Duration::from_secs(10), pool.get())
                .await
                .expect("a cancelled read never gave its buffer back"),
        );
    }
    all
}

#[test]
fn dropped_fixed_reads_give_their_buffers_back_current_thread() {
    let _serial = serial();
    dropped_fixed_reads_give_their_buffers_back::<Ct>();
}

#[test]
fn dropped_fixed_reads_give_their_buffers_back_multi_thread() {
    let _serial = serial();
    dropped_fixed_reads_give_their_buffers_back::<Mt>();
}
