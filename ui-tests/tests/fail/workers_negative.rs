zokio::runtime! {
    pub AppRuntime {
        workers = -1,
    }
}

fn main() {}
