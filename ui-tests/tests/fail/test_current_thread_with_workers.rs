#[zokio::test(flavor = "current_thread", workers = 4)]
async fn conflicting() {}

fn main() {}
