//! [`File`]: owned-buffer positional I/O, and tokio's `AsyncRead`,
//! `AsyncWrite` and `AsyncSeek` at the file position.

use std::future::Future;
use std::io::{self, SeekFrom};
#[cfg(target_os = "linux")]
use std::os::fd::OwnedFd;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncSeek, AsyncWrite, ReadBuf};

use super::{OpenOptions, asyncify};
use crate::buf::{IoBuf, IoBufMut};
#[cfg(target_os = "linux")]
use crate::runtime::io::IoHandle;
#[cfg(target_os = "linux")]
use crate::runtime::io::uring::file::{FileOp, UringFile, supports};

/// The most one `AsyncRead`/`AsyncWrite` operation moves (what the file's
/// own buffer grows to).
const MAX_BUF: usize = 2 * 1024 * 1024;

/// An open file.
///
/// See the [module docs](super) for the two ways to do I/O with it. Like
/// `tokio::fs::File`, writes through `AsyncWrite` finish in the background:
/// `flush().await` (or [`sync_all`](File::sync_all)) reports their outcome,
/// and dropping the file does not cancel them.
pub struct File {
    inner: Arc<Inner>,
    state: State,
    /// The error of a background write, reported by the next operation.
    last_write_err: Option<io::Error>,
}

/// What the operations share: the descriptor, and on io_uring its ring
/// state. Background operations hold a reference, so the descriptor stays
/// open until the last one finishes.
struct Inner {
    std: Option<std::fs::File>,
    #[cfg(target_os = "linux")]
    ring: Option<UringFile>,
}

impl Inner {
    fn fd(&self) -> RawFd {
        self.std().as_raw_fd()
    }

    fn std(&self) -> &std::fs::File {
        self.std.as_ref().expect("present until drop")
    }

    #[cfg(target_os = "linux")]
    fn ring(&self, op: FileOp) -> Option<&UringFile> {
        self.ring.as_ref().filter(|_| supports(op))
    }

    /// Reads into `buf`'s spare capacity at `offset` (or the file
    /// position, advancing it).
    async fn read<B: IoBufMut>(
        self: Arc<Self>,
        buf: B,
        offset: Option<u64>,
    ) -> (io::Result<usize>, B) {
        #[cfg(target_os = "linux")]
        if let Some(ring) = self.ring(FileOp::Read) {
            return ring.read(self.fd(), buf, offset).await;
        }
        let inner = self.clone();
        blocking_with_buf(buf, move |mut buf| {
            let init = buf.bytes_init();
            let spare = buf.bytes_total() - init;
            // SAFETY: the pointer and length describe `buf`'s spare
            // capacity, which `IoBufMut` promises is allocated and which
            // `pread`/`read` only write.
            let n = unsafe {
                let p = buf.stable_mut_ptr().add(init).cast();
                match offset {
                    Some(off) => libc::pread(inner.fd(), p, spare, off as libc::off_t),
                    None => libc::read(inner.fd(), p, spare),
                }
            };
            let result = if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                // SAFETY: the kernel initialized `n` bytes after `init`.
                unsafe { buf.set_init(init + n as usize) };
                Ok(n as usize)
            };
            (result, buf)
        })
        .await
    }

    /// Writes `buf`'s initialized bytes (some of them) at `offset` (or the
    /// file position, advancing it).
    async fn write<B: IoBuf>(
        self: Arc<Self>,
        buf: B,
        offset: Option<u64>,
    ) -> (io::Result<usize>, B) {
        #[cfg(target_os = "linux")]
        if let Some(ring) = self.ring(FileOp::Write) {
            return ring.write(self.fd(), buf, offset).await;
        }
        let inner = self.clone();
        blocking_with_buf(buf, move |buf| {
            let len = buf.bytes_init();
            let p = buf.stable_ptr().cast();
            // SAFETY: `IoBuf` promises `len` initialized bytes at `p`.
            let n = unsafe {
                match offset {
                    Some(off) => libc::pwrite(inner.fd(), p, len, off as libc::off_t),
                    None => libc::write(inner.fd(), p, len),
                }
            };
            let result = if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            };
            (result, buf)
        })
        .await
    }

    /// Writes all of `buf` at `offset` (or the file position).
    async fn write_all<B: IoBuf>(
        self: Arc<Self>,
        buf: B,
        offset: Option<u64>,
    ) -> (io::Result<()>, B) {
        let total = buf.bytes_init();
        let mut done = 0;
        let mut buf = Slice::new(buf);
        while done < total {
            buf.start = done;
            let (result, b) = self
                .clone()
                .write(buf, offset.map(|o| o + done as u64))
                .await;
            buf = b;
            match result {
                Ok(0) => {
                    return (
                        Err(io::Error::new(
                            io::ErrorKind::WriteZero,
                            "failed to write whole buffer",
                        )),
                        buf.inner,
                    );
                }
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf.inner),
            }
        }
        (Ok(()), buf.inner)
    }

    async fn sync(self: Arc<Self>, data_only: bool) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Some(ring) = self.ring(FileOp::Fsync) {
            return ring.sync(self.fd(), data_only).await;
        }
        asyncify(move || {
            if data_only {
                self.std().sync_data()
            } else {
                self.std().sync_all()
            }
        })
        .await
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let Some(std) = self.std.take() else { return };
        #[cfg(target_os = "linux")]
        if let Some(ring) = &self.ring {
            ring.close(OwnedFd::from(std));
            return;
        }
        drop(std);
    }
}

