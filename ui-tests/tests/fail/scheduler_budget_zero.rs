zokio::runtime! {
    pub AppRuntime {
        scheduler(budget = 0),
    }
}

fn main() {}
