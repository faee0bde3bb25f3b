//! The `mio` backend: one `mio::Poll` (epoll on Linux, kqueue on macOS),
//! edge-triggered, shared by all the workers of a `multi_thread` runtime
//! (one of them waits in it at a time, holding the waiter claim; see
//! `WorkerSleeper` in `runtime/park.rs`), the only one of a `current_thread`
//! runtime.
//!
//! # Tokens and lifetimes
//!
//! A resource's token is the address of its [`ScheduledIo`]. The driver
//! keeps a strong reference for as long as the token can come back from the
//! kernel: from registration until the owner has finished the dispatch pass
//! that follows the deregistration. Deregistering (on any thread) moves the
//! reference to `released`; a poller (the owner, or an idle worker polling
//! without waiting, one at a time under the poll lock) drops that list only
//! *after* dispatching the events of its poll and before releasing the poll
//! lock, and every event that names a deregistered token comes from a poll
//! that started before the deregistration, i.e. the current one or none. So
//! the address behind a token is always alive when it is dereferenced.

use std::collections::HashMap;
use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Registry, Token, Waker};

use super::DriverConfig;
use super::scheduled::{ERROR, READ_CLOSED, READABLE, ScheduledIo, WRITABLE, WRITE_CLOSED};
use crate::task::lock;

/// The token of the driver's own waker; never the address of a
/// `ScheduledIo` (those are aligned, this is odd).
const WAKE_TOKEN: Token = Token(usize::MAX);

pub(crate) struct MioDriver {
    /// Polled by the owner, and without waiting by an idle worker whose
    /// own queue ran dry while the owner is busy (`try_lock`: never while
    /// the owner waits in it). One poller at a time.
    poll: Mutex<(Poll, Events)>,
    registry: Registry,
    waker: Waker,
    /// Every registered resource, by token, with the driver's reference.
    registered: Mutex<HashMap<usize, Arc<ScheduledIo>>>,
    /// Deregistered resources whose token a poll in progress may still
    /// return; dropped by the owner after its dispatch pass.
    released: Mutex<Vec<Arc<ScheduledIo>>>,
    has_released: AtomicBool,
    shut_down: AtomicBool,
    /// How many resources are registered (a copy of `registered.len()`,
    /// read without the lock). See [`Driver::io_active`](super::Driver::io_active).
    count: AtomicUsize,
    /// One driver for all the workers of a `multi_thread` runtime: at most
    /// one waits in it, the others sleep in their `WorkerSleeper`'s bed.
    pub(crate) shared: bool,
    /// Held by the worker that may wait in a shared driver.
    waiter: AtomicBool,
}

impl MioDriver {
    pub(crate) fn new(config: DriverConfig, shared: bool) -> io::Result<MioDriver> {
        let poll = Poll::new()?;
        let registry = poll.registry().try_clone()?;
        let waker = Waker::new(poll.registry(), WAKE_TOKEN)?;
        Ok(MioDriver {
            poll: Mutex::new((poll, Events::with_capacity(config.events_per_tick))),
            registry,
            waker,
            registered: Mutex::new(HashMap::new()),
            released: Mutex::new(Vec::new()),
            has_released: AtomicBool::new(false),
            shut_down: AtomicBool::new(false),
            count: AtomicUsize::new(0),
            shared,
            waiter: AtomicBool::new(false),
        })
    }

    pub(crate) fn register(&self, fd: RawFd) -> io::Result<Arc<ScheduledIo>> {
        if self.shut_down.load(Ordering::Acquire) {
            return Err(super::shutdown_error());
        }
        let io = Arc::new(ScheduledIo::new());
        let token = Arc::as_ptr(&io) as usize;
        {
            let mut registered = lock(&self.registered);
            registered.insert(token, io.clone());
            self.count.store(registered.len(), Ordering::Relaxed);
        }
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = self
            .registry
            .register(&mut SourceFd(&fd), Token(token), interest)
        {
            let mut registered = lock(&self.registered);
            registered.remove(&token);
            self.count.store(registered.len(), Ordering::Relaxed);
            return Err(e);
        }
        Ok(io)
    }

