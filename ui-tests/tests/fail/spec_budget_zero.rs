use std::time::Duration;

use zokio::spec::{Backend, Flavor, MetricsOff, QueueDepth, RingEntries, Workers};

struct Bad;

impl zokio::Spec for Bad {
    const NAME: &'static str = "Bad";
    const PRESET: Option<&'static str> = None;
    const FLAVOR: Flavor = Flavor::CurrentThread;
    const WORKERS: Workers = Workers::Fixed(1);
    const BACKEND: Backend = Backend::Mio;
    const METRICS: bool = false;
    const GLOBAL_QUEUE_INTERVAL: u32 = 31;
    const EVENT_INTERVAL: u32 = 61;
    const LIFO_SLOT: bool = true;
    const BUDGET: u32 = 0;
    const EVENTS_PER_TICK: usize = 1024;
    const TIMER_RESOLUTION: Duration = Duration::from_millis(1);
    const BLOCKING_MAX_THREADS: usize = 512;
    const BLOCKING_KEEP_ALIVE: Duration = Duration::from_secs(10);
    const THREAD_STACK_SIZE: usize = 2 << 20;
    type LocalQueue = QueueDepth<256>;
    type UringEntries = RingEntries<256>;
    type Metrics = MetricsOff;
}

// `Runtime::<Bad>::build()` evaluates the same assertion, but only when the
// program is built (code generation), not under `cargo check`.
const _: () = zokio::spec::assert_valid::<Bad>();

fn main() {}
