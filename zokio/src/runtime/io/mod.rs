//! The I/O drivers.
//!
//! Every worker owns one driver, and the driver is what the worker sleeps in:
//! a `mio::Poll` (epoll/kqueue) for the `mio` backend, an io_uring for the
//! `io_uring` backend. A worker that runs out of tasks parks *in its driver*
//! with the next timer deadline as the timeout, so an I/O event, a timer and a
//! wake-up from another thread (the driver's unparker: an eventfd or a
//! `mio::Waker`) all end the same sleep. A busy worker polls its driver
//! without blocking every `S::EVENT_INTERVAL` ticks.
//!
//! With mio, a `multi_thread` runtime's workers share one driver (one
//! epoll, as in tokio): the worker holding the waiter claim waits in it and
//! takes everyone's events, and the wakers they call schedule the tasks on
//! that worker, for the others to steal. An io_uring socket's operations go
//! to its *home* ring, which may move whenever none of the socket's
//! operations are outstanding: in a `multi_thread` runtime to the primary
//! ring (worker 0's) while its owner is attentive, so one worker takes the
//! completions in large batches, as one epoll waiter does (see
//! `Submitter::settle_ring`); a completion wakes the task wherever it now
//! runs.
//!
//! The backend is a compile-time setting; `auto` is resolved once, when the
//! runtime starts, by [`probe`]: io_uring where the kernel allows it, mio
//! otherwise.

pub(crate) mod mio_driver;
pub(crate) mod poll_fd;
pub(crate) mod probe;
pub(crate) mod scheduled;
pub(crate) mod source;
pub(crate) mod sys;
#[cfg(target_os = "linux")]
pub(crate) mod uring;

use std::cell::Cell;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::spec::Backend;

/// The backend a runtime actually runs, after `auto` is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActiveBackend {
    /// Readiness-based, through mio.
    Mio,
    /// Completion-based, through io_uring.
    IoUring,
}

impl ActiveBackend {
    /// The spelling used in configurations.
    pub const fn as_str(self) -> &'static str {
        match self {
            ActiveBackend::Mio => "mio",
            ActiveBackend::IoUring => "io_uring",
        }
    }
}

/// Settings a driver is built with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DriverConfig {
    /// Events taken from the kernel per mio poll.
    pub(crate) events_per_tick: usize,
    /// Submission queue entries per io_uring.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) uring_entries: u32,
    /// io_uring submission polling: the kernel thread's idle time
    /// (`Spec::URING_SQPOLL`).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) uring_sqpoll: Option<std::time::Duration>,
    /// Each driver will only ever be driven by one thread, its owner (a
    /// `multi_thread` worker): io_uring rings may then be single-issuer.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) single_issuer: bool,
}

/// One worker's driver.
// One per worker, behind an `Arc`: the size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Driver {
    Mio(mio_driver::MioDriver),
    #[cfg(target_os = "linux")]
    Uring(uring::UringDriver),
}

impl Driver {
    /// Sleeps until an I/O event, an [`unpark`](Self::unpark) or `timeout`,
    /// then dispatches what arrived. Called only by the driver's owner.
    pub(crate) fn park(&self, timeout: Option<Duration>) {
        match self {
            Driver::Mio(d) => d.park(timeout),
            #[cfg(target_os = "linux")]
            Driver::Uring(d) => d.park(timeout),
        }
    }

    /// Becomes the one thread that may wait in a shared driver (see
    /// `WorkerSleeper`); `false` when another holds that.
    pub(crate) fn try_claim_waiter(&self) -> bool {
        match self {
            Driver::Mio(d) => d.try_claim_waiter(),
            #[cfg(target_os = "linux")]
            Driver::Uring(_) => true,
        }
    }