/// A buffer's bytes from `start` on, as an `IoBuf` (for the rest of a
/// partial write).
struct Slice<B> {
    inner: B,
    start: usize,
}

impl<B: IoBuf> Slice<B> {
    fn new(inner: B) -> Self {
        Slice { inner, start: 0 }
    }
}

// SAFETY: a suffix of `inner`'s initialized bytes: the pointer is inside
// `inner`'s stable allocation (`start <= bytes_init`), and moving the
// slice moves `inner` without moving its bytes.
unsafe impl<B: IoBuf> IoBuf for Slice<B> {
    fn stable_ptr(&self) -> *const u8 {
        debug_assert!(self.start <= self.inner.bytes_init());
        // SAFETY: `start <= bytes_init`, inside the allocation.
        unsafe { self.inner.stable_ptr().add(self.start) }
    }
    fn bytes_init(&self) -> usize {
        self.inner.bytes_init() - self.start
    }
    fn bytes_total(&self) -> usize {
        self.inner.bytes_total() - self.start
    }
    // The suffix lies in the same registered memory as `inner`.
    fn __registered(&self) -> Option<&crate::buf::Registered> {
        self.inner.__registered()
    }
}

/// Runs `f` with `buf` on the blocking pool and gives the buffer back.
async fn blocking_with_buf<B, R>(
    buf: B,
    f: impl FnOnce(B) -> (io::Result<R>, B) + Send + 'static,
) -> (io::Result<R>, B)
where
    B: Send + 'static,
    R: Send + 'static,
{
    match crate::task::spawn_blocking(move || f(buf)).await {
        Ok(out) => out,
        // The pool dropped the job (the runtime shut down) or it panicked:
        // the buffer went with it, and this future belongs to a runtime
        // that is going away, so it never completes.
        Err(_) => std::future::pending().await,
    }
}

/// Where the `AsyncRead`/`AsyncWrite`/`AsyncSeek` adapter is.
enum State {
    /// No operation in flight; `buf[pos..]` are bytes read and not yet
    /// handed out.
    Idle { buf: Vec<u8>, pos: usize },
    /// One operation in flight; it gives the buffer back.
    Busy(OnlyMut<BoxedOp>),
}

/// A value reachable only through `&mut` (so a shared `&File` never
/// touches it, and `File` can be `Sync` with a `Send`-only future inside).
struct OnlyMut<T>(T);

// SAFETY: `OnlyMut` exposes its value only through `&mut self`
// (`get_mut`), so sharing `&OnlyMut<T>` across threads gives access to
// nothing; moving it requires only `T: Send`.
unsafe impl<T: Send> Sync for OnlyMut<T> {}

