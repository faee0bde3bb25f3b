// A bare boolean key means `true`; `workers = "auto"`; sizes and durations
// take units, and a plain integer stack size is a byte count.
use std::time::Duration;

zokio::runtime! {
    pub Flags {
        workers = "auto",
        metrics,
        scheduler(lifo_slot = false),
        timer(resolution = "250ms"),
        blocking(keep_alive = "1h", stack_size = 131072),
    }
}

zokio::runtime! {
    pub Empty {}
}

fn main() {
    assert!(Flags::METRICS);
    assert!(!Flags::LIFO_SLOT);
    assert_eq!(Flags::WORKERS, zokio::spec::Workers::Auto);
    assert_eq!(Flags::TIMER_RESOLUTION, Duration::from_millis(250));
    assert_eq!(Flags::BLOCKING_KEEP_ALIVE, Duration::from_secs(3600));
    assert_eq!(Flags::THREAD_STACK_SIZE, 128 * 1024);

    // Every key is optional.
    assert_eq!(Empty::FLAVOR, zokio::spec::Flavor::MultiThread);
    assert_eq!(Empty::WORKERS, zokio::spec::Workers::Auto);
    assert!(!Empty::METRICS);
    assert_eq!(
        Empty::block_on(async { zokio::spawn(async { 1 }).await.unwrap() }),
        1
    );
}