    /// Whether another worker waits in this shared driver now (a snapshot;
    /// always `false` for a driver of one's own).
    pub(crate) fn waiter_claimed(&self) -> bool {
        match self {
            Driver::Mio(d) => d.shared && d.waiter_claimed(),
            #[cfg(target_os = "linux")]
            Driver::Uring(_) => false,
        }
    }

    /// Gives back what [`try_claim_waiter`](Self::try_claim_waiter) took.
    pub(crate) fn release_waiter(&self) {
        match self {
            Driver::Mio(d) => d.release_waiter(),
            #[cfg(target_os = "linux")]
            Driver::Uring(_) => {}
        }
    }

    /// Whether waiting in this driver is a sleep in `epoll_wait` (mio),
    /// which an idle worker first tries to avoid by polling without
    /// waiting (see the scheduler's `park_worker`).
    pub(crate) fn waits_in_epoll(&self) -> bool {
        matches!(self, Driver::Mio(_))
    }

    /// Whether the workers share this driver (see [`IoHandle::new`]).
    pub(crate) fn is_shared(&self) -> bool {
        match self {
            Driver::Mio(d) => d.shared,
            #[cfg(target_os = "linux")]
            Driver::Uring(_) => false,
        }
    }

    /// Dispatches whatever is ready without blocking (and, for io_uring,
    /// flushes queued submissions). Called only by the driver's owner.
    pub(crate) fn poll_now(&self) {
        #[cfg(feature = "tracing")]
        tracing::trace!(target: "zokio::driver", "poll");
        match self {
            Driver::Mio(d) => {
                d.poll(Some(Duration::ZERO), false);
            }
            #[cfg(target_os = "linux")]
            Driver::Uring(d) => d.poll_now(),
        }
    }

    /// Called by the driver's owner as it exits (a `multi_thread` worker at
    /// shutdown): a driver that only its owner may drive shuts down now.
    pub(crate) fn owner_leaving(&self) {
        match self {
            Driver::Mio(_) => {}
            #[cfg(target_os = "linux")]
            Driver::Uring(d) => d.owner_leaving(),
        }
    }

    /// [`poll_now`](Self::poll_now) by a thread that does not own the
    /// driver: an idle worker taking the events of a busy owner's driver.
    /// A no-op while another thread polls or waits in the driver, and it
    /// never consumes the owner's pending wake-up.
    pub(crate) fn poll_foreign(&self) {
        #[cfg(feature = "tracing")]
        tracing::trace!(target: "zokio::driver", "poll of a busy worker's driver");
        match self {
            Driver::Mio(d) => {
                d.poll(Some(Duration::ZERO), true);
            }
            #[cfg(target_os = "linux")]
            Driver::Uring(d) => d.poll_foreign(),
        }
    }

    /// Whether I/O can arrive through this driver (resources registered,
    /// operations in flight). An idle worker whose driver is active does
    /// not spin on the queues first: its next work most likely comes as an
    /// I/O event, which such a spin would not see. It parks in the driver at
    /// once on io_uring, and on mio after a few polls that do not wait.
    pub(crate) fn io_active(&self) -> bool {
        match self {
            Driver::Mio(d) => d.io_active(),
            #[cfg(target_os = "linux")]
            Driver::Uring(d) => d.io_active(),
        }
    }

    /// Ends a [`park`](Self::park) in progress (or makes the next one return
    /// at once). Any thread.
    pub(crate) fn unpark(&self) {
        match self {
            Driver::Mio(d) => d.unpark(),
            #[cfg(target_os = "linux")]
            Driver::Uring(d) => d.unpark(),
        }
    }

    /// After the workers have stopped: fails every pending operation with a
    /// "runtime shut down" error and releases what the driver holds.
    pub(crate) fn shutdown(&self) {
        match self {
            Driver::Mio(d) => d.shutdown(),
            #[cfg(target_os = "linux")]
            Driver::Uring(d) => d.shutdown(),
        }
    }
}

