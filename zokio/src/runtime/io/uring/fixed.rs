//! Registered buffers: a `FixedBufPool`'s memory in one slot of every ring's
//! registered-buffer table, so file reads and writes into it go out as
//! `READ_FIXED`/`WRITE_FIXED`. The kernel pinned and mapped the pages once,
//! at registration, instead of on every operation.
//!
//! Each ring gets a sparse table of [`FIXED_SLOTS`] slots when it is created
//! (its success is the probe, `Features::fixed_buffers`), and a pool fills
//! one slot of the same number on every ring of its runtime, so an
//! operation may go to whichever ring its file's starting thread owns. A
//! pool whose runtime has no such table (mio, an older kernel, a runtime
//! whose rings disagree) or whose registration fails (the locked-memory
//! limit) is not registered, and its buffers take the ordinary opcodes.
//!
//! Soundness: the kernel writes into a registered region only for an
//! operation that names the slot and an address inside the region. Such an
//! operation owns a `FixedBuf`, which keeps the pool, and so the region and
//! this registration, alive until its completion. Once the pool is gone
//! no operation can name the slot, so its memory may be freed before every
//! ring has emptied the slot (a worker thread does not wait for the other
//! owners, see `empty`; the kernel holds its own references to the pinned
//! pages until then). The slot is handed out again only once every ring
//! has emptied it, and never if one could not.
//!
//! On `multi_thread` runtimes the rings are single-issuer: only a ring's
//! owner may update its table, so other threads ask it
//! (`UringDriver::set_fixed`, `UringDriver::empty_fixed`).

use std::sync::Arc;

use super::FIXED_SLOTS;
use super::driver::Emptying;
use super::submit::{Submitter, uring_of};
use crate::buf::IoBuf;
use crate::runtime::io::{ActiveBackend, IoHandle};

/// One region registered in the same slot of every ring of a runtime.
pub(crate) struct FixedRegistration {
    handle: Arc<IoHandle>,
    slot: u32,
}

impl std::fmt::Debug for FixedRegistration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixedRegistration")
            .field("slot", &self.slot)
            .finish()
    }
}

impl FixedRegistration {
    /// Registers `len` bytes at `base` on every ring of `handle`; the error
    /// says why it could not.
    ///
    /// # Safety
    ///
    /// The memory must stay allocated, and the kernel may write into it,
    /// until the returned value is dropped and every operation that named
    /// its slot has completed.
    pub(crate) unsafe fn register(
        handle: &Arc<IoHandle>,
        base: *mut u8,
        len: usize,
    ) -> Result<FixedRegistration, String> {
        if handle.backend() != ActiveBackend::IoUring {
            return Err("the runtime uses the mio backend".into());
        }
        let rings: Vec<_> = (0..handle.driver_count())
            .map(|i| uring_of(handle.driver(i)))
            .collect();
        if !rings.iter().all(|r| r.features().fixed_buffers) {
            return Err(
                "the kernel has no sparse registered-buffer table (Linux 5.19 or newer)".into(),
            );
        }
        let Some(slot) = handle.take_fixed_slot() else {
            return Err(format!(
                "all {FIXED_SLOTS} registered-buffer slots of the runtime are held by live pools"
            ));
        };
        let region = libc::iovec {
            iov_base: base.cast(),
            iov_len: len,
        };
        for (i, ring) in rings.iter().enumerate() {
            // SAFETY: the caller keeps the memory alive and writable for as
            // long as the slot can be named (see above).
            if let Err(e) = unsafe { ring.set_fixed(slot, region, &mut || drive_own_ring(handle)) }
            {
                empty(handle, slot, i);
                return Err(format!(
                    "IORING_REGISTER_BUFFERS_UPDATE failed: {e}{}",
                    if e.raw_os_error() == Some(libc::ENOMEM) {
                        " (the locked-memory limit, RLIMIT_MEMLOCK, may be too low)"
                    } else {
                        ""
                    }
                ));
            }
        }
        Ok(FixedRegistration {
            handle: handle.clone(),
            slot,
        })
    }

    /// The slot to name in operations submitted through `handle`'s rings
    /// (`None` for another runtime's).
    pub(crate) fn slot_for(&self, handle: &Arc<IoHandle>) -> Option<u16> {
        Arc::ptr_eq(&self.handle, handle).then_some(self.slot as u16)
    }
}

/// While waiting for another worker to update its ring: a worker drives its
/// own (which may hold that worker's request for this one).
fn drive_own_ring(handle: &IoHandle) {
    if let Some(i) = handle.owned_index() {
        handle.driver(i).poll_now();
    }
}

/// Empties `slot` on the first `rings` rings of `handle`, and gives it back
/// if that worked on all of them.
///
/// A thread that owns none of the rings waits for the owners of
/// single-issuer rings to empty theirs (`set_fixed`), so the slot is free
/// again when this returns. A worker thread does not wait: it may be inside
/// its own ring's completion dispatch (the last buffer of a dropped pool
/// can go with a completed operation), and the owner it would wait for may
/// be waiting for it. The owners empty the slot the next time they look at
/// their rings, and the last one gives it back.
fn empty(handle: &Arc<IoHandle>, slot: u32, rings: usize) {
    if handle.owned_index().is_some() {
        let emptying = Emptying::new(handle, slot, rings);
        for i in 0..rings {
            uring_of(handle.driver(i)).empty_fixed(slot, &emptying);
        }
        return;
    }
    let empty = libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    };
    let mut emptied = true;
    for i in 0..rings {
        // SAFETY: an empty entry names no memory.
        let result = unsafe { uring_of(handle.driver(i)).set_fixed(slot, empty, &mut || {}) };
        emptied &= result.is_ok();
    }
    if emptied {
        handle.release_fixed_slot(slot);
    }
}

impl Drop for FixedRegistration {
    fn drop(&mut self) {
        empty(&self.handle, self.slot, self.handle.driver_count());
    }
}

/// The registered-buffer slot a file operation on `buf` submitted through
/// `sub` may name, if `buf`'s memory is registered with `sub`'s runtime.
pub(super) fn fixed_slot<B: IoBuf>(sub: &Submitter, buf: &B) -> Option<u16> {
    buf.__registered()?.slot_for(&sub.handle)
}

/// Tests: how many operations named a registered buffer.
#[cfg(test)]
pub(super) static FIXED_OPS: std::sync::atomic::AtomicUsize =
    std::sync::atomic::AtomicUsize::new(0);

/// `slot`, for an SQE about to name it (tests count them).
pub(super) fn naming(slot: u16) -> u16 {
    #[cfg(test)]
    FIXED_OPS.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    slot
}
