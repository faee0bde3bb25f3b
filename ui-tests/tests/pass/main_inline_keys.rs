// Inline keys on `#[zokio::main]`: a current-thread runtime runs spawned
// tasks on the thread that called `main`.
#[zokio::main(flavor = "current_thread", backend = "mio")]
async fn main() {
    let main_thread = std::thread::current().id();
    let task_thread = zokio::spawn(async { std::thread::current().id() })
        .await
        .unwrap();
    assert_eq!(task_thread, main_thread);
}
