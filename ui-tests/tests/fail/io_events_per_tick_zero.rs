zokio::runtime! {
    pub AppRuntime {
        io(events_per_tick = 0),
    }
}

fn main() {}
