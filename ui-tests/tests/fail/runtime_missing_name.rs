zokio::runtime! {
    pub {
        workers = 2,
    }
}

fn main() {}