thread_local! {
    /// The driver this thread owns now: (`IoHandle` address, driver index).
    static OWNER: Cell<Option<(usize, usize)>> = const { Cell::new(None) };
}

/// The drivers of one runtime, reachable from its `Handle`.
pub(crate) struct IoHandle {
    backend: ActiveBackend,
    drivers: Box<[Arc<Driver>]>,
    /// Round robin over the drivers for resources created off the workers.
    next: AtomicUsize,
    /// The slots of the rings' registered-buffer tables that
    /// `FixedBufPool`s hold (bit `i`: slot `i`; io_uring only).
    #[cfg(target_os = "linux")]
    fixed_slots: std::sync::Mutex<u64>,
    /// Why `auto` runs on mio although the probe allowed io_uring (the
    /// runtime's rings could not be created), for `describe()`.
    fallback: Option<String>,
}

/// Marks the calling thread as the owner of driver `index` until dropped.
pub(crate) struct OwnerGuard {
    previous: Option<(usize, usize)>,
}

impl Drop for OwnerGuard {
    fn drop(&mut self) {
        OWNER.with(|o| o.set(self.previous));
    }
}

impl IoHandle {
    /// Builds `count` drivers of the backend `configured` resolves to.
    pub(crate) fn new(
        configured: Backend,
        count: usize,
        config: DriverConfig,
    ) -> io::Result<IoHandle> {
        let backend = resolve_backend(configured, &probe::KernelProbe)?;
        // Off Linux the probe never allows io_uring.
        #[cfg(not(target_os = "linux"))]
        debug_assert_eq!(backend, ActiveBackend::Mio);
        #[cfg(target_os = "linux")]
        if backend == ActiveBackend::IoUring {
            match uring_drivers(count, config) {
                Ok(drivers) => {
                    return Ok(IoHandle::with_drivers(
                        ActiveBackend::IoUring,
                        drivers.into_iter().map(Arc::new).collect(),
                    ));
                }
                // The probe's tiny ring worked, but the runtime's rings
                // did not (most often the locked-memory limit, which the
                // kernel charges for ring memory): `auto` falls back to
                // mio, `io_uring` says why and what to do.
                Err(why) if configured == Backend::Auto => {
                    log_choice("mio", &why);
                    let mut handle = IoHandle::new(Backend::Mio, count, config)?;
                    handle.fallback = Some(why);
                    return Ok(handle);
                }
                Err(why) => {
                    return Err(io::Error::other(format!(
                        "the runtime is configured with `backend = \"io_uring\"`, but its \
                         io_uring rings cannot be created: {why}; use `backend = \"auto\"` to \
                         fall back to mio when that happens, `backend = \"mio\"`, or fewer \
                         workers or a smaller `io(uring_entries = ...)`"
                    )));
                }
            }
        }
        // mio: one epoll for all the workers, as tokio does. One worker
        // waits in it and takes everyone's events in one call; per-worker
        // epolls had each worker wake for its own events in small batches
        // (five times tokio's `epoll_wait`s per HTTP request, see
        // benches/RESULTS.md).
        if count > 1 {
            let driver = Arc::new(Driver::Mio(mio_driver::MioDriver::new(config, true)?));
            return Ok(IoHandle::with_drivers(
                ActiveBackend::Mio,
                (0..count).map(|_| driver.clone()).collect(),
            ));
        }
        let driver = Driver::Mio(mio_driver::MioDriver::new(config, false)?);
        Ok(IoHandle::with_drivers(
            ActiveBackend::Mio,
            Box::new([Arc::new(driver)]),
        ))
    }

    fn with_drivers(backend: ActiveBackend, drivers: Box<[Arc<Driver>]>) -> IoHandle {
        IoHandle {
            backend,
            drivers,
            next: AtomicUsize::new(0),
            #[cfg(target_os = "linux")]
            fixed_slots: std::sync::Mutex::new(0),
            fallback: None,
        }
    }

