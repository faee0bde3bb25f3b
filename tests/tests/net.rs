//! `zokio::net` on a real runtime: TCP, UDP and Unix sockets over loopback,
//! half-close, large checksummed transfers, many concurrent connections,
//! errors (refused, reset), futures dropped while their operation is in
//! flight, owned-buffer I/O, and that nothing (no file descriptor, no hang) is
//! left behind when the runtime shuts down.
//!
//! Every test is written once and instantiated for each backend (`mio`,
//! `io_uring`) on each flavor (`current_thread`, `multi_thread` with two
//! workers). Each test runs on its own thread under a watchdog, its body under
//! `zokio::time::timeout`, so a hang fails the test instead of stalling CI.
//! Nothing here synchronises by sleeping and nothing asserts on timing.

use std::future::{Future, poll_fn};
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::Poll;
use std::thread;
use std::time::Duration;

mod support;
use support::*;

use zokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, Interest};
use zokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf, ReadHalf, WriteHalf};
use zokio::net::{
    TcpListener, TcpSocket, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream,
};

/// Bytes sent each way by the large-transfer test.
const LARGE: usize = 8 << 20;

/// How many times an in-flight operation is started and dropped.
const DROPS: usize = 10_000;

/// Instantiates the whole suite as module `$module` on the runtime
/// configured by the `runtime!` keys that follow.
macro_rules! net_suite {
    ($module:ident, $($config:tt)*) => {
        net_suite!(@ $module, run_on, $($config)*);
    };
    // `$runner` builds and drives the runtime (`run_on`, or
    // `run_on_single_driver` for `#[zokio::main]`'s entry point).
    (@ $module:ident, $runner:ident, $($config:tt)*) => {
        mod $module {
            use super::*;

            zokio::runtime! { Rt { $($config)* } }

            fn run<F, Fut>(body: F)
            where
                F: FnOnce() -> Fut + Send + 'static,
                Fut: Future<Output = ()>,
            {
                $runner::<Rt, _, _>(body);
            }

            /// Like `run`, with no other test running, and checks that the
            /// process has exactly the file descriptors after the runtime is
            /// dropped that it had before the runtime was built.
            fn run_counting_fds<F, Fut>(body: F)
            where
                F: FnOnce() -> Fut + Send + 'static,
                Fut: Future<Output = ()>,
            {
                guarded(true, move |stage| {
                    // A first runtime that does some I/O, so that whatever is
                    // set up once per process (not per runtime) exists before
                    // the count.
                    stage.set("warming up a first runtime");
                    Rt::build().expect("building the runtime").block_on(async {
                        drop(tcp_pair().await);
                    });
                    let before = open_fds();
                    stage.set("building the runtime");
                    let rt = Rt::build().expect("building the runtime");
                    run_stages(stage, rt, |rt| {
                        rt.block_on(async { zokio::time::timeout(BODY_TIMEOUT, body()).await.is_ok() })
                    });
                    assert_same_fds(&before, &open_fds(), "after dropping the runtime");
                });
            }

            #[test]
            fn tcp_echo() {
                run(super::tcp_echo);
            }

            #[test]
            fn tcp_connect_by_host_name_tries_each_address() {
                run(super::tcp_connect_by_host_name_tries_each_address);
            }

            #[test]
            fn fresh_connections_have_nothing_to_read() {
                run(super::fresh_connections_have_nothing_to_read);
            }

            #[test]
            fn tcp_listener_from_std() {
                run(super::tcp_listener_from_std);
            }

            #[test]
            fn tcp_half_close() {
                run(super::tcp_half_close);
            }

            #[test]
            fn tcp_large_transfer_both_ways_checksummed() {
                run(super::tcp_large_transfer_both_ways_checksummed);
            }

            #[test]
            fn tcp_many_concurrent_connections() {
                run(super::tcp_many_concurrent_connections);
            }

            #[test]
            fn udp_unconnected_round_trips() {
                run(super::udp_unconnected_round_trips);
            }

            #[test]
            fn udp_connected_round_trips() {
                run(super::udp_connected_round_trips);
            }

            #[test]
            fn udp_connected_to_a_closed_port() {
                run(super::udp_connected_to_a_closed_port);
            }

            #[test]
            fn unix_stream_echo_through_listener() {
                run(super::unix_stream_echo_through_listener);
            }

            #[test]
            fn unix_stream_pair() {
                run(super::unix_stream_pair);
            }

            #[test]
            fn unix_datagram_pair() {
                run(super::unix_datagram_pair);
            }

            #[test]
            fn unix_datagram_bound_send_to_recv_from() {
                run(super::unix_datagram_bound_send_to_recv_from);
            }

            #[test]
            fn unix_datagram_unbound_and_connected() {
                run(super::unix_datagram_unbound_and_connected);
            }

            #[test]
            fn tcp_connect_to_closed_port_is_refused() {
                run(super::tcp_connect_to_closed_port_is_refused);
            }

            #[test]
            fn tcp_read_after_peer_reset() {
                run(super::tcp_read_after_peer_reset);
            }

            #[test]
            fn tcp_pending_read_woken_by_peer_reset() {
                run(super::tcp_pending_read_woken_by_peer_reset);
            }

            #[test]
            fn dropped_in_flight_accepts_and_reads_in_block_on() {
                run_counting_fds(|| super::dropped_in_flight_accepts_and_reads(true));
            }

            #[test]
            fn dropped_in_flight_accepts_and_reads_in_spawned_task() {
                run_counting_fds(|| async {
                    zokio::spawn(super::dropped_in_flight_accepts_and_reads(false))
                        .await
                        .expect("the test task failed");
                });
            }

            #[test]
            fn dropped_read_loses_no_data() {
                run(super::dropped_read_loses_no_data);
            }

            #[test]
            fn dropped_accept_loses_no_connection() {
                run(super::dropped_accept_loses_no_connection);
            }

            #[test]
            fn dropped_recv_from_loses_no_datagram() {
                run(super::dropped_recv_from_loses_no_datagram);
            }

            #[test]
            fn dropped_owned_reads_racing_data_corrupt_nothing() {
                run(super::dropped_owned_reads_racing_data_corrupt_nothing);
            }

            #[test]
            fn shutdown_with_io_in_flight_closes_everything() {
                run_counting_fds(super::shutdown_with_io_in_flight);
            }

            #[test]
            fn tcp_owned_buffer_round_trip() {
                run(super::tcp_owned_buffer_round_trip);
            }

            #[test]
            fn tcp_into_split_halves_in_separate_tasks() {
                run(super::tcp_into_split_halves_in_separate_tasks);
            }

            #[test]
            fn tcp_dropping_owned_write_half_shuts_down_writes() {
                run(super::tcp_dropping_owned_write_half_shuts_down_writes);
            }

            #[test]
            fn tcp_ipv6_loopback_echo() {
                run(super::tcp_ipv6_loopback_echo);
            }

            #[test]
            fn vectored_writes_deliver_every_slice_in_order() {
                run(super::vectored_writes_deliver_every_slice_in_order);
            }

            #[test]
            fn vectored_write_that_waits_completes_when_polled_again() {
                run(super::vectored_write_that_waits_completes_when_polled_again);
            }

            #[test]
            fn readable_then_try_read_gets_every_byte_in_order() {
                run(super::readable_then_try_read_gets_every_byte_in_order);
            }

            #[test]
            fn peek_leaves_the_bytes_for_the_next_read() {
                run(super::peek_leaves_the_bytes_for_the_next_read);
            }

            #[test]
            fn try_write_fills_the_socket_and_writable_waits_for_room() {
                run(super::try_write_fills_the_socket_and_writable_waits_for_room);
            }

            #[test]
            fn udp_readable_then_try_recv_and_try_send() {
                run(super::udp_readable_then_try_recv_and_try_send);
            }

            #[test]
            fn unix_datagram_readable_then_try_recv_and_try_send() {
                run(super::unix_datagram_readable_then_try_recv_and_try_send);
            }

            #[test]
            fn readable_wakes_every_task_waiting_for_it() {
                run(super::readable_wakes_every_task_waiting_for_it);
            }

            #[test]
            fn try_write_after_a_pending_write_sends_the_bytes_once() {
                run(super::try_write_after_a_pending_write_sends_the_bytes_once);
            }

            #[test]
            fn ready_reports_the_directions_asked_for() {
                run(super::ready_reports_the_directions_asked_for);
            }

            #[test]
            fn tcp_socket_sets_options_then_listens_and_connects() {
                run(super::tcp_socket_sets_options_then_listens_and_connects);
            }

            #[test]
            fn lookup_host_resolves_names_and_literals() {
                run(super::lookup_host_resolves_names_and_literals);
            }

            #[test]
            fn udp_peek_from_leaves_the_datagram_for_the_next_receive() {
                run(super::udp_peek_from_leaves_the_datagram_for_the_next_receive);
            }

            #[test]
            fn readiness_on_unix_streams_and_owned_halves() {
                run(super::readiness_on_unix_streams_and_owned_halves);
            }

            #[test]
            fn async_fd_ready_with_an_interest_and_async_io() {
                run(super::async_fd_ready_with_an_interest_and_async_io);
            }

            #[test]
            fn async_fd_reads_and_writes_a_foreign_socket() {
                run(super::async_fd_reads_and_writes_a_foreign_socket);
            }

            #[test]
            fn async_fd_wakes_every_task_waiting_for_it() {
                run(super::async_fd_wakes_every_task_waiting_for_it);
            }

            #[test]
            fn async_fd_dropped_while_waiting_leaves_no_descriptor() {
                run_counting_fds(super::async_fd_dropped_while_waiting);
            }

            #[test]
            fn try_read_buf_and_vectored_calls_move_every_byte_in_order() {
                run(super::try_read_buf_and_vectored_calls_move_every_byte_in_order);
            }

            #[test]
            fn datagram_buf_receives_append_to_the_buffer() {
                run(super::datagram_buf_receives_append_to_the_buffer);
            }

            #[test]
            fn udp_try_peek_from_leaves_the_datagram() {
                run(super::udp_try_peek_from_leaves_the_datagram);
            }

            #[test]
            fn udp_multicast_on_loopback_and_its_options() {
                run(super::udp_multicast_on_loopback_and_its_options);
            }

            #[test]
            fn take_error_reports_a_refused_datagram_once() {
                run(super::take_error_reports_a_refused_datagram_once);
            }

            #[test]
            fn unix_stream_peer_cred_names_this_process() {
                run(super::unix_stream_peer_cred_names_this_process);
            }
        }
    };
}

net_suite!(
    mio_current_thread,
    flavor = "current_thread",
    backend = "mio"
);
net_suite!(
    mio_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "mio"
);
net_suite!(
    io_uring_current_thread,
    flavor = "current_thread",
    backend = "io_uring"
);
// The entry point of `#[zokio::main]`/`#[zokio::test]`: a `current_thread`
// ring that only its one driving thread enters.
net_suite!(
    @ io_uring_current_thread_single_driver,
    run_on_single_driver,
    flavor = "current_thread",
    backend = "io_uring"
);
net_suite!(
    io_uring_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "io_uring"
);

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Polls `future` exactly once with the current task's context: `Some` with
/// its output if it completed, `None` if it is pending (its operation is then
/// in flight, and the caller may drop it).
async fn poll_once<F: Future>(mut future: Pin<&mut F>) -> Option<F::Output> {
    poll_fn(move |cx| {
        Poll::Ready(match future.as_mut().poll(cx) {
            Poll::Ready(output) => Some(output),
            Poll::Pending => None,
        })
    })
    .await
}

