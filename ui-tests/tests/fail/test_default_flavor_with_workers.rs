#[zokio::test(workers = 4)]
async fn current_thread_by_default() {}

fn main() {}
