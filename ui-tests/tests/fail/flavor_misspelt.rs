zokio::runtime! {
    pub AppRuntime {
        flavor = "mutli_thread",
    }
}

fn main() {}
