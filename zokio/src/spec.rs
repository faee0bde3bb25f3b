//! The compile-time contract between a declared runtime and the runtime code.
//!
//! `zokio::runtime!`, `#[zokio::main]` and `zokio::include_runtime!()` emit a
//! zero-sized type implementing [`Spec`]. Everything in the runtime is
//! generic over `S: Spec`, so each declared runtime is its own monomorphized
//! copy with its settings folded in as constants.
//!
//! Sizes that become array lengths are carried as *types* with const generic
//! arguments ([`QueueDepth<256>`], [`RingEntries<1024>`]): stable Rust cannot
//! turn a trait constant into an array length inside generic code, but it can
//! name a type the macro wrote with a literal. Those types only implement
//! their traits for valid values, so a hand-written `Spec` with a bad depth
//! fails to compile:
//!
//! ```compile_fail
//! # use zokio::spec::*;
//! fn needs_valid_depth<D: LocalQueueCapacity>() {}
//! needs_valid_depth::<QueueDepth<100>>(); // 100 is not a power of two
//! ```

use std::fmt::Write as _;
use std::time::Duration;

/// Which scheduler runs the tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// Tasks run on the thread that calls `block_on`.
    CurrentThread,
    /// A pool of worker threads.
    MultiThread,
}

impl Flavor {
    /// The spelling used in configurations.
    pub const fn as_str(self) -> &'static str {
        match self {
            Flavor::CurrentThread => "current_thread",
            Flavor::MultiThread => "multi_thread",
        }
    }
}

/// How many worker threads a `multi_thread` runtime starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workers {
    /// The machine's available parallelism, read when the runtime is built.
    Auto,
    /// Exactly this many.
    Fixed(usize),
}

impl Workers {
    /// The worker count this setting gives on this machine now.
    pub fn resolve(self) -> usize {
        match self {
            Workers::Fixed(n) => n,
            Workers::Auto => std::thread::available_parallelism().map_or(1, |n| n.get()),
        }
    }
}

/// Which I/O driver the runtime uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Readiness-based I/O through mio.
    Mio,
    /// Completion-based I/O through io_uring (Linux).
    IoUring,
    /// io_uring where the kernel allows it, mio otherwise.
    Auto,
}

impl Backend {
    /// The spelling used in configurations.
    pub const fn as_str(self) -> &'static str {
        match self {
            Backend::Mio => "mio",
            Backend::IoUring => "io_uring",
            Backend::Auto => "auto",
        }
    }
}

/// A local run queue depth: implemented by [`QueueDepth<N>`] only for powers
/// of two from 4 to 65536.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid local run queue depth",
    label = "the depth must be a power of two from 4 to 65536",
    note = "set it with `scheduler(local_queue = 256)` in `zokio::runtime!`, which checks it for you"
)]
pub trait LocalQueueCapacity: Send + Sync + 'static {
    /// Slots in the queue.
    const DEPTH: usize;
    /// `DEPTH - 1`, for wrapping an index into the ring.
    const MASK: usize = Self::DEPTH - 1;
}

/// The number of io_uring submission entries: implemented by
/// [`RingEntries<N>`] only for powers of two from 2 to 32768.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a valid io_uring size",
    label = "the entry count must be a power of two from 2 to 32768",
    note = "set it with `io(uring_entries = 256)` in `zokio::runtime!`, which checks it for you"
)]
pub trait UringCapacity: Send + Sync + 'static {
    /// Submission queue entries.
    const ENTRIES: u32;
}

/// A local run queue depth written as a literal by the `runtime!` macro.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueDepth<const N: usize>;

/// An io_uring size written as a literal by the `runtime!` macro.
#[derive(Debug, Clone, Copy, Default)]
pub struct RingEntries<const N: u32>;

macro_rules! valid_depths {
    ($($n:literal)*) => {$(
        impl LocalQueueCapacity for QueueDepth<$n> {
            const DEPTH: usize = $n;
        }
    )*};
}
valid_depths!(4 8 16 32 64 128 256 512 1024 2048 4096 8192 16384 32768 65536);

macro_rules! valid_rings {
    ($($n:literal)*) => {$(
        impl UringCapacity for RingEntries<$n> {
            const ENTRIES: u32 = $n;
        }
    )*};
}
valid_rings!(2 4 8 16 32 64 128 256 512 1024 2048 4096 8192 16384 32768);

