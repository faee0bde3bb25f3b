//! File and path operations on the ring: `openat`, `read`/`write` at an
//! offset, `fsync`/`fdatasync`, `fallocate`, `statx`, `unlinkat`,
//! `renameat`, `mkdirat`, `linkat`, `symlinkat`.
//!
//! The memory safety argument is the one in the module docs of `uring`:
//! paths (`CString`s), the `statx` buffer and owned I/O buffers live inside
//! the operation's allocation, which the ring keeps until the completion.
//! A dropped `open` whose completion still arrives closes the descriptor it
//! produced (see [`OpenData::unclaimed`]).
//!
//! Which opcodes the kernel has is probed once per process ([`supports`]);
//! the `fs` layer sends an operation whose opcode is missing to the
//! blocking pool instead.

use std::ffi::CString;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::{Arc, OnceLock};

use io_uring::opcode;
use io_uring::types::{Fd, FsyncFlags};

use super::fixed::{fixed_slot, naming};
use super::op::{OpData, to_io};
use super::submit::{OneShot, Outcome, Submitter, read_owned, write_owned};
use crate::buf::{IoBuf, IoBufMut};
use crate::runtime::io::{IoHandle, shutdown_error};

/// The file operations the fs layer may send to a ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FileOp {
    Open,
    Read,
    Write,
    Fsync,
    Fallocate,
    Statx,
    Unlink,
    Rename,
    Mkdir,
    Link,
    Symlink,
}

impl FileOp {
    fn code(self) -> u8 {
        match self {
            FileOp::Open => opcode::OpenAt::CODE,
            FileOp::Read => opcode::Read::CODE,
            FileOp::Write => opcode::Write::CODE,
            FileOp::Fsync => opcode::Fsync::CODE,
            FileOp::Fallocate => opcode::Fallocate::CODE,
            FileOp::Statx => opcode::Statx::CODE,
            FileOp::Unlink => opcode::UnlinkAt::CODE,
            FileOp::Rename => opcode::RenameAt::CODE,
            FileOp::Mkdir => opcode::MkDirAt::CODE,
            FileOp::Link => opcode::LinkAt::CODE,
            FileOp::Symlink => opcode::SymlinkAt::CODE,
        }
    }
}

/// Whether the kernel's io_uring has `op`'s opcode (probed once; `false`
/// if probing fails).
pub(crate) fn supports(op: FileOp) -> bool {
    static PROBE: OnceLock<Option<io_uring::Probe>> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let ring = io_uring::IoUring::new(2).ok()?;
            let mut probe = io_uring::Probe::new();
            ring.submitter().register_probe(&mut probe).ok()?;
            Some(probe)
        })
        .as_ref()
        .is_some_and(|p| p.is_supported(op.code()))
}

/// The paths (and `statx` buffer) of a path operation.
struct PathData {
    path: CString,
    path2: Option<CString>,
    statx: Box<libc::statx>,
}

impl Default for PathData {
    fn default() -> Self {
        PathData {
            path: CString::default(),
            path2: None,
            // SAFETY: `statx` is plain data; all zeroes is a valid value.
            statx: Box::new(unsafe { std::mem::zeroed() }),
        }
    }
}

impl OpData for PathData {}

/// The path of an `openat`; a descriptor it opened for a caller that went
/// away is closed.
#[derive(Default)]
struct OpenData(CString);

impl OpData for OpenData {
    fn unclaimed(&mut self, result: i32) {
        if result >= 0 {
            // SAFETY: `openat` returned this descriptor and nobody took it.
            drop(unsafe { OwnedFd::from_raw_fd(result) });
        }
    }
}

/// An operation with no memory of ours (fsync, fallocate).
#[derive(Default)]
struct NoData;

impl OpData for NoData {}

/// Runs one operation with data `data` on `sub`'s ring: the raw result,
/// with the data back.
async fn run<T, F>(sub: &Submitter, data: T, build: F) -> io::Result<(i32, T)>
where
    T: OpData + Default,
    F: FnOnce(&mut T) -> io_uring::squeue::Entry + Unpin,
{
    match OneShot::new(sub, data, build).await {
        Outcome::Done(result, data) => Ok((result, data)),
        Outcome::Refused(e, _) => Err(e),
        Outcome::Lost => Err(shutdown_error()),
    }
}