/// Runs two futures concurrently in the current task (for halves that borrow
/// a stream, which cannot be spawned).
async fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = pin!(a);
    let mut b = pin!(b);
    let mut out_a = None;
    let mut out_b = None;
    poll_fn(move |cx| {
        if out_a.is_none()
            && let Poll::Ready(v) = a.as_mut().poll(cx)
        {
            out_a = Some(v);
        }
        if out_b.is_none()
            && let Poll::Ready(v) = b.as_mut().poll(cx)
        {
            out_b = Some(v);
        }
        if out_a.is_some() && out_b.is_some() {
            Poll::Ready((out_a.take().unwrap(), out_b.take().unwrap()))
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Echoes everything read back to the writer until end of stream, then shuts
/// down its write direction. Returns how many bytes it echoed.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S) -> io::Result<usize> {
    let mut buf = vec![0u8; 4096];
    let mut total = 0;
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        stream.write_all(&buf[..n]).await?;
        total += n;
    }
    stream.shutdown().await?;
    Ok(total)
}

/// Sends each message, reads back exactly as many bytes and checks they are
/// the message; then half-closes and expects end of stream.
async fn check_echo<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, messages: &[Vec<u8>]) {
    for message in messages {
        stream
            .write_all(message)
            .await
            .expect("writing to the echo server");
        let mut back = vec![0u8; message.len()];
        stream
            .read_exact(&mut back)
            .await
            .expect("reading the echo back");
        assert_eq!(&back, message, "the echo differs from what was sent");
    }
    stream.shutdown().await.expect("shutting down writes");
    let mut buf = [0u8; 16];
    assert_eq!(
        stream.read(&mut buf).await.expect("reading end of stream"),
        0
    );
    assert_eq!(
        stream
            .read(&mut buf)
            .await
            .expect("reading past end of stream"),
        0
    );
}

fn messages(tag: usize) -> Vec<Vec<u8>> {
    [1usize, 10, 100, 1000, 10_000, 70_000]
        .into_iter()
        .enumerate()
        .map(|(i, len)| pseudo_random_bytes((tag as u64) << 8 | i as u64, len))
        .collect()
}

/// `len` bytes of xorshift64 output from `seed`.
fn pseudo_random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// 64-bit FNV-1a, continued from `hash`.
fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    for &byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01B3);
    }
    hash
}

/// Writes `data` in chunks of assorted sizes, then shuts down the write
/// direction.
async fn write_in_chunks<W: AsyncWrite + Unpin>(mut writer: W, data: Vec<u8>) -> io::Result<()> {
    const SIZES: [usize; 8] = [1, 13, 1500, 4096, 65_536, 100_003, 262_144, 7];
    let mut offset = 0;
    for size in SIZES.into_iter().cycle() {
        if offset == data.len() {
            break;
        }
        let end = (offset + size).min(data.len());
        writer.write_all(&data[offset..end]).await?;
        offset = end;
    }
    writer.shutdown().await
}

/// Reads to end of stream; returns the byte count and their FNV-1a hash.
async fn read_and_hash<R: AsyncRead + Unpin>(mut reader: R) -> io::Result<(usize, u64)> {
    let mut buf = vec![0u8; 64 * 1024];
    let (mut count, mut hash) = (0, FNV_OFFSET);
    loop {
        let n = reader.read(&mut buf).await?;
        if n == 0 {
            return Ok((count, hash));
        }
        count += n;
        hash = fnv1a(hash, &buf[..n]);
    }
}

/// A connected pair of loopback TCP streams: (client, server).
async fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binding a listener");
    let addr = listener.local_addr().unwrap();
    // The kernel completes the handshake before `accept` is called, so the
    // two can run one after the other.
    let client = TcpStream::connect(addr).await.expect("connecting");
    let (server, peer) = listener.accept().await.expect("accepting");
    assert_eq!(peer, client.local_addr().unwrap());
    (client, server)
}

/// A directory of its own under the system temporary directory, removed on
/// drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "zokio-net-{}-{}-{tag}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir(&path).expect("creating a temporary directory");
        TempDir(path)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

// ---------------------------------------------------------------------------
// TCP
// ---------------------------------------------------------------------------

async fn tcp_echo() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    assert!(addr.ip().is_loopback() && addr.port() != 0, "{addr}");
    let server = zokio::spawn(async move {
        let (stream, peer) = listener.accept().await.unwrap();
        assert_eq!(stream.local_addr().unwrap(), addr);
        assert_eq!(stream.peer_addr().unwrap(), peer);
        (peer, echo(stream).await.unwrap())
    });

    let mut client = TcpStream::connect(addr).await.unwrap();
    assert_eq!(client.peer_addr().unwrap(), addr);
    client.set_nodelay(true).unwrap();
    assert!(client.nodelay().unwrap());
    client.set_nodelay(false).unwrap();
    assert!(!client.nodelay().unwrap());

    let messages = messages(0);
    check_echo(&mut client, &messages).await;
    let (peer, echoed) = server.await.unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    assert_eq!(echoed, messages.iter().map(Vec::len).sum::<usize>());
}

/// `connect` and `bind` take host names, resolved off the workers, and try
/// each address in turn: `localhost` may resolve to `::1` first, where
/// nothing listens, before `127.0.0.1`.
async fn tcp_connect_by_host_name_tries_each_address() {
    let listener = TcpListener::bind(("127.0.0.1", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = zokio::spawn(async move {
        for _ in 0..3 {
            let (stream, _) = listener.accept().await.unwrap();
            echo(stream).await.unwrap();
        }
    });
    let by_string = format!("localhost:{port}");
    let mut a = TcpStream::connect(by_string.as_str()).await.unwrap();
    check_echo(&mut a, &messages(7)).await;
    drop(a);
    let mut b = TcpStream::connect(("localhost", port)).await.unwrap();
    check_echo(&mut b, &messages(8)).await;
    drop(b);
    let mut c = TcpStream::connect(by_string).await.unwrap();
    check_echo(&mut c, &messages(9)).await;
    drop(c);
    server.await.unwrap();
}

/// A connection just made has nothing to read: its first read is pending,
/// every time, and the stream then works both ways. Each round connects from
/// the test body and from a spawned task, over TCP and Unix sockets. (A socket
/// registered for readiness before `connect` may report the hang-up of its
/// unconnected state to a driver polled meanwhile on another thread; that
/// must not make it look closed.)
async fn fresh_connections_have_nothing_to_read() {
    const ROUNDS: usize = 500;
    let listener = Arc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
    let dir = TempDir::new("fresh");
    let path = dir.join("fresh.sock");
    let unix_listener = Arc::new(UnixListener::bind(&path).unwrap());
    for round in 0..ROUNDS {
        fresh_tcp_round(&listener, round).await;
        fresh_unix_round(&unix_listener, &path, round).await;
        let (listener, unix_listener, path) =
            (listener.clone(), unix_listener.clone(), path.clone());
        zokio::spawn(async move {
            fresh_tcp_round(&listener, round).await;
            fresh_unix_round(&unix_listener, &path, round).await;
        })
        .await
        .expect("a round in a spawned task failed");
    }
    drop(dir);
}

async fn fresh_tcp_round(listener: &TcpListener, round: usize) {
    let mut client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (mut server, _) = listener.accept().await.unwrap();
    let mut buf = [0u8; 16];
    if let Some(result) = poll_once(pin!(client.read(&mut buf))).await {
        panic!("round {round}: a fresh TCP client read completed: {result:?}");
    }
    if let Some(result) = poll_once(pin!(server.read(&mut buf))).await {
        panic!("round {round}: a fresh TCP server read completed: {result:?}");
    }
    exchange_a_byte_each_way(&mut client, &mut server).await;
}

async fn fresh_unix_round(listener: &UnixListener, path: &Path, round: usize) {
    let mut client = UnixStream::connect(path).await.unwrap();
    let (mut server, _) = listener.accept().await.unwrap();
    let mut buf = [0u8; 16];
    if let Some(result) = poll_once(pin!(client.read(&mut buf))).await {
        panic!("round {round}: a fresh Unix client read completed: {result:?}");
    }
    if let Some(result) = poll_once(pin!(server.read(&mut buf))).await {
        panic!("round {round}: a fresh Unix server read completed: {result:?}");
    }
    exchange_a_byte_each_way(&mut client, &mut server).await;
}

async fn exchange_a_byte_each_way<S: AsyncRead + AsyncWrite + Unpin>(a: &mut S, b: &mut S) {
    let mut byte = [0u8; 1];
    a.write_all(b"a").await.unwrap();
    b.read_exact(&mut byte).await.unwrap();
    assert_eq!(&byte, b"a");
    b.write_all(b"b").await.unwrap();
    a.read_exact(&mut byte).await.unwrap();
    assert_eq!(&byte, b"b");
}

async fn tcp_listener_from_std() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    std_listener.set_nonblocking(true).unwrap();
    let addr = std_listener.local_addr().unwrap();
    let listener = TcpListener::from_std(std_listener).unwrap();
    assert_eq!(listener.local_addr().unwrap(), addr);
    let server = zokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        echo(stream).await.unwrap()
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    check_echo(&mut client, &messages(1)).await;
    server.await.unwrap();
}

async fn tcp_half_close() {
    let request = pseudo_random_bytes(2, 100_000);
    let reply = pseudo_random_bytes(3, 50_000);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = {
        let (request, reply) = (request.clone(), reply.clone());
        zokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            let mut received = Vec::new();
            // Returns only once a read has returned 0: the client's FIN.
            stream.read_to_end(&mut received).await.unwrap();
            assert_eq!(
                received, request,
                "the server got something else than the request"
            );
            let mut buf = [0u8; 8];
            assert_eq!(
                stream.read(&mut buf).await.unwrap(),
                0,
                "a second read after EOF"
            );
            // The other direction still works after the peer's half-close.
            stream.write_all(&reply).await.unwrap();
            drop(stream);
        })
    };

    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(&request).await.unwrap();
    AsyncWriteExt::shutdown(&mut client).await.unwrap();
    let mut received = Vec::new();
    client.read_to_end(&mut received).await.unwrap();
    assert_eq!(received.len(), reply.len());
    assert!(received == reply, "the reply differs");
    let mut buf = [0u8; 8];
    assert_eq!(client.read(&mut buf).await.unwrap(), 0);
    server.await.unwrap();
}

async fn tcp_large_transfer_both_ways_checksummed() {
    let up = pseudo_random_bytes(10, LARGE);
    let down = pseudo_random_bytes(11, LARGE);
    let (up_hash, down_hash) = (fnv1a(FNV_OFFSET, &up), fnv1a(FNV_OFFSET, &down));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    // Server: reader and writer halves in two tasks.
    let server = zokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let (reader, writer): (OwnedReadHalf, OwnedWriteHalf) = stream.into_split();
        let write = zokio::spawn(write_in_chunks(writer, down));
        let read = zokio::spawn(read_and_hash(reader));
        write.await.unwrap().expect("server write");
        read.await.unwrap().expect("server read")
    });

    // Client: borrowed halves, driven concurrently in this task.
    let mut client = TcpStream::connect(addr).await.unwrap();
    let (reader, writer): (ReadHalf<'_>, WriteHalf<'_>) = client.split();
    let (written, read) = join2(write_in_chunks(writer, up), read_and_hash(reader)).await;
    written.expect("client write");
    let (client_count, client_hash) = read.expect("client read");
    let (server_count, server_hash) = server.await.unwrap();

    assert_eq!(server_count, LARGE, "bytes the server received");
    assert_eq!(server_hash, up_hash, "hash of what the server received");
    assert_eq!(client_count, LARGE, "bytes the client received");
    assert_eq!(client_hash, down_hash, "hash of what the client received");
}

