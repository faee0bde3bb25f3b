//! `zokio::signal`: a raised signal wakes every listener for it, on each
//! backend and flavor; a listener reports each delivery once, and not
//! those from before it existed; signals that cannot be handled are
//! refused with an error naming them; `ctrl_c` returns on `SIGINT`.
//!
//! Signals are process-wide and the tests of this file run at the same
//! time, so each runtime configuration uses its own signal, one that
//! nothing else sends (not `SIGWINCH` or `SIGHUP`, which a terminal
//! sends). `libc::raise` runs the handler before it returns; the wake-up
//! that follows comes from zokio's signal thread, and the tests await it,
//! never a timer.

use std::future::poll_fn;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

mod support;
use support::*;

use zokio::signal::unix::{Signal, SignalKind, signal};

fn raise(kind: SignalKind) {
    // SAFETY: `raise` only delivers the signal; every caller has a listener
    // for it, so its handler (not the default action) runs.
    assert_eq!(unsafe { libc::raise(kind.as_raw_value()) }, 0);
}

/// Whether `signal` has a delivery to report right now.
fn has_delivery(signal: &mut Signal) -> bool {
    signal
        .poll_recv(&mut Context::from_waker(Waker::noop()))
        .is_ready()
}

/// A raised signal wakes each of two listeners, once; after one is
/// dropped the other still gets the next deliveries (two raised before it
/// looks: at least one report, then nothing left); a listener made after a
/// delivery does not report it.
async fn raised_signal_wakes_every_listener(kind: SignalKind) {
    let mut first = signal(kind).expect("listening");
    let mut second = signal(kind).expect("listening");
    assert!(
        !has_delivery(&mut first),
        "a delivery before any was raised"
    );
    raise(kind);
    assert_eq!(first.recv().await, Some(()));
    assert_eq!(second.recv().await, Some(()));
    assert!(!has_delivery(&mut first), "one delivery reported twice");

    drop(first);
    raise(kind);
    raise(kind);
    assert_eq!(second.recv().await, Some(()));
    let mut late = signal(kind).expect("listening");
    assert!(
        !has_delivery(&mut late),
        "a delivery from before the listener"
    );
    // The second raise may have been coalesced with the first or reported
    // on its own: take it if it is there, then nothing is left.
    if has_delivery(&mut second) {
        assert!(!has_delivery(&mut second));
    }
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
    io_uring_current_thread::run(SignalKind::alarm());
}

#[test]
fn raised_signal_wakes_every_listener_io_uring_multi_thread() {
    io_uring_multi_thread::run(SignalKind::from_raw(libc::SIGPROF));
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
        raise(SignalKind::interrupt());
        ctrl_c.await.expect("ctrl_c");
    });
}
