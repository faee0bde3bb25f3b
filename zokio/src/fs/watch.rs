//! [`watch`]: file and directory change events through inotify, whose
//! descriptor is registered with the runtime's I/O driver (no polling
//! loop, no extra thread).

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::task::{Context, Poll};

use crate::runtime::io::current_io;
use crate::runtime::io::poll_fd::PollFd;

/// What happened to a watched path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WatchKind {
    /// A file or directory was created in a watched directory.
    Create,
    /// A file's contents changed (`write`, `truncate`).
    Modify,
    /// A file opened for writing was closed (its writer is done).
    CloseWrite,
    /// Permissions, owner, timestamps or links changed.
    Attrib,
    /// Removed: an entry of a watched directory, or the watched path itself.
    Remove,
    /// Renamed away from the watched directory (or the watched path moved).
    MovedFrom,
    /// Renamed into the watched directory.
    MovedTo,
    /// The kernel's event queue overflowed: events were lost. Re-scan what
    /// you track.
    Overflow,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// What happened.
    pub kind: WatchKind,
    /// The path it happened to: the watched path, or the watched
    /// directory joined with the entry's name. Empty for `Overflow`.
    pub path: PathBuf,
}

/// Change events of the paths given to [`watch`] and [`Watch::add`].
///
/// Call [`next_event`](Watch::next_event), or, with the `stream` feature,
/// use it as a `futures_core::Stream`. Dropping it removes the watches.
pub struct Watch {
    fd: PollFd,
    /// Watch descriptor to the path it watches.
    paths: HashMap<i32, PathBuf>,
    events: VecDeque<WatchEvent>,
    buf: Box<[u8]>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("paths", &self.paths.values().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

const MASK: u32 = libc::IN_CREATE
    | libc::IN_MODIFY
    | libc::IN_CLOSE_WRITE
    | libc::IN_ATTRIB
    | libc::IN_DELETE
    | libc::IN_DELETE_SELF
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_MOVE_SELF;

/// Watches `path` (a file, or a directory and its entries, not
/// recursively) for changes.
///
/// ```
/// # zokio::runtime! { Rt { flavor = "current_thread" } }
/// # Rt::block_on(async {
/// use zokio::fs::WatchKind;
/// let dir = std::env::temp_dir().join(format!("zokio-watch-doc-{}", std::process::id()));
/// zokio::fs::create_dir_all(&dir).await?;
/// let mut watch = zokio::fs::watch(&dir)?;
/// zokio::fs::write(dir.join("new.txt"), b"hi").await?;
/// let event = watch.next_event().await?;
/// assert_eq!(event.kind, WatchKind::Create);
/// assert_eq!(event.path, dir.join("new.txt"));
/// # drop(watch);
/// # zokio::fs::remove_dir_all(&dir).await?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
///
/// # Panics
///
/// Outside a zokio runtime.
#[track_caller]
pub fn watch(path: impl AsRef<Path>) -> io::Result<Watch> {
    let io = current_io();
    // SAFETY: plain system call; the result is checked.
    let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `inotify_init1` returned a new descriptor that nothing else
    // owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut watch = Watch {
        fd: PollFd::new(&io, fd)?,
        paths: HashMap::new(),
        events: VecDeque::new(),
        // Room for many events with names up to NAME_MAX.
        buf: vec![0u8; 64 * 1024].into_boxed_slice(),
    };
    watch.add(path)?;
    Ok(watch)
}

impl Watch {
    /// Watches one more path.
    pub fn add(&mut self, path: impl AsRef<Path>) -> io::Result<()> {
        let path = path.as_ref();
        let c_path = super::c_path(path)?;
        // SAFETY: `c_path` is NUL-terminated and outlives the call.
        let wd = unsafe { libc::inotify_add_watch(self.fd.raw(), c_path.as_ptr(), MASK) };
        if wd < 0 {
            return Err(io::Error::last_os_error());
        }
        self.paths.insert(wd, path.to_owned());
        Ok(())
    }

    /// The next change.
    pub async fn next_event(&mut self) -> io::Result<WatchEvent> {
        std::future::poll_fn(|cx| self.poll_next_event(cx)).await
    }

    /// Polls for the next change.
    pub fn poll_next_event(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<WatchEvent>> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Poll::Ready(Ok(event));
            }
            let fd = self.fd.raw();
            let buf = &mut self.buf;
            let n = std::task::ready!(self.fd.poll_read_with(cx, || {
                // SAFETY: `buf` is valid for `buf.len()` bytes of writes.
                let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
                if n < 0 {
                    Err(io::Error::last_os_error())
                } else {
                    Ok(n as usize)
                }
            }))?;
            self.parse(n);
        }
    }

    /// Turns the `n` bytes of `inotify_event`s in the buffer into events.
    fn parse(&mut self, n: usize) {
        let header = std::mem::size_of::<libc::inotify_event>();
        let mut at = 0;
        while at + header <= n {
            // SAFETY: the kernel wrote a whole `inotify_event` header at
            // `at` (events are never split across reads); the read is
            // unaligned-safe.
            let ev: libc::inotify_event =
                unsafe { std::ptr::read_unaligned(self.buf[at..].as_ptr().cast()) };
            let name_bytes = &self.buf[at + header..(at + header + ev.len as usize).min(n)];
            at += header + ev.len as usize;
            let name_end = name_bytes
                .iter()
                .position(|&b| b == 0)
                .unwrap_or(name_bytes.len());
            let name = OsStr::from_bytes(&name_bytes[..name_end]);
            if ev.mask & libc::IN_Q_OVERFLOW != 0 {
                self.events.push_back(WatchEvent {
                    kind: WatchKind::Overflow,
                    path: PathBuf::new(),
                });
                continue;
            }
            if ev.mask & libc::IN_IGNORED != 0 {
                // The watch is gone (its path was removed): forget it.
                self.paths.remove(&ev.wd);
                continue;
            }
            let Some(base) = self.paths.get(&ev.wd) else {
                continue;
            };
            let path = if name.is_empty() {
                base.clone()
            } else {
                base.join(name)
            };
            let kinds = [
                (libc::IN_CREATE, WatchKind::Create),
                (libc::IN_MODIFY, WatchKind::Modify),
                (libc::IN_CLOSE_WRITE, WatchKind::CloseWrite),
                (libc::IN_ATTRIB, WatchKind::Attrib),
                (libc::IN_DELETE | libc::IN_DELETE_SELF, WatchKind::Remove),
                (
                    libc::IN_MOVED_FROM | libc::IN_MOVE_SELF,
                    WatchKind::MovedFrom,
                ),
                (libc::IN_MOVED_TO, WatchKind::MovedTo),
            ];
            for (bits, kind) in kinds {
                if ev.mask & bits != 0 {
                    self.events.push_back(WatchEvent {
                        kind,
                        path: path.clone(),
                    });
                }
            }
        }
    }
}

#[cfg(feature = "stream")]
impl futures_core::Stream for Watch {
    type Item = io::Result<WatchEvent>;

    fn poll_next(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_event(cx).map(Some)
    }
}
