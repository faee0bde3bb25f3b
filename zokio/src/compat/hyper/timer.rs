//! [`ZokioTimer`]: hyper's timeouts and keep-alive pings on zokio's timer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::time::{Sleep, sleep, sleep_until};

/// hyper's [`Timer`](::hyper::rt::Timer), over [`zokio::time`](crate::time):
/// what hyper's header-read timeout, HTTP/2 keep-alive pings and client
/// pool expiry run on. Give it to a connection builder with `.timer(..)`.
///
/// Sleeps are created on the runtime of the calling thread (hyper creates
/// them while polling a connection, on the runtime serving it), complete
/// on that runtime's timer at its resolution (`timer.resolution`, 1 ms by
/// default; never early), and are moved in place when hyper resets them.
///
/// # Panics
///
/// `sleep` and `sleep_until` panic when called outside a zokio runtime.
///
/// ```
/// use hyper::rt::Timer;
/// use zokio::compat::hyper::ZokioTimer;
/// use zokio::time::{Duration, Instant};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// Rt::block_on(async {
///     let timer = ZokioTimer::new();
///     let start = Instant::now();
///     let mut delay = timer.sleep(Duration::from_secs(3600));
///     // Moved in place rather than replaced (hyper's deadlines are std's).
///     timer.reset(&mut delay, (start + Duration::from_millis(5)).into_std());
///     delay.await;
///     assert!(Instant::now() >= start + Duration::from_millis(5));
/// });
/// ```
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ZokioTimer {
    _private: (),
}

impl ZokioTimer {
    /// A timer on the current zokio runtime.
    ///
    /// ```
    /// let timer = zokio::compat::hyper::ZokioTimer::new();
    /// # let _ = timer;
    /// ```
    pub fn new() -> Self {
        ZokioTimer { _private: () }
    }
}

impl ::hyper::rt::Timer for ZokioTimer {
    #[track_caller]
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(ZokioSleep(sleep(duration)))
    }

    #[track_caller]
    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn ::hyper::rt::Sleep>> {
        Box::pin(ZokioSleep(sleep_until(deadline.into())))
    }

    /// The runtime's clock (a paused one with `test-util`), so hyper's
    /// deadlines agree with zokio's timers.
    fn now(&self) -> Instant {
        crate::time::Instant::now().into_std()
    }

    fn reset(&self, sleep: &mut Pin<Box<dyn ::hyper::rt::Sleep>>, new_deadline: Instant) {
        match sleep.as_mut().downcast_mut_pin::<ZokioSleep>() {
            Some(ours) => Pin::into_inner(ours).0.reset(new_deadline.into()),
            // Someone else's sleep: replace it.
            None => *sleep = self.sleep_until(new_deadline),
        }
    }
}

/// A zokio [`Sleep`] as hyper's [`Sleep`](::hyper::rt::Sleep) (a trait zokio
/// cannot implement for its own type directly, being hyper's to seal).
struct ZokioSleep(Sleep);

impl Future for ZokioSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        Pin::new(&mut self.0).poll(cx)
    }
}

impl ::hyper::rt::Sleep for ZokioSleep {}

#[cfg(test)]
mod tests {
    use super::*;
    use ::hyper::rt::Timer;

    crate::runtime! { Rt { flavor = "current_thread" } }

    #[test]
    fn reset_moves_a_zokio_sleep_in_place() {
        Rt::block_on(async {
            let timer = ZokioTimer::new();
            let mut delay = timer.sleep(Duration::from_secs(3600));
            let before: *const () = (&*delay as *const dyn ::hyper::rt::Sleep).cast();
            let at = Instant::now() + Duration::from_millis(2);
            timer.reset(&mut delay, at);
            let after: *const () = (&*delay as *const dyn ::hyper::rt::Sleep).cast();
            assert_eq!(before, after, "reset allocated a new sleep");
            delay.await;
            assert!(Instant::now() >= at);
        });
    }

    /// Someone else's sleep, ready at once.
    struct Foreign;

    impl Future for Foreign {
        type Output = ();
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
            Poll::Ready(())
        }
    }

    impl ::hyper::rt::Sleep for Foreign {}

    #[test]
    fn reset_replaces_a_foreign_sleep() {
        Rt::block_on(async {
            let timer = ZokioTimer::new();
            let mut delay: Pin<Box<dyn ::hyper::rt::Sleep>> = Box::pin(Foreign);
            let at = Instant::now() + Duration::from_millis(2);
            timer.reset(&mut delay, at);
            assert!(delay.is::<ZokioSleep>());
            delay.await;
            assert!(Instant::now() >= at);
        });
    }
}
