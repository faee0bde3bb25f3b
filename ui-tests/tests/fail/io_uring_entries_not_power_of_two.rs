zokio::runtime! {
    pub AppRuntime {
        io(uring_entries = 100),
    }
}

fn main() {}
