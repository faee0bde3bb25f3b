//! A ring of provided buffers (`IORING_REGISTER_PBUF_RING`, Linux 5.19):
//! the memory a ring's multishot receives write into.
//!
//! A multishot receive names no buffer of its own. For each chunk of data
//! it takes the next buffer the application has *provided* to its group,
//! writes into it and reports the buffer's id in the CQE. Until the
//! application provides that buffer again, the kernel does not touch it, so
//! the bytes can be read at leisure (see `socket.rs`, which copies them out
//! and then gives the buffer back with [`BufRing::give_back`]).
//!
//! # Memory
//!
//! Two allocations, both owned by the [`BufRing`] and shared (`Arc`) by the
//! driver and by every socket that holds one of its buffers or a multishot
//! receive that may use them:
//!
//! - the ring of entries (`count` × 16 bytes, page-aligned, as the kernel
//!   requires), whose entries the kernel reads from its head up to the tail
//!   this side publishes;
//! - the buffers themselves (`count` × `size` bytes).
//!
//! The kernel may read the entries and write into any provided buffer for
//! as long as a multishot receive in the group may run. The driver frees
//! nothing while that can be so: the memory goes when the last `Arc` does,
//! and at shutdown a driver that gave up waiting for a completion leaks
//! the ring (see `UringDriver::shutdown`), as it leaks those operations.

use std::alloc::{Layout, alloc_zeroed, dealloc};
use std::io;
use std::ptr::NonNull;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU16, Ordering};

use io_uring::IoUring;
use io_uring::types::BufRingEntry;

use crate::task::lock;

/// The buffer group id of a ring's provided buffers (one group per ring).
pub(super) const GROUP: u16 = 0;

/// Buffers per ring, and their size: 1 MiB per ring. A receive that finds
/// none free ends with `ENOBUFS`, and the socket falls back to a receive
/// into its own buffer (see `socket.rs`).
const COUNT: u16 = 256;
const SIZE: u32 = 4096;

/// A ring's provided buffers.
pub(crate) struct BufRing {
    entries: NonNull<BufRingEntry>,
    bufs: NonNull<u8>,
    count: u16,
    size: u32,
    /// The tail this side publishes (entries below it are provided), under
    /// the lock: buffers come back from any thread.
    tail: Mutex<u16>,
}

// SAFETY: the pointers are to allocations the `BufRing` owns. Rust code
// writes the entries only under `tail`'s lock, and reads or writes a buffer
// only while it holds that buffer (its id came in a CQE and it was not yet
// given back), when neither the kernel nor any other holder touches it.
unsafe impl Send for BufRing {}
// SAFETY: as above; shared access goes through the lock or through the
// exclusive hold of one buffer.
unsafe impl Sync for BufRing {}

impl BufRing {
    fn entries_layout(count: u16) -> Layout {
        Layout::from_size_align(
            usize::from(count) * std::mem::size_of::<BufRingEntry>(),
            4096,
        )
        .expect("a valid layout")
    }

    fn bufs_layout(count: u16, size: u32) -> Layout {
        Layout::from_size_align(usize::from(count) * size as usize, 64).expect("a valid layout")
    }

    /// Allocates the buffers, provides them all and registers the ring
    /// with `uring` as group [`GROUP`]. Fails where the kernel does not
    /// support provided-buffer rings (before 5.19: `EINVAL`).
    pub(super) fn register(uring: &IoUring) -> io::Result<BufRing> {
        let (count, size) = (COUNT, SIZE);
        let entries_layout = Self::entries_layout(count);
        let bufs_layout = Self::bufs_layout(count, size);
        // SAFETY: both layouts have a non-zero size.
        let (entries, bufs) = unsafe { (alloc_zeroed(entries_layout), alloc_zeroed(bufs_layout)) };
        let (Some(entries), Some(bufs)) = (NonNull::new(entries), NonNull::new(bufs)) else {
            // SAFETY: each pointer, if not null, came from `alloc_zeroed`
            // with its layout.
            unsafe {
                if !entries.is_null() {
                    dealloc(entries, entries_layout);
                }
                if !bufs.is_null() {
                    dealloc(bufs, bufs_layout);
                }
            }
            return Err(io::ErrorKind::OutOfMemory.into());
        };
        let ring = BufRing {
            entries: entries.cast(),
            bufs,
            count,
            size,
            tail: Mutex::new(0),
        };
        for bid in 0..count {
            ring.give_back(bid);
        }
        // SAFETY: the entries are `count` page-aligned `BufRingEntry`s that
        // stay allocated until this `BufRing` is dropped, which the driver
        // does only when the kernel can no longer use them (see the module
        // docs).
        unsafe {
            uring.submitter().register_buf_ring_with_flags(
                ring.entries.as_ptr() as u64,
                count,
                GROUP,
                0,
            )?;
        }
        Ok(ring)
    }

