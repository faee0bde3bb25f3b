//! `select!`, `join!`, `try_join!` and `pin!`.
//!
//! These are tokio's macros, reached through `$crate` so that a program
//! depending only on zokio can use them: they only poll futures on the
//! current task, so they need no runtime of their own and behave exactly as
//! under tokio (the same syntax, the same random branch order, the same
//! cancellation). tokio's `macros` feature builds them; it brings the small
//! `tokio-macros` proc-macro crate (whose `syn` the workspace already
//! compiles) and none of tokio's runtime.

/// Waits on several futures at once and runs the handler of the first one
/// to complete, dropping the others.
///
/// ```text
/// zokio::select! {
///     [biased;]
///     <pattern> = <future> [, if <condition>] => <handler>,
///     ...
///     [else => <handler>]
/// }
/// ```
///
/// All branches run on the current task; `select!` spawns nothing. It:
///
/// 1. evaluates every `<condition>`; a branch whose condition is false is
///    disabled: its `<future>` expression is still evaluated, but the
///    future is never polled;
/// 2. polls the enabled futures, starting from a **random** branch each
///    time it is polled so that no branch starves the others (`biased;`
///    polls them in the order written instead, which is cheaper and
///    deterministic);
/// 3. when a future completes, matches its output against `<pattern>`: on a
///    match, drops every other future (cancelling what it was doing) and
///    evaluates `<handler>` with the pattern's bindings; on no match,
///    disables that branch and keeps waiting on the rest;
/// 4. once every branch is disabled, evaluates the `else` handler, or
///    panics if there is none.
///
/// The value of `select!` is the value of the handler that ran, so every
/// handler has the same type. Because losing branches are dropped, a future
/// used in a loop of `select!`s should be *cancel safe* (dropping it loses
/// nothing): `mpsc::Receiver::recv`, `TcpListener::accept` and
/// `Interval::tick` are; `read_exact` is not. To keep a future across
/// iterations instead, pin it outside the loop with [`pin!`](crate::pin)
/// and select on `&mut fut`. At most 64 branches.
///
/// # Examples
///
/// Whichever is ready first wins; the loser is dropped.
///
/// ```
/// use zokio::sync::oneshot;
/// use zokio::time::{Duration, sleep};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let (tx, rx) = oneshot::channel();
///     zokio::spawn(async move { tx.send("reply").unwrap() });
///     let got = zokio::select! {
///         reply = rx => reply.unwrap(),
///         () = sleep(Duration::from_secs(60)) => "timed out",
///     };
///     assert_eq!(got, "reply");
/// });
/// ```
///
/// Patterns and `else`: receive from two channels until both have closed.
/// `recv()` returns `None` on a closed channel, which does not match
/// `Some(..)`, so that branch is disabled; with both disabled, `else` runs.
///
/// ```
/// use zokio::sync::mpsc;
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let (tx_a, mut a) = mpsc::channel(4);
///     let (tx_b, mut b) = mpsc::channel(4);
///     zokio::spawn(async move {
///         for i in [1, 2] {
///             tx_a.send(i).await.unwrap();
///         }
///     });
///     zokio::spawn(async move {
///         for i in [10, 20] {
///             tx_b.send(i).await.unwrap();
///         }
///     });
///     let mut sum = 0;
///     loop {
///         zokio::select! {
///             Some(i) = a.recv() => sum += i,
///             Some(i) = b.recv() => sum += i,
///             else => break,
///         }
///     }
///     assert_eq!(sum, 33);
/// });
/// ```
///
/// `biased;` and preconditions: with every branch ready, `biased;` takes
/// the first enabled one in the order written.
///
/// ```
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let pick = |first_enabled: bool| async move {
///         zokio::select! {
///             biased;
///             v = async { "first" }, if first_enabled => v,
///             v = async { "second" } => v,
///         }
///     };
///     assert_eq!(pick(true).await, "first");
///     assert_eq!(pick(false).await, "second");
/// });
/// ```
#[macro_export]
macro_rules! select {
    ($($input:tt)*) => {
        $crate::__private::tokio::select! { $($input)* }
    };
}

/// Waits on several futures concurrently, on the current task, and returns
/// all their outputs as a tuple once every one has completed.
///
/// Nothing is spawned: for the futures to run in parallel on several
/// workers, [`spawn`](crate::spawn) them and join the handles. Each time
/// `join!` is polled it polls the unfinished futures in a rotating order,
/// so none is always first; `join!(biased; a, b)` polls them in the order
/// written. At most 64 futures.
///
/// ```
/// use zokio::time::{Duration, sleep};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let slow = async {
///         sleep(Duration::from_millis(5)).await;
///         "slow"
///     };
///     let fast = async { 2 };
///     let (a, b) = zokio::join!(slow, fast);
///     assert_eq!((a, b), ("slow", 2));
/// });
/// ```
#[macro_export]
macro_rules! join {
    ($($input:tt)*) => {
        $crate::__private::tokio::join! { $($input)* }
    };
}

/// Waits on several futures returning `Result` concurrently, on the current
/// task: `Ok` with a tuple of every output once all have succeeded, or the
/// first `Err`, at which point the other futures are dropped without being
/// polled again.
///
/// All the futures must have the same error type. Like [`join!`](crate::join),
/// it spawns nothing, rotates the polling order unless given `biased;`, and
/// takes at most 64 futures.
///
/// ```
/// use std::io;
/// use zokio::time::{Duration, sleep};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// async fn fetch(n: u32) -> io::Result<u32> {
///     sleep(Duration::from_millis(1)).await;
///     Ok(n * 10)
/// }
///
/// async fn fail() -> io::Result<u32> {
///     Err(io::Error::other("unreachable host"))
/// }
///
/// Rt::block_on(async {
///     assert_eq!(zokio::try_join!(fetch(1), fetch(2)).unwrap(), (10, 20));
///     // `fail` errs at once; the pending `fetch` is dropped.
///     let err = zokio::try_join!(fetch(3), fail()).unwrap_err();
///     assert_eq!(err.to_string(), "unreachable host");
/// });
/// ```
#[macro_export]
macro_rules! try_join {
    ($($input:tt)*) => {
        $crate::__private::tokio::try_join! { $($input)* }
    };
}

/// Pins values on the stack, shadowing each name with a `Pin<&mut T>`.
///
/// Needed to poll a future that is not `Unpin` by reference, for example to
/// keep one future alive across the iterations of a [`select!`](crate::select)
/// loop. `pin!(a, b)` pins existing variables; `pin! { let x = expr; }`
/// declares and pins at once. (`std::pin::pin!` pins one expression; this is
/// tokio's form, kept for code that uses it.)
///
/// ```
/// use zokio::sync::mpsc;
/// use zokio::time::{Duration, sleep};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let (tx, mut rx) = mpsc::unbounded_channel();
///     for i in 0..3 {
///         tx.send(i).unwrap();
///     }
///     // One deadline for the whole loop, not one per iteration.
///     let deadline = sleep(Duration::from_secs(60));
///     zokio::pin!(deadline);
///     let mut got = Vec::new();
///     while got.len() < 3 {
///         zokio::select! {
///             Some(i) = rx.recv() => got.push(i),
///             () = &mut deadline => panic!("timed out"),
///         }
///     }
///     got.sort();
///     assert_eq!(got, [0, 1, 2]);
/// });
/// ```
#[macro_export]
macro_rules! pin {
    ($($input:tt)*) => {
        $crate::__private::tokio::pin! { $($input)* }
    };
}
