zokio::runtime! {
    pub AppRuntime {
        preset = "fast",
    }
}

fn main() {}
