//! [`write_atomic`]: replace a file's contents all at once.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::OpenOptions;

/// Replaces the contents of `path` with `contents` so that, whenever the
/// process or the machine stops, `path` holds either the old contents or
/// the new ones, never a mix or a truncated file.
///
/// How: the bytes go to a temporary file in the same directory (same
/// filesystem, so the rename below is atomic), which is `fsync`ed, then
/// renamed over `path`; finally the directory is `fsync`ed so the rename
/// itself is durable. An existing file's permission bits carry over to the
/// new one (a new file gets 0o666 before the umask). On error the temporary
/// file is removed and `path` is untouched.
///
/// ```
/// # zokio::runtime! { Rt { flavor = "current_thread" } }
/// # Rt::block_on(async {
/// let path = std::env::temp_dir().join(format!("zokio-atomic-doc-{}", std::process::id()));
/// zokio::fs::write_atomic(&path, b"version 1").await?;
/// zokio::fs::write_atomic(&path, b"version 2").await?;
/// assert_eq!(zokio::fs::read(&path).await?, b"version 2");
/// zokio::fs::remove_file(&path).await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub async fn write_atomic(path: impl AsRef<Path>, contents: impl AsRef<[u8]>) -> io::Result<()> {
    let path = path.as_ref();
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("write_atomic needs a path that names a file, not {path:?}"),
        )
    })?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let mode = match super::metadata(path).await {
        Ok(m) => m.permissions().mode() & 0o7777,
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0o666,
        Err(e) => return Err(e),
    };
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(
        ".zokio-tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let temp = dir.join(temp_name);
    let written = async {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&temp)
            .await?;
        file.write_all_at(contents.as_ref().to_vec(), 0).await.0?;
        file.sync_all().await?;
        drop(file);
        super::rename(&temp, path).await
    }
    .await;
    if let Err(e) = written {
        let _ = super::remove_file(&temp).await;
        return Err(e);
    }
    // The rename is in the directory: make it durable too.
    let mut dir_file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY)
        .open(&dir)
        .await?;
    dir_file.sync_all().await?;
    Ok(())
}
