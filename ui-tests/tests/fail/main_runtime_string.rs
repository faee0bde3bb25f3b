zokio::runtime! {
    pub AppRuntime {
        workers = 2,
    }
}

#[zokio::main(runtime = "AppRuntime")]
async fn main() {}
