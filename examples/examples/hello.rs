//! The smallest Zokio program: declare a runtime, spawn tasks, join them.
//!
//! Run it with `cargo run -p zokio-examples --example hello`.

zokio::runtime! {
    /// This program's runtime, fixed at compile time.
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
    println!("{}", AppRuntime::describe());
    let rt = AppRuntime::build()?;
    let answer = rt.block_on(async {
        let parts: Vec<_> = (0..6).map(|i| zokio::spawn(async move { i * 2 })).collect();
        let mut sum = 0;
        for part in parts {
            sum += part.await.expect("the task completed");
        }
        zokio::spawn(async move { sum + 12 })
            .await
            .expect("the task completed")
    });
    println!("answer = {answer}");
    assert_eq!(answer, 42);
    Ok(())
}
