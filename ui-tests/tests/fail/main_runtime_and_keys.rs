zokio::runtime! {
    pub AppRuntime {
        workers = 2,
    }
}

#[zokio::main(runtime = AppRuntime, workers = 2)]
async fn main() {}
