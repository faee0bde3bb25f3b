zokio::runtime! {
    pub AppRuntime {
        workers = 2.5,
    }
}

fn main() {}
