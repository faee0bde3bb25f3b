zokio::runtime! {
    pub AppRuntime {
        workers(2),
    }
}

fn main() {}
