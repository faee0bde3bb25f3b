//! `zokio::io::unix::AsyncFd` beyond `new` (which `tests/net.rs` covers),
//! on each backend and flavor: `with_interest` waits for the registered
//! directions and refuses the others with an error, `try_new` gives back a
//! value whose descriptor cannot be registered, `poll_read_ready_mut` and
//! `poll_write_ready_mut` drive a hand-written read and write, and the
//! guards' `clear_ready_matching` clears one direction and keeps the other.
//!
//! Everything runs on Unix socket pairs (and, for `try_new`, the test
//! binary opened as a regular file). Nothing waits on time: a wait that
//! must not finish is polled once, and every other wait is for the peer.

use std::fs::File;
use std::future::{Future, poll_fn};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, ready};

mod support;
use support::*;

use zokio::io::unix::AsyncFd;
use zokio::io::{Interest, Ready};
use zokio::runtime::{ActiveBackend, Handle};

macro_rules! async_fd_suite {
    ($module:ident, $($config:tt)*) => {
        mod $module {
            use super::*;

            zokio::runtime! { Rt { $($config)* } }

            #[test]
            fn with_interest_waits_only_for_the_registered_directions() {
                run_on::<Rt, _, _>(super::with_interest_waits_only_for_the_registered_directions);
            }

            #[test]
            fn try_new_gives_back_a_value_it_cannot_register() {
                run_on::<Rt, _, _>(super::try_new_gives_back_a_value_it_cannot_register);
            }

            #[test]
            fn poll_ready_mut_drives_a_hand_written_read_and_write() {
                run_on::<Rt, _, _>(super::poll_ready_mut_drives_a_hand_written_read_and_write);
            }

            #[test]
            fn clear_ready_matching_clears_one_direction_only() {
                run_on::<Rt, _, _>(super::clear_ready_matching_clears_one_direction_only);
            }
        }
    };
}

async_fd_suite!(
    mio_current_thread,
    flavor = "current_thread",
    backend = "mio"
);
async_fd_suite!(
    mio_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "mio"
);
async_fd_suite!(
    io_uring_current_thread,
    flavor = "current_thread",
    backend = "io_uring"
);
async_fd_suite!(
    io_uring_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "io_uring"
);

/// A non-blocking socket pair.
fn nonblocking_pair() -> (UnixStream, UnixStream) {
    let (a, b) = UnixStream::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    (a, b)
}

/// Polls `fut` once: `Some` with its output if it finished, `None` if it
/// is pending (the current task's waker is left with it).
async fn poll_once<F: Future + Unpin>(fut: &mut F) -> Option<F::Output> {
    poll_fn(|cx| match Pin::new(&mut *fut).poll(cx) {
        Poll::Ready(output) => Poll::Ready(Some(output)),
        Poll::Pending => Poll::Ready(None),
    })
    .await
}

/// Reads everything `socket` has now, with plain non-blocking reads (not
/// through a guard, so no readiness is cleared).
fn drain(mut socket: impl Read) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match socket.read(&mut buf) {
            Ok(0) => panic!("the peer closed"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return got,
            Err(e) => panic!("read: {e}"),
        }
    }
}

/// Writes into `socket` with plain non-blocking writes until the kernel
/// says it would block; returns how many bytes went in.
fn fill(mut socket: impl Write) -> usize {
    let chunk = [0x5Au8; 64 * 1024];
    let mut sent = 0;
    loop {
        match socket.write(&chunk) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return sent,
            Err(e) => panic!("write: {e}"),
        }
    }
}

/// Reads `n` bytes from the non-blocking `socket`, which already holds
/// them.
fn read_held(socket: impl Read, n: usize) -> Vec<u8> {
    let got = drain(socket);
    assert_eq!(got.len(), n, "the bytes were not all there");
    got
}

fn assert_not_registered<R>(result: io::Result<R>, what: &str) {
    match result {
        Err(e) => assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{what}: {e}"),
        Ok(_) => panic!("{what}: waited for a direction that was not registered"),
    }
}