async fn tcp_many_concurrent_connections() {
    const CONNECTIONS: usize = 200;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = zokio::spawn(async move {
        let mut connections = zokio::task::JoinSet::new();
        for _ in 0..CONNECTIONS {
            let (stream, _) = listener.accept().await.unwrap();
            connections.spawn(echo(stream));
        }
        let mut echoed = 0;
        while let Some(result) = connections.join_next().await {
            echoed += result.unwrap().unwrap();
        }
        echoed
    });

    let mut clients = zokio::task::JoinSet::new();
    for c in 0..CONNECTIONS {
        clients.spawn(async move {
            let mut stream = TcpStream::connect(addr).await.unwrap();
            let messages: Vec<Vec<u8>> = (0..5)
                .map(|i| {
                    let mut m = format!("connection {c} message {i} ").into_bytes();
                    m.extend_from_slice(&pseudo_random_bytes((c * 5 + i) as u64, c * 7 + i));
                    m
                })
                .collect();
            check_echo(&mut stream, &messages).await;
            messages.iter().map(Vec::len).sum::<usize>()
        });
    }
    let (mut finished, mut sent) = (0, 0);
    while let Some(result) = clients.join_next().await {
        sent += result.expect("a client task failed");
        finished += 1;
    }
    assert_eq!(finished, CONNECTIONS);
    assert_eq!(server.await.unwrap(), sent);
}

async fn tcp_connect_to_closed_port_is_refused() {
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    match TcpStream::connect(addr).await {
        Ok(stream) => panic!("connected to a closed port: {:?}", stream.peer_addr()),
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e:?}"),
    }
}

/// A std listener whose first accepted connection is reset (closed with
/// `SO_LINGER` 0) on a helper thread once `go` is signalled.
fn resetting_peer() -> (SocketAddr, mpsc::Sender<()>, thread::JoinHandle<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (go, wait) = mpsc::channel::<()>();
    let peer = thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        // Proceeds on a signal, or when the test has given up (sender gone).
        let _ = wait.recv();
        set_linger_zero(&stream);
        drop(stream);
    });
    (addr, go, peer)
}

async fn tcp_read_after_peer_reset() {
    let (addr, go, peer) = resetting_peer();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    go.send(()).unwrap();
    // The reset may arrive before or after the read starts; either way the
    // first read reports it.
    let mut buf = [0u8; 64];
    match stream.read(&mut buf).await {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e:?}"),
        Ok(n) => panic!("read returned Ok({n}) after the peer reset the connection"),
    }
    peer.join().unwrap();
}

async fn tcp_pending_read_woken_by_peer_reset() {
    let (addr, go, peer) = resetting_peer();
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 64];
    let mut read = pin!(stream.read(&mut buf));
    assert!(
        poll_once(read.as_mut()).await.is_none(),
        "read completed with nothing sent"
    );
    // The read is in flight; now the peer resets.
    go.send(()).unwrap();
    match read.await {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e:?}"),
        Ok(n) => panic!("read returned Ok({n}) after the peer reset the connection"),
    }
    peer.join().unwrap();
}

/// Starts and drops accepts, reads and owned-buffer reads `DROPS` times each,
/// checking after each batch that a real operation still gets the right
/// result. With `exact_fds`, also checks that the batches leave the open
/// descriptors exactly as they were (without it, a few may appear as worker
/// threads the task migrates to set up their I/O; a leak per drop would still
/// show as thousands).
async fn dropped_in_flight_accepts_and_reads(exact_fds: bool) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (mut client, mut server) = {
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (client, server)
    };
    // Warm up every kind of operation once before taking the baseline.
    client.write_all(b"warm").await.unwrap();
    let mut warm = [0u8; 4];
    server.read_exact(&mut warm).await.unwrap();
    let baseline = open_fds();
    let check_fds = |when: &str| {
        let now = open_fds();
        if exact_fds {
            assert_same_fds(&baseline, &now, when);
        } else {
            assert!(
                now.len() <= baseline.len() + 4,
                "{when}: open descriptors grew from {} to {}: {now:?}",
                baseline.len(),
                now.len()
            );
        }
    };

    for i in 0..DROPS {
        let accept = pin!(listener.accept());
        if let Some(result) = poll_once(accept).await {
            panic!("accept #{i} completed with nobody connecting: {result:?}");
        }
    }
    check_fds("after dropping in-flight accepts");
    let second = TcpStream::connect(addr).await.unwrap();
    let (accepted, peer) = listener.accept().await.expect("accept after the drops");
    assert_eq!(peer, second.local_addr().unwrap());
    drop((second, accepted));

    for i in 0..DROPS {
        let mut buf = [0u8; 64];
        let read = pin!(server.read(&mut buf));
        if let Some(result) = poll_once(read).await {
            panic!("read #{i} completed with nothing sent: {result:?}");
        }
    }
    check_fds("after dropping in-flight reads");
    let message = pseudo_random_bytes(20, 3000);
    client.write_all(&message).await.unwrap();
    let mut received = vec![0u8; message.len()];
    server
        .read_exact(&mut received)
        .await
        .expect("read after the drops");
    assert!(
        received == message,
        "a read after the dropped reads got other bytes"
    );

    for i in 0..DROPS {
        let read = pin!(server.read_owned(Vec::with_capacity(64)));
        if let Some((result, _)) = poll_once(read).await {
            panic!("owned read #{i} completed with nothing sent: {result:?}");
        }
    }
    check_fds("after dropping in-flight owned reads");
    let message = pseudo_random_bytes(21, 3000);
    client.write_all(&message).await.unwrap();
    let mut received = Vec::with_capacity(message.len());
    while received.len() < message.len() {
        let (result, buf) = server.read_owned(received).await;
        received = buf;
        assert_ne!(
            result.expect("owned read after the drops"),
            0,
            "EOF before the message"
        );
    }
    assert!(
        received == message,
        "an owned read after the dropped owned reads got other bytes"
    );

    // Both directions still carry data and close cleanly.
    server.write_all(b"still alive").await.unwrap();
    let mut back = [0u8; 11];
    client.read_exact(&mut back).await.unwrap();
    assert_eq!(&back, b"still alive");
    AsyncWriteExt::shutdown(&mut client).await.unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(server.read(&mut buf).await.unwrap(), 0);
    drop((client, server, listener));
    // Exactly the listener and the two streams were closed; nothing opened.
    let now = open_fds();
    let closed: Vec<_> = baseline
        .iter()
        .filter(|(fd, _)| !now.contains_key(fd))
        .collect();
    assert!(
        now.iter()
            .all(|(fd, target)| baseline.get(fd) == Some(target))
            && closed.len() == 3,
        "after closing the listener and both streams: {} -> {} open, closed {closed:?}",
        baseline.len(),
        now.len()
    );
}

/// Rounds of the cancel-safety tests below.
const CANCEL_ROUNDS: usize = 1000;

/// How long one operation of the cancel-safety tests may wait before its
/// data is reported lost (a hang detector, not a timing assertion).
const LOST_AFTER: Duration = Duration::from_secs(10);

/// As in tokio, `read` is cancel safe: a read dropped while in flight has
/// read nothing, even when the data arrives right after the drop (on
/// io_uring, while the cancellation of the dropped operation may still be on
/// its way to the kernel).
async fn dropped_read_loses_no_data() {
    let (mut client, mut server) = tcp_pair().await;
    for round in 0..CANCEL_ROUNDS {
        let mut buf = [0u8; 64];
        if let Some(result) = poll_once(pin!(server.read(&mut buf))).await {
            panic!("round {round}: read completed with nothing sent: {result:?}");
        }
        let sent = [round as u8, (round >> 8) as u8, 0xA5];
        client.write_all(&sent).await.unwrap();
        let mut received = [0u8; 3];
        match zokio::time::timeout(LOST_AFTER, server.read_exact(&mut received)).await {
            Ok(result) => result.unwrap(),
            Err(_) => panic!("round {round}: data sent after a dropped read never arrived"),
        };
        assert_eq!(received, sent, "round {round}: bytes lost or reordered");
    }
}

/// As in tokio, `accept` is cancel safe: an accept dropped while in flight
/// takes no connection with it.
async fn dropped_accept_loses_no_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    for round in 0..CANCEL_ROUNDS {
        if let Some(result) = poll_once(pin!(listener.accept())).await {
            panic!("round {round}: accept completed with nobody connecting: {result:?}");
        }
        let client = TcpStream::connect(addr).await.unwrap();
        let (server, peer) = match zokio::time::timeout(LOST_AFTER, listener.accept()).await {
            Ok(result) => result.unwrap(),
            Err(_) => panic!("round {round}: a connection made after a dropped accept was lost"),
        };
        assert_eq!(peer, client.local_addr().unwrap(), "round {round}");
        drop((client, server));
    }
}

/// As in tokio, `recv_from` is cancel safe: a receive dropped while in
/// flight takes no datagram with it.
async fn dropped_recv_from_loses_no_datagram() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    for round in 0..CANCEL_ROUNDS {
        let mut buf = [0u8; 64];
        if let Some(result) = poll_once(pin!(b.recv_from(&mut buf))).await {
            panic!("round {round}: recv_from completed with nothing sent: {result:?}");
        }
        let sent = [round as u8, (round >> 8) as u8, 0x5A];
        a.send_to(&sent, b_addr).await.unwrap();
        let (n, from) = match zokio::time::timeout(LOST_AFTER, b.recv_from(&mut buf)).await {
            Ok(result) => result.unwrap(),
            Err(_) => panic!("round {round}: a datagram sent after a dropped recv_from was lost"),
        };
        assert_eq!((&buf[..n], from), (&sent[..], a_addr), "round {round}");
    }
}

/// Owned-buffer reads dropped in flight just before data arrives. Unlike
/// `read`, a dropped `read_owned` may take the bytes the kernel had already
/// put in its buffer with it (its documentation says only that the read is
/// cancelled), so this checks what must hold regardless: nothing crashes or
/// hangs, the stream goes on working, and what does arrive is sent bytes, in
/// order, never anything else.
async fn dropped_owned_reads_racing_data_corrupt_nothing() {
    let (mut client, server) = tcp_pair().await;
    let (mut sent, mut received) = (Vec::new(), Vec::new());
    for round in 0..CANCEL_ROUNDS {
        let read = pin!(server.read_owned(Vec::with_capacity(64)));
        if let Some((result, buf)) = poll_once(read).await {
            // Earlier rounds' bytes were already waiting.
            assert_eq!(result.unwrap(), buf.len(), "round {round}");
            received.extend_from_slice(&buf);
        }
        let marker = [round as u8, (round >> 8) as u8, 0xC3];
        client.write_all(&marker).await.unwrap();
        sent.extend_from_slice(&marker);
    }
    client.write_all(b"END").await.unwrap();
    AsyncWriteExt::shutdown(&mut client).await.unwrap();
    loop {
        let (result, buf) = server.read_owned(Vec::with_capacity(4096)).await;
        if result.unwrap() == 0 {
            break;
        }
        received.extend_from_slice(&buf);
    }
    let body = received
        .strip_suffix(b"END")
        .expect("the stream did not end with the last bytes sent");
    let mut unmatched = sent.iter();
    assert!(
        body.iter().all(|byte| unmatched.any(|sent| sent == byte)),
        "received bytes that are not the sent bytes in order"
    );
    if body.len() < sent.len() {
        eprintln!(
            "note: {} of {} bytes went with dropped owned reads",
            sent.len() - body.len(),
            sent.len()
        );
    }
}