impl<T> OnlyMut<T> {
    fn get_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

/// A background operation of the adapter.
type BoxedOp = Pin<Box<dyn Future<Output = (Done, Vec<u8>)> + Send>>;

/// What a background operation finished with.
enum Done {
    Read(io::Result<usize>),
    Write(io::Result<()>),
    Seek(io::Result<u64>),
}

impl File {
    /// Opens `path` read-only.
    ///
    /// # Panics
    ///
    /// Outside a zokio runtime.
    pub async fn open(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new().read(true).open(path).await
    }

    /// Opens `path` write-only, creating it or truncating it.
    pub async fn create(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .await
    }

    /// Creates `path` read-write, failing with `AlreadyExists` if it exists.
    pub async fn create_new(path: impl AsRef<Path>) -> io::Result<File> {
        OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(path)
            .await
    }

    /// A new [`OpenOptions`].
    pub fn options() -> OpenOptions {
        OpenOptions::new()
    }

    fn with_inner(inner: Inner) -> File {
        File {
            inner: Arc::new(inner),
            state: State::Idle {
                buf: Vec::new(),
                pos: 0,
            },
            last_write_err: None,
        }
    }

    #[cfg(target_os = "linux")]
    pub(super) fn from_fd(std: std::fs::File, io: &Arc<IoHandle>) -> io::Result<File> {
        let ring = UringFile::new(io)?;
        Ok(File::with_inner(Inner {
            std: Some(std),
            ring: Some(ring),
        }))
    }

    /// Wraps a `std::fs::File`, keeping its file position. On an io_uring
    /// runtime the file joins the calling worker's ring.
    ///
    /// # Panics
    ///
    /// Outside a zokio runtime.
    #[track_caller]
    pub fn from_std(std: std::fs::File) -> File {
        #[cfg(target_os = "linux")]
        {
            let io = crate::runtime::io::current_io();
            if io.backend() == crate::runtime::io::ActiveBackend::IoUring
                && let Ok(ring) = UringFile::new(&io)
            {
                return File::with_inner(Inner {
                    std: Some(std),
                    ring: Some(ring),
                });
            }
        }
        File::with_inner(Inner {
            std: Some(std),
            #[cfg(target_os = "linux")]
            ring: None,
        })
    }

    /// Reads into `buf`'s spare capacity (from `bytes_init()` to
    /// `bytes_total()`, e.g. a `Vec`'s capacity beyond its length) at
    /// `offset`, returning the count and the buffer. `Ok(0)` at or past the
    /// end of the file (or when `buf` has no spare capacity). Does not move
    /// the file position.
    ///
    /// On io_uring the kernel reads straight into `buf`. Dropping the
    /// future cancels the read; the buffer is freed once the kernel is done
    /// with it.
    pub async fn read_at<B: IoBufMut>(&self, buf: B, offset: u64) -> (io::Result<usize>, B) {
        self.inner.clone().read(buf, Some(offset)).await
    }

    /// Fills `buf`'s spare capacity from `offset`, or fails with
    /// `UnexpectedEof` if the file ends first (the bytes read so far are
    /// in `buf`).
    pub async fn read_exact_at<B: IoBufMut>(&self, mut buf: B, offset: u64) -> (io::Result<()>, B) {
        let start = buf.bytes_init();
        while buf.bytes_init() < buf.bytes_total() {
            let at = offset + (buf.bytes_init() - start) as u64;
            let (result, b) = self.read_at(buf, at).await;
            buf = b;
            match result {
                Ok(0) => {
                    return (
                        Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "failed to fill whole buffer",
                        )),
                        buf,
                    );
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return (Err(e), buf),
            }
        }
        (Ok(()), buf)
    }

    /// Writes `buf`'s initialized bytes (some of them: check the count) at
    /// `offset`. Does not move the file position (but a file opened with
    /// `append` writes at its end, as `pwrite` does on Linux). Dropping the
    /// future does not cancel a write that has started: it completes, and
    /// only its result is lost.
    pub async fn write_at<B: IoBuf>(&self, buf: B, offset: u64) -> (io::Result<usize>, B) {
        self.inner.clone().write(buf, Some(offset)).await
    }

    /// Writes all of `buf`'s initialized bytes at `offset`.
    pub async fn write_all_at<B: IoBuf>(&self, buf: B, offset: u64) -> (io::Result<()>, B) {
        self.inner.clone().write_all(buf, Some(offset)).await
    }

