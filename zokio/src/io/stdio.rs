//! The process's standard streams, as tokio's `io::stdin`, `io::stdout`
//! and `io::stderr`.
//!
//! A standard stream may be a terminal, a file or a pipe, and only pipes
//! can be waited on without blocking, so each call runs on the blocking
//! pool, as in tokio: a read fills a buffer there and hands it out; a write
//! copies the bytes into a buffer and returns, and the blocking pool writes
//! them out (the next write, `flush` or `shutdown` waits for that and
//! reports its error, if any).

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::task::JoinHandle;

/// The most bytes one blocking read or write moves.
const MAX_BUF: usize = 16 * 1024;

/// A buffer and how much of it is still to hand out (reads) or to write
/// (writes).
#[derive(Default)]
struct Buf {
    bytes: Vec<u8>,
    pos: usize,
}

impl Buf {
    fn is_empty(&self) -> bool {
        self.pos == self.bytes.len()
    }
}

/// A standard stream run on the blocking pool: idle with the stream and a
/// buffer, or busy with a job that gives them back.
enum State<T> {
    Idle(Option<(T, Buf)>),
    Busy(JoinHandle<(io::Result<usize>, T, Buf)>, Job),
}

/// What a busy stream's job does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Job {
    Read,
    Write,
    Flush,
}

struct Blocking<T> {
    state: State<T>,
    /// Makes the std handle again when a job did not give it back (the
    /// runtime cancelled it at shutdown, or it panicked).
    make: fn() -> T,
    /// A write went out since the last flush.
    need_flush: bool,
}

impl<T: Send + 'static> Blocking<T> {
    fn new(make: fn() -> T) -> Blocking<T> {
        Blocking {
            state: State::Idle(None),
            make,
            need_flush: false,
        }
    }

    /// Waits for the job in flight, if any; its result. A job that did not
    /// finish (cancelled, or panicked) is an error, and the stream starts
    /// over with a new handle and an empty buffer.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let State::Busy(job, _) = &mut self.state else {
            return Poll::Ready(Ok(0));
        };
        let joined = ready!(Pin::new(job).poll(cx));
        match joined {
            Ok((result, inner, buf)) => {
                self.state = State::Idle(Some((inner, buf)));
                Poll::Ready(result)
            }
            Err(e) => {
                self.state = State::Idle(None);
                Poll::Ready(Err(io::Error::other(format!(
                    "a standard stream's blocking call did not finish: {e}"
                ))))
            }
        }
    }

    /// The idle stream's handle and buffer (made anew if a job lost them).
    fn parts(&mut self) -> &mut Option<(T, Buf)> {
        let make = self.make;
        match &mut self.state {
            State::Idle(parts) => {
                if parts.is_none() {
                    *parts = Some((make(), Buf::default()));
                }
                parts
            }
            // Every caller waits for the job (`poll_idle`) first.
            State::Busy(..) => unreachable!("a busy stream's parts are the job's"),
        }
    }

    fn take(&mut self) -> (T, Buf) {
        let parts = self.parts().take();
        parts.unwrap_or_else(|| ((self.make)(), Buf::default()))
    }

    fn buf(&mut self) -> &mut Buf {
        match self.parts() {
            Some((_, buf)) => buf,
            None => unreachable!("`parts` makes them when missing"),
        }
    }
}

impl<T: Read + Send + 'static> Blocking<T> {
    fn poll_read(&mut self, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            if let State::Busy(..) = self.state {
                // The read in flight (perhaps started for a caller that went
                // away): its bytes, its end of input or its error are this
                // caller's.
                ready!(self.poll_idle(cx))?;
                if self.buf().is_empty() {
                    return Poll::Ready(Ok(()));
                }
            }
            let buf = self.buf();
            if !buf.is_empty() {
                let n = (buf.bytes.len() - buf.pos).min(out.remaining());
                out.put_slice(&buf.bytes[buf.pos..buf.pos + n]);
                buf.pos += n;
                return Poll::Ready(Ok(()));
            }
            if out.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            let (mut inner, mut buf) = self.take();
            let want = out.remaining().min(MAX_BUF);
            self.state = State::Busy(
                crate::task::spawn_blocking(move || {
                    buf.bytes.resize(want, 0);
                    buf.pos = 0;
                    let result = loop {
                        match inner.read(&mut buf.bytes) {
                            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                            result => break result,
                        }
                    };
                    buf.bytes.truncate(*result.as_ref().unwrap_or(&0));
                    (result, inner, buf)
                }),
                Job::Read,
            );
        }
    }
}

