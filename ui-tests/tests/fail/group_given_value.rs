zokio::runtime! {
    pub AppRuntime {
        scheduler = 5,
    }
}

fn main() {}