/// Leaves an accept, a read and an owned read pending in spawned tasks (and
/// the sockets they wait on open, held by a task that never finishes) when
/// the body returns: dropping the runtime must cancel them and close every
/// descriptor.
async fn shutdown_with_io_in_flight() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (client, mut server) = tcp_pair().await;
    let (other_client, other_server) = tcp_pair().await;
    {
        let mut buf = [0u8; 8];
        let read = pin!(server.read(&mut buf));
        assert!(
            poll_once(read).await.is_none(),
            "read completed with nothing sent"
        );
    }
    // Each task counts itself in the same poll that starts its operation.
    let started = Arc::new(AtomicUsize::new(0));
    let accept = zokio::spawn({
        let started = started.clone();
        async move {
            started.fetch_add(1, Ordering::SeqCst);
            listener.accept().await.map(|_| ())
        }
    });
    let read = zokio::spawn({
        let started = started.clone();
        async move {
            let mut buf = [0u8; 8];
            started.fetch_add(1, Ordering::SeqCst);
            server.read(&mut buf).await.map(|_| ())
        }
    });
    let owned_read = zokio::spawn({
        let started = started.clone();
        async move {
            started.fetch_add(1, Ordering::SeqCst);
            other_server
                .read_owned(Vec::with_capacity(8))
                .await
                .0
                .map(|_| ())
        }
    });
    while started.load(Ordering::SeqCst) < 3 {
        zokio::task::yield_now().await;
    }
    // A connection no one accepts, queued on another listener.
    let unaccepting = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let queued = TcpStream::connect(unaccepting.local_addr().unwrap())
        .await
        .unwrap();
    zokio::spawn(async move {
        let _open = (client, other_client, queued, unaccepting);
        std::future::pending::<()>().await;
    });
    assert!(!accept.is_finished(), "accept finished: {:?}", accept.await);
    assert!(!read.is_finished(), "read finished: {:?}", read.await);
    assert!(
        !owned_read.is_finished(),
        "owned read finished: {:?}",
        owned_read.await
    );
}

async fn tcp_owned_buffer_round_trip() {
    let (mut client, server) = tcp_pair().await;
    let payload = pseudo_random_bytes(30, 300_000);

    // write_all_owned hands the buffer back unchanged, after writing all of it.
    let writer = zokio::spawn({
        let payload = payload.clone();
        async move {
            let (result, buf) = client.write_all_owned(payload.clone()).await;
            result.expect("write_all_owned");
            assert!(
                buf == payload,
                "write_all_owned returned a different buffer"
            );
            // write_owned writes a prefix and returns the buffer as given.
            let (result, buf) = client.write_owned(b"tail".to_vec()).await;
            let n = result.expect("write_owned");
            assert!((1..=4).contains(&n), "write_owned wrote {n} of 4 bytes");
            assert_eq!(buf, b"tail");
            if n < 4 {
                client.write_all(&buf[n..]).await.unwrap();
            }
            client
        }
    });

    // read_owned appends to what the buffer already holds and never past its
    // capacity.
    let mut received = b"prefix".to_vec();
    received.reserve_exact(payload.len() + 4);
    let capacity = received.capacity();
    while received.len() < 6 + payload.len() + 4 {
        let before = received.len();
        let (result, buf) = server.read_owned(received).await;
        let n = result.expect("read_owned");
        assert_ne!(n, 0, "EOF before the whole payload");
        assert_eq!(
            buf.len(),
            before + n,
            "read_owned must extend the length by n"
        );
        assert!(buf.capacity() >= capacity);
        received = buf;
    }
    assert_eq!(&received[..6], b"prefix");
    assert!(
        received[6..6 + payload.len()] == payload[..],
        "payload differs"
    );
    assert_eq!(&received[6 + payload.len()..], b"tail");

    let mut client = writer.await.unwrap();
    // A small read into a larger buffer, then EOF leaves the buffer as it is.
    let (result, _) = client.write_all_owned(vec![7u8; 3]).await;
    result.unwrap();
    AsyncWriteExt::shutdown(&mut client).await.unwrap();
    let mut all = Vec::with_capacity(1024);
    loop {
        let before = all.len();
        let (result, buf) = server.read_owned(all).await;
        let n = result.unwrap();
        assert_eq!(buf.len(), before + n);
        all = buf;
        if n == 0 {
            break;
        }
    }
    assert_eq!(all, [7u8; 3]);
}

async fn tcp_into_split_halves_in_separate_tasks() {
    const MESSAGES: usize = 100;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server =
        zokio::spawn(async move { echo(listener.accept().await.unwrap().0).await.unwrap() });

    let client = TcpStream::connect(addr).await.unwrap();
    let (mut reader, mut writer): (OwnedReadHalf, OwnedWriteHalf) = client.into_split();
    let sent: Vec<Vec<u8>> = (0..MESSAGES)
        .map(|i| pseudo_random_bytes(40 + i as u64, 1 + i * 37))
        .collect();
    let expected: Vec<u8> = sent.concat();
    let writing = zokio::spawn(async move {
        for message in &sent {
            writer.write_all(message).await.unwrap();
        }
        writer.shutdown().await.unwrap();
        writer
    });
    let reading = zokio::spawn(async move {
        let mut received = Vec::new();
        reader.read_to_end(&mut received).await.unwrap();
        received
    });
    let received = reading.await.unwrap();
    let _writer = writing.await.unwrap();
    assert_eq!(received.len(), expected.len());
    assert!(
        received == expected,
        "the echo through split halves differs"
    );
    assert_eq!(server.await.unwrap(), expected.len());
}

/// As in tokio, dropping an `OwnedWriteHalf` shuts down the write direction
/// while the read half goes on working.
async fn tcp_dropping_owned_write_half_shuts_down_writes() {
    let (client, mut server) = tcp_pair().await;
    let (mut reader, mut writer) = client.into_split();
    writer.write_all(b"request").await.unwrap();
    drop(writer);
    let mut request = Vec::new();
    server.read_to_end(&mut request).await.unwrap();
    assert_eq!(request, b"request");
    server.write_all(b"reply").await.unwrap();
    drop(server);
    let mut reply = Vec::new();
    reader.read_to_end(&mut reply).await.unwrap();
    assert_eq!(reply, b"reply");
}

async fn tcp_ipv6_loopback_echo() {
    let listener = match TcpListener::bind("[::1]:0").await {
        Ok(listener) => listener,
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::AddrNotAvailable | io::ErrorKind::Unsupported
            ) =>
        {
            eprintln!("skipping: IPv6 loopback unavailable: {e}");
            return;
        }
        Err(e) => panic!("binding [::1]:0: {e:?}"),
    };
    let addr = listener.local_addr().unwrap();
    assert!(addr.is_ipv6() && addr.ip().is_loopback(), "{addr}");
    let server = zokio::spawn(async move {
        let (stream, peer) = listener.accept().await.unwrap();
        assert!(peer.is_ipv6(), "{peer}");
        echo(stream).await.unwrap()
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    assert_eq!(client.peer_addr().unwrap(), addr);
    check_echo(&mut client, &messages(5)).await;
    server.await.unwrap();
}

// ---------------------------------------------------------------------------
// UDP
// ---------------------------------------------------------------------------

/// Datagram sizes exchanged: an empty one, small ones, one near the Ethernet
/// payload size and two far beyond it (loopback carries up to 64 KiB).
const DATAGRAM_SIZES: [usize; 7] = [0, 1, 100, 1472, 8192, 30_000, 65_000];

async fn udp_unconnected_round_trips() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    assert_ne!(a_addr, b_addr);
    let mut buf = vec![0u8; 65_536];
    // One datagram in flight at a time, so none can be dropped for lack of
    // buffer space.
    for (i, size) in DATAGRAM_SIZES.into_iter().enumerate() {
        let ping = pseudo_random_bytes(50 + i as u64, size);
        assert_eq!(a.send_to(&ping, b_addr).await.unwrap(), size);
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(from, a_addr);
        assert_eq!(n, size);
        assert!(buf[..n] == ping[..], "datagram {i} a->b differs");

        let pong = pseudo_random_bytes(60 + i as u64, size);
        assert_eq!(b.send_to(&pong, from).await.unwrap(), size);
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(from, b_addr);
        assert_eq!(n, size);
        assert!(buf[..n] == pong[..], "datagram {i} b->a differs");
    }

    // Several queued at once (small, well within the receive buffer) arrive
    // whole and in order.
    for i in 0..16u8 {
        a.send_to(&[i; 33], b_addr).await.unwrap();
    }
    for i in 0..16u8 {
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((n, from), (33, a_addr));
        assert_eq!(buf[..n], [i; 33]);
    }

    // A receive started before the datagram is sent is woken by it.
    let receiving = zokio::spawn(async move {
        let mut buf = [0u8; 64];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        (buf[..n].to_vec(), from)
    });
    zokio::task::yield_now().await;
    a.send_to(b"late", b_addr).await.unwrap();
    assert_eq!(receiving.await.unwrap(), (b"late".to_vec(), a_addr));
}

async fn udp_connected_round_trips() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    a.connect(b_addr).await.unwrap();
    b.connect(a_addr).await.unwrap();
    assert_eq!(a.peer_addr().unwrap(), b_addr);
    assert_eq!(b.peer_addr().unwrap(), a_addr);
    let mut buf = vec![0u8; 65_536];
    for (i, size) in DATAGRAM_SIZES.into_iter().enumerate() {
        let ping = pseudo_random_bytes(70 + i as u64, size);
        assert_eq!(a.send(&ping).await.unwrap(), size);
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(n, size);
        assert!(buf[..n] == ping[..], "datagram {i} a->b differs");

        let pong = pseudo_random_bytes(80 + i as u64, size);
        assert_eq!(b.send(&pong).await.unwrap(), size);
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(n, size);
        assert!(buf[..n] == pong[..], "datagram {i} b->a differs");
    }
    // A connected socket's datagrams also come through recv_from on an
    // unconnected one, with the right source.
    let c = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let c_addr = c.local_addr().unwrap();
    let d = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    d.connect(c_addr).await.unwrap();
    d.send(b"to c").await.unwrap();
    let (n, from) = c.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"to c"[..], d.local_addr().unwrap()));
}

/// A connected UDP socket that sent to a closed port gets the ICMP error
/// once, as `ConnectionRefused`; after that it waits for datagrams again
/// (the error must not leave it looking ready forever) and receives them.
async fn udp_connected_to_a_closed_port() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let closed = {
        let gone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        gone.local_addr().unwrap()
    };
    socket.connect(closed).await.unwrap();
    socket.send(b"anyone there?").await.unwrap();
    let mut buf = [0u8; 64];
    match socket.recv(&mut buf).await {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e:?}"),
        Ok(n) => panic!("received {n} bytes from a closed port"),
    }
    if let Some(result) = poll_once(pin!(socket.recv(&mut buf))).await {
        panic!("a second recv completed with nothing sent: {result:?}");
    }
    // Someone now listens at that port and answers.
    let Ok(peer) = std::net::UdpSocket::bind(closed) else {
        eprintln!(
            "skipping the rest: port {} was taken meanwhile",
            closed.port()
        );
        return;
    };
    peer.send_to(b"here", socket.local_addr().unwrap()).unwrap();
    let n = socket.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"here");
}

/// `write_vectored` on every kind of stream writer (TCP and Unix streams,
/// borrowed and owned write halves): see `check_vectored_writes`.
async fn vectored_writes_deliver_every_slice_in_order() {
    let (client, server) = tcp_pair().await;
    small_send_buffer(&client);
    check_vectored_writes(client, server, 0).await;

    let (mut client, mut server) = tcp_pair().await;
    small_send_buffer(&client);
    let (_, writer): (ReadHalf<'_>, WriteHalf<'_>) = client.split();
    let (reader, _) = server.split();
    check_vectored_writes(writer, reader, 1).await;

    let (client, server) = tcp_pair().await;
    small_send_buffer(&client);
    let (_reader, writer) = client.into_split();
    let (reader, _writer) = server.into_split();
    check_vectored_writes(writer, reader, 2).await;

    let (a, b) = UnixStream::pair().unwrap();
    small_send_buffer(&a);
    check_vectored_writes(a, b, 3).await;

    let (a, b) = UnixStream::pair().unwrap();
    small_send_buffer(&a);
    let (_reader, writer) = a.into_split();
    check_vectored_writes(writer, b, 4).await;
}

/// Fixes the socket's send buffer at 64 KiB. Left to autotuning, a
/// loopback TCP send buffer grows to `tcp_wmem`'s maximum (4 MiB here)
/// within one large write, so "more than the buffers hold" would need a
/// write far larger than the test's; a fixed size makes the partial write
/// certain.
fn small_send_buffer(socket: &impl std::os::fd::AsFd) {
    socket2::SockRef::from(socket)
        .set_send_buffer_size(64 * 1024)
        .expect("setting SO_SNDBUF");
}

