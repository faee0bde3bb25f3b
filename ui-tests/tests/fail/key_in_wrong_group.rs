zokio::runtime! {
    pub AppRuntime {
        local_queue = 256,
    }
}

fn main() {}
