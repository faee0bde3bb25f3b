//! `zokio::signal`: a raised signal wakes every listener for it, on each
//! backend and flavor; a dropped listener leaves the others working;
//! signals that cannot be handled are refused with an error naming them;
//! `ctrl_c` returns on `SIGINT`.
//!
//! Signals are process-wide and the tests of this file run at the same
//! time, so each runtime configuration uses its own signal, and nothing
//! asserts that a delivery did *not* happen. `libc::raise` delivers to the
//! calling thread before it returns, so no test waits on time.

use std::future::poll_fn;
use std::pin::pin;
use std::task::Poll;

mod support;
use support::*;

use zokio::signal::unix::{SignalKind, signal};

/// A raised signal wakes each of two listeners; after one is dropped, the
/// other still gets the next delivery; two deliveries before a `recv` are
/// received (at least once, possibly coalesced).
async fn raised_signal_wakes_every_listener(kind: SignalKind) {
    let mut first = signal(kind).expect("listening");
    let mut second = signal(kind).expect("listening");
    // SAFETY: raising a signal this process handles (both listeners
    // installed a handler above).
    assert_eq!(unsafe { libc::raise(kind.as_raw_value()) }, 0);
    assert_eq!(first.recv().await, Some(()));
    assert_eq!(second.recv().await, Some(()));

    drop(first);
    // SAFETY: as above; `second` still has its handler.
    assert_eq!(unsafe { libc::raise(kind.as_raw_value()) }, 0);
    // SAFETY: as above.
    assert_eq!(unsafe { libc::raise(kind.as_raw_value()) }, 0);
    assert_eq!(second.recv().await, Some(()));
}

macro_rules! signal_case {
    ($name:ident, $($config:tt)*) => {
        mod $name {
            use super::*;

            zokio::runtime! { Rt { $($config)* } }

            pub fn run(kind: SignalKind) {
                run_on::<Rt, _, _>(move || raised_signal_wakes_every_listener(kind));
            }
        }
    };
}

signal_case!(
    mio_current_thread,
    flavor = "current_thread",
    backend = "mio"
);
signal_case!(
    mio_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "mio"
);
signal_case!(
    io_uring_current_thread,
    flavor = "current_thread",
    backend = "io_uring"
);
signal_case!(
    io_uring_multi_thread,
    flavor = "multi_thread",
    workers = 2,
    backend = "io_uring"
);

#[test]
fn raised_signal_wakes_every_listener_mio_current_thread() {
    mio_current_thread::run(SignalKind::user_defined1());
}

#[test]
fn raised_signal_wakes_every_listener_mio_multi_thread() {
    mio_multi_thread::run(SignalKind::user_defined2());
}

#[test]
fn raised_signal_wakes_every_listener_io_uring_current_thread() {
    io_uring_current_thread::run(SignalKind::window_change());
}

#[test]
fn raised_signal_wakes_every_listener_io_uring_multi_thread() {
    io_uring_multi_thread::run(SignalKind::hangup());
}

zokio::runtime! { Plain { flavor = "current_thread", backend = "auto" } }

#[test]
fn signals_that_cannot_be_handled_are_refused_with_their_number() {
    run_on::<Plain, _, _>(|| async {
        for signum in [libc::SIGKILL, libc::SIGSTOP, libc::SIGSEGV, 0, -3] {
            let e = signal(SignalKind::from_raw(signum)).unwrap_err();
            assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput);
            assert!(e.to_string().contains(&signum.to_string()), "{e}");
        }
    });
}

#[test]
fn ctrl_c_returns_on_sigint() {
    run_on::<Plain, _, _>(|| async {
        let mut ctrl_c = pin!(zokio::signal::ctrl_c());
        // The first poll installs the handler (and finds nothing yet).
        let first = poll_fn(|cx| Poll::Ready(ctrl_c.as_mut().poll(cx))).await;
        assert!(first.is_pending());
        // SAFETY: SIGINT has a handler now (installed by the poll above).
        assert_eq!(unsafe { libc::raise(libc::SIGINT) }, 0);
        ctrl_c.await.expect("ctrl_c");
    });
}
