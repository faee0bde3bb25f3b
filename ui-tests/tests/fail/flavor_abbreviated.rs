zokio::runtime! {
    pub AppRuntime {
        flavor = "multi",
    }
}

fn main() {}
