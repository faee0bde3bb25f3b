//! The resolved configuration: every key has a value (explicit, from a preset,
//! or the default).

use std::fmt;
use std::time::Duration;

/// Which scheduler runs the tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// Tasks run on the thread that calls `block_on`.
    CurrentThread,
    /// A pool of worker threads with work stealing.
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

    /// Every spelling accepted for this key.
    pub const ALLOWED: &'static [&'static str] = &["current_thread", "multi_thread"];

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "current_thread" => Some(Flavor::CurrentThread),
            "multi_thread" => Some(Flavor::MultiThread),
            _ => None,
        }
    }
}

/// How many worker threads a `multi_thread` runtime starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Workers {
    /// The available parallelism of the machine, read once at start-up.
    Auto,
    /// Exactly this many (1..=1024).
    Fixed(u32),
}

impl fmt::Display for Workers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workers::Auto => f.write_str("auto"),
            Workers::Fixed(n) => write!(f, "{n}"),
        }
    }
}

/// Which I/O driver the runtime uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Readiness-based I/O through mio (epoll on Linux, kqueue on BSD/macOS).
    Mio,
    /// Completion-based I/O through io_uring (Linux only).
    IoUring,
    /// io_uring when the kernel allows it, mio otherwise; probed once at start-up.
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

    /// Every spelling accepted for this key.
    pub const ALLOWED: &'static [&'static str] = &["mio", "io_uring", "auto"];

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "mio" => Some(Backend::Mio),
            "io_uring" => Some(Backend::IoUring),
            "auto" => Some(Backend::Auto),
            _ => None,
        }
    }
}

/// A named bundle of defaults. Keys written explicitly override the preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Short queues, frequent driver polls and a small budget: lower tail latency.
    LowLatency,
    /// Deep queues, rare global-queue checks and a large budget: more work per wake-up.
    Throughput,
    /// Many events per tick and a large io_uring: for servers dominated by I/O.
    IoIntensive,
}

impl Preset {
    /// The spelling used in configurations.
    pub const fn as_str(self) -> &'static str {
        match self {
            Preset::LowLatency => "low_latency",
            Preset::Throughput => "throughput",
            Preset::IoIntensive => "io_intensive",
        }
    }

    /// Every spelling accepted for this key.
    pub const ALLOWED: &'static [&'static str] = &["low_latency", "throughput", "io_intensive"];

    pub(crate) fn parse(s: &str) -> Option<Self> {
        match s {
            "low_latency" => Some(Preset::LowLatency),
            "throughput" => Some(Preset::Throughput),
            "io_intensive" => Some(Preset::IoIntensive),
            _ => None,
        }
    }

    /// The configuration this preset produces when no key overrides it.
    pub fn config(self) -> RuntimeConfig {
        let mut c = RuntimeConfig {
            preset: Some(self),
            ..RuntimeConfig::default()
        };
        match self {
            Preset::LowLatency => {
                c.scheduler.local_queue = 128;
                c.scheduler.global_queue_interval = 31;
                c.scheduler.event_interval = 31;
                c.scheduler.budget = 64;
                c.io.events_per_tick = 256;
            }
            Preset::Throughput => {
                c.scheduler.local_queue = 1024;
                c.scheduler.global_queue_interval = 61;
                c.scheduler.event_interval = 61;
                c.scheduler.budget = 256;
            }
            Preset::IoIntensive => {
                c.scheduler.event_interval = 17;
                c.io.events_per_tick = 4096;
                c.io.uring_entries = 4096;
            }
        }
        c
    }
}

/// The `scheduler(...)` group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SchedulerConfig {
    /// Slots in each worker's local run queue (power of two).
    pub local_queue: u32,
    /// Scheduler ticks between checks of the global injection queue.
    pub global_queue_interval: u32,
    /// Scheduler ticks between polls of the I/O and timer drivers.
    pub event_interval: u32,
    /// Whether a task woken by the running task goes to the LIFO slot.
    pub lifo_slot: bool,
    /// Polls a task may make before it is forced to yield.
    pub budget: u32,
}

/// The `io(...)` group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IoConfig {
    /// Maximum events taken from the driver per poll.
    pub events_per_tick: u32,
    /// Submission queue entries of each worker's io_uring (power of two).
    pub uring_entries: u32,
    /// io_uring submission polling: the kernel thread's idle time before it
    /// sleeps (`None`: no polling thread).
    pub uring_sqpoll: Option<Duration>,
}

/// The `timer(...)` group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TimerConfig {
    /// Granularity of the timing wheel.
    pub resolution: Duration,
}

/// The `blocking(...)` group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BlockingConfig {
    /// Upper bound on blocking-pool threads.
    pub max_threads: u32,
    /// How long an idle blocking thread waits for work before it exits.
    pub keep_alive: Duration,
    /// Stack size, in bytes, of every thread the runtime starts.
    pub stack_size: u64,
}

/// A fully resolved runtime configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RuntimeConfig {
    /// The preset the defaults came from, if any.
    pub preset: Option<Preset>,
    /// Scheduler flavor.
    pub flavor: Flavor,
    /// Worker threads (`multi_thread` only; `current_thread` always has one).
    pub workers: Workers,
    /// I/O backend.
    pub backend: Backend,
    /// Whether per-worker counters are compiled in.
    pub metrics: bool,
    /// Warn when one task poll runs longer than this (`None`: no detector).
    pub detect_blocking: Option<Duration>,
    /// Scheduler tuning.
    pub scheduler: SchedulerConfig,
    /// I/O driver tuning.
    pub io: IoConfig,
    /// Timer tuning.
    pub timer: TimerConfig,
    /// Blocking pool tuning.
    pub blocking: BlockingConfig,
}

