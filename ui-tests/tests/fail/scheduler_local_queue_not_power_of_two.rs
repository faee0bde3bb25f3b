zokio::runtime! {
    pub AppRuntime {
        scheduler(local_queue = 100),
    }
}

fn main() {}
