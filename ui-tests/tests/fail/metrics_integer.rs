zokio::runtime! {
    pub AppRuntime {
        metrics = 1,
    }
}

fn main() {}