/// Whether per-worker counters are compiled in: [`MetricsOn`] or
/// [`MetricsOff`] (a zero-sized type whose methods do nothing).
pub trait MetricsMode: Send + Sync + 'static {
    /// `true` for [`MetricsOn`].
    const ENABLED: bool;
    /// What each worker keeps: [`Counters`](crate::metrics::Counters) or
    /// the zero-sized [`NoCounters`](crate::metrics::NoCounters).
    type Counters: crate::metrics::WorkerCounters;
}

/// Counters are kept.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsOn;

/// Counters compile to nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsOff;

impl MetricsMode for MetricsOn {
    const ENABLED: bool = true;
    type Counters = crate::metrics::Counters;
}

impl MetricsMode for MetricsOff {
    const ENABLED: bool = false;
    type Counters = crate::metrics::NoCounters;
}

/// A runtime configuration fixed at compile time.
///
/// Implemented by the type `zokio::runtime!` generates; every key of the
/// configuration is here, so runtime code reads constants and never parses
/// anything. Implementing it by hand is possible, and the same checks apply:
/// the associated types only accept valid sizes (a type error, seen by
/// `cargo check` too), and [`Runtime::build`](crate::Runtime::build)
/// evaluates [`assert_valid`] when it is compiled to code (`cargo build`;
/// `cargo check` does not evaluate constants of generic functions). Add
/// `const _: () = zokio::spec::assert_valid::<MySpec>();` beside a
/// hand-written impl, as the generated code does, to catch bad constants in
/// `cargo check` as well.
pub trait Spec: Sized + Send + Sync + 'static {
    /// The type's name, for `describe()` and thread names.
    const NAME: &'static str;
    /// The preset the defaults came from, if any.
    const PRESET: Option<&'static str>;
    /// Scheduler flavor.
    const FLAVOR: Flavor;
    /// Worker threads.
    const WORKERS: Workers;
    /// I/O backend as configured (`Auto` is resolved at start-up).
    const BACKEND: Backend;
    /// Whether per-worker counters are compiled in.
    const METRICS: bool;
    /// Warn when one task poll runs longer than this (`None`, the default:
    /// no detector and no monitor thread). See
    /// [`metrics`](crate::metrics#blocked-worker-detector).
    const DETECT_BLOCKING: Option<Duration> = None;
    /// io_uring submission polling (`IORING_SETUP_SQPOLL`): a kernel thread,
    /// shared by the runtime's rings, takes submissions without a system
    /// call and sleeps after this long without work (`None`, the default:
    /// no polling thread). Ignored by mio.
    const URING_SQPOLL: Option<Duration> = None;
    /// Ticks between checks of the global injection queue.
    const GLOBAL_QUEUE_INTERVAL: u32;
    /// Ticks between polls of the I/O and timer drivers.
    const EVENT_INTERVAL: u32;
    /// Whether a task woken by the running task runs next.
    const LIFO_SLOT: bool;
    /// Polls a task may make before it is forced to yield.
    const BUDGET: u32;
    /// Events taken from the I/O driver per poll.
    const EVENTS_PER_TICK: usize;
    /// Granularity of the timing wheel.
    const TIMER_RESOLUTION: Duration;
    /// Most threads in the blocking pool.
    const BLOCKING_MAX_THREADS: usize;
    /// How long an idle blocking thread lives.
    const BLOCKING_KEEP_ALIVE: Duration;
    /// Stack size of every runtime thread.
    const THREAD_STACK_SIZE: usize;
    /// Local run queue depth, as a type.
    type LocalQueue: LocalQueueCapacity;
    /// io_uring size, as a type.
    type UringEntries: UringCapacity;
    /// Counters on or off, as a type.
    type Metrics: MetricsMode;
}

