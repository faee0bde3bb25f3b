// A `LocalSet`, the future of its `run_until` and the `JoinHandle` of a
// local task whose output is not `Send` are neither `Send` nor (the set)
// `Sync`: what makes running `!Send` futures on them sound.
use std::rc::Rc;
use zokio::task::{JoinHandle, LocalSet};

fn assert_send<T: Send>(_: &T) {}
fn assert_sync<T: Sync>(_: &T) {}

fn main() {
    let set = LocalSet::new();
    assert_send(&set);
    assert_sync(&set);
    let run = set.run_until(async {});
    assert_send(&run);
    let handle: JoinHandle<Rc<u8>> = set.spawn_local(async { Rc::new(1) });
    assert_send(&handle);
}
