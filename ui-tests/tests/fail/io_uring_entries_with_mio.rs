zokio::runtime! {
    pub AppRuntime {
        backend = "mio",
        io(uring_entries = 512),
    }
}

fn main() {}
