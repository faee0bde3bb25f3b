//! Asynchronous filesystem operations, shaped like `tokio::fs`.
//!
//! # Where the work happens
//!
//! - **io_uring backend**: opening (`openat`), reading and writing at an
//!   offset or at the file position, `fsync`/`fdatasync`, `fallocate`,
//!   `statx`, `unlinkat`, `renameat`, `mkdirat`, `linkat` and `symlinkat`
//!   are submitted to the calling worker's ring: no thread hop, and many
//!   operations in flight at once reach the kernel in one system call. An
//!   operation whose opcode the kernel lacks (probed once), and everything
//!   without an opcode (directory listing, `canonicalize`, permissions,
//!   `set_len`, `copy`), runs on the blocking pool, as with tokio.
//! - **mio backend**: everything runs on the blocking pool
//!   ([`spawn_blocking`](crate::task::spawn_blocking)), like `tokio::fs`;
//!   directory listings are read in batches of [`ReadDir`]'s chunk size per
//!   trip to the pool.
//!
//! # The two ways to read and write a [`File`]
//!
//! - The owned-buffer form, [`File::read_at`] / [`File::write_at`] (and
//!   [`read_exact_at`](File::read_exact_at) /
//!   [`write_all_at`](File::write_all_at)): the buffer moves into the
//!   operation and comes back with the result, so on io_uring the kernel
//!   reads into or writes from it directly. These are positional (like
//!   `pread`/`pwrite`), take `&self`, and may run concurrently from many
//!   tasks sharing one `File` (e.g. through an `Arc`). This is the fast
//!   path.
//! - tokio's [`AsyncRead`](crate::io::AsyncRead),
//!   [`AsyncWrite`](crate::io::AsyncWrite) and
//!   [`AsyncSeek`](crate::io::AsyncSeek), at the file position, through a
//!   buffer the `File` owns (a borrowed `&mut [u8]` cannot be handed to the
//!   kernel, since the caller may drop it mid-operation). As with
//!   `tokio::fs::File`, a write completes in the background: call `flush`
//!   (or `sync_all`) to learn whether it succeeded.
//!
//! # Other tools
//!
//! - [`write_atomic`]: replaces a file so that a crash leaves the old or the
//!   new content, never a mix.
//! - [`watch`]: a stream of change events (inotify, registered with the
//!   runtime's I/O driver).
//! - [`Mmap`]: a memory-mapped read-only view, for large sequential reads.
//!
//! ```
//! # zokio::runtime! { Rt { flavor = "current_thread" } }
//! # Rt::block_on(async {
//! let dir = std::env::temp_dir().join(format!("zokio-fs-doc-{}", std::process::id()));
//! zokio::fs::create_dir_all(&dir).await?;
//! let path = dir.join("greeting.txt");
//! zokio::fs::write(&path, "hello").await?;
//! assert_eq!(zokio::fs::read_to_string(&path).await?, "hello");
//!
//! let file = zokio::fs::File::open(&path).await?;
//! let (n, buf) = file.read_at(Vec::with_capacity(16), 1).await;
//! assert_eq!((n?, &buf[..]), (4, &b"ello"[..]));
//! zokio::fs::remove_dir_all(&dir).await?;
//! # Ok::<(), std::io::Error>(())
//! # }).unwrap();
//! ```

mod atomic;
mod dir;
mod file;
mod mmap;
mod open_options;
#[cfg(target_os = "linux")]
mod stat;
#[cfg(target_os = "linux")]
mod watch;

#[cfg(target_os = "linux")]
use std::ffi::CString;
use std::io;
use std::path::{Path, PathBuf};
#[cfg(target_os = "linux")]
use std::sync::Arc;

pub use atomic::write_atomic;
pub use dir::{DirEntry, ReadDir, read_dir};
pub use file::File;
pub use mmap::Mmap;
pub use open_options::OpenOptions;
#[cfg(target_os = "linux")]
pub use stat::{Statx, statx, symlink_statx};
#[cfg(target_os = "linux")]
pub use watch::{Watch, WatchEvent, WatchKind, watch};

#[cfg(target_os = "linux")]
use crate::runtime::io::IoHandle;
#[cfg(target_os = "linux")]
use crate::runtime::io::uring::file::{self as ring, FileOp};
#[cfg(target_os = "linux")]
use crate::runtime::io::{ActiveBackend, current_io};

/// Runs `f` on the blocking pool.
pub(crate) async fn asyncify<F, R>(f: F) -> io::Result<R>
where
    F: FnOnce() -> io::Result<R> + Send + 'static,
    R: Send + 'static,
{
    match crate::task::spawn_blocking(f).await {
        Ok(result) => result,
        Err(e) if e.is_panic() => Err(io::Error::other(format!(
            "a blocking filesystem operation panicked: {e}"
        ))),
        Err(_) => Err(crate::runtime::io::shutdown_error()),
    }
}

/// The ring to submit `op` to: the current runtime's, when it runs
/// io_uring and the kernel has the opcode; `None` means the blocking pool.
///
/// # Panics
///
/// Outside a runtime.
#[cfg(target_os = "linux")]
#[track_caller]
pub(crate) fn ring_for(op: FileOp) -> Option<Arc<IoHandle>> {
    let io = current_io();
    (io.backend() == ActiveBackend::IoUring && ring::supports(op)).then_some(io)
}

/// A path as the C string the kernel takes.
#[cfg(target_os = "linux")]
pub(crate) fn c_path(path: &Path) -> io::Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("file name contained an unexpected NUL byte: {path:?}"),
        )
    })
}