/// `with_interest(READABLE)`: reads wait for the peer as usual; a wait for
/// writing fails at once (the socket is writable all along, so a wait that
/// ignored the interest would succeed); a wait for either direction
/// reports only reading. Then the mirror image with `WRITABLE`, and the
/// `_mut` forms.
async fn with_interest_waits_only_for_the_registered_directions() {
    let (a, mut b) = nonblocking_pair();
    let mut a = AsyncFd::with_interest(a, Interest::READABLE).unwrap();

    assert_not_registered(a.writable().await, "writable");
    assert_not_registered(a.ready(Interest::WRITABLE).await, "ready(WRITABLE)");
    assert_not_registered(a.writable_mut().await, "writable_mut");
    let polled = poll_fn(|cx| match a.poll_write_ready(cx) {
        Poll::Ready(result) => Poll::Ready(result.map(drop)),
        Poll::Pending => panic!("poll_write_ready waits for an unregistered direction"),
    })
    .await;
    assert_not_registered(polled, "poll_write_ready");
    let polled = poll_fn(|cx| match a.poll_write_ready_mut(cx) {
        Poll::Ready(result) => Poll::Ready(result.map(drop)),
        Poll::Pending => panic!("poll_write_ready_mut waits for an unregistered direction"),
    })
    .await;
    assert_not_registered(polled, "poll_write_ready_mut");

    // The read starts before there is anything to read.
    let mut buf = [0u8; 16];
    let n = {
        let mut read = pin!(a.async_io(Interest::READABLE, |mut s| s.read(&mut buf)));
        assert!(
            poll_once(&mut read).await.is_none(),
            "a read before the peer wrote"
        );
        b.write_all(b"first").unwrap();
        read.await.unwrap()
    };
    assert_eq!(&buf[..n], b"first");

    // Both directions asked for, only reading registered: the guard never
    // says writable, though the socket is.
    b.write_all(b"second").unwrap();
    let mut guard = a
        .ready(Interest::READABLE | Interest::WRITABLE)
        .await
        .unwrap();
    assert!(
        guard.ready().is_readable() && !guard.ready().is_writable(),
        "{:?}",
        guard.ready()
    );
    let n = guard
        .try_io(|fd| fd.get_ref().read(&mut buf))
        .expect("the peer wrote")
        .unwrap();
    assert_eq!(&buf[..n], b"second");

    // The mirror image: `b` registered for writing only.
    let mut b = AsyncFd::with_interest(b, Interest::WRITABLE).unwrap();
    assert_not_registered(b.readable().await, "readable");
    assert_not_registered(b.readable_mut().await, "readable_mut");
    assert_not_registered(
        b.async_io(Interest::READABLE, |mut s| s.read(&mut buf))
            .await,
        "async_io(READABLE)",
    );
    let polled = poll_fn(|cx| match b.poll_read_ready_mut(cx) {
        Poll::Ready(result) => Poll::Ready(result.map(drop)),
        Poll::Pending => panic!("poll_read_ready_mut waits for an unregistered direction"),
    })
    .await;
    assert_not_registered(polled, "poll_read_ready_mut");
    let mut guard = b.writable().await.unwrap();
    assert!(guard.ready().is_writable(), "{:?}", guard.ready());
    let n = guard
        .try_io(|fd| fd.get_ref().write(b"back"))
        .expect("an empty socket takes four bytes")
        .unwrap();
    assert_eq!(n, 4);
    assert_eq!(read_held(a.get_mut(), 4), b"back");
}

/// The device and inode a file refers to.
fn identity(file: &File) -> (u64, u64) {
    let meta = file.metadata().unwrap();
    (meta.dev(), meta.ino())
}