/// A vectored write of a few small slices (some empty) delivers all of them,
/// in order, and counts them all; one of only empty slices writes nothing.
/// A vectored write larger than the socket buffers (which no reader drains
/// yet) is accepted in part, and the count it returns is the right one: the
/// loop that writes the rest from there (while the reader drains) delivers
/// exactly the concatenation, checked by length and checksum.
async fn check_vectored_writes<W, R>(mut writer: W, mut reader: R, tag: u64)
where
    W: AsyncWrite + Unpin,
    R: AsyncRead + Unpin,
{
    assert!(writer.is_write_vectored());

    let small: [&[u8]; 7] = [b"", b"alpha", b"", b"be", b"", b"gamma-delta", b""];
    let expected = small.concat();
    let n = writer
        .write_vectored(&small.map(io::IoSlice::new))
        .await
        .expect("a small vectored write");
    assert_eq!(n, expected.len(), "a small vectored write is taken whole");
    let mut back = vec![0u8; n];
    reader.read_exact(&mut back).await.unwrap();
    assert_eq!(back, expected);

    let empty = [io::IoSlice::new(b""), io::IoSlice::new(b"")];
    assert_eq!(writer.write_vectored(&empty).await.unwrap(), 0);

    // 4 MiB and a little, in slices of assorted sizes (several above 64 KiB,
    // one empty): far more than loopback socket buffers hold.
    const SIZES: [usize; 9] = [
        1, 70_000, 0, 1_000_000, 13, 65_536, 2_000_000, 300_000, 1_000_003,
    ];
    let parts: Vec<Vec<u8>> = SIZES
        .iter()
        .enumerate()
        .map(|(i, &len)| pseudo_random_bytes(tag << 8 | i as u64, len))
        .collect();
    let total: usize = SIZES.iter().sum();
    let hash = parts.iter().fold(FNV_OFFSET, |h, p| fnv1a(h, p));
    let mut slices: Vec<io::IoSlice<'_>> = parts.iter().map(|p| io::IoSlice::new(p)).collect();
    let first = writer
        .write_vectored(&slices)
        .await
        .expect("a large vectored write");
    assert!(
        first > 0 && first < total,
        "a vectored write of {total} bytes with nobody reading took {first}"
    );
    let writing = async {
        let mut rest = &mut slices[..];
        io::IoSlice::advance_slices(&mut rest, first);
        let mut written = first;
        while !rest.is_empty() {
            let n = writer.write_vectored(rest).await?;
            assert!(
                n > 0,
                "a vectored write of {} slices took nothing",
                rest.len()
            );
            written += n;
            io::IoSlice::advance_slices(&mut rest, n);
        }
        writer.shutdown().await?;
        io::Result::Ok(written)
    };
    let (written, received) = join2(writing, read_and_hash(&mut reader)).await;
    assert_eq!(written.expect("writing the rest"), total);
    assert_eq!(
        received.expect("reading"),
        (total, hash),
        "the bytes received differ from the slices written"
    );
}

/// A vectored write that finds the socket buffer full waits (on io_uring up
/// to 64 KiB of its bytes are copied and handed to the ring). Polled again
/// once the peer has drained the buffer, with the same bytes (here sliced
/// differently), it returns the count of that one write, and exactly those
/// bytes arrive, once.
async fn vectored_write_that_waits_completes_when_polled_again() {
    // A Unix stream: its buffer space is freed only by the peer's reads, so
    // "full" stays full until the test reads.
    let (mut client, mut server) = UnixStream::pair().unwrap();
    let filler = vec![0xEEu8; 64 * 1024];
    let mut filled = 0;
    loop {
        // SAFETY: the descriptor is open (borrowed from a live stream), and
        // `filler` is valid for `filler.len()` bytes of reads.
        let n = unsafe {
            libc::send(
                client.as_raw_fd(),
                filler.as_ptr().cast(),
                filler.len(),
                libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
            )
        };
        if n < 0 {
            let error = io::Error::last_os_error();
            assert_eq!(error.kind(), io::ErrorKind::WouldBlock, "{error}");
            break;
        }
        filled += n as usize;
    }

    let parts = [
        pseudo_random_bytes(1, 40_000),
        Vec::new(),
        pseudo_random_bytes(2, 50_000),
        pseudo_random_bytes(3, 30_000),
    ];
    let slices = parts.each_ref().map(|p| io::IoSlice::new(p));
    {
        let write = pin!(client.write_vectored(&slices));
        assert!(
            poll_once(write).await.is_none(),
            "a vectored write to a full socket waits"
        );
    }

    let mut drained = vec![0u8; filled];
    server.read_exact(&mut drained).await.unwrap();
    assert!(drained.iter().all(|&b| b == 0xEE));

    let concat = parts.concat();
    let n = client
        .write_vectored(&[io::IoSlice::new(&concat)])
        .await
        .expect("the vectored write polled again");
    assert!(n > 0 && n <= concat.len(), "{n}");
    client.shutdown().await.unwrap();
    let mut received = Vec::new();
    server.read_to_end(&mut received).await.unwrap();
    assert_eq!(received.len(), n, "the bytes of one write, once");
    assert!(received == concat[..n], "the bytes received differ");
}

// ---------------------------------------------------------------------------
// Unix sockets
// ---------------------------------------------------------------------------

async fn unix_stream_echo_through_listener() {
    let dir = TempDir::new("stream");
    let path = dir.join("echo.sock");
    let listener = UnixListener::bind(&path).unwrap();
    let server = zokio::spawn(async move {
        let mut handled = 0;
        for _ in 0..2 {
            let (stream, peer) = listener.accept().await.unwrap();
            // The connecting sockets are unbound, so have no path.
            assert_eq!(peer.as_pathname(), None);
            handled += echo(stream).await.unwrap();
        }
        handled
    });
    let mut sent = 0;
    for tag in 6..8 {
        let mut client = UnixStream::connect(&path).await.unwrap();
        let messages = messages(tag);
        check_echo(&mut client, &messages).await;
        sent += messages.iter().map(Vec::len).sum::<usize>();
    }
    assert_eq!(server.await.unwrap(), sent);
    drop(dir);
}

async fn unix_stream_pair() {
    let (a, b) = UnixStream::pair().unwrap();
    let server = zokio::spawn(echo(b));
    let mut a = a;
    let messages = messages(8);
    check_echo(&mut a, &messages).await;
    assert_eq!(
        server.await.unwrap().unwrap(),
        messages.iter().map(Vec::len).sum::<usize>()
    );
}

async fn unix_datagram_pair() {
    let (a, b) = UnixDatagram::pair().unwrap();
    let mut buf = vec![0u8; 70_000];
    for (i, size) in [0usize, 1, 100, 4096, 60_000].into_iter().enumerate() {
        let ping = pseudo_random_bytes(90 + i as u64, size);
        assert_eq!(a.send(&ping).await.unwrap(), size);
        let n = b.recv(&mut buf).await.unwrap();
        assert_eq!(n, size);
        assert!(buf[..n] == ping[..], "datagram {i} a->b differs");
        let pong = pseudo_random_bytes(100 + i as u64, size);
        assert_eq!(b.send(&pong).await.unwrap(), size);
        let n = a.recv(&mut buf).await.unwrap();
        assert_eq!(n, size);
        assert!(buf[..n] == pong[..], "datagram {i} b->a differs");
    }
}

async fn unix_datagram_bound_send_to_recv_from() {
    let dir = TempDir::new("dgram");
    let (a_path, b_path) = (dir.join("a.sock"), dir.join("b.sock"));
    let a = UnixDatagram::bind(&a_path).unwrap();
    let b = UnixDatagram::bind(&b_path).unwrap();
    let mut buf = vec![0u8; 8192];
    for i in 0..8u64 {
        let ping = pseudo_random_bytes(110 + i, 1 + i as usize * 500);
        assert_eq!(a.send_to(&ping, &b_path).await.unwrap(), ping.len());
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(from.as_pathname(), Some(a_path.as_path()));
        assert!(buf[..n] == ping[..], "datagram {i} a->b differs");

        let pong = pseudo_random_bytes(120 + i, 1 + i as usize * 300);
        let reply_to: &Path = from.as_pathname().unwrap();
        assert_eq!(b.send_to(&pong, reply_to).await.unwrap(), pong.len());
        let (n, from) = a.recv_from(&mut buf).await.unwrap();
        assert_eq!(from.as_pathname(), Some(b_path.as_path()));
        assert!(buf[..n] == pong[..], "datagram {i} b->a differs");
    }
    drop((a, b, dir));
}

async fn unix_datagram_unbound_and_connected() {
    let dir = TempDir::new("dgram-unbound");
    let path = dir.join("server.sock");
    let server = UnixDatagram::bind(&path).unwrap();
    let mut buf = [0u8; 64];

    // An unbound sender has no path to report.
    let unbound = UnixDatagram::unbound().unwrap();
    unbound.send_to(b"from unbound", &path).await.unwrap();
    let (n, from) = server.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"from unbound");
    assert_eq!(from.as_pathname(), None);

    // A connected one sends with plain send.
    let connected = UnixDatagram::unbound().unwrap();
    connected.connect(&path).unwrap();
    for i in 0..4u8 {
        connected.send(&[i; 10]).await.unwrap();
    }
    for i in 0..4u8 {
        let n = server.recv(&mut buf).await.unwrap();
        assert_eq!(buf[..n], [i; 10]);
    }

    // A receive pending before the send is woken by it.
    let receiving = zokio::spawn(async move {
        let mut buf = [0u8; 64];
        let (n, from) = server.recv_from(&mut buf).await.unwrap();
        (buf[..n].to_vec(), from.as_pathname().map(Path::to_path_buf))
    });
    zokio::task::yield_now().await;
    connected.send(b"late").await.unwrap();
    assert_eq!(receiving.await.unwrap(), (b"late".to_vec(), None));
    drop(dir);
}

/// A non-blocking std socket pair, for `AsyncFd`.
fn nonblocking_pair() -> (
    std::os::unix::net::UnixStream,
    std::os::unix::net::UnixStream,
) {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// Reads into `buf` through `fd`'s readiness, waiting as long as it takes.
async fn async_fd_read(
    fd: &zokio::io::unix::AsyncFd<std::os::unix::net::UnixStream>,
    buf: &mut [u8],
) -> usize {
    use std::io::Read;
    loop {
        let mut guard = fd.readable().await.unwrap();
        if let Ok(result) = guard.try_io(|fd| fd.get_ref().read(buf)) {
            return result.unwrap();
        }
    }
}

/// Reads everything the peer sends with `readable` + `try_read` (small
/// reads, so bytes received ahead wait between calls), until end of stream.
async fn read_with_try_read(stream: &TcpStream, chunk: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        stream.readable().await.expect("readable");
        match stream.try_read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("try_read failed: {e}"),
        }
    }
}

/// `try_read` before anything was sent says `WouldBlock` (and takes
/// nothing); after `readable`, it returns the bytes, in order, through end
/// of stream; the `AsyncRead` path and `try_read` interleave without
/// losing or reordering a byte.
async fn readable_then_try_read_gets_every_byte_in_order() {
    let (mut client, server) = tcp_pair().await;
    let mut buf = [0u8; 16];
    let e = server.try_read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::WouldBlock, "nothing was sent yet");

    let data = pseudo_random_bytes(11, 200_000);
    let writer = {
        let data = data.clone();
        zokio::spawn(async move {
            client.write_all(&data).await.unwrap();
            client.shutdown().await.unwrap();
            client
        })
    };
    // A few bytes through `try_read`, the next through `AsyncRead`, the rest
    // through `try_read` again.
    let mut server = server;
    let mut head = Vec::new();
    while head.len() < 10 {
        server.readable().await.unwrap();
        match server.try_read(&mut buf[..3]) {
            Ok(n) => head.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("try_read failed: {e}"),
        }
    }
    let mut middle = vec![0u8; 1000];
    server.read_exact(&mut middle).await.unwrap();
    let tail = read_with_try_read(&server, 777).await;
    let mut got = head;
    got.extend_from_slice(&middle);
    got.extend_from_slice(&tail);
    assert_eq!(got.len(), data.len(), "bytes lost or invented");
    assert!(got == data, "bytes reordered or corrupted");
    // End of stream stays readable, and `try_read` keeps saying 0.
    server.readable().await.unwrap();
    assert_eq!(server.try_read(&mut buf).unwrap(), 0);
    drop(writer.await.unwrap());
}

