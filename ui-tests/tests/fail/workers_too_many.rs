zokio::runtime! {
    pub AppRuntime {
        workers = 2000,
    }
}

fn main() {}
