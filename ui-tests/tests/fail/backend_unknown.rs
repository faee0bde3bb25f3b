zokio::runtime! {
    pub AppRuntime {
        backend = "uring",
    }
}

fn main() {}
