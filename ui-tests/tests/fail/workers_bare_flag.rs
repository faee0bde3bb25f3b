zokio::runtime! {
    pub AppRuntime {
        workers,
    }
}

fn main() {}