/// Reads the whole file at `path`.
///
/// On io_uring the file is opened, sized and read through the ring.
pub async fn read(path: impl AsRef<Path>) -> io::Result<Vec<u8>> {
    let file = File::open(path.as_ref()).await?;
    let mut out = Vec::new();
    file.read_to_end_at(&mut out, 0).await?;
    Ok(out)
}

/// Reads the whole file at `path` as UTF-8.
pub async fn read_to_string(path: impl AsRef<Path>) -> io::Result<String> {
    let bytes = read(path).await?;
    String::from_utf8(bytes).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "stream did not contain valid UTF-8",
        )
    })
}

/// Creates or truncates the file at `path` and writes `contents` to it.
pub async fn write(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let file = File::create(path.as_ref()).await?;
    file.write_all_at(contents.as_ref().to_vec(), 0).await.0
}

/// Copies the contents (and permissions) of `from` to `to`, returning the
/// number of bytes copied (`std::fs::copy` on the blocking pool, which uses
/// `copy_file_range` where it can).
pub async fn copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<u64> {
    let (from, to) = (from.as_ref().to_owned(), to.as_ref().to_owned());
    asyncify(move || std::fs::copy(from, to)).await
}

/// Renames `from` to `to`, replacing `to` if it exists (`renameat`).
pub async fn rename(from: impl AsRef<Path>, to: impl AsRef<Path>) -> io::Result<()> {
    let (from, to) = (from.as_ref(), to.as_ref());
    #[cfg(target_os = "linux")]
    if let Some(io) = ring_for(FileOp::Rename) {
        return ring::rename(&io, c_path(from)?, c_path(to)?).await;
    }
    let (from, to) = (from.to_owned(), to.to_owned());
    asyncify(move || std::fs::rename(from, to)).await
}

/// Removes a file (`unlinkat`).
pub async fn remove_file(path: impl AsRef<Path>) -> io::Result<()> {
    unlink(path.as_ref(), false).await
}

/// Removes an empty directory (`unlinkat` with `AT_REMOVEDIR`).
pub async fn remove_dir(path: impl AsRef<Path>) -> io::Result<()> {
    unlink(path.as_ref(), true).await
}

async fn unlink(path: &Path, dir: bool) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    if let Some(io) = ring_for(FileOp::Unlink) {
        return ring::unlink(&io, c_path(path)?, dir).await;
    }
    let path = path.to_owned();
    asyncify(move || {
        if dir {
            std::fs::remove_dir(path)
        } else {
            std::fs::remove_file(path)
        }
    })
    .await
}

/// Creates a directory (`mkdirat`, mode 0o777 before the umask, like std).
pub async fn create_dir(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref();
    #[cfg(target_os = "linux")]
    if let Some(io) = ring_for(FileOp::Mkdir) {
        return ring::mkdir(&io, c_path(path)?, 0o777).await;
    }
    let path = path.to_owned();
    asyncify(move || std::fs::create_dir(path)).await
}

/// Creates a directory and every missing parent; succeeds if it exists.
pub async fn create_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::create_dir_all(path)).await
}

/// Removes a directory and everything in it.
pub async fn remove_dir_all(path: impl AsRef<Path>) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::remove_dir_all(path)).await
}

/// The metadata of `path`, following symlinks (`std::fs::Metadata`, so
/// code written for tokio keeps working). [`statx`] gives the same facts
/// through the ring on io_uring.
pub async fn metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::metadata(path)).await
}

/// The metadata of `path` itself, not following a symlink.
pub async fn symlink_metadata(path: impl AsRef<Path>) -> io::Result<std::fs::Metadata> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::symlink_metadata(path)).await
}

/// Whether `path` exists (`Ok(false)` when it does not; errors other than
/// "not found", e.g. permission denied, are returned).
pub async fn try_exists(path: impl AsRef<Path>) -> io::Result<bool> {
    #[cfg(target_os = "linux")]
    let found = statx(path).await.map(drop);
    #[cfg(not(target_os = "linux"))]
    let found = metadata(path).await.map(drop);
    match found {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// The absolute path with every symlink and `.`/`..` resolved.
pub async fn canonicalize(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::canonicalize(path)).await
}

/// Sets the permissions of `path`.
pub async fn set_permissions(path: impl AsRef<Path>, perm: std::fs::Permissions) -> io::Result<()> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::set_permissions(path, perm)).await
}

/// Creates a hard link `link` to `original` (`linkat`).
pub async fn hard_link(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    #[cfg(target_os = "linux")]
    if let Some(io) = ring_for(FileOp::Link) {
        return ring::link(&io, c_path(original)?, c_path(link)?).await;
    }
    let (original, link) = (original.to_owned(), link.to_owned());
    asyncify(move || std::fs::hard_link(original, link)).await
}

/// Creates a symbolic link `link` pointing at `original` (`symlinkat`).
pub async fn symlink(original: impl AsRef<Path>, link: impl AsRef<Path>) -> io::Result<()> {
    let (original, link) = (original.as_ref(), link.as_ref());
    #[cfg(target_os = "linux")]
    if let Some(io) = ring_for(FileOp::Symlink) {
        return ring::symlink(&io, c_path(original)?, c_path(link)?).await;
    }
    let (original, link) = (original.to_owned(), link.to_owned());
    asyncify(move || std::os::unix::fs::symlink(original, link)).await
}

/// The target of the symbolic link at `path`.
pub async fn read_link(path: impl AsRef<Path>) -> io::Result<PathBuf> {
    let path = path.as_ref().to_owned();
    asyncify(move || std::fs::read_link(path)).await
}
