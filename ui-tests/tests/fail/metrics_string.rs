zokio::runtime! {
    pub AppRuntime {
        metrics = "yes",
    }
}

fn main() {}
