zokio::runtime! {
    pub AppRuntime {
        timer(resolution = "1 fortnight"),
    }
}

fn main() {}
