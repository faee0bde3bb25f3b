//! Fault injection (issue 8): user code that panics where the runtime calls
//! it (a task's destructor, its output's destructor, a waker the runtime
//! wakes), a `JoinHandle` awaited from another runtime, `block_on` called
//! from inside a runtime's task, and a peer that resets a connection while a
//! write is waiting. Each case runs on both flavors; the network cases on
//! both backends too. Panics inside tasks and inside `block_on` were already
//! covered by `runtime_basics.rs`, descriptor exhaustion on accept by
//! `accept_emfile.rs` and resets during reads by `net.rs`.

use std::future::{Future, pending, poll_fn};
use std::io::{self, Read};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread;

mod support;

use zokio::io::AsyncWrite;
use zokio::net::{TcpListener, TcpStream};

/// Panics when dropped.
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("PanicOnDrop dropped");
    }
}

/// Counts its drops.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A waker that panics when woken, and counts the attempts.
struct PanickingWaker(AtomicUsize);

impl Wake for PanickingWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
        panic!("PanickingWaker woken");
    }
}

/// The text of a panic payload.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("<not a string>")
}

/// The threads of this process whose name starts with `prefix`.
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("listing /proc/self/task")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("comm")).ok())
        .filter(|name| name.starts_with(prefix))
        .count()
}

/// Yields until `done` holds. A task that waits for another thread's effect
/// without a waker of its own; each turn lets the runtime run.
async fn until(done: impl Fn() -> bool) {
    while !done() {
        zokio::task::yield_now().await;
    }
}

macro_rules! flavor_suite {
    ($module:ident, $($config:tt)*) => {
        mod $module {
            use super::*;

            zokio::runtime! { Rt { $($config)* } }
            zokio::runtime! { Other { flavor = "current_thread" } }

            #[test]
            fn a_panic_in_a_completing_tasks_destructor_is_its_panic() {
                let rt = Rt::build().unwrap();
                let err = rt.block_on(async {
                    zokio::spawn(async {
                        let _guard = PanicOnDrop;
                        zokio::task::yield_now().await;
                    })
                    .await
                    .unwrap_err()
                });
                assert!(err.is_panic(), "{err}");
                assert_eq!(panic_text(&*err.into_panic()), "PanicOnDrop dropped");
                assert_eq!(rt.block_on(async { zokio::spawn(async { 3 }).await.unwrap() }), 3);
            }

            #[test]
            fn a_panic_dropping_a_future_that_returned_ready_is_contained() {
                // A hand-written future, dropped by the runtime after it
                // returned `Ready`: its field's destructor panics then. The
                // output still reaches the handle and the runtime goes on.
                struct ReadyThenPanicOnDrop(#[allow(dead_code)] PanicOnDrop);
                impl std::future::Future for ReadyThenPanicOnDrop {
                    type Output = u32;
                    fn poll(
                        self: std::pin::Pin<&mut Self>,
                        _cx: &mut std::task::Context<'_>,
                    ) -> std::task::Poll<u32> {
                        std::task::Poll::Ready(7)
                    }
                }
                let rt = Rt::build().unwrap();
                let got = rt.block_on(async {
                    zokio::spawn(ReadyThenPanicOnDrop(PanicOnDrop)).await
                });
                assert_eq!(got.unwrap(), 7);
                assert_eq!(rt.block_on(async { zokio::spawn(async { 8 }).await.unwrap() }), 8);
            }

            #[test]
            fn a_panic_in_an_aborted_tasks_destructor_is_contained() {
                let rt = Rt::build().unwrap();
                let err = rt.block_on(async {
                    let handle = zokio::spawn(async {
                        let _guard = PanicOnDrop;
                        pending::<()>().await;
                    });
                    zokio::task::yield_now().await;
                    handle.abort();
                    handle.await.unwrap_err()
                });
                // Cancelled (the abort) or the destructor's panic: either way
                // the handle reports it and the runtime goes on.
                assert!(err.is_cancelled() || err.is_panic(), "{err}");
                assert_eq!(rt.block_on(async { zokio::spawn(async { 4 }).await.unwrap() }), 4);
            }

            #[test]
            fn a_panic_in_a_destructor_at_shutdown_spares_the_other_tasks() {
                let drops = Arc::new(AtomicUsize::new(0));
                let rt = Rt::build().unwrap();
                for i in 0..20 {
                    let guard = DropCounter(drops.clone());
                    rt.spawn(async move {
                        let _guard = guard;
                        let _panics = (i % 4 == 0).then_some(PanicOnDrop);
                        pending::<()>().await;
                    });
                }
                rt.block_on(zokio::task::yield_now());
                // Dropping the runtime cancels every task; five destructors
                // panic, and that must neither escape nor skip the others.
                drop(rt);
                assert_eq!(drops.load(Ordering::SeqCst), 20);
            }

            #[test]
            fn a_panic_in_an_unread_outputs_destructor_is_contained() {
                let rt = Rt::build().unwrap();
                rt.block_on(async {
                    // The handle is dropped first: the task drops the output.
                    drop(zokio::spawn(async { PanicOnDrop }));
                    // The task finishes first: dropping the handle drops it.
                    let handle = zokio::spawn(async { PanicOnDrop });
                    until(|| handle.is_finished()).await;
                    drop(handle);
                });
                assert_eq!(rt.block_on(async { zokio::spawn(async { 5 }).await.unwrap() }), 5);
            }

            #[test]
            fn a_join_handle_awaited_from_another_runtime() {
                let rt = Rt::build().unwrap();
                let other = Other::build().unwrap();
                let (go, gate) = zokio::sync::oneshot::channel::<()>();
                let handle = rt.spawn(async move {
                    let _ = gate.await;
                    zokio::task::yield_now().await;
                    8
                });
                let (stop, stopped) = zokio::sync::oneshot::channel::<()>();
                let rt = Arc::new(rt);
                // A current_thread runtime only runs its tasks while some
                // thread is in its block_on.
                let driver = thread::spawn({
                    let rt = rt.clone();
                    move || rt.block_on(async { stopped.await.unwrap() })
                });
                let out = other.block_on(async move {
                    go.send(()).unwrap();
                    handle.await.unwrap()
                });
                assert_eq!(out, 8);
                // The other direction: a task of `other` awaited on `rt`.
                let handle = other.spawn(async { 9 });
                other.block_on(async { until(|| handle.is_finished()).await });
                let out = rt.handle().spawn(async move { handle.await.unwrap() });
                stop.send(()).unwrap();
                driver.join().unwrap();
                assert_eq!(rt.block_on(out).unwrap(), 9);
            }

            #[test]
            fn block_on_inside_a_task_is_refused_with_advice() {
                let rt = Rt::build().unwrap();
                let handle = rt.handle();
                let other = Other::build().unwrap();
                let other_handle = other.handle();
                let texts = rt.block_on(async move {
                    zokio::spawn(async move {
                        let mut texts = Vec::new();
                        let own = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            handle.block_on(async {})
                        }));
                        texts.push(panic_text(&*own.unwrap_err()).to_owned());
                        let foreign = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            other.block_on(async {})
                        }));
                        texts.push(panic_text(&*foreign.unwrap_err()).to_owned());
                        let foreign_handle =
                            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                other_handle.block_on(async {})
                            }));
                        texts.push(panic_text(&*foreign_handle.unwrap_err()).to_owned());
                        texts
                    })
                    .await
                    .unwrap()
                });
                for text in texts {
                    assert!(
                        text.contains("cannot block on a future from inside a zokio runtime")
                            && text.contains(".await"),
                        "{text}"
                    );
                }
            }
        }
    };
}

