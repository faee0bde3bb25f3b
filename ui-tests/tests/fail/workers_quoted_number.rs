zokio::runtime! {
    pub AppRuntime {
        workers = "8",
    }
}

fn main() {}
