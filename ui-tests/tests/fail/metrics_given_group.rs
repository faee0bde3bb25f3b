zokio::runtime! {
    pub AppRuntime {
        metrics(enabled = true),
    }
}

fn main() {}