flavor_suite!(current_thread, flavor = "current_thread");
flavor_suite!(multi_thread, flavor = "multi_thread", workers = 2);

zokio::runtime! { JoinWakerCt { flavor = "current_thread" } }
zokio::runtime! { JoinWakerMt { flavor = "multi_thread", workers = 2 } }

/// Polls a `JoinHandle` with a waker that panics, lets the task complete
/// (its completion wakes that waker) and checks that the panic broke
/// nothing: the output is still there and the runtime still runs tasks.
fn join_waker_that_panics<S: zokio::Spec>(rt: &zokio::Runtime<S>) {
    let (go, gate) = zokio::sync::oneshot::channel::<()>();
    let mut handle = rt.spawn(async move {
        let _ = gate.await;
        6
    });
    let waker = Arc::new(PanickingWaker(AtomicUsize::new(0)));
    let bad = Waker::from(waker.clone());
    let first = Pin::new(&mut handle).poll(&mut Context::from_waker(&bad));
    assert!(first.is_pending());
    go.send(()).unwrap();
    let out = rt.block_on(async {
        until(|| handle.is_finished()).await;
        assert_eq!(zokio::spawn(async { 7 }).await.unwrap(), 7);
        handle.await
    });
    assert_eq!(out.unwrap(), 6);
    assert_eq!(waker.0.load(Ordering::SeqCst), 1);
}

#[test]
fn a_join_waker_that_panics_does_not_break_a_current_thread_runtime() {
    join_waker_that_panics(&JoinWakerCt::build().unwrap());
}

