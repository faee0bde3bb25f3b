//! Buffers registered with the kernel: [`FixedBufPool`] and [`FixedBuf`].

use std::alloc::Layout;
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

use super::{IoBuf, IoBufMut};

/// Where a [`FixedBuf`]'s memory is registered. Not part of the public API:
/// only the runtime makes one, so only its own buffers can name a slot.
#[doc(hidden)]
pub struct Registered {
    #[cfg(target_os = "linux")]
    inner: crate::runtime::io::uring::fixed::FixedRegistration,
    _private: (),
}

impl Registered {
    /// The registered-buffer slot to name in an operation submitted through
    /// `handle`'s rings, if the memory is registered there.
    #[cfg(target_os = "linux")]
    pub(crate) fn slot_for(&self, handle: &Arc<crate::runtime::io::IoHandle>) -> Option<u16> {
        self.inner.slot_for(handle)
    }
}

impl fmt::Debug for Registered {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Registered")
    }
}

/// The largest pool: the kernel registers at most 1 GiB in one table
/// entry, and a pool takes one.
const MAX_POOL_BYTES: usize = 1 << 30;

/// The most buffers in one pool (the free list keeps an index per buffer).
const MAX_COUNT: usize = 1 << 16;

/// Buffers are laid out on page boundaries (when their size is a multiple
/// of the page size), as `O_DIRECT` needs.
const ALIGN: usize = 4096;

/// A fixed set of equally sized buffers whose memory is registered with the
/// runtime's io_uring rings (`IORING_REGISTER_BUFFERS`), for file I/O that
/// skips the kernel's per-operation page pinning.
///
/// [`File::read_at`](crate::fs::File::read_at) and
/// [`write_at`](crate::fs::File::write_at) (and `read_exact_at`,
/// `write_all_at`) given a [`FixedBuf`] from a registered pool submit
/// `READ_FIXED`/`WRITE_FIXED`; there is nothing else to call. The gain is
/// largest for `O_DIRECT` files, whose reads and writes otherwise pin the
/// buffer's pages on every operation (benches/RESULTS.md).
///
/// The pool works everywhere: where registration is not possible (the mio
/// backend, a kernel before 5.19, the locked-memory limit, all 64 of the
/// runtime's slots held by other pools), [`is_registered`](Self::is_registered)
/// is `false`, the reason is logged, and the buffers are ordinary memory
/// for the ordinary opcodes. A buffer used with another runtime's files is
/// ordinary memory there too.
///
/// The memory is one allocation of `count × size` bytes (at most 1 GiB,
/// and at most 65,536 buffers), each buffer starting at a multiple of
/// `size` from a 4096-byte-aligned base, freed (and unregistered) when the
/// pool and every buffer taken from it are gone. Cloning the pool shares
/// it.
///
/// Costs to plan for: the kernel pins the memory and, for a process
/// without `CAP_IPC_LOCK`, charges it against `RLIMIT_MEMLOCK` once per
/// ring, so a pool costs `count × size × workers` of the locked-memory
/// limit. A pool keeps its runtime's rings (not its workers) open until it
/// is dropped, even after the runtime has shut down.
///
/// On a `multi_thread` runtime only a worker may change its own ring's
/// registrations (the rings are single-issuer), so `new` asks each worker
/// and waits for it, at most a second per ring; a worker busy beyond that
/// leaves the pool unregistered (logged). A pool dropped on a worker thread
/// does not wait: its slot is free again once every worker has emptied it.
///
/// ```
/// use zokio::io::FixedBufPool;
///
/// #[zokio::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let path = std::env::temp_dir().join(format!("zokio-fixed-doc-{}", std::process::id()));
///     let file = zokio::fs::OpenOptions::new()
///         .read(true)
///         .write(true)
///         .create(true)
///         .truncate(true)
///         .open(&path)
///         .await?;
///     let pool = FixedBufPool::new(4, 4096)?;
///
///     let mut buf = pool.get().await;
///     buf.extend_from_slice(b"hello, registered world");
///     let (written, buf) = file.write_all_at(buf, 0).await;
///     written?;
///     drop(buf); // back to the pool
///
///     let (read, buf) = file.read_at(pool.get().await, 0).await;
///     assert_eq!(&buf[..read?], b"hello, registered world");
///     zokio::fs::remove_file(&path).await
/// }
/// ```
#[derive(Clone)]
pub struct FixedBufPool {
    pool: Arc<Pool>,
}

