//! [`read_dir`]: directory listing, in batches from the blocking pool
//! (io_uring has no opcode for `getdents`).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Path, PathBuf};
use std::task::{Context, Poll, ready};

use super::asyncify;
use crate::task::JoinHandle;

/// Entries fetched per trip to the blocking pool.
const CHUNK: usize = 32;

/// Lists the directory at `path`: a stream of [`DirEntry`] (call
/// [`ReadDir::next_entry`], or use it as a `futures_core::Stream` with the
/// `stream` feature).
///
/// ```
/// # zokio::runtime! { Rt { flavor = "current_thread" } }
/// # Rt::block_on(async {
/// let dir = std::env::temp_dir().join(format!("zokio-readdir-doc-{}", std::process::id()));
/// zokio::fs::create_dir_all(&dir).await?;
/// zokio::fs::write(dir.join("a"), b"").await?;
/// let mut names = Vec::new();
/// let mut entries = zokio::fs::read_dir(&dir).await?;
/// while let Some(entry) = entries.next_entry().await? {
///     names.push(entry.file_name());
/// }
/// assert_eq!(names, ["a"]);
/// zokio::fs::remove_dir_all(&dir).await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub async fn read_dir(path: impl AsRef<Path>) -> io::Result<ReadDir> {
    let path = path.as_ref().to_owned();
    let std = asyncify(move || std::fs::read_dir(path)).await?;
    Ok(ReadDir {
        state: State::Idle(Some(Batch {
            std,
            entries: VecDeque::new(),
            done: false,
        })),
    })
}

/// The entries of a directory; see [`read_dir`].
#[derive(Debug)]
pub struct ReadDir {
    state: State,
}

#[derive(Debug)]
struct Batch {
    std: std::fs::ReadDir,
    entries: VecDeque<io::Result<DirEntry>>,
    /// The listing ended.
    done: bool,
}

#[derive(Debug)]
enum State {
    Idle(Option<Batch>),
    Pending(JoinHandle<Batch>),
}

impl ReadDir {
    /// The next entry, or `None` at the end.
    pub async fn next_entry(&mut self) -> io::Result<Option<DirEntry>> {
        std::future::poll_fn(|cx| self.poll_next_entry(cx)).await
    }

    /// Polls for the next entry (`Ready(Ok(None))` at the end).
    pub fn poll_next_entry(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<DirEntry>>> {
        loop {
            match &mut self.state {
                State::Idle(batch) => {
                    let Some(b) = batch.as_mut() else {
                        return Poll::Ready(Ok(None));
                    };
                    if let Some(entry) = b.entries.pop_front() {
                        return Poll::Ready(entry.map(Some));
                    }
                    if b.done {
                        return Poll::Ready(Ok(None));
                    }
                    let mut b = batch.take().expect("checked above");
                    self.state = State::Pending(crate::task::spawn_blocking(move || {
                        for _ in 0..CHUNK {
                            match b.std.next() {
                                Some(entry) => b.entries.push_back(entry.map(DirEntry::from_std)),
                                None => {
                                    b.done = true;
                                    break;
                                }
                            }
                        }
                        b
                    }));
                }
                State::Pending(handle) => {
                    let joined = ready!(std::pin::Pin::new(handle).poll(cx));
                    match joined {
                        Ok(batch) => self.state = State::Idle(Some(batch)),
                        Err(_) => {
                            self.state = State::Idle(None);
                            return Poll::Ready(Err(crate::runtime::io::shutdown_error()));
                        }
                    }
                }
            }
        }
    }
}

use std::future::Future;

/// One entry of a directory.
#[derive(Debug)]
pub struct DirEntry {
    std: std::sync::Arc<std::fs::DirEntry>,
}

impl DirEntry {
    fn from_std(std: std::fs::DirEntry) -> DirEntry {
        DirEntry {
            std: std::sync::Arc::new(std),
        }
    }

    /// The full path (the directory's path joined with the name).
    pub fn path(&self) -> PathBuf {
        self.std.path()
    }

    /// The name, without the directory.
    pub fn file_name(&self) -> OsString {
        self.std.file_name()
    }

    /// The entry's inode number.
    pub fn ino(&self) -> u64 {
        std::os::unix::fs::DirEntryExt::ino(&*self.std)
    }

    /// The entry's metadata, not following a symlink.
    pub async fn metadata(&self) -> io::Result<std::fs::Metadata> {
        let std = self.std.clone();
        asyncify(move || std.metadata()).await
    }

    /// The entry's type (usually known from the listing itself; otherwise
    /// one `lstat` on the blocking pool).
    pub async fn file_type(&self) -> io::Result<std::fs::FileType> {
        let std = self.std.clone();
        asyncify(move || std.file_type()).await
    }
}

#[cfg(feature = "stream")]
impl futures_core::Stream for ReadDir {
    type Item = io::Result<DirEntry>;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_entry(cx).map(Result::transpose)
    }
}