/// A regular file (the test binary): epoll refuses it with `EPERM`, and
/// `try_new` / `try_with_interest` give the very same `File` back with the
/// error (which displays, debugs and converts as the cause); `new` and
/// `with_interest` return the cause. io_uring asks nothing of the kernel
/// until a wait, so there the file registers, and counts as ready (also
/// after `clear_ready`, through a real poll).
async fn try_new_gives_back_a_value_it_cannot_register() {
    let path = std::env::current_exe().unwrap();
    let open = || File::open(&path).unwrap();
    let file = open();
    let (raw, id) = (file.as_raw_fd(), identity(&file));
    match Handle::current().backend() {
        ActiveBackend::Mio => {
            let eperm = io::Error::from_raw_os_error(libc::EPERM);
            let err = AsyncFd::try_new(file).expect_err("epoll takes a regular file");
            assert_eq!(err.to_string(), eperm.to_string());
            assert_eq!(format!("{err:?}"), format!("{eperm:?}"));
            let source = std::error::Error::source(&err).expect("the cause is the source");
            let source = source.downcast_ref::<io::Error>().expect("an io::Error");
            assert_eq!(source.raw_os_error(), Some(libc::EPERM));
            let (file, cause) = err.into_parts();
            assert_eq!(cause.raw_os_error(), Some(libc::EPERM));
            assert_eq!((file.as_raw_fd(), identity(&file)), (raw, id));

            let err = AsyncFd::try_with_interest(file, Interest::READABLE)
                .expect_err("epoll takes a regular file");
            let (file, cause) = err.into_parts();
            assert_eq!(cause.raw_os_error(), Some(libc::EPERM));
            assert_eq!((file.as_raw_fd(), identity(&file)), (raw, id));
            // Still open and usable.
            let mut magic = [0u8; 4];
            (&file).read_exact(&mut magic).unwrap();
            assert_eq!(&magic, b"\x7fELF");

            let err: io::Error = AsyncFd::try_new(file).unwrap_err().into();
            assert_eq!(err.raw_os_error(), Some(libc::EPERM));
            let err = AsyncFd::new(open()).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EPERM));
            let err = AsyncFd::with_interest(open(), Interest::WRITABLE).unwrap_err();
            assert_eq!(err.raw_os_error(), Some(libc::EPERM));
        }
        ActiveBackend::IoUring => {
            let fd = match AsyncFd::try_new(file) {
                Ok(fd) => fd,
                Err(e) => panic!("io_uring refused a regular file: {e}"),
            };
            let mut magic = [0u8; 4];
            let mut guard = fd.readable().await.unwrap();
            guard
                .try_io(|fd| fd.get_ref().read_exact(&mut magic))
                .expect("a regular file never blocks")
                .unwrap();
            assert_eq!(&magic, b"\x7fELF");
            // Forget the readiness: the next wait is a `POLL_ADD`, which a
            // regular file completes at once.
            guard.clear_ready();
            assert!(guard.ready().is_empty(), "{:?}", guard.ready());
            drop(guard);
            let guard = fd.readable().await.unwrap();
            assert!(guard.ready().is_readable(), "{:?}", guard.ready());
            drop(guard);
            let file = fd.into_inner();
            assert_eq!((file.as_raw_fd(), identity(&file)), (raw, id));
            let fd = AsyncFd::try_with_interest(open(), Interest::WRITABLE)
                .unwrap_or_else(|e| panic!("io_uring refused a regular file: {e}"));
            drop(fd.writable().await.unwrap());
        }
    }
}

/// A hand-written `poll_read` on `&mut AsyncFd`, as an `AsyncRead` impl
/// would write it.
fn poll_read_mut(
    fd: &mut AsyncFd<UnixStream>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    loop {
        let mut guard = ready!(fd.poll_read_ready_mut(cx))?;
        if let Ok(result) = guard.try_io(|fd| fd.get_mut().read(buf)) {
            return Poll::Ready(result);
        }
    }
}

/// A hand-written `poll_write` on `&mut AsyncFd`.
fn poll_write_mut(
    fd: &mut AsyncFd<UnixStream>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    loop {
        let mut guard = ready!(fd.poll_write_ready_mut(cx))?;
        if let Ok(result) = guard.try_io(|fd| fd.get_mut().write(buf)) {
            return Poll::Ready(result);
        }
    }
}

