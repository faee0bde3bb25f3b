zokio::runtime! {
    pub AppRuntime {
        workers = "many",
    }
}

fn main() {}
