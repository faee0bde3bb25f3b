zokio::runtime! {
    pub AppRuntime {
        scheduler(local_queu = 256),
    }
}

fn main() {}
