zokio::runtime! {
    pub AppRuntime {
        flavor = "current_thread",
        workers = 4,
    }
}

fn main() {}