/// As above, and no worker thread dies of the panic (the bug this caught:
/// the worker that completed the task unwound and exited). The runtime has
/// a name of its own, so its workers can be counted while other tests run.
/// A worker still unwinding may not have left `/proc/self/task` yet, so this
/// can miss a death; the `current_thread` case above fails deterministically
/// on the same bug (the panic came out of `block_on`).
#[test]
fn a_join_waker_that_panics_does_not_kill_a_worker() {
    let rt = JoinWakerMt::build().unwrap();
    // Thread names are truncated to 15 bytes by the kernel.
    let prefix = "JoinWakerMt-wor";
    // Each worker names itself when it starts.
    while threads_named(prefix) < 2 {
        thread::yield_now();
    }
    join_waker_that_panics(&rt);
    assert_eq!(threads_named(prefix), 2, "a worker thread died");
}

/// A peer that accepts one connection, reads `first` bytes, signals, waits
/// for `go`, then resets the connection.
fn resetting_reader(first: usize) -> (std::net::SocketAddr, mpsc::Receiver<()>, mpsc::Sender<()>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (read_some, has_read) = mpsc::channel();
    let (go, reset) = mpsc::channel::<()>();
    thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut buf = vec![0; first];
        stream.read_exact(&mut buf).unwrap();
        let _ = read_some.send(());
        let _ = reset.recv();
        support::set_linger_zero(&stream);
        drop(stream);
    });
    (addr, has_read, go)
}

/// Writes until a write is pending (the socket's buffers are full), tells the
/// peer to reset, and then the pending write must end with an error, as must
/// every write after it; the process must not die of SIGPIPE.
async fn write_pending_when_the_peer_resets() {
    let (addr, has_read, go) = resetting_reader(1);
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let chunk = vec![7u8; 64 << 10];
    let mut first = true;
    let blocked = poll_fn(|cx| {
        loop {
            match Pin::new(&mut stream).poll_write(cx, &chunk) {
                Poll::Ready(Ok(_)) if first => {
                    first = false;
                    // The peer has our first byte before we go on.
                    has_read.recv().unwrap();
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return Poll::Ready(Ok(())),
            }
        }
    })
    .await;
    blocked.expect("writes before the reset");
    go.send(()).unwrap();
    let failed = poll_fn(|cx| Pin::new(&mut stream).poll_write(cx, &chunk)).await;
    let mut errors = vec![failed.expect_err("a write after the peer reset succeeded")];
    // Once the reset is seen, every write fails (EPIPE after ECONNRESET).
    for _ in 0..3 {
        let again = poll_fn(|cx| Pin::new(&mut stream).poll_write(cx, &chunk)).await;
        errors.push(again.expect_err("a write after a failed write succeeded"));
    }
    for err in &errors {
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "{err:?}"
        );
    }
}

/// Listener-side: a server task writing to a client that resets while the
/// server's write waits; the server task ends with an error and the listener
/// keeps accepting.
async fn server_write_when_the_client_resets() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    for _ in 0..3 {
        let client = std::net::TcpStream::connect(addr).unwrap();
        let (stream, _) = listener.accept().await.unwrap();
        let (blocked, is_blocked) = zokio::sync::oneshot::channel::<()>();
        let writer = zokio::spawn(async move {
            let mut stream = stream;
            let chunk = vec![1u8; 64 << 10];
            let mut blocked = Some(blocked);
            loop {
                let result = poll_fn(|cx| match Pin::new(&mut stream).poll_write(cx, &chunk) {
                    Poll::Pending => {
                        if let Some(blocked) = blocked.take() {
                            let _ = blocked.send(());
                        }
                        Poll::Pending
                    }
                    ready => ready,
                })
                .await;
                if let Err(err) = result {
                    return err;
                }
            }
        });
        is_blocked.await.unwrap();
        support::set_linger_zero(&client);
        drop(client);
        let err = writer.await.unwrap();
        assert!(
            matches!(
                err.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
            ),
            "{err:?}"
        );
    }
}

macro_rules! reset_suite {
    ($module:ident, $($config:tt)*) => {
        mod $module {
            zokio::runtime! { Rt { $($config)* } }

            #[test]
            fn a_pending_write_fails_when_the_peer_resets() {
                super::support::run_on::<Rt, _, _>(super::write_pending_when_the_peer_resets);
            }

            #[test]
            fn a_server_write_fails_when_the_client_resets() {
                super::support::run_on::<Rt, _, _>(super::server_write_when_the_client_resets);
            }
        }
    };
}

reset_suite!(
    reset_current_thread_mio,
    flavor = "current_thread",
    backend = "mio"
);
reset_suite!(
    reset_current_thread_io_uring,
    flavor = "current_thread",
    backend = "io_uring"
);
reset_suite!(
    reset_multi_thread_mio,
    flavor = "multi_thread",
    workers = 2,
    backend = "mio"
);
reset_suite!(
    reset_multi_thread_io_uring,
    flavor = "multi_thread",
    workers = 2,
    backend = "io_uring"
);
