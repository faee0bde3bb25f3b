//! [`Mmap`]: a read-only memory map of a file.

use std::io;
use std::ops::Deref;
use std::path::Path;

use super::asyncify;

/// A read-only memory map of a whole file (through `memmap2`).
///
/// # When to use it
///
/// For large sequential reads of files that are likely in the page cache,
/// or that you scan more than once: the bytes are read straight from the
/// page cache with no copy and no system call per read, and the kernel's
/// read-ahead feeds the scan (the map is advised `MADV_SEQUENTIAL`).
///
/// Not for: small files (setting up the map costs more than a read), files
/// other processes truncate while you read them (touching a page past the
/// new end raises `SIGBUS`), or cold files on slow disks read from a task
/// (a page fault blocks the worker thread, which the runtime cannot see;
/// use [`File::read_at`](super::File::read_at) there, which waits without
/// blocking). The map is created on the blocking pool.
///
/// ```
/// # zokio::runtime! { Rt { flavor = "current_thread" } }
/// # Rt::block_on(async {
/// let path = std::env::temp_dir().join(format!("zokio-mmap-doc-{}", std::process::id()));
/// zokio::fs::write(&path, b"mapped bytes").await?;
/// let map = zokio::fs::Mmap::open(&path).await?;
/// assert_eq!(&map[..6], b"mapped");
/// zokio::fs::remove_file(&path).await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug)]
pub struct Mmap {
    map: Option<memmap2::Mmap>,
}

impl Mmap {
    /// Maps the file at `path` (an empty file gives an empty map).
    pub async fn open(path: impl AsRef<Path>) -> io::Result<Mmap> {
        let path = path.as_ref().to_owned();
        asyncify(move || {
            let file = std::fs::File::open(path)?;
            if file.metadata()?.len() == 0 {
                // mmap of length 0 is an error; an empty slice is the answer.
                return Ok(Mmap { map: None });
            }
            // SAFETY: the map is read-only and private to this process. A
            // concurrent truncation by someone else can make touching a
            // page raise SIGBUS, which the docs above state as the
            // condition of use; modifications by others show through as
            // changed bytes, which `&[u8]` readers may observe (as with any
            // shared file), but never as undefined memory.
            let map = unsafe { memmap2::Mmap::map(&file)? };
            #[cfg(unix)]
            let _ = map.advise(memmap2::Advice::Sequential);
            Ok(Mmap { map: Some(map) })
        })
        .await
    }
}

impl Deref for Mmap {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }
}

impl AsRef<[u8]> for Mmap {
    fn as_ref(&self) -> &[u8] {
        self
    }
}
