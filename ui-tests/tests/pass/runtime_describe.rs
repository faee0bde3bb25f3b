// `describe()` summarises the effective configuration.
zokio::runtime! {
    pub Described {
        flavor = "current_thread",
        backend = "mio",
        detect_blocking = "50ms",
        scheduler(local_queue = 512, budget = 64),
        io(events_per_tick = 2048),
        timer(resolution = "5ms"),
        blocking(max_threads = 16, keep_alive = "1m30s", stack_size = "512KiB"),
    }
}

fn main() {
    let text = Described::describe();
    for expected in [
        "Described (zokio runtime)",
        "flavor                = current_thread",
        "workers               = 1 (current_thread)",
        "backend               = mio",
        "metrics               = false",
        "detect_blocking       = 50ms",
        "local_queue 512",
        "budget 64",
        "events_per_tick 2048",
        "resolution 5ms",
        "max_threads 16",
        "keep_alive 90s",
        "stack_size 512 KiB",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` missing from:\n{text}"
        );
    }
    assert!(!text.contains("preset"), "{text}");
}
