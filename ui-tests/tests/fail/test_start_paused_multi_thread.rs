// `start_paused` pauses the clock, which only a `current_thread` runtime has.
#[zokio::test(flavor = "multi_thread", start_paused = true)]
async fn paused() {}

fn main() {}
