zokio::runtime! {
    pub AppRuntime {
        scheduler(lifo_slot = "true"),
    }
}

fn main() {}
