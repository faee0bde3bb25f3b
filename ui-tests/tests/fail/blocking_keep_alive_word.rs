zokio::runtime! {
    pub AppRuntime {
        blocking(keep_alive = "forever"),
    }
}

fn main() {}