impl Default for RuntimeConfig {
    /// tokio's defaults wherever tokio has one.
    fn default() -> Self {
        RuntimeConfig {
            preset: None,
            flavor: Flavor::MultiThread,
            workers: Workers::Auto,
            backend: Backend::Auto,
            metrics: false,
            detect_blocking: None,
            scheduler: SchedulerConfig {
                local_queue: 256,
                global_queue_interval: 31,
                event_interval: 61,
                lifo_slot: true,
                budget: 128,
            },
            io: IoConfig {
                events_per_tick: 1024,
                uring_entries: 256,
                uring_sqpoll: None,
            },
            timer: TimerConfig {
                resolution: Duration::from_millis(1),
            },
            blocking: BlockingConfig {
                max_threads: 512,
                keep_alive: Duration::from_secs(10),
                stack_size: 2 * 1024 * 1024,
            },
        }
    }
}

impl RuntimeConfig {
    /// The defaults of `#[zokio::test]`: `current_thread`, and `workers =
    /// "auto"` should the test switch to `multi_thread`.
    pub fn current_thread() -> Self {
        RuntimeConfig {
            flavor: Flavor::CurrentThread,
            ..RuntimeConfig::default()
        }
    }
}

/// Formats a duration the way a configuration would spell it (`"10s"`, `"1ms"`).
pub fn format_duration(d: Duration) -> String {
    let nanos = d.as_nanos();
    const UNITS: [(u128, &str); 6] = [
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    if nanos == 0 {
        return "0s".to_owned();
    }
    for (size, unit) in UNITS {
        if nanos.is_multiple_of(size) {
            return format!("{}{unit}", nanos / size);
        }
    }
    unreachable!("every duration is a whole number of nanoseconds")
}

/// Formats a byte count the way a configuration would spell it (`"2MiB"`).
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if bytes >= size && bytes.is_multiple_of(size) {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}B")
}

impl fmt::Display for RuntimeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.preset {
            writeln!(f, "preset = {:?}", p.as_str())?;
        }
        writeln!(f, "flavor = {:?}", self.flavor.as_str())?;
        writeln!(f, "workers = {}", self.workers)?;
        writeln!(f, "backend = {:?}", self.backend.as_str())?;
        writeln!(f, "metrics = {}", self.metrics)?;
        if let Some(d) = self.detect_blocking {
            writeln!(f, "detect_blocking = {:?}", format_duration(d))?;
        }
        let s = &self.scheduler;
        writeln!(
            f,
            "scheduler(local_queue = {}, global_queue_interval = {}, event_interval = {}, lifo_slot = {}, budget = {})",
            s.local_queue, s.global_queue_interval, s.event_interval, s.lifo_slot, s.budget
        )?;
        write!(
            f,
            "io(events_per_tick = {}, uring_entries = {}",
            self.io.events_per_tick, self.io.uring_entries
        )?;
        if let Some(d) = self.io.uring_sqpoll {
            write!(f, ", uring_sqpoll = {:?}", format_duration(d))?;
        }
        writeln!(f, ")")?;
        writeln!(
            f,
            "timer(resolution = {:?})",
            format_duration(self.timer.resolution)
        )?;
        write!(
            f,
            "blocking(max_threads = {}, keep_alive = {:?}, stack_size = {:?})",
            self.blocking.max_threads,
            format_duration(self.blocking.keep_alive),
            format_size(self.blocking.stack_size)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_tokio() {
        let c = RuntimeConfig::default();
        assert_eq!(c.flavor, Flavor::MultiThread);
        assert_eq!(c.scheduler.local_queue, 256);
        assert_eq!(c.scheduler.event_interval, 61);
        assert_eq!(c.scheduler.budget, 128);
        assert_eq!(c.io.events_per_tick, 1024);
        assert_eq!(c.blocking.max_threads, 512);
        assert_eq!(c.blocking.keep_alive, Duration::from_secs(10));
        assert_eq!(c.blocking.stack_size, 2 << 20);
    }

    #[test]
    fn presets_differ_from_defaults_and_each_other() {
        let d = RuntimeConfig::default();
        let l = Preset::LowLatency.config();
        let t = Preset::Throughput.config();
        let i = Preset::IoIntensive.config();
        assert_ne!(l.scheduler, d.scheduler);
        assert_ne!(t.scheduler, d.scheduler);
        assert_ne!(i.io, d.io);
        assert_ne!(l, t);
        assert_ne!(t, i);
    }

    #[test]
    fn formats_round_numbers() {
        assert_eq!(format_duration(Duration::from_secs(10)), "10s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format_duration(Duration::from_secs(120)), "2m");
        assert_eq!(format_size(2 << 20), "2MiB");
        assert_eq!(format_size(1000), "1000B");
    }

    #[test]
    fn display_lists_every_group() {
        let text = RuntimeConfig::default().to_string();
        for needle in [
            "flavor = \"multi_thread\"",
            "workers = auto",
            "local_queue = 256",
            "uring_entries = 256",
            "resolution = \"1ms\"",
            "keep_alive = \"10s\"",
            "stack_size = \"2MiB\"",
        ] {
            assert!(text.contains(needle), "{needle} missing from:\n{text}");
        }
    }
}