    /// Appends the rest of the file from `offset` to `out` (sized by
    /// `statx` first, so a whole-file read is one or two operations).
    pub(super) async fn read_to_end_at(&self, out: &mut Vec<u8>, offset: u64) -> io::Result<usize> {
        let hint = self.statx().await.map(|s| s.len()).unwrap_or(0);
        let start = out.len();
        let mut buf = std::mem::take(out);
        let want = (hint.saturating_sub(offset) as usize)
            .saturating_add(1)
            .max(8 * 1024);
        buf.reserve(want);
        loop {
            if buf.len() == buf.capacity() {
                buf.reserve(buf.capacity().max(8 * 1024));
            }
            let at = offset + (buf.len() - start) as u64;
            let (result, b) = self.read_at(buf, at).await;
            buf = b;
            match result {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    *out = buf;
                    return Err(e);
                }
            }
        }
        let n = buf.len() - start;
        *out = buf;
        Ok(n)
    }

    /// Waits for the adapter's background operation, if any, and reports a
    /// failed background write.
    async fn settle(&mut self) -> io::Result<()> {
        std::future::poll_fn(|cx| self.poll_settle(cx)).await
    }

    fn poll_settle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let State::Busy(fut) = &mut self.state {
            let (done, buf) = ready!(fut.get_mut().as_mut().poll(cx));
            self.finish(&done, buf);
            if let Done::Write(Err(e)) = done {
                self.last_write_err = Some(e);
            }
        }
        if let Some(e) = self.last_write_err.take() {
            return Poll::Ready(Err(e));
        }
        Poll::Ready(Ok(()))
    }

    /// Flushes background writes, then `fsync`s data and metadata.
    pub async fn sync_all(&mut self) -> io::Result<()> {
        self.settle().await?;
        self.inner.clone().sync(false).await
    }

    /// Flushes background writes, then `fdatasync`s (data, and the
    /// metadata needed to read it back).
    pub async fn sync_data(&mut self) -> io::Result<()> {
        self.settle().await?;
        self.inner.clone().sync(true).await
    }

    /// Truncates or extends the file to `size` bytes (the file position is
    /// unchanged).
    pub async fn set_len(&mut self, size: u64) -> io::Result<()> {
        self.settle().await?;
        self.discard_read_ahead()?;
        let inner = self.inner.clone();
        asyncify(move || inner.std().set_len(size)).await
    }

    /// Preallocates `len` bytes from `offset` (`fallocate`, mode 0): later
    /// writes there cannot fail for lack of space, and the file grows to
    /// cover the range.
    pub async fn allocate(&self, offset: u64, len: u64) -> io::Result<()> {
        #[cfg(target_os = "linux")]
        if let Some(ring) = self.inner.ring(FileOp::Fallocate) {
            return ring.fallocate(self.inner.fd(), 0, offset, len).await;
        }
        let inner = self.inner.clone();
        asyncify(move || {
            #[cfg(target_os = "linux")]
            {
                // SAFETY: plain fallocate on a descriptor `inner` keeps open.
                let rc = unsafe {
                    libc::fallocate(inner.fd(), 0, offset as libc::off_t, len as libc::off_t)
                };
                if rc < 0 {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            }
            #[cfg(not(target_os = "linux"))]
            {
                let end = offset.saturating_add(len);
                if inner.std().metadata()?.len() < end {
                    inner.std().set_len(end)?;
                }
                Ok(())
            }
        })
        .await
    }

    /// The file's metadata (`std::fs::Metadata`, from the blocking pool).
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        let inner = self.inner.clone();
        asyncify(move || inner.std().metadata()).await
    }

    /// The file's `statx` (through the ring on io_uring).
    #[cfg(target_os = "linux")]
    pub async fn statx(&self) -> io::Result<super::Statx> {
        if let Some(ring) = self.inner.ring(FileOp::Statx) {
            return ring
                .statx(self.inner.fd())
                .await
                .map(super::Statx::from_raw);
        }
        let inner = self.inner.clone();
        asyncify(move || super::stat::statx_now(inner.fd(), c"", libc::AT_EMPTY_PATH)).await
    }

    #[cfg(not(target_os = "linux"))]
    async fn statx(&self) -> io::Result<std::fs::Metadata> {
        self.metadata().await
    }

    /// Changes the file's permissions.
    pub async fn set_permissions(&self, perm: std::fs::Permissions) -> io::Result<()> {
        let inner = self.inner.clone();
        asyncify(move || inner.std().set_permissions(perm)).await
    }

    /// A new `File` for the same open file description (shared position).
    pub async fn try_clone(&self) -> io::Result<File> {
        let inner = self.inner.clone();
        let std = asyncify(move || inner.std().try_clone()).await?;
        Ok(File::from_std(std))
    }

    /// Unwraps the `std::fs::File` after the background write (if any)
    /// finished, with the file position where this `File`'s reads and
    /// writes left it.
    pub async fn into_std(mut self) -> std::fs::File {
        let _ = self.settle().await;
        let _ = self.discard_read_ahead();
        let inner = self.inner.clone();
        drop(self);
        match Arc::try_unwrap(inner) {
            Ok(mut inner) => inner.std.take().expect("present until drop"),
            // A positional operation of another task still runs: hand out a
            // duplicate descriptor of the same open file.
            Err(inner) => inner
                .std()
                .try_clone()
                .expect("duplicating a file descriptor"),
        }
    }

    /// The `std::fs::File`, if no operation is in flight; otherwise the
    /// `File` back.
    pub fn try_into_std(mut self) -> Result<std::fs::File, File> {
        if matches!(self.state, State::Busy(_)) || Arc::strong_count(&self.inner) != 1 {
            return Err(self);
        }
        if self.discard_read_ahead().is_err() {
            return Err(self);
        }
        let inner = std::mem::replace(
            &mut self.inner,
            Arc::new(Inner {
                std: None,
                #[cfg(target_os = "linux")]
                ring: None,
            }),
        );
        match Arc::try_unwrap(inner) {
            Ok(mut inner) => Ok(inner.std.take().expect("present until drop")),
            Err(_) => unreachable!("the count was checked above"),
        }
    }

    /// Bytes the adapter read ahead and did not hand out are given back to
    /// the file position (so a write or `into_std` continues where the
    /// reader is).
    fn discard_read_ahead(&mut self) -> io::Result<()> {
        if let State::Idle { buf, pos } = &mut self.state {
            let unread = buf.len() - *pos;
            buf.clear();
            *pos = 0;
            if unread > 0 {
                // SAFETY: plain lseek on a descriptor `inner` keeps open; a
                // relative seek of a regular file is arithmetic on the
                // position, it never waits for the disk.
                let rc = unsafe {
                    libc::lseek(self.inner.fd(), -(unread as libc::off_t), libc::SEEK_CUR)
                };
                if rc < 0 {
                    return Err(io::Error::last_os_error());
                }
            }
        }
        Ok(())
    }

    /// Back to idle after `done`: a read's buffer holds the bytes read
    /// (to hand out); any other operation's buffer is just storage.
    fn finish(&mut self, done: &Done, mut buf: Vec<u8>) {
        if !matches!(done, Done::Read(_)) {
            buf.clear();
        }
        self.state = State::Idle { buf, pos: 0 };
    }

    fn start(&mut self, fut: impl Future<Output = (Done, Vec<u8>)> + Send + 'static) {
        self.state = State::Busy(OnlyMut(Box::pin(fut)));
    }
}

