// A preset supplies defaults; explicit keys override them.
use zokio::Spec;
use zokio::spec::{LocalQueueCapacity, UringCapacity};

zokio::runtime! {
    pub LowLatency {
        preset = "low_latency",
        workers = 3,
        scheduler(budget = 32),
        io(uring_entries = 1024),
    }
}

fn main() {
    assert_eq!(LowLatency::PRESET, Some("low_latency"));
    // Overridden.
    assert_eq!(LowLatency::BUDGET, 32);
    assert_eq!(LowLatency::WORKERS, zokio::spec::Workers::Fixed(3));
    assert_eq!(
        <<LowLatency as Spec>::UringEntries as UringCapacity>::ENTRIES,
        1024
    );
    // From the preset.
    assert_eq!(LowLatency::EVENT_INTERVAL, 31);
    assert_eq!(LowLatency::EVENTS_PER_TICK, 256);
    assert_eq!(
        <<LowLatency as Spec>::LocalQueue as LocalQueueCapacity>::DEPTH,
        128
    );
    // Defaults the preset does not touch.
    assert!(LowLatency::LIFO_SLOT);
    assert_eq!(LowLatency::BLOCKING_MAX_THREADS, 512);

    assert_eq!(LowLatency::block_on(async { 6 * 7 }), 42);
}
