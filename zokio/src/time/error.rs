//! Errors of the time module.

use std::error::Error;
use std::fmt;
use std::io;

/// The error of a [`timeout`](super::timeout) whose deadline passed before
/// the future completed.
///
/// ```
/// use std::future::pending;
/// use zokio::time::{Duration, error::Elapsed, timeout};
///
/// zokio::runtime! { Rt { flavor = "current_thread" } }
///
/// let result: Result<(), Elapsed> =
///     Rt::block_on(async { timeout(Duration::from_millis(1), pending()).await });
/// let err = result.unwrap_err();
/// assert_eq!(err.to_string(), "deadline has elapsed");
/// let io_err: std::io::Error = err.into();
/// assert_eq!(io_err.kind(), std::io::ErrorKind::TimedOut);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl Elapsed {
    pub(crate) fn new() -> Self {
        Elapsed(())
    }
}

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl Error for Elapsed {}

impl From<Elapsed> for io::Error {
    fn from(elapsed: Elapsed) -> io::Error {
        io::Error::new(io::ErrorKind::TimedOut, elapsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elapsed_displays_and_converts() {
        let err = Elapsed::new();
        assert_eq!(err.to_string(), "deadline has elapsed");
        let err: Box<dyn Error + Send + Sync> = Box::new(err);
        assert!(err.source().is_none());
        let io = io::Error::from(Elapsed::new());
        assert_eq!(io.kind(), io::ErrorKind::TimedOut);
        assert_eq!(io.to_string(), "deadline has elapsed");
    }
}
