//! Synchronization primitives for async code: channels, locks, semaphores,
//! notifications, barriers and once-cells.
//!
//! **These are tokio's.** `zokio::sync` re-exports `tokio::sync` unchanged,
//! built from tokio with `default-features = false, features = ["sync"]`,
//! which compiles none of tokio's runtime. Every item works on any executor:
//! it keeps its waiters' [`Waker`](std::task::Waker)s and wakes them, and
//! never needs a tokio reactor, timer or scheduler. Reusing it rather than
//! writing new primitives is deliberate (see `DESIGN.md`):
//!
//! * it is widely used and model-checked with loom, which a rewrite would
//!   have to earn again;
//! * code written against `tokio::sync` moves to zokio by changing the crate
//!   name, and values cross freely between libraries built on either (a
//!   `tokio::sync::mpsc::Sender` *is* a `zokio::sync::mpsc::Sender`);
//! * nothing in these primitives depends on the scheduler, so a
//!   runtime-integrated version would only be worth having if a benchmark
//!   showed it clearly faster. None has so far; if one replaces an item
//!   here, this page will say which.
//!
//! | item | what it is |
//! |---|---|
//! | [`mpsc`] | multi-producer, single-consumer channel, bounded or unbounded |
//! | [`oneshot`] | a single value sent once from one task to another |
//! | [`broadcast`] | multi-producer, multi-consumer: every receiver sees every value |
//! | [`watch`] | multi-consumer channel that keeps only the latest value |
//! | [`Mutex`], [`RwLock`] | locks whose guards may be held across `.await` |
//! | [`Semaphore`] | a pool of permits, e.g. to bound concurrency |
//! | [`Notify`] | wakes one or all waiting tasks, without data |
//! | [`Barrier`] | waits until a number of tasks have all arrived |
//! | [`OnceCell`], [`SetOnce`] | a value initialised once, asynchronously or by a setter |
//!
//! Guard, permit and error types (`MutexGuard`, `OwnedSemaphorePermit`,
//! `TryLockError`, ...) and the [`futures`] module come along.
//!
//! # What differs from tokio
//!
//! tokio's cooperative budget is not in play: under tokio, a receive that is
//! always ready (a flooded channel, an uncontended lock) eventually returns
//! `Pending` to make its task yield. Under zokio that budget never runs out,
//! so a loop that only awaits these primitives does not yield by itself; add
//! [`task::yield_now`](crate::task::yield_now) to such a loop if other tasks
//! must run on the same worker meanwhile. zokio's own futures (sockets,
//! timers, `JoinHandle`s) do spend zokio's budget.
//!
//! # Example
//!
//! Tasks spawned on a zokio runtime add to a total behind a [`Mutex`] and
//! report through an [`mpsc`] channel; a collector task hands back the
//! result on a [`oneshot`].
//!
//! ```
//! use std::sync::Arc;
//! use zokio::sync::{Mutex, mpsc, oneshot};
//!
//! zokio::runtime! { Rt { flavor = "multi_thread", workers = 2 } }
//!
//! Rt::block_on(async {
//!     let total = Arc::new(Mutex::new(0u32));
//!     let (done_tx, mut done_rx) = mpsc::channel::<u32>(8);
//!     for id in 0..4 {
//!         let (total, done_tx) = (total.clone(), done_tx.clone());
//!         zokio::spawn(async move {
//!             *total.lock().await += 10;
//!             done_tx.send(id).await.unwrap();
//!         });
//!     }
//!     // The channel closes when the last task drops its sender.
//!     drop(done_tx);
//!
//!     let (result_tx, result_rx) = oneshot::channel();
//!     zokio::spawn(async move {
//!         let mut finished = Vec::new();
//!         while let Some(id) = done_rx.recv().await {
//!             finished.push(id);
//!         }
//!         finished.sort();
//!         result_tx.send(finished).unwrap();
//!     });
//!
//!     assert_eq!(result_rx.await.unwrap(), [0, 1, 2, 3]);
//!     assert_eq!(*total.lock().await, 40);
//! });
//! ```

pub use tokio::sync::*;
