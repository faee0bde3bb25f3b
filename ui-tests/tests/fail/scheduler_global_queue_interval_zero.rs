zokio::runtime! {
    pub AppRuntime {
        scheduler(global_queue_interval = 0),
    }
}

fn main() {}
