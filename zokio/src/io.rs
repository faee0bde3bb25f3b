//! Asynchronous I/O traits and helpers: tokio's own, so code written against
//! `tokio::io` works unchanged (they build without tokio's runtime), plus the
//! owned-buffer traits of the completion backend.
//!
//! ```
//! use zokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! #[zokio::main(flavor = "current_thread")]
//! async fn main() -> std::io::Result<()> {
//!     let (mut a, mut b) = zokio::net::UnixStream::pair()?;
//!     a.write_all(b"ping").await?;
//!     let mut buf = [0; 4];
//!     b.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"ping");
//!     Ok(())
//! }
//! ```

mod ready;
mod stdio;
pub mod unix;

pub use crate::buf::{FixedBuf, FixedBufPool, IoBuf, IoBufMut};
pub use ready::{Interest, Ready};
pub use stdio::{Stderr, Stdin, Stdout, stderr, stdin, stdout};
pub use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncSeek, AsyncSeekExt, AsyncWrite,
    AsyncWriteExt, BufReader, BufStream, BufWriter, DuplexStream, Empty, ReadBuf, ReadHalf, Repeat,
    SimplexStream, Sink, WriteHalf, copy, copy_bidirectional, copy_buf, duplex, empty, repeat,
    simplex, sink, split,
};
