zokio::runtime! {
    pub AppRuntime {
        schedular(local_queue = 256),
    }
}

fn main() {}
