// `#[zokio::main(runtime = AppRuntime)]` runs on the declared runtime: its
// spawned tasks run on worker threads named after the type.
zokio::runtime! {
    pub AppRuntime {
        flavor = "multi_thread",
        workers = 2,
    }
}

#[zokio::main(runtime = AppRuntime)]
async fn main() {
    let thread = zokio::spawn(async { std::thread::current().name().map(str::to_owned) })
        .await
        .unwrap();
    let thread = thread.expect("worker threads are named");
    assert!(thread.starts_with("AppRuntime-worker-"), "{thread}");
    assert_eq!(AppRuntime::WORKERS, zokio::spec::Workers::Fixed(2));
}
