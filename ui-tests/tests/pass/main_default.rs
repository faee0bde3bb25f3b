// `#[zokio::main]` with no arguments: the default multi-thread runtime.
#[zokio::main]
async fn main() {
    let handle = zokio::spawn(async { 40 + 2 });
    assert_eq!(handle.await.unwrap(), 42);
    assert!(zokio::runtime::Handle::try_current().is_ok());
}