    /// Whether `bid` names one of this ring's buffers.
    pub(super) fn contains(&self, bid: u16) -> bool {
        bid < self.count
    }

    /// The first `len` bytes of buffer `bid`, which the caller holds (its
    /// id came in a CQE and it was not given back since).
    ///
    /// # Safety
    ///
    /// The caller holds buffer `bid` (so the kernel does not write into it)
    /// and `len` is at most what the CQE reported.
    pub(super) unsafe fn bytes(&self, bid: u16, len: usize) -> &[u8] {
        debug_assert!(self.contains(bid) && len <= self.size as usize);
        let len = len.min(self.size as usize);
        // SAFETY: the buffer lies inside the `bufs` allocation; the caller
        // holds it, so nobody writes into it while the slice lives.
        unsafe {
            std::slice::from_raw_parts(
                self.bufs
                    .as_ptr()
                    .add(usize::from(bid) * self.size as usize),
                len,
            )
        }
    }

    /// Provides buffer `bid` to the kernel again; the caller gives up its
    /// hold on it.
    pub(super) fn give_back(&self, bid: u16) {
        if !self.contains(bid) {
            debug_assert!(false, "not a buffer of this ring: {bid}");
            return;
        }
        let mut tail = lock(&self.tail);
        let index = usize::from(*tail & (self.count - 1));
        // SAFETY: `bid < count`, so the buffer lies inside `bufs`.
        let addr = unsafe {
            self.bufs
                .as_ptr()
                .add(usize::from(bid) * self.size as usize)
        };
        // The entry is the kernel's `struct io_uring_buf`: `addr` (u64) at
        // offset 0, `len` (u32) at 8, `bid` (u16) at 12, and at 14 the
        // `resv` that entry 0 shares with the ring's tail. Fields are
        // written one by one, never through a reference to the whole
        // entry, since the kernel reads the tail in entry 0 at any time.
        // SAFETY: `index < count`, inside the entries allocation; the lock
        // makes this the only writer, and the kernel reads an entry only
        // once the tail published below covers it (this one is free: each
        // buffer is provided at most once at a time, so at most `count`
        // entries are ever provided).
        unsafe {
            let entry = self.entries.as_ptr().add(index).cast::<u8>();
            entry.cast::<u64>().write(addr as u64);
            entry.add(8).cast::<u32>().write(self.size);
            entry.add(12).cast::<u16>().write(bid);
        }
        *tail = tail.wrapping_add(1);
        // SAFETY: the tail field overlays the first entry's reserved bytes
        // (a `u16`, naturally aligned), which the kernel reads and this
        // side alone writes; a release store publishes the entry above.
        let shared = unsafe { &*BufRingEntry::tail(self.entries.as_ptr()).cast::<AtomicU16>() };
        shared.store(*tail, Ordering::Release);
    }
}

impl Drop for BufRing {
    fn drop(&mut self) {
        // SAFETY: allocated in `register` with these layouts; the last
        // reference is going, and the driver guarantees the kernel no
        // longer uses the memory (see the module docs).
        unsafe {
            dealloc(
                self.entries.as_ptr().cast(),
                Self::entries_layout(self.count),
            );
            dealloc(self.bufs.as_ptr(), Self::bufs_layout(self.count, self.size));
        }
    }
}
