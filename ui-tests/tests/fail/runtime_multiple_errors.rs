zokio::runtime! {
    pub AppRuntime {
        workers = 0,
        flavor = "mutli_thread",
        scheduler(local_queue = 100),
    }
}

fn main() {}
