//! `zokio::time::Interval`, `zokio::fs::ReadDir` and `zokio::fs::Watch` as
//! `futures_core::Stream`s (feature `stream`): code generic over `Stream`
//! drives them and sees what the types' own methods would give.

use std::future::poll_fn;
use std::pin::Pin;
use std::time::Duration;

use futures_core::Stream;
use zokio::time::{Instant, interval_at};

zokio::runtime! { Ct { flavor = "current_thread" } }
zokio::runtime! { Mt { flavor = "multi_thread", workers = 2 } }

/// The first `n` items of any `Stream`, the way a stream combinator would
/// take them.
async fn take<S: Stream + Unpin>(stream: &mut S, n: usize) -> Vec<S::Item> {
    let mut items = Vec::with_capacity(n);
    while items.len() < n {
        match poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx)).await {
            Some(item) => items.push(item),
            None => break,
        }
    }
    items
}

async fn an_interval_streams_its_schedule() {
    let period = Duration::from_millis(2);
    let start = Instant::now() + period;
    let mut ticks = interval_at(start, period);
    assert_eq!(
        ticks.size_hint(),
        (usize::MAX, None),
        "an interval never ends"
    );
    let items = take(&mut ticks, 5).await;
    let expected: Vec<Instant> = (0..5).map(|k| start + period * k).collect();
    // Each item is the instant the tick was scheduled for, and was not
    // produced before it.
    assert_eq!(items, expected);
    assert!(Instant::now() >= *expected.last().unwrap());
}

#[test]
fn an_interval_streams_its_schedule_current_thread() {
    Ct::block_on(an_interval_streams_its_schedule());
}

#[test]
fn an_interval_streams_its_schedule_multi_thread() {
    Mt::block_on(async {
        zokio::spawn(an_interval_streams_its_schedule())
            .await
            .unwrap()
    });
}

/// A directory listed through `Stream` gives every entry, then ends; a
/// watch gives the change events.
async fn read_dir_and_watch_stream() {
    let dir = std::env::temp_dir().join(format!(
        "zokio-stream-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for i in 0..40 {
        std::fs::write(dir.join(format!("f{i:02}")), b"").unwrap();
    }
    let mut entries = zokio::fs::read_dir(&dir).await.unwrap();
    let mut names: Vec<String> = take(&mut entries, 100)
        .await
        .into_iter()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    let expected: Vec<String> = (0..40).map(|i| format!("f{i:02}")).collect();
    assert_eq!(names, expected, "every entry, then the end");

    let mut watch = zokio::fs::watch(&dir).unwrap();
    zokio::fs::remove_file(dir.join("f00")).await.unwrap();
    let event = take(&mut watch, 1).await.pop().unwrap().unwrap();
    assert_eq!(event.kind, zokio::fs::WatchKind::Remove);
    assert_eq!(event.path, dir.join("f00"));
    drop(watch);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn read_dir_and_watch_stream_current_thread() {
    Ct::block_on(read_dir_and_watch_stream());
}

#[test]
fn read_dir_and_watch_stream_multi_thread() {
    Mt::block_on(async { zokio::spawn(read_dir_and_watch_stream()).await.unwrap() });
}