    pub(crate) fn deregister(&self, fd: RawFd, io: &Arc<ScheduledIo>) {
        // Fails only if the fd was never registered or is already closed;
        // either way no more events come for it.
        let _ = self.registry.deregister(&mut SourceFd(&fd));
        let token = Arc::as_ptr(io) as usize;
        let held = {
            let mut registered = lock(&self.registered);
            let held = registered.remove(&token);
            self.count.store(registered.len(), Ordering::Relaxed);
            held
        };
        if let Some(held) = held {
            lock(&self.released).push(held);
            self.has_released.store(true, Ordering::Release);
        }
    }

    /// Polls for at most `timeout` and dispatches the events. `foreign`:
    /// the caller is not the driver's owner (an idle worker taking a busy
    /// owner's events, with a zero timeout). Returns `false`, without
    /// waiting, when another thread is polling.
    pub(crate) fn poll(&self, timeout: Option<Duration>, foreign: bool) -> bool {
        let Ok(mut guard) = self.poll.try_lock() else {
            // Another thread is polling (cannot happen for an owner), so
            // this one has nothing to dispatch.
            return false;
        };
        // On a driver the workers share, the wake-up token belongs to
        // whichever worker waits in it next: only a waiting poll takes it.
        let foreign = foreign || (self.shared && timeout == Some(Duration::ZERO));
        let (poll, events) = &mut *guard;
        match poll.poll(events, timeout) {
            Ok(()) => {}
            // A signal ended the wait: the caller loops anyway.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // epoll_wait fails only on programming errors (bad fd or
                // buffer); report instead of spinning silently.
                eprintln!("zokio: polling the mio driver failed: {e}");
            }
        }
        for event in events.iter() {
            let token = event.token();
            if token == WAKE_TOKEN {
                if foreign {
                    // The owner's wake-up: it is edge-triggered, and taking
                    // it here would leave the owner asleep in its next
                    // poll. Raise it again for the owner.
                    let _ = self.waker.wake();
                }
                continue;
            }
            let mut ready = 0;
            if event.is_readable() {
                ready |= READABLE;
            }
            if event.is_writable() {
                ready |= WRITABLE;
            }
            if event.is_read_closed() {
                ready |= READ_CLOSED;
            }
            if event.is_write_closed() {
                ready |= WRITE_CLOSED;
            }
            if event.is_error() {
                ready |= ERROR;
            }
            // SAFETY: `token` is the address of a `ScheduledIo` the driver
            // holds a strong reference to, in `registered` or `released`;
            // `released` is emptied only below, after this loop (see the
            // module docs), so the pointee is alive.
            let io = unsafe { &*(token.0 as *const ScheduledIo) };
            io.set_readiness(ready);
        }
        crate::metrics::io_events(events.iter().count());
        // Still holding the poll lock: no other poll is in progress, and a
        // later one starts after this drain, so after every deregistration
        // whose resource is dropped here (see the module docs).
        if self.has_released.swap(false, Ordering::AcqRel) {
            let released = std::mem::take(&mut *lock(&self.released));
            drop(released);
        }
        drop(guard);
        true
    }

    /// Waits for events (at most `timeout`) and dispatches them: the
    /// owner's park, or on a shared driver the claim holder's. Takes the
    /// poll lock even if a non-waiting poll holds it for a moment.
    pub(crate) fn park(&self, timeout: Option<Duration>) {
        // A non-waiting poll (a busy worker's) may hold the poll lock for
        // a moment; the wait must still happen, or a worker holding the
        // claim would sleep nowhere.
        while !self.poll(timeout, false) {
            std::thread::yield_now();
        }
    }

    pub(crate) fn try_claim_waiter(&self) -> bool {
        self.waiter
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    }

    /// Whether a worker holds the waiter claim now (a snapshot).
    pub(crate) fn waiter_claimed(&self) -> bool {
        self.waiter.load(Ordering::Relaxed)
    }

    pub(crate) fn release_waiter(&self) {
        self.waiter.store(false, Ordering::Release);
    }

    pub(crate) fn io_active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    pub(crate) fn unpark(&self) {
        // Fails only if the eventfd is gone, i.e. the driver is being
        // dropped: nobody is parked in it then.
        let _ = self.waker.wake();
    }

    pub(crate) fn shutdown(&self) {
        self.shut_down.store(true, Ordering::Release);
        let registered: Vec<_> = lock(&self.registered).drain().map(|(_, io)| io).collect();
        for io in &registered {
            io.shut_down();
        }
        drop(registered);
        drop(std::mem::take(&mut *lock(&self.released)));
    }
}
