//! Task-local values, as tokio's `task_local!`: a value set for the
//! duration of a future (every poll of it, on whichever thread), visible to
//! the code that future runs.
//!
//! No runtime support is needed: [`LocalKey::scope`] wraps the future, and
//! each poll moves the value into a thread-local slot, polls, and moves it
//! back (also if the poll panics).

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Declares task-local keys, as tokio's `task_local!`.
///
/// ```
/// zokio::task_local! {
///     static REQUEST_ID: u64;
/// }
///
/// #[zokio::main(flavor = "current_thread")]
/// async fn main() {
///     REQUEST_ID
///         .scope(7, async {
///             zokio::task::yield_now().await;
///             assert_eq!(REQUEST_ID.get(), 7);
///         })
///         .await;
///     assert!(REQUEST_ID.try_with(|id| *id).is_err(), "not set outside the scope");
/// }
/// ```
#[macro_export]
macro_rules! task_local {
    () => {};
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty; $($rest:tt)*) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
        $crate::task_local!($($rest)*);
    };
    ($(#[$attr:meta])* $vis:vis static $name:ident: $t:ty) => {
        $crate::__task_local_inner!($(#[$attr])* $vis $name, $t);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __task_local_inner {
    ($(#[$attr:meta])* $vis:vis $name:ident, $t:ty) => {
        $(#[$attr])*
        $vis static $name: $crate::task::LocalKey<$t> = {
            ::std::thread_local! {
                static __KEY: ::std::cell::RefCell<::std::option::Option<$t>> =
                    const { ::std::cell::RefCell::new(::std::option::Option::None) };
            }
            $crate::task::LocalKey::__new(__KEY)
        };
    };
}

/// A task-local key, declared with [`task_local!`](crate::task_local).
pub struct LocalKey<T: 'static> {
    inner: std::thread::LocalKey<RefCell<Option<T>>>,
}

/// The value was read outside any scope that sets it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessError(());

impl fmt::Display for AccessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task-local value not set (read outside `LocalKey::scope`)")
    }
}

impl std::error::Error for AccessError {}

impl<T: 'static> LocalKey<T> {
    #[doc(hidden)]
    pub const fn __new(inner: std::thread::LocalKey<RefCell<Option<T>>>) -> LocalKey<T> {
        LocalKey { inner }
    }

    /// Runs `future` with the key set to `value` during each of its polls.
    pub fn scope<F: Future>(&'static self, value: T, future: F) -> TaskLocalFuture<T, F> {
        TaskLocalFuture {
            key: self,
            slot: Some(value),
            future: ManuallyDrop::new(future),
        }
    }

    /// Runs `f` with the key set to `value`.
    ///
    /// # Panics
    ///
    /// If the key is borrowed (inside its own `with`).
    pub fn sync_scope<R>(&'static self, value: T, f: impl FnOnce() -> R) -> R {
        let mut slot = Some(value);
        let _swapped = Swap::new(self, &mut slot);
        f()
    }

    /// Runs `f` with a reference to the value.
    ///
    /// # Panics
    ///
    /// Outside a scope that sets the key (see [`try_with`](Self::try_with)).
    #[track_caller]
    pub fn with<R>(&'static self, f: impl FnOnce(&T) -> R) -> R {
        match self.try_with(f) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        }
    }

    /// Runs `f` with a reference to the value, or `AccessError` outside a
    /// scope that sets the key.
    pub fn try_with<R>(&'static self, f: impl FnOnce(&T) -> R) -> Result<R, AccessError> {
        self.inner
            .try_with(|cell| cell.borrow().as_ref().map(f))
            .ok()
            .flatten()
            .ok_or(AccessError(()))
    }
}

impl<T: Clone + 'static> LocalKey<T> {
    /// A copy of the value.
    ///
    /// # Panics
    ///
    /// Outside a scope that sets the key.
    #[track_caller]
    pub fn get(&'static self) -> T {
        self.with(T::clone)
    }
}

impl<T: 'static> fmt::Debug for LocalKey<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LocalKey { .. }")
    }
}

/// Moves a value into the key's thread-local slot and back out on drop
/// (so a panic in the poll, or in `f`, puts it back too), restoring what
/// was there before (scopes nest).
struct Swap<'a, T: 'static> {
    key: &'static LocalKey<T>,
    slot: &'a mut Option<T>,
}

impl<'a, T: 'static> Swap<'a, T> {
    fn new(key: &'static LocalKey<T>, slot: &'a mut Option<T>) -> Swap<'a, T> {
        key.inner
            .with(|cell| std::mem::swap(&mut *cell.borrow_mut(), slot));
        Swap { key, slot }
    }
}

impl<T: 'static> Drop for Swap<'_, T> {
    fn drop(&mut self) {
        // `try_with`: at thread exit the slot may be gone already.
        let _ = self
            .key
            .inner
            .try_with(|cell| std::mem::swap(&mut *cell.borrow_mut(), self.slot));
    }
}

/// The future of [`LocalKey::scope`]. The key is also set while the inner
/// future is dropped, as in tokio.
pub struct TaskLocalFuture<T: 'static, F> {
    key: &'static LocalKey<T>,
    slot: Option<T>,
    /// Pinned with `self` (never moved out); dropped by `Drop` with the
    /// value in place.
    future: ManuallyDrop<F>,
}

impl<T: 'static, F: Future> Future for TaskLocalFuture<T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned: nothing moves it out of
        // `self` (it is only polled here and dropped in place by `Drop`).
        // `key` and `slot` are not pinned and are used as plain fields
        // (the value in `slot` moves in and out, which pinning allows for
        // a field that is not pinned).
        let this = unsafe { self.get_unchecked_mut() };
        let _swapped = Swap::new(this.key, &mut this.slot);
        // SAFETY: as above: `future` stays where it is until dropped.
        let future = unsafe { Pin::new_unchecked(&mut *this.future) };
        future.poll(cx)
    }
}

impl<T: 'static, F> Drop for TaskLocalFuture<T, F> {
    fn drop(&mut self) {
        let _swapped = Swap::new(self.key, &mut self.slot);
        // SAFETY: dropped exactly once, here, in place (never moved, as
        // pinning requires), and never used afterwards.
        unsafe { ManuallyDrop::drop(&mut self.future) };
    }
}

impl<T: 'static, F> fmt::Debug for TaskLocalFuture<T, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TaskLocalFuture { .. }")
    }
}
