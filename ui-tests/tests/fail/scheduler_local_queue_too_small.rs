zokio::runtime! {
    pub AppRuntime {
        scheduler(local_queue = 2),
    }
}

fn main() {}
