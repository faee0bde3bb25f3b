zokio::runtime! {
    pub AppRuntime {
        name = "Other",
    }
}

fn main() {}
