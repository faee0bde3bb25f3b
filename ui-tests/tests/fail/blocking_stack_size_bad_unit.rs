zokio::runtime! {
    pub AppRuntime {
        blocking(stack_size = "2mb"),
    }
}

fn main() {}
