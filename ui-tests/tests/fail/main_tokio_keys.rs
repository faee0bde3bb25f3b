// A tokio attribute carried over unchanged: each tokio-only key is named
// with the zokio spelling or the reason it is not there.
#[zokio::test(flavor = "multi_thread", worker_threads = 2, start_paused = true)]
async fn ported() {}

fn main() {}
