zokio::runtime! {
    pub AppRuntime {
        flavor = current_thread,
    }
}

fn main() {}