/// `peek` returns bytes without taking them: the next read (or peek) sees
/// them again; at end of stream it returns 0.
async fn peek_leaves_the_bytes_for_the_next_read() {
    let (mut client, mut server) = tcp_pair().await;
    client.write_all(b"hello, peek").await.unwrap();
    let mut buf = [0u8; 5];
    let n = server.peek(&mut buf).await.unwrap();
    assert!(
        n > 0 && b"hello, peek".starts_with(&buf[..n]),
        "{:?}",
        &buf[..n]
    );
    let mut again = [0u8; 5];
    let m = server.peek(&mut again).await.unwrap();
    assert_eq!(
        &again[..m.min(n)],
        &buf[..m.min(n)],
        "a second peek saw other bytes"
    );
    let mut all = [0u8; 11];
    server.read_exact(&mut all).await.unwrap();
    assert_eq!(&all, b"hello, peek", "the peeked bytes were taken");
    // A peek that has to wait for the bytes.
    let peeker = zokio::spawn(async move {
        let mut buf = [0u8; 4];
        let n = server.peek(&mut buf).await.unwrap();
        (server, buf, n)
    });
    client.write_all(b"more").await.unwrap();
    let (mut server, buf, n) = peeker.await.unwrap();
    assert!(n > 0 && b"more".starts_with(&buf[..n]));
    let mut more = [0u8; 4];
    server.read_exact(&mut more).await.unwrap();
    assert_eq!(&more, b"more");
    drop(client);
    assert_eq!(
        server.peek(&mut [0u8; 4]).await.unwrap(),
        0,
        "end of stream"
    );
    assert_eq!(server.read(&mut [0u8; 4]).await.unwrap(), 0);
}

/// Calls `try_write` with 64 KiB chunks (from `seed`) until the socket
/// buffers are full (the peer is not reading) and it says `WouldBlock`;
/// returns the bytes it accepted.
fn fill_with_try_write(try_write: impl Fn(&[u8]) -> io::Result<usize>, seed: u64) -> Vec<u8> {
    let chunk = pseudo_random_bytes(seed, 64 * 1024);
    let mut sent = Vec::new();
    // Loopback buffers hold a few MiB; the bound keeps a broken
    // `WouldBlock` from looping for ever.
    for _ in 0..4096 {
        match try_write(&chunk) {
            Ok(n) => sent.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return sent,
            Err(e) => panic!("try_write failed: {e}"),
        }
    }
    panic!("try_write never said WouldBlock with a peer not reading");
}

/// `try_write` with a peer that does not read fills the socket buffers
/// until it says `WouldBlock`; `writable` then waits until the peer reads,
/// and every byte `try_write` accepted arrives, once, in order.
async fn try_write_fills_the_socket_and_writable_waits_for_room() {
    let (client, mut server) = tcp_pair().await;
    let mut sent = fill_with_try_write(|b| client.try_write(b), 12);
    let reader = zokio::spawn(async move {
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        got
    });
    // Room again once the peer reads: write a last chunk through
    // `writable` + `try_write`.
    let last = pseudo_random_bytes(13, 1000);
    let mut at = 0;
    while at < last.len() {
        client.writable().await.unwrap();
        match client.try_write(&last[at..]) {
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("try_write failed: {e}"),
        }
    }
    sent.extend_from_slice(&last);
    drop(client);
    let got = reader.await.unwrap();
    assert_eq!(got.len(), sent.len(), "bytes lost or duplicated");
    assert!(got == sent, "bytes reordered or corrupted");
}

/// Receives one datagram through `readable` + `try_recv_from`.
async fn try_recv_one(socket: &UdpSocket) -> (Vec<u8>, SocketAddr) {
    let mut buf = [0u8; 64];
    let (n, from) = try_until(|| socket.readable(), || socket.try_recv_from(&mut buf)).await;
    (buf[..n].to_vec(), from)
}

/// UDP's readiness calls: `try_recv_from` with nothing sent says
/// `WouldBlock`; `writable` + `try_send_to` and `readable` +
/// `try_recv_from` move datagrams, with their sender; on connected sockets
/// `try_send` and `try_recv`; and a datagram that `readable` brought in is
/// the one the next async `recv` returns, in order with the rest.
async fn udp_readable_then_try_recv_and_try_send() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let mut buf = [0u8; 64];
    assert_eq!(
        b.try_recv_from(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock,
        "nothing was sent yet"
    );
    a.writable().await.unwrap();
    assert_eq!(a.try_send_to(b"one", b_addr).unwrap(), 3);
    assert_eq!(try_recv_one(&b).await, (b"one".to_vec(), a_addr));

    a.connect(b_addr).await.unwrap();
    b.connect(a_addr).await.unwrap();
    for word in [&b"two"[..], b"three", b"four"] {
        a.writable().await.unwrap();
        assert_eq!(a.try_send(word).unwrap(), word.len());
    }
    let mut got = Vec::new();
    while got.is_empty() {
        b.readable().await.unwrap();
        match b.try_recv(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("try_recv failed: {e}"),
        }
    }
    assert_eq!(got, b"two");
    // `readable` may bring "three" in; the async `recv` must return it
    // before "four".
    b.readable().await.unwrap();
    let n = b.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"three");
    assert_eq!(try_recv_one(&b).await, (b"four".to_vec(), a_addr));
}

/// The datagram readiness calls on Unix datagram sockets: a pair
/// (`try_send`, `try_recv`) and a bound socket (`try_send_to`,
/// `try_recv_from` with the sender's path).
async fn unix_datagram_readable_then_try_recv_and_try_send() {
    let (a, b) = UnixDatagram::pair().unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        b.try_recv(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    a.writable().await.unwrap();
    assert_eq!(a.try_send(b"pair").unwrap(), 4);
    loop {
        b.readable().await.unwrap();
        match b.try_recv(&mut buf) {
            Ok(n) => {
                assert_eq!(&buf[..n], b"pair");
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("try_recv failed: {e}"),
        }
    }

    let dir = TempDir::new("dgram-ready");
    let (rx_path, tx_path) = (dir.join("rx.sock"), dir.join("tx.sock"));
    let rx = UnixDatagram::bind(&rx_path).unwrap();
    let tx = UnixDatagram::bind(&tx_path).unwrap();
    tx.writable().await.unwrap();
    assert_eq!(tx.try_send_to(b"bound", &rx_path).unwrap(), 5);
    loop {
        rx.readable().await.unwrap();
        match rx.try_recv_from(&mut buf) {
            Ok((n, from)) => {
                assert_eq!(&buf[..n], b"bound");
                assert_eq!(from.as_pathname(), Some(tx_path.as_path()));
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("try_recv_from failed: {e}"),
        }
    }
}

/// Several tasks waiting in `readable` on one stream are all woken by the
/// bytes that arrive (each registers, then says so, before any byte is
/// sent); on mio this hangs if the stream keeps only one waiter.
async fn readable_wakes_every_task_waiting_for_it() {
    const WAITERS: usize = 3;
    let (mut client, server) = tcp_pair().await;
    let server = Arc::new(server);
    let (waiting_tx, mut waiting_rx) = zokio::sync::mpsc::unbounded_channel();
    let mut tasks = Vec::new();
    for _ in 0..WAITERS {
        let (server, waiting_tx) = (server.clone(), waiting_tx.clone());
        tasks.push(zokio::spawn(async move {
            let mut told = false;
            poll_fn(|cx| {
                let poll = server.poll_read_ready(cx);
                if poll.is_pending() && !told {
                    told = true;
                    waiting_tx.send(()).unwrap();
                }
                poll
            })
            .await
            .unwrap();
        }));
    }
    for _ in 0..WAITERS {
        waiting_rx.recv().await.unwrap();
    }
    client.write_all(b"wake all").await.unwrap();
    for task in tasks {
        task.await.unwrap();
    }
    let mut buf = [0u8; 8];
    let mut server = Arc::try_unwrap(server).unwrap();
    server.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"wake all");
}

/// A `write` that returned `Pending` (the socket buffer full) and was
/// abandoned, then `writable` + `try_write` of the same bytes: the peer
/// gets them once. On io_uring the abandoned write's bytes were already
/// handed to the kernel, so `try_write` must report them, not resend them.
async fn try_write_after_a_pending_write_sends_the_bytes_once() {
    // A Unix stream: its buffer space is freed only by the peer's reads, so
    // "full" stays full until the reader starts (a TCP socket can gain room
    // from a late acknowledgement).
    let (client, mut server) = UnixStream::pair().unwrap();
    let mut sent = fill_with_try_write(|b| client.try_write(b), 14);
    let chunk = pseudo_random_bytes(15, 48 * 1024);
    let mut client = client;
    // Polled once, then dropped at the end of the block.
    let first = {
        let mut write = pin!(client.write(&chunk));
        poll_fn(|cx| Poll::Ready(write.as_mut().poll(cx))).await
    };
    assert!(first.is_pending(), "a write to a full socket did not wait");
    let reader = zokio::spawn(async move {
        let mut got = Vec::new();
        server.read_to_end(&mut got).await.unwrap();
        got
    });
    loop {
        client.writable().await.unwrap();
        match client.try_write(&chunk) {
            Ok(n) => {
                sent.extend_from_slice(&chunk[..n]);
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("try_write failed: {e}"),
        }
    }
    drop(client);
    let got = reader.await.unwrap();
    assert_eq!(got.len(), sent.len(), "bytes sent twice or lost");
    assert!(got == sent, "bytes reordered or corrupted");
}

/// `ready(interest)` on a stream and a UDP socket: a fresh connection is
/// writable (also when asked for either direction, with nothing to read);
/// asked for reading, it returns once bytes arrive, and `try_read` then
/// gets them.
async fn ready_reports_the_directions_asked_for() {
    let (mut client, server) = tcp_pair().await;
    assert!(
        server
            .ready(Interest::WRITABLE)
            .await
            .unwrap()
            .is_writable()
    );
    let either = server
        .ready(Interest::READABLE | Interest::WRITABLE)
        .await
        .unwrap();
    assert!(either.is_writable(), "{either:?}");
    client.write_all(b"ready").await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 8];
    while got.len() < 5 {
        let ready = server.ready(Interest::READABLE).await.unwrap();
        assert!(ready.is_readable(), "{ready:?}");
        match server.try_read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("try_read failed: {e}"),
        }
    }
    assert_eq!(got, b"ready");

    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    assert!(a.ready(Interest::WRITABLE).await.unwrap().is_writable());
    a.try_send_to(b"dgram", b.local_addr().unwrap()).unwrap();
    loop {
        let ready = b.ready(Interest::READABLE).await.unwrap();
        assert!(ready.is_readable(), "{ready:?}");
        match b.try_recv_from(&mut buf) {
            Ok((n, from)) => {
                assert_eq!((&buf[..n], from), (&b"dgram"[..], a.local_addr().unwrap()));
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("try_recv_from failed: {e}"),
        }
    }
}

/// `TcpSocket`: options set before `listen`/`connect` hold on the result
/// (`SO_REUSEPORT` lets a second listener bind the same port, which fails
/// without it; a bound client connects from its address); a connect to a
/// closed port is refused.
async fn tcp_socket_sets_options_then_listens_and_connects() {
    let first = TcpSocket::new_v4().unwrap();
    first.set_reuseaddr(true).unwrap();
    first.set_reuseport(true).unwrap();
    assert!(first.reuseaddr().unwrap() && first.reuseport().unwrap());
    first.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = first.local_addr().unwrap();
    let listener = first.listen(16).unwrap();
    assert_eq!(listener.local_addr().unwrap(), addr);

    let second = TcpSocket::new_v4().unwrap();
    second.set_reuseport(true).unwrap();
    second
        .bind(addr)
        .expect("SO_REUSEPORT lets a second socket bind the port");
    let without = TcpSocket::new_v4().unwrap();
    let e = without.bind(addr).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::AddrInUse, "{e}");
    drop((second, without));

    let client = TcpSocket::new_v4().unwrap();
    client.set_nodelay(true).unwrap();
    client.set_send_buffer_size(64 * 1024).unwrap();
    assert!(client.send_buffer_size().unwrap() >= 64 * 1024);
    client.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let from = client.local_addr().unwrap();
    let mut stream = client.connect(addr).await.unwrap();
    assert!(stream.nodelay().unwrap(), "TCP_NODELAY set before connect");
    let (mut accepted, peer) = listener.accept().await.unwrap();
    assert_eq!(peer, from);
    assert_eq!(stream.local_addr().unwrap(), from);
    stream.write_all(b"configured").await.unwrap();
    let mut buf = [0u8; 10];
    accepted.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"configured");

    // A port bound but not listening (kept bound, so no other test can
    // take it meanwhile) refuses connections.
    let bound = TcpSocket::new_v4().unwrap();
    bound.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let closed = bound.local_addr().unwrap();
    let e = TcpSocket::new_v4()
        .unwrap()
        .connect(closed)
        .await
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused, "{e}");
    drop(bound);
}

