zokio::include_runtime!(foo);

fn main() {}
