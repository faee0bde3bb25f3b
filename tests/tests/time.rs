//! `zokio::time` on a real runtime: sleeps, deadlines, intervals, and that
//! dropped timers leave nothing registered. The same suite runs on both
//! flavors. Durations are small, and only lower bounds on time are asserted.

use std::future::{Future, pending, poll_fn};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};

use zokio::time::{self, Duration, Instant, MissedTickBehavior};

const MS: Duration = Duration::from_millis(1);

/// Wraps a future and records `id` in `log` the first time the future's
/// waker is woken, i.e. in the order the timer fires, whatever order the
/// scheduler then runs the tasks in. A future that completes without ever
/// being woken (its deadline had passed before it was first polled) is not
/// recorded: it never went through the timer.
struct RecordWake<F> {
    recorder: Arc<Recorder>,
    inner: F,
}

struct Recorder {
    id: usize,
    log: Arc<Mutex<Vec<usize>>>,
    recorded: AtomicBool,
    /// The waker of the task polling the wrapped future.
    task: Mutex<Option<Waker>>,
}

impl<F> RecordWake<F> {
    fn new(id: usize, log: Arc<Mutex<Vec<usize>>>, inner: F) -> Self {
        let recorder = Arc::new(Recorder {
            id,
            log,
            recorded: AtomicBool::new(false),
            task: Mutex::new(None),
        });
        RecordWake { recorder, inner }
    }
}

impl Wake for Recorder {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.recorded.swap(true, Ordering::SeqCst) {
            self.log.lock().unwrap().push(self.id);
        }
        if let Some(task) = self.task.lock().unwrap().as_ref() {
            task.wake_by_ref();
        }
    }
}

impl<F: Future + Unpin> Future for RecordWake<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        *self.recorder.task.lock().unwrap() = Some(cx.waker().clone());
        let waker = Waker::from(self.recorder.clone());
        Pin::new(&mut self.inner).poll(&mut Context::from_waker(&waker))
    }
}