/// `lookup_host`: a literal address comes back as it is; `localhost`
/// resolves (on the blocking pool) to loopback addresses with the port.
async fn lookup_host_resolves_names_and_literals() {
    let literal: Vec<SocketAddr> = zokio::net::lookup_host("127.0.0.1:4242")
        .await
        .unwrap()
        .collect();
    assert_eq!(literal, ["127.0.0.1:4242".parse::<SocketAddr>().unwrap()]);
    let named: Vec<SocketAddr> = zokio::net::lookup_host(("localhost", 4243))
        .await
        .unwrap()
        .collect();
    assert!(!named.is_empty());
    assert!(
        named
            .iter()
            .all(|a| a.ip().is_loopback() && a.port() == 4243),
        "{named:?}"
    );
}

/// `peek_from` and `peek_sender` return the next datagram and its sender
/// without taking it: the receives that follow get every datagram once, in
/// order (also through `readable` + `try_recv_from`); a peek waits for a
/// datagram; on Unix datagram sockets too.
async fn udp_peek_from_leaves_the_datagram_for_the_next_receive() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let peeker = {
        let b = b.clone();
        zokio::spawn(async move {
            let mut buf = [0u8; 16];
            let (n, from) = b.peek_from(&mut buf).await.unwrap();
            (buf[..n].to_vec(), from)
        })
    };
    zokio::task::yield_now().await;
    for word in [&b"first"[..], b"second", b"third"] {
        a.send_to(word, b_addr).await.unwrap();
    }
    assert_eq!(peeker.await.unwrap(), (b"first".to_vec(), a_addr));
    assert_eq!(b.peek_sender().await.unwrap(), a_addr);
    let mut buf = [0u8; 16];
    let (n, _) = b.peek_from(&mut buf[..3]).await.unwrap();
    assert_eq!(
        &buf[..n],
        b"fir",
        "a short buffer gets the datagram's start"
    );
    let (n, from) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"first"[..], a_addr));
    let (n, _) = b.peek_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"second");
    assert_eq!(try_recv_one(&b).await, (b"second".to_vec(), a_addr));
    let (n, _) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"third");

    let (c, d) = UnixDatagram::pair().unwrap();
    c.send(b"unix").await.unwrap();
    let (n, _) = d.peek_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"unix");
    let n = d.recv(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"unix");
}

/// The same methods on Unix streams and on owned and borrowed halves.
async fn readiness_on_unix_streams_and_owned_halves() {
    let (a, b) = UnixStream::pair().unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(
        b.try_read(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    a.writable().await.unwrap();
    assert_eq!(a.try_write(b"unix").unwrap(), 4);
    assert_eq!(b.peek(&mut buf).await.unwrap(), 4);
    b.readable().await.unwrap();
    assert_eq!(b.try_read(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"unix");

    let (client, server) = tcp_pair().await;
    let (read_half, _keep) = server.into_split();
    let (_keep_read, write_half) = client.into_split();
    write_half.writable().await.unwrap();
    let mut at = 0;
    while at < 5 {
        match write_half.try_write(&b"halves"[at..5]) {
            Ok(n) => at += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => write_half.writable().await.unwrap(),
            Err(e) => panic!("try_write failed: {e}"),
        }
    }
    let mut got = Vec::new();
    while got.len() < 5 {
        assert!(read_half.peek(&mut buf).await.unwrap() > 0);
        read_half.readable().await.unwrap();
        match read_half.try_read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("try_read failed: {e}"),
        }
    }
    assert_eq!(got, b"halve");

    // Borrowed halves.
    let (mut c, mut d) = UnixStream::pair().unwrap();
    let (_c_read, c_write) = c.split();
    let (d_read, _d_write) = d.split();
    c_write.writable().await.unwrap();
    assert_eq!(c_write.try_write(b"split").unwrap(), 5);
    let n = d_read.peek(&mut buf).await.unwrap();
    assert!(n > 0 && b"split".starts_with(&buf[..n]));
    let mut got = Vec::new();
    while got.len() < 5 {
        d_read.readable().await.unwrap();
        match d_read.try_read(&mut buf) {
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("try_read failed: {e}"),
        }
    }
    assert_eq!(got, b"split");
}

/// `AsyncFd::ready` with an `Interest` says what it saw; `async_io`
/// retries its call through `WouldBlock` until the peer writes;
/// `async_io_mut` lends the value mutably.
async fn async_fd_ready_with_an_interest_and_async_io() {
    use std::io::{Read, Write};
    use zokio::io::unix::AsyncFd;
    let (a, b) = nonblocking_pair();
    let mut a = AsyncFd::new(a).unwrap();
    let b = Arc::new(AsyncFd::new(b).unwrap());

    let guard = a
        .ready(Interest::READABLE | Interest::WRITABLE)
        .await
        .unwrap();
    assert!(guard.ready().is_writable(), "{:?}", guard.ready());
    drop(guard);

    // `async_io` starts before there is anything to read: its first call
    // says `WouldBlock`, and it waits.
    let writer = {
        let b = b.clone();
        zokio::spawn(async move {
            zokio::task::yield_now().await;
            b.get_ref().write_all(b"via async_io").unwrap();
        })
    };
    let mut buf = [0u8; 32];
    let n = a
        .async_io(Interest::READABLE, |s| {
            let mut s = s;
            s.read(&mut buf)
        })
        .await
        .unwrap();
    assert_eq!(&buf[..n], b"via async_io");
    writer.await.unwrap();

    let n = a
        .async_io_mut(Interest::WRITABLE, |s| s.write(b"back"))
        .await
        .unwrap();
    assert_eq!(n, 4);
    let mut guard = b.ready(Interest::READABLE).await.unwrap();
    assert!(guard.ready().is_readable(), "{:?}", guard.ready());
    let got = guard
        .try_io(|fd| {
            let mut s = fd.get_ref();
            s.read(&mut buf)
        })
        .expect("readable after the write")
        .unwrap();
    assert_eq!(&buf[..got], b"back");
}

/// `AsyncFd` on a descriptor zokio did not create: a read waits for the
/// peer's write, a write that fills the socket waits for the peer to read,
/// and `into_inner` hands back a descriptor that can be registered again.
async fn async_fd_reads_and_writes_a_foreign_socket() {
    use std::io::Write;
    use zokio::io::unix::AsyncFd;
    let (a, b) = nonblocking_pair();
    let a = Arc::new(AsyncFd::new(a).unwrap());
    let b = AsyncFd::new(b).unwrap();

    // The read starts before there is anything to read.
    let reader = {
        let a = a.clone();
        zokio::spawn(async move {
            let mut buf = [0u8; 16];
            let n = async_fd_read(&a, &mut buf).await;
            buf[..n].to_vec()
        })
    };
    zokio::task::yield_now().await;
    b.get_ref().write_all(b"hello").unwrap();
    assert_eq!(reader.await.unwrap(), b"hello");

    // Fill b's send buffer until the kernel says it would block.
    let chunk = vec![0x5Au8; 64 * 1024];
    let mut sent = 0usize;
    loop {
        let mut guard = b.writable().await.unwrap();
        match guard.try_io(|fd| fd.get_ref().write(&chunk)) {
            Ok(result) => sent += result.unwrap(),
            Err(_would_block) => break,
        }
    }
    assert!(sent > 0);
    // The next write waits until a reads: drain everything a task away.
    let drain = {
        let a = a.clone();
        zokio::spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut got = 0;
            while got < sent {
                got += async_fd_read(&a, &mut buf).await;
            }
            assert!(buf[..1].iter().all(|&x| x == 0x5A));
            got
        })
    };
    let mut guard = b.writable().await.unwrap();
    let n = loop {
        match guard.try_io(|fd| fd.get_ref().write(b"after")) {
            Ok(result) => break result.unwrap(),
            Err(_would_block) => guard = b.writable().await.unwrap(),
        }
    };
    assert_eq!(n, 5);
    assert_eq!(drain.await.unwrap(), sent);
    let mut buf = [0u8; 5];
    assert_eq!(async_fd_read(&a, &mut buf).await, 5);
    assert_eq!(&buf, b"after");

    // Handed back and registered again, the descriptor still works.
    let b = AsyncFd::new(b.into_inner()).unwrap();
    b.get_ref().write_all(b"again").unwrap();
    let mut buf = [0u8; 5];
    assert_eq!(async_fd_read(&a, &mut buf).await, 5);
    assert_eq!(&buf, b"again");
}

/// Several tasks waiting for the same `AsyncFd` are all woken by one event
/// (each keeps the readiness, so every one of them sees it).
async fn async_fd_wakes_every_task_waiting_for_it() {
    use std::io::Write;
    use zokio::io::unix::AsyncFd;
    const WAITERS: usize = 4;
    let (a, mut b) = nonblocking_pair();
    let a = Arc::new(AsyncFd::new(a).unwrap());
    // Make sure no readiness is recorded (io_uring assumes a new
    // descriptor ready until a call says otherwise; epoll knows it is not),
    // so every waiter below has to wait for the kernel.
    poll_fn(|cx| {
        if let Poll::Ready(guard) = a.poll_read_ready(cx) {
            let mut buf = [0u8; 1];
            let tried = guard.unwrap().try_io(|fd| fd.get_ref().read_with(&mut buf));
            assert!(tried.is_err(), "nothing was written yet");
        }
        Poll::Ready(())
    })
    .await;
    let started = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<_> = (0..WAITERS)
        .map(|_| {
            let (a, started) = (a.clone(), started.clone());
            zokio::spawn(async move {
                started.fetch_add(1, Ordering::SeqCst);
                let guard = a.readable().await.unwrap();
                drop(guard); // keeps the readiness for the others
            })
        })
        .collect();
    while started.load(Ordering::SeqCst) < WAITERS {
        zokio::task::yield_now().await;
    }
    zokio::task::yield_now().await;
    b.write_all(b"x").unwrap();
    for waiter in waiters {
        waiter.await.unwrap();
    }
}