struct Pool {
    base: NonNull<u8>,
    layout: Layout,
    size: usize,
    count: usize,
    /// The indices of the buffers in the pool (not taken).
    free: Mutex<Vec<usize>>,
    /// Notified once per buffer given back.
    returned: tokio::sync::Notify,
    /// Dropped before the memory is freed.
    registered: Option<Registered>,
}

// SAFETY: the allocation is plain memory owned by the pool; each buffer's
// bytes are reached only through the one `FixedBuf` that holds its index
// (the free list hands every index out at most once at a time), and the
// rest of the pool is immutable or behind a `Mutex`.
unsafe impl Send for Pool {}
// SAFETY: as above; shared access reads only immutable fields, the
// free list's mutex and the `Notify`.
unsafe impl Sync for Pool {}

impl Drop for Pool {
    fn drop(&mut self) {
        // Empty the rings' slot before the memory can be reused. No
        // operation names it any more: each held a `FixedBuf`, which held
        // the pool.
        drop(self.registered.take());
        // SAFETY: allocated in `FixedBufPool::new` with this layout; no
        // buffer is left (each holds the pool).
        unsafe { std::alloc::dealloc(self.base.as_ptr(), self.layout) };
    }
}

impl FixedBufPool {
    /// Allocates `count` buffers of `size` bytes and registers them with
    /// the current runtime's rings.
    ///
    /// Fails with `InvalidInput` when `count` or `size` is 0, `count` is
    /// above 65,536 or the pool would exceed 1 GiB, and with `OutOfMemory`
    /// when the allocation fails. Not being able to register is not an error (see the type's
    /// docs).
    ///
    /// # Panics
    ///
    /// Outside a runtime, like the I/O types.
    #[track_caller]
    pub fn new(count: usize, size: usize) -> io::Result<FixedBufPool> {
        let io = crate::runtime::io::current_io();
        let total = count
            .checked_mul(size)
            .filter(|&t| t > 0 && t <= MAX_POOL_BYTES && count <= MAX_COUNT)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "FixedBufPool::new({count}, {size}): count and size must be at least 1, \
                         count at most {MAX_COUNT} and count × size at most 1 GiB \
                         ({MAX_POOL_BYTES} bytes)"
                    ),
                )
            })?;
        let layout = Layout::from_size_align(total, ALIGN)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        // SAFETY: `layout` has a non-zero size.
        let base = NonNull::new(unsafe { std::alloc::alloc_zeroed(layout) }).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::OutOfMemory,
                format!("FixedBufPool::new: cannot allocate {total} bytes"),
            )
        })?;
        #[cfg(target_os = "linux")]
        // SAFETY: the memory stays allocated until `Pool::drop`, which drops
        // the registration first; until then only `FixedBuf`s reach it, and
        // an operation naming the slot owns one.
        let registered = match unsafe {
            crate::runtime::io::uring::fixed::FixedRegistration::register(&io, base.as_ptr(), total)
        } {
            Ok(inner) => Some(Registered {
                inner,
                _private: (),
            }),
            Err(why) => {
                log::info!(target: "zokio", "FixedBufPool of {count} × {size} bytes not registered: {why}");
                None
            }
        };
        #[cfg(not(target_os = "linux"))]
        let registered = {
            drop(io);
            log::info!(target: "zokio", "FixedBufPool of {count} × {size} bytes not registered: io_uring is Linux only");
            None
        };
        Ok(FixedBufPool {
            pool: Arc::new(Pool {
                base,
                layout,
                size,
                count,
                free: Mutex::new((0..count).rev().collect()),
                returned: tokio::sync::Notify::new(),
                registered,
            }),
        })
    }

    /// Whether the buffers are registered with the runtime's rings (so
    /// file I/O with them uses the fixed-buffer opcodes).
    pub fn is_registered(&self) -> bool {
        self.pool.registered.is_some()
    }

    /// A buffer if one is free, with length 0.
    pub fn try_get(&self) -> Option<FixedBuf> {
        let index = lock(&self.pool.free).pop()?;
        Some(FixedBuf {
            pool: self.pool.clone(),
            index,
            len: 0,
        })
    }

    /// A buffer, waiting until one is given back if all are taken.
    pub async fn get(&self) -> FixedBuf {
        loop {
            if let Some(buf) = self.try_get() {
                return buf;
            }
            // A buffer given back between `try_get` and here leaves a
            // permit, so this returns at once.
            self.pool.returned.notified().await;
        }
    }

    /// How many buffers the pool has.
    pub fn count(&self) -> usize {
        self.pool.count
    }

    /// The size of each buffer.
    pub fn buf_size(&self) -> usize {
        self.pool.size
    }

    /// How many buffers are in the pool now (not taken).
    pub fn available(&self) -> usize {
        lock(&self.pool.free).len()
    }
}

