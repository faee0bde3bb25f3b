// The full example of API.md §1: every key set, spawning a task that returns 42.
zokio::runtime! {
    /// Doc comments and attributes pass through to the generated type.
    pub AppRuntime {
        flavor = "multi_thread",
        workers = 2,
        backend = "auto",
        metrics = true,
        scheduler(local_queue = 256, global_queue_interval = 61, event_interval = 61, lifo_slot = true, budget = 128),
        io(events_per_tick = 1024, uring_entries = 256),
        timer(resolution = "1ms"),
        blocking(max_threads = 512, keep_alive = "10s"),
    }
}

fn main() -> std::io::Result<()> {
    let rt = AppRuntime::build()?;
    let answer = rt.block_on(async { zokio::spawn(async { 40 + 2 }).await.unwrap() });
    assert_eq!(answer, 42);
    assert_eq!(AppRuntime::WORKERS, zokio::spec::Workers::Fixed(2));
    assert!(AppRuntime::METRICS);
    Ok(())
}
