zokio::runtime! {
    pub AppRuntime {
        blocking(max_threads = 0),
    }
}

fn main() {}
