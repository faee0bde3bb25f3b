zokio::runtime! {
    pub AppRuntime {
        io(uring_entries = 65536),
    }
}

fn main() {}
