zokio::runtime! {
    pub AppRuntime {
        workers = 0,
    }
}

fn main() {}
