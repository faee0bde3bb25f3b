zokio::runtime! {
    pub AppRuntime {
        worker = 2,
    }
}

fn main() {}