/// `poll_read_ready_mut`: pending before the peer writes, then woken, and
/// the guard's `try_io` reads the bytes through `&mut`.
/// `poll_write_ready_mut`: once plain writes have filled the socket,
/// pending (its `try_io` saw `WouldBlock` and cleared the stale
/// readiness), then woken when the peer reads, and the write goes through.
async fn poll_ready_mut_drives_a_hand_written_read_and_write() {
    let (a, mut b) = nonblocking_pair();
    let mut a = AsyncFd::new(a).unwrap();

    let mut buf = [0u8; 16];
    let n = {
        let mut read = pin!(poll_fn(|cx| poll_read_mut(&mut a, cx, &mut buf)));
        assert!(
            poll_once(&mut read).await.is_none(),
            "a read before the peer wrote"
        );
        b.write_all(b"by hand").unwrap();
        read.await.unwrap()
    };
    assert_eq!(&buf[..n], b"by hand");

    let sent = fill(a.get_mut());
    assert!(sent > 0);
    let n = {
        let mut write = pin!(poll_fn(|cx| poll_write_mut(&mut a, cx, b"after")));
        assert!(
            poll_once(&mut write).await.is_none(),
            "a write into a full socket"
        );
        let drained = drain(&mut b);
        assert_eq!(drained.len(), sent);
        assert!(drained.iter().all(|&byte| byte == 0x5A));
        write.await.unwrap()
    };
    assert_eq!(n, 5);
    assert_eq!(read_held(&mut b, 5), b"after");
}

/// Whether `fd` is ready to read, and to write, right now (a direction
/// that is not is left waiting with the current task's waker).
async fn ready_now(fd: &AsyncFd<UnixStream>) -> (bool, bool) {
    poll_fn(|cx| {
        Poll::Ready((
            fd.poll_read_ready(cx).is_ready(),
            fd.poll_write_ready(cx).is_ready(),
        ))
    })
    .await
}

/// A guard for both directions; `clear_ready_matching(READABLE)` after the
/// socket was drained: the guard now says writable only, the next read
/// waits for the kernel and the next write does not. Then with a
/// `_mut` guard and `WRITABLE` after the socket was filled: the write side
/// waits (until the peer reads), the read side does not.
async fn clear_ready_matching_clears_one_direction_only() {
    let (a, mut b) = nonblocking_pair();
    // Written before registration: the first event says readable and
    // writable at once.
    b.write_all(b"x").unwrap();
    let mut a = AsyncFd::new(a).unwrap();

    let mut guard = a
        .ready(Interest::READABLE | Interest::WRITABLE)
        .await
        .unwrap();
    assert!(
        guard.ready().is_readable() && guard.ready().is_writable(),
        "{:?}",
        guard.ready()
    );
    assert_eq!(drain(guard.get_inner()), b"x");
    guard.clear_ready_matching(Ready::READABLE);
    assert!(
        !guard.ready().is_readable() && guard.ready().is_writable(),
        "{:?}",
        guard.ready()
    );
    drop(guard);
    assert_eq!(
        ready_now(&a).await,
        (false, true),
        "(readable, writable) after clearing READABLE"
    );

    // The peer writes: readable again (the kernel says so).
    b.write_all(b"y").unwrap();
    drop(a.readable().await.unwrap());
    let sent = fill(a.get_mut());
    assert!(sent > 0);
    let mut guard = a
        .ready_mut(Interest::READABLE | Interest::WRITABLE)
        .await
        .unwrap();
    assert!(
        guard.ready().is_readable() && guard.ready().is_writable(),
        "{:?}",
        guard.ready()
    );
    guard.clear_ready_matching(Ready::WRITABLE);
    assert!(
        guard.ready().is_readable() && !guard.ready().is_writable(),
        "{:?}",
        guard.ready()
    );
    drop(guard);
    assert_eq!(
        ready_now(&a).await,
        (true, false),
        "(readable, writable) after clearing WRITABLE"
    );
    assert_eq!(drain(a.get_mut()), b"y");

    // The peer reads: writable again.
    assert_eq!(drain(&mut b).len(), sent);
    let mut guard = a.writable().await.unwrap();
    let n = guard
        .try_io(|fd| fd.get_ref().write(b"z"))
        .expect("the peer emptied the socket")
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(read_held(&mut b, 1), b"z");
}