    /// Why `backend = "auto"` runs on mio although the kernel allows
    /// io_uring, if it does.
    pub(crate) fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// The backend in use.
    pub(crate) fn backend(&self) -> ActiveBackend {
        self.backend
    }

    /// How many drivers (one per worker; shared mio: one per worker too,
    /// all the same).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn driver_count(&self) -> usize {
        self.drivers.len()
    }

    pub(crate) fn driver(&self, index: usize) -> &Arc<Driver> {
        &self.drivers[index]
    }

    /// The optional kernel features the backend probed and uses (io_uring
    /// only), for `describe()`.
    pub(crate) fn optional_features(&self) -> Vec<&'static str> {
        match &**self.driver(0) {
            #[cfg(target_os = "linux")]
            Driver::Uring(d) => d.features().names(),
            Driver::Mio(_) => Vec::new(),
        }
    }

    /// Takes a free slot of the rings' registered-buffer tables.
    #[cfg(target_os = "linux")]
    pub(crate) fn take_fixed_slot(&self) -> Option<u32> {
        let mut taken = self.fixed_slots.lock().unwrap_or_else(|e| e.into_inner());
        let slot = (!*taken).trailing_zeros();
        if slot >= uring::FIXED_SLOTS {
            return None;
        }
        *taken |= 1 << slot;
        Some(slot)
    }

    /// Gives back a slot [`take_fixed_slot`](Self::take_fixed_slot) took
    /// (empty on every ring again).
    #[cfg(target_os = "linux")]
    pub(crate) fn release_fixed_slot(&self, slot: u32) {
        let mut taken = self.fixed_slots.lock().unwrap_or_else(|e| e.into_inner());
        *taken &= !(1 << slot);
    }

    fn addr(&self) -> usize {
        self as *const Self as usize
    }

    /// Makes the calling thread the owner of driver `index`.
    pub(crate) fn enter_owner(&self, index: usize) -> OwnerGuard {
        let previous = OWNER.with(|o| o.replace(Some((self.addr(), index))));
        #[cfg(target_os = "linux")]
        if let Driver::Uring(d) = &*self.drivers[index] {
            d.adopt();
        }
        OwnerGuard { previous }
    }

    /// The index of the driver the calling thread owns, if it owns one of
    /// these.
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn owned_index(&self) -> Option<usize> {
        match OWNER.with(Cell::get) {
            Some((addr, index)) if addr == self.addr() => Some(index),
            _ => None,
        }
    }

    /// The driver a new resource or operation should use: the calling
    /// thread's own (`true`) or, off the workers, the next one round robin
    /// (`false`).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    pub(crate) fn pick(&self) -> (usize, &Arc<Driver>, bool) {
        match self.owned_index() {
            Some(index) => (index, &self.drivers[index], true),
            None => {
                let index = self.next_index();
                (index, &self.drivers[index], false)
            }
        }
    }

    /// Where a readiness (mio) registration goes: the runtime's one mio
    /// driver (shared by the workers of a `multi_thread` runtime, see
    /// [`new`](Self::new)).
    pub(crate) fn readiness_driver(&self) -> &Arc<Driver> {
        &self.drivers[0]
    }

    fn next_index(&self) -> usize {
        self.next.fetch_add(1, Ordering::Relaxed) % self.drivers.len()
    }

    pub(crate) fn shutdown(&self) {
        for driver in self.drivers.iter() {
            driver.shutdown();
        }
    }

    /// The runtime has begun to shut down (its tasks are being cancelled):
    /// a cancel from another thread no longer waits for a ring's owner,
    /// which is busy cancelling its own share of the tasks.
    pub(crate) fn begin_shutdown(&self) {
        #[cfg(target_os = "linux")]
        for driver in self.drivers.iter() {
            if let Driver::Uring(d) = &**driver {
                d.begin_shutdown();
            }
        }
    }
}