impl fmt::Debug for FixedBufPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBufPool")
            .field("count", &self.pool.count)
            .field("buf_size", &self.pool.size)
            .field("available", &self.available())
            .field("registered", &self.is_registered())
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// A buffer taken from a [`FixedBufPool`]; dropping it gives it back.
///
/// Like a `Vec<u8>` with a fixed capacity ([`capacity`](Self::capacity),
/// the pool's buffer size): it dereferences to its initialized bytes
/// ([`len`](Self::len) of them), reads fill the rest, and
/// [`extend_from_slice`](Self::extend_from_slice) or `io::Write` append.
pub struct FixedBuf {
    pool: Arc<Pool>,
    index: usize,
    len: usize,
}

impl FixedBuf {
    fn ptr(&self) -> *mut u8 {
        // SAFETY: `index < count`, so the offset stays inside the pool's
        // allocation of `count × size` bytes.
        unsafe { self.pool.base.as_ptr().add(self.index * self.pool.size) }
    }

    /// How many bytes are initialized (what a write sends).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is initialized.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The buffer's size (what a read may fill).
    pub fn capacity(&self) -> usize {
        self.pool.size
    }

    /// Forgets the contents (length 0), so a read fills the whole buffer.
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Shortens the contents to `len` bytes (no effect if already shorter).
    pub fn truncate(&mut self, len: usize) {
        self.len = self.len.min(len);
    }

    /// Appends `data`.
    ///
    /// # Panics
    ///
    /// If `data` does not fit (`len() + data.len() > capacity()`); use
    /// `io::Write` to append what fits.
    #[track_caller]
    pub fn extend_from_slice(&mut self, data: &[u8]) {
        assert!(
            data.len() <= self.capacity() - self.len,
            "FixedBuf::extend_from_slice: {} bytes do not fit ({} of {} used)",
            data.len(),
            self.len,
            self.capacity()
        );
        self.append(data);
    }

    fn append(&mut self, data: &[u8]) {
        // SAFETY: the caller checked that `data` fits after `len`, inside
        // this buffer's `size` bytes, which only this `FixedBuf` reaches
        // (`data` cannot overlap them: it is a shared borrow while `self`
        // is borrowed mutably).
        unsafe {
            std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr().add(self.len), data.len());
        }
        self.len += data.len();
    }
}

impl Drop for FixedBuf {
    fn drop(&mut self) {
        lock(&self.pool.free).push(self.index);
        self.pool.returned.notify_one();
    }
}

impl Deref for FixedBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        // SAFETY: the first `len` bytes of this buffer are initialized (the
        // allocation is zeroed, and reads only extend `len` over bytes the
        // kernel wrote), and only this `FixedBuf` reaches them.
        unsafe { std::slice::from_raw_parts(self.ptr(), self.len) }
    }
}

impl DerefMut for FixedBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        // SAFETY: as for `deref`, and `&mut self` makes the access unique.
        unsafe { std::slice::from_raw_parts_mut(self.ptr(), self.len) }
    }
}

impl io::Write for FixedBuf {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(self.capacity() - self.len);
        self.append(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for FixedBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixedBuf")
            .field("index", &self.index)
            .field("len", &self.len)
            .field("capacity", &self.capacity())
            .finish()
    }
}

// SAFETY: the buffer's bytes are `size` bytes of the pool's heap
// allocation, which does not move and lives while the pool does (this
// value holds it); `len` bytes of them are initialized.
unsafe impl IoBuf for FixedBuf {
    fn stable_ptr(&self) -> *const u8 {
        self.ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len
    }
    fn bytes_total(&self) -> usize {
        self.pool.size
    }
    fn __registered(&self) -> Option<&Registered> {
        self.pool.registered.as_ref()
    }
}

// SAFETY: as for `IoBuf`; `set_init` never goes past the buffer's size,
// and the caller promises the bytes are initialized.
unsafe impl IoBufMut for FixedBuf {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        if pos > self.len {
            debug_assert!(pos <= self.pool.size);
            self.len = pos.min(self.pool.size);
        }
    }
}
