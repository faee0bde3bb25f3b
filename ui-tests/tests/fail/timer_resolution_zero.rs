zokio::runtime! {
    pub AppRuntime {
        timer(resolution = "0ms"),
    }
}

fn main() {}
