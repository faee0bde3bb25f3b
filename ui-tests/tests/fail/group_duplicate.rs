zokio::runtime! {
    pub AppRuntime {
        scheduler(budget = 64),
        scheduler(lifo_slot = false),
    }
}

fn main() {}