impl<T: Write + Send + 'static> Blocking<T> {
    fn poll_write(&mut self, cx: &mut Context<'_>, bytes: &[u8]) -> Poll<io::Result<usize>> {
        // The previous write must be out first (its error, if any, is this
        // call's).
        ready!(self.poll_idle(cx))?;
        if bytes.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let (mut inner, mut buf) = self.take();
        self.need_flush = true;
        let n = bytes.len().min(MAX_BUF);
        buf.bytes.clear();
        buf.bytes.extend_from_slice(&bytes[..n]);
        buf.pos = 0;
        self.state = State::Busy(
            crate::task::spawn_blocking(move || {
                let result = inner.write_all(&buf.bytes).map(|()| buf.bytes.len());
                buf.pos = buf.bytes.len();
                (result, inner, buf)
            }),
            Job::Write,
        );
        Poll::Ready(Ok(n))
    }

    /// Waits for the write in flight, then flushes (once: a flush in
    /// flight is waited for, not started again; with nothing written since
    /// the last flush, nothing to do).
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match &self.state {
                State::Busy(_, Job::Flush) => {
                    ready!(self.poll_idle(cx))?;
                    return Poll::Ready(Ok(()));
                }
                State::Busy(..) => {
                    ready!(self.poll_idle(cx))?;
                }
                State::Idle(_) if !self.need_flush => return Poll::Ready(Ok(())),
                State::Idle(_) => {
                    self.need_flush = false;
                    let (mut inner, buf) = self.take();
                    self.state = State::Busy(
                        crate::task::spawn_blocking(move || {
                            let result = inner.flush().map(|()| 0);
                            (result, inner, buf)
                        }),
                        Job::Flush,
                    );
                }
            }
        }
    }
}

macro_rules! stdio_type {
    ($name:ident, $inner:ty, $fd:expr, $doc:literal) => {
        #[doc = $doc]
        pub struct $name {
            inner: Blocking<$inner>,
        }

        impl std::os::fd::AsRawFd for $name {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                $fd
            }
        }

        impl std::os::fd::AsFd for $name {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                // SAFETY: the standard streams' descriptors stay open for
                // the life of the process (std relies on it too).
                unsafe { std::os::fd::BorrowedFd::borrow_raw($fd) }
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(stringify!($name))
            }
        }
    };
}

stdio_type!(
    Stdin,
    io::Stdin,
    libc::STDIN_FILENO,
    "The process's standard input ([`AsyncRead`]), from [`stdin`]. Each read \
     runs on the blocking pool; a read the caller abandons still takes its \
     bytes, which the next read of the same `Stdin` returns (keep one \
     `Stdin` rather than calling `stdin()` for each read). A read waiting on a terminal holds \
     its thread until input arrives, and dropping the runtime waits for it \
     (as with tokio): for interactive input, read on a thread of your own."
);
stdio_type!(
    Stdout,
    io::Stdout,
    libc::STDOUT_FILENO,
    "The process's standard output ([`AsyncWrite`]), from [`stdout`]. A write \
     returns once its bytes are copied; `flush` waits until they are out. \
     Flush before the runtime shuts down: a write still queued then may be \
     lost (as with tokio)."
);
stdio_type!(
    Stderr,
    io::Stderr,
    libc::STDERR_FILENO,
    "The process's standard error ([`AsyncWrite`]), from [`stderr`]; as \
     [`Stdout`]."
);

/// The process's standard input.
pub fn stdin() -> Stdin {
    Stdin {
        inner: Blocking::new(io::stdin),
    }
}

/// The process's standard output. Bytes written through it and through
/// `println!` may interleave; `flush` before switching.
pub fn stdout() -> Stdout {
    Stdout {
        inner: Blocking::new(io::stdout),
    }
}

/// The process's standard error.
pub fn stderr() -> Stderr {
    Stderr {
        inner: Blocking::new(io::stderr),
    }
}

impl AsyncRead for Stdin {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().inner.poll_read(cx, buf)
    }
}

macro_rules! impl_write {
    ($name:ident) => {
        impl AsyncWrite for $name {
            fn poll_write(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.get_mut().inner.poll_write(cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().inner.poll_flush(cx)
            }

            /// Flushes (a standard stream is not closed).
            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.get_mut().inner.poll_flush(cx)
            }
        }
    };
}

impl_write!(Stdout);
impl_write!(Stderr);

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    crate::runtime! { Ct { flavor = "current_thread", backend = "auto" } }

    /// Reads panic the first time, then give "ok".
    struct Flaky;

    static READS: AtomicUsize = AtomicUsize::new(0);

    impl Read for Flaky {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if READS.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("the first read fails");
            }
            buf[..2].copy_from_slice(b"ok");
            Ok(2)
        }
    }

    /// A blocking job that does not finish (here it panics) is an error for
    /// that call, and the stream works again with a new handle: no panic
    /// from polling a spent job.
    #[test]
    fn a_failed_blocking_job_is_an_error_then_the_stream_recovers() {
        Ct::block_on(async {
            let mut stream = Blocking::new(|| Flaky);
            let mut bytes = [0u8; 8];
            let mut buf = ReadBuf::new(&mut bytes);
            let first = std::future::poll_fn(|cx| stream.poll_read(cx, &mut buf)).await;
            assert!(first.is_err(), "the panicking read reported {first:?}");
            let mut buf = ReadBuf::new(&mut bytes);
            std::future::poll_fn(|cx| stream.poll_read(cx, &mut buf))
                .await
                .unwrap();
            assert_eq!(buf.filled(), b"ok");
        });
    }
}
