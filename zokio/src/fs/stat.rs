//! [`Statx`]: file metadata read with `statx`, through the ring on io_uring.

use std::fs::Permissions;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use super::asyncify;
#[cfg(target_os = "linux")]
use super::{FileOp, c_path, ring, ring_for};

/// File metadata from `statx(2)`.
///
/// [`metadata`](super::metadata) returns `std::fs::Metadata` (what tokio
/// code expects) but std offers no way to build one from the kernel's
/// answer, so that call runs on the blocking pool. This type carries the
/// same facts and is filled through the ring on io_uring: use it on hot
/// paths.
#[derive(Clone, Copy)]
pub struct Statx {
    raw: libc::statx,
}

impl std::fmt::Debug for Statx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Statx")
            .field("len", &self.len())
            .field("mode", &format_args!("{:o}", self.mode()))
            .field("ino", &self.ino())
            .field("nlink", &self.nlink())
            .finish_non_exhaustive()
    }
}

fn time(t: libc::statx_timestamp) -> SystemTime {
    let nanos = Duration::new(t.tv_sec.unsigned_abs(), t.tv_nsec);
    if t.tv_sec >= 0 {
        SystemTime::UNIX_EPOCH + nanos
    } else {
        SystemTime::UNIX_EPOCH - nanos
    }
}

impl Statx {
    pub(crate) fn from_raw(raw: libc::statx) -> Statx {
        Statx { raw }
    }

    /// Size in bytes.
    pub fn len(&self) -> u64 {
        self.raw.stx_size
    }

    /// Whether the size is zero.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The full `st_mode` (type and permission bits).
    pub fn mode(&self) -> u32 {
        u32::from(self.raw.stx_mode)
    }

    fn kind(&self) -> u32 {
        self.mode() & libc::S_IFMT
    }

    /// A regular file.
    pub fn is_file(&self) -> bool {
        self.kind() == libc::S_IFREG
    }

    /// A directory.
    pub fn is_dir(&self) -> bool {
        self.kind() == libc::S_IFDIR
    }

    /// A symbolic link (only from [`symlink_statx`], which does not follow
    /// it).
    pub fn is_symlink(&self) -> bool {
        self.kind() == libc::S_IFLNK
    }

    /// The permission bits, as std's type.
    pub fn permissions(&self) -> Permissions {
        Permissions::from_mode(self.mode() & 0o7777)
    }

    /// Last modification.
    pub fn modified(&self) -> SystemTime {
        time(self.raw.stx_mtime)
    }

    /// Last access.
    pub fn accessed(&self) -> SystemTime {
        time(self.raw.stx_atime)
    }

    /// Creation, where the filesystem records it.
    pub fn created(&self) -> Option<SystemTime> {
        (self.raw.stx_mask & libc::STATX_BTIME != 0).then(|| time(self.raw.stx_btime))
    }

    /// Inode number.
    pub fn ino(&self) -> u64 {
        self.raw.stx_ino
    }

    /// Hard link count.
    pub fn nlink(&self) -> u32 {
        self.raw.stx_nlink
    }

    /// Owner's user id.
    pub fn uid(&self) -> u32 {
        self.raw.stx_uid
    }

    /// Owner's group id.
    pub fn gid(&self) -> u32 {
        self.raw.stx_gid
    }

    /// Preferred I/O block size.
    pub fn blksize(&self) -> u32 {
        self.raw.stx_blksize
    }

    /// 512-byte blocks allocated.
    pub fn blocks(&self) -> u64 {
        self.raw.stx_blocks
    }

    /// Device the file lives on (`makedev(major, minor)`).
    pub fn dev(&self) -> u64 {
        libc::makedev(self.raw.stx_dev_major, self.raw.stx_dev_minor)
    }
}

/// `statx` of `path`, following symlinks.
pub async fn statx(path: impl AsRef<Path>) -> io::Result<Statx> {
    stat_path(path.as_ref(), true).await
}

/// `statx` of `path` itself, not following a symlink.
pub async fn symlink_statx(path: impl AsRef<Path>) -> io::Result<Statx> {
    stat_path(path.as_ref(), false).await
}

async fn stat_path(path: &Path, follow: bool) -> io::Result<Statx> {
    #[cfg(target_os = "linux")]
    if let Some(io) = ring_for(FileOp::Statx) {
        return ring::statx_path(&io, c_path(path)?, follow)
            .await
            .map(Statx::from_raw);
    }
    let path = super::c_path(path)?;
    let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
    asyncify(move || statx_now(libc::AT_FDCWD, &path, flags)).await
}

/// `statx(2)` on this thread.
pub(crate) fn statx_now(dirfd: i32, path: &std::ffi::CStr, flags: i32) -> io::Result<Statx> {
    // SAFETY: `statx` is plain data; all zeroes is a valid value.
    let mut raw: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is NUL-terminated and `raw` is a valid `statx` buffer,
    // both alive across the call.
    let rc = unsafe {
        libc::statx(
            dirfd,
            path.as_ptr(),
            flags,
            libc::STATX_BASIC_STATS | libc::STATX_BTIME,
            &mut raw,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(Statx::from_raw(raw))
    }
}
