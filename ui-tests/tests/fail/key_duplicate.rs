zokio::runtime! {
    pub AppRuntime {
        workers = 2,
        workers = 4,
    }
}

fn main() {}