/// The current runtime's drivers.
///
/// # Panics
///
/// Outside a runtime, like tokio's I/O types.
#[track_caller]
pub(crate) fn current_io() -> Arc<IoHandle> {
    match crate::runtime::Handle::with_current(|h| h.map(|h| h.shared.io().clone())) {
        Some(io) => io,
        None => crate::runtime::no_runtime(),
    }
}

/// The error I/O on a runtime that has shut down gets.
pub(crate) fn shutdown_error() -> io::Error {
    io::Error::other("the zokio runtime this I/O resource belongs to has shut down")
}

/// Resolves `configured` against what the kernel allows (`probe` says
/// whether io_uring can run here, and if not, why).
pub(crate) fn resolve_backend(
    configured: Backend,
    probe: &dyn probe::Probe,
) -> io::Result<ActiveBackend> {
    match configured {
        Backend::Mio => Ok(ActiveBackend::Mio),
        Backend::IoUring => match probe.io_uring() {
            Ok(()) => Ok(ActiveBackend::IoUring),
            Err(why) => Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "the runtime is configured with `backend = \"io_uring\"`, but io_uring \
                     cannot run here: {why}; use `backend = \"auto\"` to fall back to mio \
                     where io_uring is unavailable, or `backend = \"mio\"`"
                ),
            )),
        },
        Backend::Auto => match probe.io_uring() {
            Ok(()) => {
                log_choice("io_uring", "the kernel allows io_uring");
                Ok(ActiveBackend::IoUring)
            }
            Err(why) => {
                log_choice("mio", &why);
                Ok(ActiveBackend::Mio)
            }
        },
    }
}

/// A ring per worker (io_uring keeps one per worker; see
/// `uring::Submitter::settle_ring` for how sockets gather on one), agreeing
/// on their optional features; the error says which ring failed and why.
#[cfg(target_os = "linux")]
fn uring_drivers(count: usize, config: DriverConfig) -> Result<Vec<Driver>, String> {
    let mut drivers: Vec<Driver> = Vec::with_capacity(count);
    for i in 0..count {
        // Later rings share the first one's submission-polling thread
        // (with `uring_sqpoll`).
        let first = match drivers.first() {
            Some(Driver::Uring(first)) => Some(first),
            _ => None,
        };
        let driver = uring::UringDriver::attached(config, first).map_err(|e| {
            format!(
                "creating ring {} of {count} ({} entries): {e}",
                i + 1,
                config.uring_entries
            )
        })?;
        drivers.push(Driver::Uring(driver));
    }
    uring::agree_on_features(&mut drivers);
    Ok(drivers)
}

/// Says which backend `auto` chose, as a `log` record (target `zokio`), so
/// any `log` or `tracing` subscriber shows it.
fn log_choice(backend: &str, why: &str) {
    log::info!(target: "zokio", "backend = \"auto\" chose {backend}: {why}");
}

#[cfg(test)]
mod tests {
    use super::probe::Probe;
    use super::*;

    struct Fixed(Result<(), String>);

    impl Probe for Fixed {
        fn io_uring(&self) -> Result<(), String> {
            self.0.clone()
        }
    }