macro_rules! flavor_suite {
    ($module:ident, $($config:tt)*) => {
        mod $module {
            use super::*;

            zokio::runtime! { Rt { $($config)* } }

            #[test]
            fn sleep_lasts_at_least_the_requested_duration() {
                let rt = Rt::build().unwrap();
                for ms in [0, 1, 7, 20] {
                    let requested = Duration::from_millis(ms);
                    let elapsed = rt.block_on(async move {
                        let start = Instant::now();
                        time::sleep(requested).await;
                        start.elapsed()
                    });
                    assert!(elapsed >= requested, "{elapsed:?} < {requested:?}");
                }
            }

            #[test]
            fn sleep_in_a_spawned_task_completes() {
                let rt = Rt::build().unwrap();
                let elapsed = rt.block_on(async {
                    zokio::spawn(async {
                        let start = Instant::now();
                        time::sleep(10 * MS).await;
                        start.elapsed()
                    })
                    .await
                    .unwrap()
                });
                assert!(elapsed >= 10 * MS);
            }

            #[test]
            fn sleep_until_a_past_instant_completes_at_once() {
                let rt = Rt::build().unwrap();
                rt.block_on(async {
                    let past = Instant::now();
                    time::sleep_until(past).await;
                    time::sleep_until(past.checked_sub(MS).unwrap_or(past)).await;
                });
            }

            #[test]
            fn sleeps_fire_in_deadline_order_and_never_early() {
                let rt = Rt::build().unwrap();
                let resolution = Rt::TIMER_RESOLUTION;
                let log = Arc::new(Mutex::new(Vec::new()));
                let start = Instant::now();
                // 100 distinct deadlines 10 ms to 49.6 ms out, in scrambled order
                // (37 is coprime with 100).
                let deadlines: Vec<Instant> = (0..100u32)
                    .map(|i| start + 10 * MS + (i * 37 % 100) * Duration::from_micros(400))
                    .collect();
                let completed = {
                    let log = log.clone();
                    let deadlines = deadlines.clone();
                    rt.block_on(async move {
                        // One task registers all of them in one pass, so none is
                        // registered late; each records when the timer wakes it.
                        let mut sleeps: Vec<_> = deadlines
                            .iter()
                            .enumerate()
                            .map(|(id, &d)| {
                                Some(RecordWake::new(id, log.clone(), time::sleep_until(d)))
                            })
                            .collect();
                        let mut completed = vec![None; sleeps.len()];
                        poll_fn(|cx| {
                            for (id, slot) in sleeps.iter_mut().enumerate() {
                                if let Some(sleep) = slot {
                                    if Pin::new(sleep).poll(cx).is_ready() {
                                        completed[id] = Some(Instant::now());
                                        *slot = None;
                                    }
                                }
                            }
                            if sleeps.iter().all(Option::is_none) {
                                Poll::Ready(())
                            } else {
                                Poll::Pending
                            }
                        })
                        .await;
                        completed
                    })
                };
                for (id, at) in completed.iter().enumerate() {
                    assert!(at.unwrap() >= deadlines[id], "sleep {id} completed early");
                }
                // Normally all 100; fewer only if this thread was stalled for
                // ~10 ms while registering them.
                let order = log.lock().unwrap().clone();
                let mut unique = order.clone();
                unique.sort();
                unique.dedup();
                assert_eq!(unique.len(), order.len(), "a sleep was woken twice: {order:?}");
                // Deadlines round up to the resolution, so two deadlines less
                // than one resolution apart may share a tick and fire in either
                // order; any wider inversion is a bug.
                for (pos, &later) in order.iter().enumerate() {
                    for &earlier in &order[..pos] {
                        assert!(
                            deadlines[earlier] < deadlines[later] + resolution,
                            "sleep {earlier} (+{:?}) fired before sleep {later} (+{:?}): {order:?}",
                            deadlines[earlier] - start,
                            deadlines[later] - start,
                        );
                    }
                }
            }

            #[test]
            fn many_spawned_sleeps_all_complete_after_their_deadlines() {
                let rt = Rt::build().unwrap();
                let early = rt.block_on(async {
                    let handles: Vec<_> = (0..1_000u32)
                        .map(|i| {
                            zokio::spawn(async move {
                                let deadline = Instant::now() + (i % 20 + 1) * MS;
                                time::sleep_until(deadline).await;
                                Instant::now() < deadline
                            })
                        })
                        .collect();
                    let mut early = 0;
                    for h in handles {
                        early += usize::from(h.await.unwrap());
                    }
                    early
                });
                assert_eq!(early, 0);
            }

            #[test]
            fn reset_moves_a_sleep() {
                let rt = Rt::build().unwrap();
                rt.block_on(async {
                    let mut delay = time::sleep(Duration::from_secs(3_600));
                    // Register the hour-long deadline, then bring it forward.
                    assert!(poll_fn(|cx| Poll::Ready(Pin::new(&mut delay).poll(cx))).await.is_pending());
                    let sooner = Instant::now() + 5 * MS;
                    delay.reset(sooner);
                    assert_eq!(delay.deadline(), sooner);
                    (&mut delay).await;
                    assert!(Instant::now() >= sooner);
                    assert!(delay.is_elapsed());
                    assert_eq!(time::__live_timer_entries(), 0);
                });
            }

            #[test]
            fn timeout_elapses_for_a_future_that_never_completes() {
                let rt = Rt::build().unwrap();
                let (result, elapsed) = rt.block_on(async {
                    let start = Instant::now();
                    let result = time::timeout(10 * MS, pending::<()>()).await;
                    (result, start.elapsed())
                });
                let err = result.unwrap_err();
                assert_eq!(err.to_string(), "deadline has elapsed");
                assert!(elapsed >= 10 * MS);
            }

            #[test]
            fn timeout_returns_the_output_of_a_future_that_completes() {
                let rt = Rt::build().unwrap();
                rt.block_on(async {
                    assert_eq!(time::timeout(Duration::ZERO, async { 5 }).await, Ok(5));
                    let past = Instant::now();
                    assert_eq!(time::timeout_at(past, std::future::ready('x')).await, Ok('x'));
                    let slow_enough = time::timeout(50 * MS, time::sleep(2 * MS)).await;
                    assert_eq!(slow_enough, Ok(()));
                    let handle = zokio::spawn(async { 9 });
                    assert_eq!(time::timeout(50 * MS, handle).await.unwrap().unwrap(), 9);
                    assert_eq!(time::__live_timer_entries(), 0);
                });
            }

            #[test]
            fn interval_ticks_spaced_by_its_period() {
                let rt = Rt::build().unwrap();
                let period = 5 * MS;
                let (ticks, done_at) = rt.block_on(async move {
                    let mut interval = time::interval(period);
                    let mut ticks = Vec::new();
                    for _ in 0..6 {
                        ticks.push(interval.tick().await);
                    }
                    (ticks, Instant::now())
                });
                for pair in ticks.windows(2) {
                    assert!(pair[1] >= pair[0] + period, "{ticks:?}");
                }
                assert!(done_at >= ticks[5], "the last tick completed early");
                assert!(done_at - ticks[0] >= 5 * period);
            }

            #[test]
            fn interval_behaviors_never_tick_before_the_schedule() {
                let rt = Rt::build().unwrap();
                for behavior in [MissedTickBehavior::Burst, MissedTickBehavior::Delay, MissedTickBehavior::Skip] {
                    rt.block_on(async move {
                        let start = Instant::now() + 2 * MS;
                        let mut interval = time::interval_at(start, 4 * MS);
                        interval.set_missed_tick_behavior(behavior);
                        assert_eq!(interval.tick().await, start);
                        // Miss a couple of ticks.
                        time::sleep(15 * MS).await;
                        let mut last = start;
                        for _ in 0..4 {
                            let tick = interval.tick().await;
                            assert!(tick > last, "{behavior:?}");
                            assert!(Instant::now() >= tick, "{behavior:?} ticked early");
                            last = tick;
                        }
                    });
                }
            }

            #[test]
            fn dropping_pending_sleeps_unregisters_them() {
                let rt = Rt::build().unwrap();
                rt.block_on(async {
                    // Never awaited to completion, so the hour never passes.
                    let mut sleeps: Vec<_> =
                        (0..100_000).map(|_| time::sleep(Duration::from_secs(3_600))).collect();
                    poll_fn(|cx| {
                        for sleep in &mut sleeps {
                            assert!(Pin::new(sleep).poll(cx).is_pending());
                        }
                        Poll::Ready(())
                    })
                    .await;
                    assert_eq!(time::__live_timer_entries(), 100_000);
                    drop(sleeps);
                    assert_eq!(time::__live_timer_entries(), 0);
                });
                // The same from a spawned task, with timeouts.
                let live = rt.block_on(async {
                    zokio::spawn(async {
                        let mut timeouts: Vec<_> =
                            (0..10_000).map(|_| time::timeout(Duration::from_secs(3_600), pending::<()>())).collect();
                        poll_fn(|cx| {
                            for t in &mut timeouts {
                                assert!(Pin::new(t).poll(cx).is_pending());
                            }
                            Poll::Ready(())
                        })
                        .await;
                        let registered = time::__live_timer_entries();
                        drop(timeouts);
                        (registered, time::__live_timer_entries())
                    })
                    .await
                    .unwrap()
                });
                assert_eq!(live, (10_000, 0));
            }
        }
    };
}

flavor_suite!(current_thread, flavor = "current_thread");
flavor_suite!(multi_thread, flavor = "multi_thread", workers = 2);

#[test]
#[should_panic(expected = "period must be non-zero")]
fn a_zero_interval_period_panics_with_advice() {
    let _ = time::interval(Duration::ZERO);
}

#[test]
#[should_panic(expected = "there is no zokio runtime running on this thread")]
fn sleep_outside_a_runtime_panics_with_advice() {
    drop(time::sleep(MS));
}
