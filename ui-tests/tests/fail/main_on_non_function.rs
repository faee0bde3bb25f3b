#[zokio::main]
struct App;

fn main() {}