/// Checks the constants of `S` that a type cannot check; evaluated at compile
/// time by the generated code (`const _: () = assert_valid::<AppRuntime>();`)
/// and by [`Runtime::build`](crate::Runtime::build).
pub const fn assert_valid<S: Spec>() {
    if let Workers::Fixed(n) = S::WORKERS {
        assert!(n >= 1 && n <= 1024, "Spec::WORKERS must be from 1 to 1024");
        if let Flavor::CurrentThread = S::FLAVOR {
            assert!(n == 1, "a current_thread Spec must have WORKERS = Fixed(1)");
        }
    }
    assert!(
        S::GLOBAL_QUEUE_INTERVAL >= 1,
        "Spec::GLOBAL_QUEUE_INTERVAL must be at least 1"
    );
    assert!(
        S::EVENT_INTERVAL >= 1,
        "Spec::EVENT_INTERVAL must be at least 1"
    );
    assert!(S::BUDGET >= 1, "Spec::BUDGET must be at least 1");
    assert!(
        S::EVENTS_PER_TICK >= 1,
        "Spec::EVENTS_PER_TICK must be at least 1"
    );
    assert!(
        S::BLOCKING_MAX_THREADS >= 1,
        "Spec::BLOCKING_MAX_THREADS must be at least 1"
    );
    assert!(
        S::TIMER_RESOLUTION.as_nanos() >= 1_000_000,
        "Spec::TIMER_RESOLUTION must be at least 1ms"
    );
    assert!(
        S::THREAD_STACK_SIZE >= 64 * 1024,
        "Spec::THREAD_STACK_SIZE must be at least 64KiB"
    );
    if let Some(d) = S::DETECT_BLOCKING {
        assert!(
            d.as_nanos() >= 1_000_000,
            "Spec::DETECT_BLOCKING must be at least 1ms"
        );
    }
    assert!(
        S::METRICS == <S::Metrics as MetricsMode>::ENABLED,
        "Spec::METRICS and Spec::Metrics disagree"
    );
}

fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    for (size, unit) in [
        (3_600_000_000_000u128, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
    ] {
        if nanos >= size && nanos.is_multiple_of(size) {
            return format!("{}{unit}", nanos / size);
        }
    }
    format!("{nanos}ns")
}

/// A readable summary of `S`: flavor, workers (as configured and as resolved
/// on this machine), backend, and every size.
pub fn describe<S: Spec>() -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(out, "{} (zokio runtime)", S::NAME);
    if let Some(p) = S::PRESET {
        let _ = writeln!(out, "  preset                = {p}");
    }
    let _ = writeln!(out, "  flavor                = {}", S::FLAVOR.as_str());
    let workers = match (S::FLAVOR, S::WORKERS) {
        (Flavor::CurrentThread, _) => "1 (current_thread)".to_owned(),
        (_, Workers::Fixed(n)) => n.to_string(),
        (_, Workers::Auto) => format!("auto ({} on this machine)", Workers::Auto.resolve()),
    };
    let _ = writeln!(out, "  workers               = {workers}");
    let backend = match S::BACKEND {
        Backend::Auto => {
            use crate::runtime::io::probe::{KernelProbe, Probe};
            match KernelProbe.io_uring() {
                Ok(()) => "auto (the kernel allows io_uring here; see `backend in use`)".to_owned(),
                Err(why) => format!("auto (mio on this machine: {why})"),
            }
        }
        other => other.as_str().to_owned(),
    };
    let _ = writeln!(out, "  backend               = {backend}");
    let _ = writeln!(out, "  metrics               = {}", S::METRICS);
    let detect = S::DETECT_BLOCKING.map_or_else(|| "off".to_owned(), format_duration);
    let _ = writeln!(out, "  detect_blocking       = {detect}");
    let _ = writeln!(
        out,
        "  scheduler             = local_queue {}, global_queue_interval {}, event_interval {}, lifo_slot {}, budget {}",
        <S::LocalQueue as LocalQueueCapacity>::DEPTH,
        S::GLOBAL_QUEUE_INTERVAL,
        S::EVENT_INTERVAL,
        S::LIFO_SLOT,
        S::BUDGET
    );
    let sqpoll = S::URING_SQPOLL.map_or_else(String::new, |d| {
        format!(", uring_sqpoll {}", format_duration(d))
    });
    let _ = writeln!(
        out,
        "  io                    = events_per_tick {}, uring_entries {}{sqpoll}",
        S::EVENTS_PER_TICK,
        <S::UringEntries as UringCapacity>::ENTRIES
    );
    let _ = writeln!(
        out,
        "  timer                 = resolution {}",
        format_duration(S::TIMER_RESOLUTION)
    );
    let _ = write!(
        out,
        "  blocking              = max_threads {}, keep_alive {}, stack_size {} KiB",
        S::BLOCKING_MAX_THREADS,
        format_duration(S::BLOCKING_KEEP_ALIVE),
        S::THREAD_STACK_SIZE / 1024
    );
    out
}