/// Tasks dropped while they wait for an `AsyncFd`, and the `AsyncFd`s
/// themselves, leave nothing behind (the suite counts descriptors).
async fn async_fd_dropped_while_waiting() {
    use zokio::io::unix::AsyncFd;
    for _ in 0..200 {
        let (a, b) = nonblocking_pair();
        let a = Arc::new(AsyncFd::new(a).unwrap());
        let waiter = {
            let a = a.clone();
            zokio::spawn(async move {
                let mut buf = [0u8; 1];
                async_fd_read(&a, &mut buf).await
            })
        };
        zokio::task::yield_now().await;
        waiter.abort();
        assert!(waiter.await.unwrap_err().is_cancelled());
        drop(a);
        drop(b);
    }
}

/// `Read::read` on a shared reference (what `&UnixStream` implements).
trait ReadWith {
    fn read_with(&self, buf: &mut [u8]) -> io::Result<usize>;
}

impl ReadWith for std::os::unix::net::UnixStream {
    fn read_with(&self, buf: &mut [u8]) -> io::Result<usize> {
        std::io::Read::read(&mut &*self, buf)
    }
}

/// The buffer-taking and vectored non-blocking calls: a writer sends 100 KB
/// with `try_write_vectored` (three slices a call, short counts resumed
/// where they stopped); the reader takes it with `try_read_buf` (appending
/// to a `Vec`) and `try_read_vectored` (two small slices, filled in order)
/// in turn, through end of stream. Every byte arrives once, in order.
async fn try_read_buf_and_vectored_calls_move_every_byte_in_order() {
    let (client, server) = tcp_pair().await;
    let data = pseudo_random_bytes(23, 100_000);
    let writer = {
        let data = data.clone();
        zokio::spawn(async move {
            let mut at = 0;
            while at < data.len() {
                let rest = &data[at..];
                let (a, rest) = rest.split_at(rest.len().min(5));
                let (b, rest) = rest.split_at(rest.len().min(11));
                let c = &rest[..rest.len().min(1000)];
                let slices = [
                    io::IoSlice::new(a),
                    io::IoSlice::new(b),
                    io::IoSlice::new(c),
                ];
                match client.try_write_vectored(&slices) {
                    Ok(n) => {
                        assert!(n > 0 && n <= a.len() + b.len() + c.len(), "count {n}");
                        at += n;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        client.writable().await.unwrap();
                    }
                    Err(e) => panic!("try_write_vectored failed: {e}"),
                }
            }
            let mut client = client;
            client.shutdown().await.unwrap();
            client
        })
    };
    let mut got: Vec<u8> = Vec::with_capacity(64);
    let mut vectored = false;
    loop {
        server.readable().await.unwrap();
        let result = if vectored {
            let (mut x, mut y) = ([0u8; 7], [0u8; 13]);
            let mut slices = [io::IoSliceMut::new(&mut x), io::IoSliceMut::new(&mut y)];
            let result = server.try_read_vectored(&mut slices);
            if let Ok(n) = result {
                got.extend_from_slice(&x[..n.min(7)]);
                got.extend_from_slice(&y[..n.saturating_sub(7)]);
            }
            result
        } else {
            let before = got.len();
            if got.capacity() == got.len() {
                got.reserve(333);
            }
            let result = server.try_read_buf(&mut got);
            if let Ok(n) = result {
                assert_eq!(got.len(), before + n, "try_read_buf advances by its count");
            }
            result
        };
        match result {
            Ok(0) => break,
            Ok(_) => vectored = !vectored,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("read failed: {e}"),
        }
    }
    assert_eq!(got.len(), data.len(), "bytes lost or invented");
    assert!(got == data, "bytes reordered or corrupted");
    drop(writer.await.unwrap());
}

/// Waits with `ready` (`readable`) and takes with `take` (a `try_*` call)
/// until `take` finds something.
async fn try_until<T>(
    ready: impl AsyncFn() -> io::Result<()>,
    mut take: impl FnMut() -> io::Result<T>,
) -> T {
    loop {
        ready().await.expect("readable");
        match take() {
            Ok(v) => return v,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("receive failed: {e}"),
        }
    }
}

/// `recv_buf_from`, `recv_buf`, `try_recv_buf` and `try_recv_buf_from`
/// append each datagram to what the buffer already holds and return its
/// length (and sender); on UDP and on a Unix datagram pair. `poll_send_to`
/// sends to the address given.
async fn datagram_buf_receives_append_to_the_buffer() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let mut buf: Vec<u8> = Vec::with_capacity(64);
    poll_fn(|cx| a.poll_send_to(cx, b"one", b_addr))
        .await
        .unwrap();
    assert_eq!(b.recv_buf_from(&mut buf).await.unwrap(), (3, a_addr));
    a.connect(b_addr).await.unwrap();
    b.connect(a_addr).await.unwrap();
    a.send(b"two").await.unwrap();
    assert_eq!(b.recv_buf(&mut buf).await.unwrap(), 3);
    a.send(b"three").await.unwrap();
    let n = try_until(|| b.readable(), || b.try_recv_buf(&mut buf)).await;
    assert_eq!(n, 5);
    a.send(b"four").await.unwrap();
    let got = try_until(|| b.readable(), || b.try_recv_buf_from(&mut buf)).await;
    assert_eq!(got, (4, a_addr));
    assert_eq!(buf, b"onetwothreefour");

    let (x, y) = UnixDatagram::pair().unwrap();
    let mut buf = b"[".to_vec();
    x.send(b"unix").await.unwrap();
    assert_eq!(y.recv_buf(&mut buf).await.unwrap(), 4);
    x.send(b"pair").await.unwrap();
    let n = try_until(|| y.readable(), || y.try_recv_buf(&mut buf)).await;
    assert_eq!(n, 4);
    let (n, from) = {
        x.send(b"!").await.unwrap();
        y.recv_buf_from(&mut buf).await.unwrap()
    };
    assert_eq!(n, 1);
    assert!(from.is_unnamed(), "a pair's sockets have no address");
    assert_eq!(buf, b"[unixpair!");
}

/// A member of an IPv4 multicast group joined on the loopback interface
/// receives what is sent to the group (through loopback: the sender's
/// `IP_MULTICAST_IF` is 127.0.0.1); leaving the group a second time is an
/// error, as the first leave took effect. The loop and TTL options read
/// back what was set.
async fn udp_multicast_on_loopback_and_its_options() {
    use std::net::Ipv4Addr;
    let group = Ipv4Addr::new(239, 255, 77, 13);
    let member = UdpSocket::bind((group, 0)).await.unwrap();
    member
        .join_multicast_v4(group, Ipv4Addr::LOCALHOST)
        .unwrap();
    let port = member.local_addr().unwrap().port();

    let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket2::SockRef::from(&sender)
        .set_multicast_if_v4(&Ipv4Addr::LOCALHOST)
        .unwrap();
    assert!(sender.multicast_loop_v4().unwrap(), "on by default");
    sender.set_multicast_ttl_v4(3).unwrap();
    assert_eq!(sender.multicast_ttl_v4().unwrap(), 3);
    sender
        .send_to(b"to the group", (group, port))
        .await
        .unwrap();
    let mut buf = [0u8; 32];
    let (n, from) = member.recv_from(&mut buf).await.unwrap();
    assert_eq!(&buf[..n], b"to the group");
    assert_eq!(from, sender.local_addr().unwrap());

    sender.set_tos_v4(0x28).unwrap();
    assert_eq!(sender.tos_v4().unwrap(), 0x28);
    sender.set_multicast_loop_v4(false).unwrap();
    assert!(!sender.multicast_loop_v4().unwrap());
    member
        .leave_multicast_v4(group, Ipv4Addr::LOCALHOST)
        .unwrap();
    member
        .leave_multicast_v4(group, Ipv4Addr::LOCALHOST)
        .expect_err("the group was already left");
}

/// A send on a UDP socket connected to a port with no socket gets an ICMP
/// "port unreachable" back; `take_error` reports it as `ConnectionRefused`
/// once, then `None`. A connected TCP stream has no pending error.
async fn take_error_reports_a_refused_datagram_once() {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let closed = {
        let gone = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        gone.local_addr().unwrap()
    };
    socket.connect(closed).await.unwrap();
    socket.send(b"anyone?").await.unwrap();
    // The ICMP reply is processed by the kernel's network stack, possibly
    // after `send` returned: yield until it is there (bounded by the suite's
    // timeout).
    let error = loop {
        if let Some(e) = socket.take_error().unwrap() {
            break e;
        }
        zokio::task::yield_now().await;
    };
    assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused, "{error}");
    assert!(socket.take_error().unwrap().is_none(), "taken once");

    let (client, server) = tcp_pair().await;
    assert!(client.take_error().unwrap().is_none());
    assert!(server.take_error().unwrap().is_none());
}

/// `peer_cred` of a Unix stream pair names this process, user and group.
async fn unix_stream_peer_cred_names_this_process() {
    let (a, _b) = UnixStream::pair().unwrap();
    let cred = a.peer_cred().unwrap();
    // SAFETY: `getuid` and `getgid` cannot fail and touch no memory.
    let (uid, gid) = unsafe { (libc::getuid(), libc::getgid()) };
    assert_eq!((cred.uid(), cred.gid()), (uid, gid));
    assert_eq!(cred.pid(), Some(std::process::id() as libc::pid_t));
}

/// `try_peek_from` says `WouldBlock` with nothing sent; once a datagram is
/// there it returns it without taking it, as do `try_peek_sender` and
/// `poll_peek_sender`; the next receive takes it, and then there is
/// nothing to peek.
async fn udp_try_peek_from_leaves_the_datagram() {
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let a_addr = a.local_addr().unwrap();
    let mut buf = [0u8; 32];
    assert_eq!(
        b.try_peek_from(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
    a.send_to(b"peek me", b.local_addr().unwrap())
        .await
        .unwrap();
    let (n, from) = try_until(|| b.readable(), || b.try_peek_from(&mut buf)).await;
    assert_eq!((&buf[..n], from), (&b"peek me"[..], a_addr));
    assert_eq!(b.try_peek_sender().unwrap(), a_addr);
    assert_eq!(poll_fn(|cx| b.poll_peek_sender(cx)).await.unwrap(), a_addr);
    let mut small = [0u8; 4];
    assert_eq!(b.try_peek_from(&mut small).unwrap(), (4, a_addr));
    assert_eq!(&small, b"peek");
    let (n, from) = b.recv_from(&mut buf).await.unwrap();
    assert_eq!((&buf[..n], from), (&b"peek me"[..], a_addr));
    assert_eq!(
        b.try_peek_from(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock,
        "the receive took it"
    );
    // With no receive in flight (on io_uring the peek then asks the kernel
    // directly), polled until the datagram is there.
    a.send_to(b"second", b.local_addr().unwrap()).await.unwrap();
    let n = loop {
        match b.try_peek_from(&mut buf) {
            Ok((n, _)) => break n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => zokio::task::yield_now().await,
            Err(e) => panic!("try_peek_from failed: {e}"),
        }
    };
    assert_eq!(&buf[..n], b"second");
    assert_eq!(
        b.try_peek_from(&mut buf).unwrap(),
        (6, a_addr),
        "still there"
    );
    assert_eq!(b.try_recv_from(&mut buf).unwrap(), (6, a_addr));

    // The connected, address-less forms.
    b.connect(a_addr).await.unwrap();
    a.send_to(b"third", b.local_addr().unwrap()).await.unwrap();
    assert_eq!(b.peek(&mut buf).await.unwrap(), 5);
    assert_eq!(b.try_peek(&mut buf).unwrap(), 5);
    let mut read_buf = zokio::io::ReadBuf::new(&mut buf);
    poll_fn(|cx| b.poll_peek(cx, &mut read_buf)).await.unwrap();
    assert_eq!(read_buf.filled(), b"third");
    assert_eq!(b.recv(&mut buf).await.unwrap(), 5);
    assert_eq!(
        b.try_peek(&mut buf).unwrap_err().kind(),
        io::ErrorKind::WouldBlock
    );
}
