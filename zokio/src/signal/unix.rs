//! Unix signals: [`signal`] returns a [`Signal`] whose `recv` returns after
//! each delivery (deliveries close together may be coalesced into one).
//!
//! One registration per signal for the whole process, whatever the number
//! of listeners: `signal-hook`'s async-signal-safe handlers set the
//! signal's pending flag and write a byte to one process-wide self-pipe.
//! A helper thread (`zokio-signal`, started on first use, asleep in a
//! blocking read of that pipe otherwise) turns each pending flag into a new
//! generation of the signal and wakes the tasks waiting for it, in
//! whichever runtime they run. A listener is a generation it has seen plus
//! an entry in the signal's waiter list: no descriptor or handler of its
//! own.

use std::collections::HashMap;
use std::fmt;
use std::io::{self, Read};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};

/// Which signal to listen for.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SignalKind(libc::c_int);

impl SignalKind {
    /// Any signal by number (`libc::SIGUSR1`, ...). `SIGKILL`, `SIGSTOP`,
    /// `SIGILL`, `SIGFPE` and `SIGSEGV` cannot be listened for: [`signal`]
    /// refuses them.
    pub const fn from_raw(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }

    /// The signal's number.
    pub const fn as_raw_value(&self) -> libc::c_int {
        self.0
    }

    /// `SIGALRM`.
    pub const fn alarm() -> SignalKind {
        SignalKind(libc::SIGALRM)
    }

    /// `SIGCHLD`.
    pub const fn child() -> SignalKind {
        SignalKind(libc::SIGCHLD)
    }

    /// `SIGHUP`.
    pub const fn hangup() -> SignalKind {
        SignalKind(libc::SIGHUP)
    }

    /// `SIGINT` (Ctrl-C).
    pub const fn interrupt() -> SignalKind {
        SignalKind(libc::SIGINT)
    }

    /// `SIGIO`.
    pub const fn io() -> SignalKind {
        SignalKind(libc::SIGIO)
    }

    /// `SIGPIPE`.
    pub const fn pipe() -> SignalKind {
        SignalKind(libc::SIGPIPE)
    }

    /// `SIGQUIT`.
    pub const fn quit() -> SignalKind {
        SignalKind(libc::SIGQUIT)
    }

    /// `SIGTERM`.
    pub const fn terminate() -> SignalKind {
        SignalKind(libc::SIGTERM)
    }

    /// `SIGUSR1`.
    pub const fn user_defined1() -> SignalKind {
        SignalKind(libc::SIGUSR1)
    }

    /// `SIGUSR2`.
    pub const fn user_defined2() -> SignalKind {
        SignalKind(libc::SIGUSR2)
    }

    /// `SIGWINCH`.
    pub const fn window_change() -> SignalKind {
        SignalKind(libc::SIGWINCH)
    }
}

impl From<libc::c_int> for SignalKind {
    fn from(signum: libc::c_int) -> SignalKind {
        SignalKind(signum)
    }
}

impl From<SignalKind> for libc::c_int {
    fn from(kind: SignalKind) -> libc::c_int {
        kind.0
    }
}

impl fmt::Debug for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SignalKind({})", self.0)
    }
}

/// One signal's state, shared by its listeners and the helper thread.
struct Slot {
    /// Set by the handler; taken by the helper thread.
    pending: Arc<AtomicBool>,
    /// Deliveries the helper thread has seen (coalesced).
    generation: AtomicU64,
    /// The tasks waiting for the next generation.
    waiters: Mutex<Vec<Waker>>,
}

/// The process-wide registry: the self-pipe's write end (cloned into each
/// signal's handler) and every signal listened for so far.
struct Registry {
    write: StdUnixStream,
    slots: Mutex<HashMap<libc::c_int, Arc<Slot>>>,
}

fn registry() -> io::Result<&'static Registry> {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    static START: Mutex<()> = Mutex::new(());
    if let Some(registry) = REGISTRY.get() {
        return Ok(registry);
    }
    // One thread creates the pipe and the helper thread; a failure is
    // returned (and retried by the next call), not cached.
    let _once = crate::task::lock(&START);
    if let Some(registry) = REGISTRY.get() {
        return Ok(registry);
    }
    let (mut read, write) = StdUnixStream::pair()?;
    // The handlers must never block: a full pipe already has a wake-up
    // pending for the helper thread.
    write.set_nonblocking(true)?;
    std::thread::Builder::new()
        .name("zokio-signal".into())
        .spawn(move || {
            let mut bytes = [0u8; 64];
            // Ends only if the write end is gone, which it never is (the
            // registry is static).
            while let Ok(n) = read.read(&mut bytes) {
                if n == 0 {
                    return;
                }
                if let Some(registry) = REGISTRY.get() {
                    registry.broadcast();
                }
            }
        })?;
    let registry = REGISTRY.get_or_init(|| Registry {
        write,
        slots: Mutex::new(HashMap::new()),
    });
    Ok(registry)
}