impl AsRawFd for File {
    fn as_raw_fd(&self) -> RawFd {
        self.inner.fd()
    }
}

impl AsFd for File {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.std().as_fd()
    }
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File")
            .field("fd", &self.inner.fd())
            .field("busy", &matches!(self.state, State::Busy(_)))
            .finish()
    }
}

impl AsyncRead for File {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Idle { buf, pos } => {
                    if *pos < buf.len() {
                        let n = (buf.len() - *pos).min(dst.remaining());
                        dst.put_slice(&buf[*pos..*pos + n]);
                        *pos += n;
                        return Poll::Ready(Ok(()));
                    }
                    if let Some(e) = this.last_write_err.take() {
                        return Poll::Ready(Err(e));
                    }
                    if dst.remaining() == 0 {
                        return Poll::Ready(Ok(()));
                    }
                    let mut buf = std::mem::take(buf);
                    buf.clear();
                    buf.reserve_exact(dst.remaining().min(MAX_BUF));
                    let inner = this.inner.clone();
                    this.start(async move {
                        let (result, buf) = inner.read(buf, None).await;
                        (Done::Read(result), buf)
                    });
                }
                State::Busy(fut) => {
                    let (done, buf) = ready!(fut.get_mut().as_mut().poll(cx));
                    this.finish(&done, buf);
                    match done {
                        Done::Read(Ok(_)) => {
                            let State::Idle { buf, .. } = &this.state else {
                                unreachable!()
                            };
                            if buf.is_empty() {
                                // End of file.
                                return Poll::Ready(Ok(()));
                            }
                        }
                        Done::Read(Err(e)) => return Poll::Ready(Err(e)),
                        Done::Write(Err(e)) => this.last_write_err = Some(e),
                        Done::Write(Ok(())) | Done::Seek(_) => {}
                    }
                }
            }
        }
    }
}

