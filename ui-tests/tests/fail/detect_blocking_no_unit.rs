zokio::runtime! {
    pub AppRuntime {
        detect_blocking = 10,
    }
}

fn main() {}
