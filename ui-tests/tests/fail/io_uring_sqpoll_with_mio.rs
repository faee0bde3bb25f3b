zokio::runtime! {
    pub AppRuntime {
        backend = "mio",
        io(uring_sqpoll = "2ms"),
    }
}

fn main() {}
