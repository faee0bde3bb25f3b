zokio::runtime! {
    pub AppRuntime { 5 }
}

fn main() {}
