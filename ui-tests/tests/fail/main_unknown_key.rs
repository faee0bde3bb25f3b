#[zokio::main(wrkers = 2)]
async fn main() {}