fn to_unit(result: i32) -> io::Result<()> {
    to_io(result).map(drop)
}

/// Opens `path` (`openat(AT_FDCWD, path, flags | O_CLOEXEC, mode)`).
pub(crate) async fn open(
    handle: &Arc<IoHandle>,
    path: CString,
    flags: i32,
    mode: u32,
) -> io::Result<OwnedFd> {
    let sub = Submitter::here(handle)?;
    let (result, _) = run(&sub, OpenData(path), move |d: &mut OpenData| {
        opcode::OpenAt::new(Fd(libc::AT_FDCWD), d.0.as_ptr())
            .flags(flags | libc::O_CLOEXEC)
            .mode(mode)
            .build()
    })
    .await?;
    let fd = to_io(result)?;
    // SAFETY: `openat` returned this new descriptor and consuming the
    // result made this the only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `statx` of `path` (following symlinks unless `nofollow`), or of `fd`
/// when `path` is empty (`AT_EMPTY_PATH`).
async fn statx_at(
    sub: &Submitter,
    dirfd: RawFd,
    path: CString,
    flags: i32,
) -> io::Result<libc::statx> {
    let data = PathData {
        path,
        ..PathData::default()
    };
    let (result, data) = run(sub, data, move |d: &mut PathData| {
        opcode::Statx::new(
            Fd(dirfd),
            d.path.as_ptr(),
            (&raw mut *d.statx).cast::<io_uring::types::statx>(),
        )
        .flags(flags)
        .mask(libc::STATX_BASIC_STATS | libc::STATX_BTIME)
        .build()
    })
    .await?;
    to_unit(result)?;
    Ok(*data.statx)
}

/// `statx` of `path`.
pub(crate) async fn statx_path(
    handle: &Arc<IoHandle>,
    path: CString,
    follow: bool,
) -> io::Result<libc::statx> {
    let sub = Submitter::here(handle)?;
    let flags = if follow { 0 } else { libc::AT_SYMLINK_NOFOLLOW };
    statx_at(&sub, libc::AT_FDCWD, path, flags).await
}

/// A two-path or one-path operation relative to the working directory.
async fn path_op(
    handle: &Arc<IoHandle>,
    path: CString,
    path2: Option<CString>,
    build: impl FnOnce(*const libc::c_char, *const libc::c_char) -> io_uring::squeue::Entry + Unpin,
) -> io::Result<()> {
    let sub = Submitter::here(handle)?;
    let data = PathData {
        path,
        path2,
        ..PathData::default()
    };
    let (result, _) = run(&sub, data, move |d: &mut PathData| {
        let second = d.path2.as_ref().map_or(std::ptr::null(), |p| p.as_ptr());
        build(d.path.as_ptr(), second)
    })
    .await?;
    to_unit(result)
}

/// `unlinkat`: removes a file, or an empty directory when `dir`.
pub(crate) async fn unlink(handle: &Arc<IoHandle>, path: CString, dir: bool) -> io::Result<()> {
    let flags = if dir { libc::AT_REMOVEDIR } else { 0 };
    path_op(handle, path, None, move |p, _| {
        opcode::UnlinkAt::new(Fd(libc::AT_FDCWD), p)
            .flags(flags)
            .build()
    })
    .await
}

/// `renameat(from, to)`.
pub(crate) async fn rename(handle: &Arc<IoHandle>, from: CString, to: CString) -> io::Result<()> {
    path_op(handle, from, Some(to), |a, b| {
        opcode::RenameAt::new(Fd(libc::AT_FDCWD), a, Fd(libc::AT_FDCWD), b).build()
    })
    .await
}

/// `mkdirat(path, mode)`.
pub(crate) async fn mkdir(handle: &Arc<IoHandle>, path: CString, mode: u32) -> io::Result<()> {
    path_op(handle, path, None, move |p, _| {
        opcode::MkDirAt::new(Fd(libc::AT_FDCWD), p)
            .mode(mode)
            .build()
    })
    .await
}

/// `linkat(original, link)` (a hard link; does not follow a symlink
/// `original`, like std's on Linux).
pub(crate) async fn link(
    handle: &Arc<IoHandle>,
    original: CString,
    link: CString,
) -> io::Result<()> {
    path_op(handle, original, Some(link), |a, b| {
        opcode::LinkAt::new(Fd(libc::AT_FDCWD), a, Fd(libc::AT_FDCWD), b).build()
    })
    .await
}

/// `symlinkat(target, link)`.
pub(crate) async fn symlink(
    handle: &Arc<IoHandle>,
    target: CString,
    link: CString,
) -> io::Result<()> {
    path_op(handle, target, Some(link), |a, b| {
        opcode::SymlinkAt::new(Fd(libc::AT_FDCWD), a, b).build()
    })
    .await
}

/// The io_uring side of one open file: operations at offsets (or at the
/// file position, `None`), each submitted to the ring of the thread that
/// starts it (a roaming `Home`), so tasks on every worker can share one
/// `File` without crossing threads.
pub(crate) struct UringFile {
    sub: Submitter,
}

/// `offset` for io_uring: `-1` means "at the file position, and advance
/// it" (`IORING_FEAT_RW_CUR_POS`, Linux 5.6).
fn ring_offset(offset: Option<u64>) -> u64 {
    offset.unwrap_or(u64::MAX)
}

impl UringFile {
    /// Connects a file to the calling worker's ring (or one round robin).
    pub(crate) fn new(handle: &Arc<IoHandle>) -> io::Result<UringFile> {
        Ok(UringFile {
            sub: Submitter::roaming(handle)?,
        })
    }

    /// Reads into `buf`'s spare capacity from `offset` (or the file
    /// position).
    pub(crate) async fn read<B: IoBufMut>(
        &self,
        fd: RawFd,
        buf: B,
        offset: Option<u64>,
    ) -> (io::Result<usize>, B) {
        let offset = ring_offset(offset);
        let fixed = fixed_slot(&self.sub, &buf);
        read_owned(&self.sub, buf, move |spare, len| match fixed {
            Some(slot) => opcode::ReadFixed::new(Fd(fd), spare, len, naming(slot))
                .offset(offset)
                .build(),
            None => opcode::Read::new(Fd(fd), spare, len).offset(offset).build(),
        })
        .await
    }

    /// Writes `buf`'s initialized bytes (some of them) at `offset` (or the
    /// file position). Once started, the write finishes even if the future
    /// is dropped (a file's `AsyncWrite` reports success before the bytes
    /// are written, so they must never be lost).
    pub(crate) async fn write<B: IoBuf>(
        &self,
        fd: RawFd,
        buf: B,
        offset: Option<u64>,
    ) -> (io::Result<usize>, B) {
        if buf.bytes_init() == 0 {
            return (Ok(0), buf);
        }
        let offset = ring_offset(offset);
        let fixed = fixed_slot(&self.sub, &buf);
        write_owned(&self.sub, buf, true, move |data, len| match fixed {
            Some(slot) => opcode::WriteFixed::new(Fd(fd), data, len, naming(slot))
                .offset(offset)
                .build(),
            None => opcode::Write::new(Fd(fd), data, len).offset(offset).build(),
        })
        .await
    }

    /// `fsync`, or `fdatasync` when `data_only`.
    pub(crate) async fn sync(&self, fd: RawFd, data_only: bool) -> io::Result<()> {
        let flags = if data_only {
            FsyncFlags::DATASYNC
        } else {
            FsyncFlags::empty()
        };
        let (result, _) = run(&self.sub, NoData, move |_: &mut NoData| {
            opcode::Fsync::new(Fd(fd)).flags(flags).build()
        })
        .await?;
        to_unit(result)
    }

    /// `fallocate(fd, mode, offset, len)`.
    pub(crate) async fn fallocate(
        &self,
        fd: RawFd,
        mode: i32,
        offset: u64,
        len: u64,
    ) -> io::Result<()> {
        let (result, _) = run(&self.sub, NoData, move |_: &mut NoData| {
            opcode::Fallocate::new(Fd(fd), len)
                .offset(offset)
                .mode(mode)
                .build()
        })
        .await?;
        to_unit(result)
    }

    /// `statx` of the open file.
    pub(crate) async fn statx(&self, fd: RawFd) -> io::Result<libc::statx> {
        statx_at(&self.sub, fd, CString::default(), libc::AT_EMPTY_PATH).await
    }

    /// Closes `fd` once no operation of this file is outstanding on any
    /// ring (operations started from different workers go to their own
    /// rings, see `Home`'s roaming mode). The descriptor may outlive this
    /// call by the time the outstanding operations take.
    pub(crate) fn close(&self, fd: OwnedFd) {
        self.sub.close_when_idle(fd);
    }
}

/// Readiness of a descriptor in one direction through one-shot `POLL_ADD`s
/// (for descriptors used with plain non-blocking calls: an inotify
/// instance, an `AsyncFd`'s).
///
/// The descriptor counts as ready until a caller finds it is not
/// ([`clear_ready`](Self::clear_ready), after a `WouldBlock`); the next
/// [`poll_ready`](Self::poll_ready) then submits a `POLL_ADD`, which the
/// kernel completes once the descriptor is ready (at once if it already
/// is). Several tasks may wait at the same time: the operation keeps every
/// waiter's waker.
pub(crate) struct UringPoll {
    sub: Submitter,
    /// `POLLIN` or `POLLOUT`.
    events: u32,
    state: std::sync::Mutex<PollState>,
}

struct PollState {
    op: Option<Arc<super::op::Op<NoData>>>,
    /// Whether the last poll completed and no caller has since found the
    /// descriptor not ready.
    ready: bool,
}

impl UringPoll {
    /// The read (`POLLIN`) and the write (`POLLOUT`) side of one
    /// descriptor. They share one home, so [`close`](Self::close) on either
    /// waits for both sides' operations.
    pub(crate) fn pair(handle: &Arc<IoHandle>) -> io::Result<(UringPoll, UringPoll)> {
        let read = Submitter::here(handle)?;
        let write = Submitter {
            handle: read.handle.clone(),
            home: read.home.clone(),
        };
        let side = |sub, events: i16| UringPoll {
            sub,
            events: events as u32,
            state: std::sync::Mutex::new(PollState {
                op: None,
                ready: true,
            }),
        };
        Ok((side(read, libc::POLLIN), side(write, libc::POLLOUT)))
    }

    /// `Ready` while the descriptor counts as ready; otherwise waits for a
    /// `POLL_ADD` on `fd` to complete.
    pub(crate) fn poll_ready(
        &self,
        cx: &mut std::task::Context<'_>,
        fd: RawFd,
    ) -> std::task::Poll<io::Result<()>> {
        use super::op::InFlight;
        use std::task::Poll;
        let mut st = crate::task::lock(&self.state);
        if st.ready {
            return Poll::Ready(Ok(()));
        }
        let op = st
            .op
            .get_or_insert_with(|| super::op::Op::new(self.sub.home.clone(), NoData))
            .clone();
        match op.header().try_poll_result(cx.waker()) {
            Some(Poll::Pending) => Poll::Pending,
            Some(Poll::Ready(Err(_lost))) => {
                st.op = None;
                Poll::Ready(Err(shutdown_error()))
            }
            Some(Poll::Ready(Ok(res))) if res < 0 => {
                Poll::Ready(Err(io::Error::from_raw_os_error(-res)))
            }
            // Ready, or an error or hang-up the next call reports.
            Some(Poll::Ready(Ok(_mask))) => {
                st.ready = true;
                Poll::Ready(Ok(()))
            }
            None => {
                let events = self.events;
                self.sub.start(&op, cx.waker(), |_| {
                    opcode::PollAdd::new(Fd(fd), events).build()
                })?;
                Poll::Pending
            }
        }
    }

    /// A call found the descriptor not ready: the next
    /// [`poll_ready`](Self::poll_ready) waits for a new poll.
    pub(crate) fn clear_ready(&self) {
        crate::task::lock(&self.state).ready = false;
    }

    /// Cancels a pending poll (before the descriptor is closed or handed
    /// back).
    pub(crate) fn cancel(&self) {
        if let Some(op) = &crate::task::lock(&self.state).op {
            self.sub.cancel(op);
        }
    }

    /// Closes `fd` once the ring holds nothing naming it.
    pub(crate) fn close(&self, fd: OwnedFd) {
        self.cancel();
        self.sub.close(fd);
    }
}