    /// The probe's tiny ring worked but the runtime's rings cannot be
    /// created (as with a low `RLIMIT_MEMLOCK`): `auto` builds on mio, and
    /// `io_uring` fails with an error naming the ring, the likely cause and
    /// what to configure instead.
    #[cfg(target_os = "linux")]
    #[test]
    fn rings_that_cannot_be_created_make_auto_use_mio_and_io_uring_say_why() {
        let config = DriverConfig {
            events_per_tick: 64,
            uring_entries: 256,
            uring_sqpoll: None,
            single_issuer: false,
        };
        uring::FAIL_RING_SETUP.set(true);
        let auto = IoHandle::new(Backend::Auto, 2, config);
        let forced = IoHandle::new(Backend::IoUring, 2, config);
        uring::FAIL_RING_SETUP.set(false);
        let auto = auto.expect("auto falls back to mio");
        assert_eq!(auto.backend(), ActiveBackend::Mio);
        assert_eq!(auto.driver_count(), 2);
        assert!(auto.fallback().unwrap().contains("RLIMIT_MEMLOCK"));
        let msg = forced.err().expect("a forced io_uring fails").to_string();
        for part in [
            "creating ring 1 of 2 (256 entries)",
            "RLIMIT_MEMLOCK",
            "backend = \"auto\"",
            "backend = \"mio\"",
        ] {
            assert!(msg.contains(part), "{part:?} missing from: {msg}");
        }
        // Without the failure, both use io_uring.
        let auto = IoHandle::new(Backend::Auto, 2, config).unwrap();
        assert_eq!(auto.backend(), ActiveBackend::IoUring);
    }

    #[test]
    fn auto_uses_io_uring_when_the_probe_allows_it() {
        let backend = resolve_backend(Backend::Auto, &Fixed(Ok(()))).unwrap();
        assert_eq!(backend, ActiveBackend::IoUring);
    }

    #[test]
    fn auto_falls_back_to_mio_when_io_uring_is_unavailable() {
        let probe = Fixed(Err(
            "io_uring is disabled by kernel.io_uring_disabled = 2".into()
        ));
        let backend = resolve_backend(Backend::Auto, &probe).unwrap();
        assert_eq!(backend, ActiveBackend::Mio);
    }

    #[test]
    fn forced_io_uring_where_it_cannot_run_is_an_error_that_says_why_and_what_to_use() {
        let probe = Fixed(Err(
            "io_uring_setup failed: Operation not permitted (seccomp?)".into(),
        ));
        let err = resolve_backend(Backend::IoUring, &probe).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Unsupported);
        let msg = err.to_string();
        assert!(msg.contains("Operation not permitted"), "{msg}");
        assert!(msg.contains("backend = \"auto\""), "{msg}");
        assert!(msg.contains("backend = \"mio\""), "{msg}");
    }

    #[test]
    fn mio_never_consults_the_probe() {
        struct Panics;
        impl Probe for Panics {
            fn io_uring(&self) -> Result<(), String> {
                panic!("probed")
            }
        }
        assert_eq!(
            resolve_backend(Backend::Mio, &Panics).unwrap(),
            ActiveBackend::Mio
        );
    }

    /// A foreign poll (an idle worker taking a busy owner's events) must
    /// leave the owner's pending wake-up in place: the owner's next park
    /// returns at once. (A lost wake-up here once left a worker asleep at
    /// shutdown.) The park runs on a thread under a watchdog, so a lost
    /// wake-up fails the test instead of hanging it.
    fn foreign_poll_keeps_the_owners_wake_up(backend: Backend) {
        let config = DriverConfig {
            events_per_tick: 64,
            uring_entries: 8,
            uring_sqpoll: None,
            single_issuer: false,
        };
        let handle = Arc::new(IoHandle::new(backend, 2, config).expect("drivers"));
        for _ in 0..100 {
            let driver = handle.driver(0).clone();
            driver.unpark();
            handle.driver(0).poll_foreign();
            let (done, finished) = std::sync::mpsc::channel();
            let parker = std::thread::spawn(move || {
                driver.park(None);
                let _ = done.send(());
            });
            finished
                .recv_timeout(Duration::from_secs(30))
                .expect("the owner's park must return: its wake-up was consumed");
            parker.join().unwrap();
        }
        handle.shutdown();
    }

    #[test]
    fn foreign_poll_keeps_the_owners_wake_up_mio() {
        foreign_poll_keeps_the_owners_wake_up(Backend::Mio);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn foreign_poll_keeps_the_owners_wake_up_io_uring() {
        foreign_poll_keeps_the_owners_wake_up(Backend::IoUring);
    }
}
