zokio::runtime! {
    pub AppRuntime {
        scheduler(local_queue = 131072),
    }
}

fn main() {}
