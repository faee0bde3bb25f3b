//! [`OpenOptions`]: std's builder, opened through the ring on io_uring.

use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use super::File;
use super::asyncify;
#[cfg(target_os = "linux")]
use super::{FileOp, c_path, ring, ring_for};

/// Options for opening a file, with the same methods and the same rules as
/// `std::fs::OpenOptions` (and `tokio::fs::OpenOptions`).
///
/// ```
/// # zokio::runtime! { Rt { flavor = "current_thread" } }
/// # Rt::block_on(async {
/// let path = std::env::temp_dir().join(format!("zokio-oo-doc-{}", std::process::id()));
/// let file = zokio::fs::OpenOptions::new()
///     .write(true)
///     .create_new(true)
///     .open(&path)
///     .await?;
/// file.write_all_at(b"log line\n".to_vec(), 0).await.0?;
/// // A second `create_new` fails: the file exists.
/// let again = zokio::fs::OpenOptions::new().write(true).create_new(true).open(&path).await;
/// assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::AlreadyExists);
/// zokio::fs::remove_file(&path).await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct OpenOptions {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
    create_new: bool,
    mode: u32,
    custom_flags: i32,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self::new()
    }
}

fn invalid(msg: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl OpenOptions {
    /// All options off; mode 0o666 (before the umask).
    pub fn new() -> OpenOptions {
        OpenOptions {
            read: false,
            write: false,
            append: false,
            truncate: false,
            create: false,
            create_new: false,
            mode: 0o666,
            custom_flags: 0,
        }
    }

    /// Open for reading.
    pub fn read(&mut self, read: bool) -> &mut Self {
        self.read = read;
        self
    }

    /// Open for writing.
    pub fn write(&mut self, write: bool) -> &mut Self {
        self.write = write;
        self
    }

    /// Every write goes to the end of the file (implies writing).
    pub fn append(&mut self, append: bool) -> &mut Self {
        self.append = append;
        self
    }

    /// Truncate an existing file to length 0 (needs writing).
    pub fn truncate(&mut self, truncate: bool) -> &mut Self {
        self.truncate = truncate;
        self
    }

    /// Create the file if it does not exist (needs writing).
    pub fn create(&mut self, create: bool) -> &mut Self {
        self.create = create;
        self
    }

    /// Create the file, failing with `AlreadyExists` if it exists.
    pub fn create_new(&mut self, create_new: bool) -> &mut Self {
        self.create_new = create_new;
        self
    }

    /// The permission bits of a created file (before the umask).
    pub fn mode(&mut self, mode: u32) -> &mut Self {
        self.mode = mode;
        self
    }

    /// Extra `open(2)` flags (`O_DIRECT`, `O_NOATIME`…); the access mode
    /// bits are ignored, as with std.
    pub fn custom_flags(&mut self, flags: i32) -> &mut Self {
        self.custom_flags = flags;
        self
    }

    /// The `open(2)` flags these options mean, with std's validation.
    fn flags(&self) -> io::Result<i32> {
        let access = match (self.read, self.write, self.append) {
            (true, false, false) => libc::O_RDONLY,
            (false, true, false) => libc::O_WRONLY,
            (true, true, false) => libc::O_RDWR,
            (false, _, true) => libc::O_WRONLY | libc::O_APPEND,
            (true, _, true) => libc::O_RDWR | libc::O_APPEND,
            (false, false, false) => {
                return Err(invalid(
                    "opening a file needs one of read, write or append set to true",
                ));
            }
        };
        if !self.write && !self.append && (self.truncate || self.create || self.create_new) {
            return Err(invalid(
                "creating or truncating a file needs write or append set to true",
            ));
        }
        if self.append && self.truncate && !self.create_new {
            return Err(invalid("append and truncate cannot both be set"));
        }
        let creation = match (self.create, self.truncate, self.create_new) {
            (_, _, true) => libc::O_CREAT | libc::O_EXCL,
            (true, true, false) => libc::O_CREAT | libc::O_TRUNC,
            (true, false, false) => libc::O_CREAT,
            (false, true, false) => libc::O_TRUNC,
            (false, false, false) => 0,
        };
        Ok(access | creation | (self.custom_flags & !libc::O_ACCMODE))
    }

    fn to_std(&self) -> std::fs::OpenOptions {
        let mut o = std::fs::OpenOptions::new();
        o.read(self.read)
            .write(self.write)
            .append(self.append)
            .truncate(self.truncate)
            .create(self.create)
            .create_new(self.create_new)
            .mode(self.mode)
            .custom_flags(self.custom_flags);
        o
    }

    /// Opens `path` with these options (`openat` through the ring on
    /// io_uring).
    ///
    /// # Panics
    ///
    /// Outside a zokio runtime.
    pub async fn open(&self, path: impl AsRef<Path>) -> io::Result<File> {
        let path = path.as_ref();
        let flags = self.flags()?;
        #[cfg(target_os = "linux")]
        if let Some(io) = ring_for(FileOp::Open) {
            let fd = ring::open(&io, c_path(path)?, flags, self.mode).await?;
            return File::from_fd(std::fs::File::from(fd), &io);
        }
        let _ = flags;
        let options = self.to_std();
        let path = path.to_owned();
        let std = asyncify(move || options.open(path)).await?;
        Ok(File::from_std(std))
    }
}