impl Registry {
    /// The slot of `signum`, registering the signal's handlers on first
    /// use.
    fn slot(&self, signum: libc::c_int) -> io::Result<Arc<Slot>> {
        let mut slots = crate::task::lock(&self.slots);
        if let Some(slot) = slots.get(&signum) {
            return Ok(slot.clone());
        }
        let pending = Arc::new(AtomicBool::new(false));
        let describe = |e: io::Error| {
            io::Error::new(
                e.kind(),
                format!("installing a handler for signal {signum}: {e}"),
            )
        };
        // In this order: the flag is set before the byte that wakes the
        // helper thread is written (signal-hook runs a signal's actions in
        // registration order).
        signal_hook::flag::register(signum, pending.clone()).map_err(describe)?;
        signal_hook::low_level::pipe::register(signum, self.write.try_clone()?)
            .map_err(describe)?;
        let slot = Arc::new(Slot {
            pending,
            generation: AtomicU64::new(0),
            waiters: Mutex::new(Vec::new()),
        });
        slots.insert(signum, slot.clone());
        Ok(slot)
    }

    /// Helper thread: each signal delivered since the last call gets a new
    /// generation, and its waiting tasks are woken.
    fn broadcast(&self) {
        let slots: Vec<Arc<Slot>> = crate::task::lock(&self.slots).values().cloned().collect();
        for slot in slots {
            if slot.pending.swap(false, Ordering::AcqRel) {
                slot.generation.fetch_add(1, Ordering::AcqRel);
                let waiters = std::mem::take(&mut *crate::task::lock(&slot.waiters));
                for waker in waiters {
                    waker.wake();
                }
            }
        }
    }
}

/// A listener for one signal, from [`signal`]: [`recv`](Self::recv)
/// returns once per delivery after it was created (close deliveries may
/// count as one).
pub struct Signal {
    kind: SignalKind,
    slot: Arc<Slot>,
    /// The generation this listener has reported.
    seen: u64,
}

/// Starts listening for `kind`: each later delivery wakes
/// [`Signal::recv`] (deliveries close together may coalesce into one).
///
/// Once any listener for a signal has existed, the signal no longer has its
/// default effect (a Ctrl-C no longer ends the process), also after the
/// listeners are gone, as in tokio.
///
/// # Errors
///
/// `kind` is a signal that cannot be handled (`SIGKILL`, `SIGSTOP`,
/// `SIGILL`, `SIGFPE`, `SIGSEGV`) or not a signal at all: an
/// `InvalidInput` error naming it. Creating the process-wide self-pipe or
/// its thread can fail as those calls do.
pub fn signal(kind: SignalKind) -> io::Result<Signal> {
    let signum = kind.0;
    if signum <= 0 || signal_hook::consts::FORBIDDEN.contains(&signum) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "signal {signum} cannot be listened for (SIGKILL, SIGSTOP, SIGILL, SIGFPE and \
                 SIGSEGV cannot be handled)"
            ),
        ));
    }
    let slot = registry()?.slot(signum)?;
    let seen = slot.generation.load(Ordering::Acquire);
    Ok(Signal { kind, slot, seen })
}

impl Signal {
    /// Waits for the next delivery; deliveries since the last call count
    /// as one. Always `Some(())` (the `Option` is tokio's shape).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a delivery is not lost if the future is dropped.
    pub async fn recv(&mut self) -> Option<()> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// The `poll` form of [`recv`](Self::recv).
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<()>> {
        if self.take_new() {
            return Poll::Ready(Some(()));
        }
        {
            let mut waiters = crate::task::lock(&self.slot.waiters);
            if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
                waiters.push(cx.waker().clone());
            }
        }
        // The helper thread bumps the generation before it takes the
        // waiters: a delivery between the check above and the push is seen
        // here.
        if self.take_new() {
            return Poll::Ready(Some(()));
        }
        Poll::Pending
    }

    /// Whether a generation this listener has not reported exists (then it
    /// is reported now).
    fn take_new(&mut self) -> bool {
        let generation = self.slot.generation.load(Ordering::Acquire);
        if generation == self.seen {
            return false;
        }
        self.seen = generation;
        true
    }
}

impl fmt::Debug for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal").field("kind", &self.kind).finish()
    }
}