impl AsyncWrite for File {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        src: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_settle(cx))?;
        this.discard_read_ahead()?;
        if src.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let State::Idle { buf, .. } = &mut this.state else {
            unreachable!("settled above")
        };
        let n = src.len().min(MAX_BUF);
        let mut buf = std::mem::take(buf);
        buf.clear();
        buf.extend_from_slice(&src[..n]);
        let inner = this.inner.clone();
        this.start(async move {
            let (result, buf) = inner.write_all(buf, None).await;
            (Done::Write(result), buf)
        });
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_settle(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_settle(cx)
    }
}

impl AsyncSeek for File {
    fn start_seek(self: Pin<&mut Self>, position: SeekFrom) -> io::Result<()> {
        let this = self.get_mut();
        let State::Idle { buf, pos } = &mut this.state else {
            return Err(io::Error::other(
                "another operation is pending on this file: call poll_complete before start_seek",
            ));
        };
        // Bytes read ahead and not handed out: the reader's position is
        // that much behind the file's.
        let unread = (buf.len() - *pos) as i64;
        buf.clear();
        *pos = 0;
        let position = match position {
            SeekFrom::Current(d) => SeekFrom::Current(d - unread),
            other => other,
        };
        let inner = this.inner.clone();
        let buf = std::mem::take(buf);
        match position {
            SeekFrom::End(_) => {
                // The size may take a round trip on a network filesystem:
                // off the workers.
                this.start(async move {
                    let result = asyncify(move || seek(inner.fd(), position)).await;
                    (Done::Seek(result), buf)
                });
            }
            _ => {
                // Arithmetic on the position: never waits.
                let result = seek(inner.fd(), position);
                this.start(std::future::ready((Done::Seek(result), buf)));
            }
        }
        Ok(())
    }

    fn poll_complete(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Idle { .. } => {
                    // No seek in flight: the position now.
                    return Poll::Ready(seek(this.inner.fd(), SeekFrom::Current(0)));
                }
                State::Busy(fut) => {
                    let (done, buf) = ready!(fut.get_mut().as_mut().poll(cx));
                    this.finish(&done, buf);
                    match done {
                        Done::Seek(result) => return Poll::Ready(result),
                        Done::Write(Err(e)) => this.last_write_err = Some(e),
                        Done::Read(_) => {
                            // A read that finished after its reader left:
                            // its bytes are read ahead; give them back.
                            this.discard_read_ahead()?;
                        }
                        Done::Write(Ok(())) => {}
                    }
                }
            }
        }
    }
}

fn seek(fd: RawFd, position: SeekFrom) -> io::Result<u64> {
    let (offset, whence) = match position {
        SeekFrom::Start(n) => (n as libc::off_t, libc::SEEK_SET),
        SeekFrom::Current(d) => (d as libc::off_t, libc::SEEK_CUR),
        SeekFrom::End(d) => (d as libc::off_t, libc::SEEK_END),
    };
    // SAFETY: plain lseek on a descriptor the caller keeps open.
    let rc = unsafe { libc::lseek(fd, offset, whence) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as u64)
    }
}
