zokio::runtime! {
    pub AppRuntime {
        scheduler(event_interval = 0),
    }
}

fn main() {}
