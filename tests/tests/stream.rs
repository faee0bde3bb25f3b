//! `zokio::time::Interval` as a `futures_core::Stream` (feature `stream`):
//! code generic over `Stream` drives it and sees the tick schedule.

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
