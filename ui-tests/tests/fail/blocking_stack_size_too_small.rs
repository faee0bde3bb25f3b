zokio::runtime! {
    pub AppRuntime {
        blocking(stack_size = "16KiB"),
    }
}

fn main() {}
