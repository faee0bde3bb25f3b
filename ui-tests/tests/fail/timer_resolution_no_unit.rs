zokio::runtime! {
    pub AppRuntime {
        timer(resolution = 10),
    }
}

fn main() {}
