//! Buffers handed to the runtime by value, for the owned-buffer I/O forms
//! (`TcpStream::read_owned`, `File::read_at`), and the registered
//! [`FixedBufPool`].
//!
//! With io_uring the kernel reads into or writes from the buffer *after* the
//! call returns, until the operation completes. A borrowed `&mut [u8]` cannot
//! promise that: the future holding it may be dropped while the kernel still
//! targets the memory. An owned buffer can: the runtime keeps it until the
//! completion arrives, then gives it back with the result.

mod fixed;

pub use fixed::{FixedBuf, FixedBufPool, Registered};

/// A buffer the kernel may read from while the runtime owns it.
///
/// # Safety
///
/// `stable_ptr` must point to `bytes_init` initialized bytes inside an
/// allocation of `bytes_total` bytes, and the pointer must stay valid and
/// unchanged while the value is moved around (heap memory, or `'static`),
/// until the value is dropped or mutated through its own API.
pub unsafe trait IoBuf: Unpin + Send + 'static {
    /// Where the bytes start.
    fn stable_ptr(&self) -> *const u8;
    /// How many bytes are initialized (what a write sends).
    fn bytes_init(&self) -> usize;
    /// How many bytes the allocation holds.
    fn bytes_total(&self) -> usize;

    /// Not part of the public API: where a [`FixedBuf`]'s memory is
    /// registered. Only the runtime can make a [`Registered`], so other
    /// buffers can only keep this default.
    #[doc(hidden)]
    fn __registered(&self) -> Option<&Registered> {
        None
    }
}

/// A buffer the kernel may write into while the runtime owns it. Reads fill
/// the bytes from `bytes_init()` to `bytes_total()` (a `Vec`'s spare
/// capacity) and then extend the initialized part, like `read_buf`.
///
/// # Safety
///
/// As for [`IoBuf`]; `stable_mut_ptr` is the same address as `stable_ptr`,
/// and `set_init(n)` may assume the first `n` bytes are initialized.
pub unsafe trait IoBufMut: IoBuf {
    /// Where the bytes start, for writing.
    fn stable_mut_ptr(&mut self) -> *mut u8;

    /// Marks the first `pos` bytes initialized (never shrinks).
    ///
    /// # Safety
    ///
    /// The first `pos` bytes must be initialized.
    unsafe fn set_init(&mut self, pos: usize);
}

// SAFETY: a Vec's heap pointer does not move when the Vec value moves, and
// `len`/`capacity` describe the initialized part and the allocation.
unsafe impl IoBuf for Vec<u8> {
    fn stable_ptr(&self) -> *const u8 {
        self.as_ptr()
    }
    fn bytes_init(&self) -> usize {
        self.len()
    }
    fn bytes_total(&self) -> usize {
        self.capacity()
    }
}

// SAFETY: as for `IoBuf`; `set_len` never exceeds the capacity because
// `pos` counts bytes the kernel wrote inside the allocation.
unsafe impl IoBufMut for Vec<u8> {
    fn stable_mut_ptr(&mut self) -> *mut u8 {
        self.as_mut_ptr()
    }
    unsafe fn set_init(&mut self, pos: usize) {
        if pos > self.len() {
            debug_assert!(pos <= self.capacity());
            // SAFETY: the caller promises the first `pos` bytes are
            // initialized, and they lie within the capacity.
            unsafe { self.set_len(pos) };
        }
    }
}

/// `IoBuf` for fully initialized byte containers whose bytes never move:
/// every byte is initialized, and the allocation is exactly their length.
macro_rules! fixed_io_buf {
    ($($t:ty: $why:literal;)*) => {$(
        #[doc = $why]
        // SAFETY: the documented reason above: the bytes stay where they are
        // while the value lives, all `len()` of them initialized.
        unsafe impl IoBuf for $t {
            fn stable_ptr(&self) -> *const u8 {
                self.as_ptr()
            }
            fn bytes_init(&self) -> usize {
                self.len()
            }
            fn bytes_total(&self) -> usize {
                self.len()
            }
        }
    )*};
}

fixed_io_buf! {
    Box<[u8]>: "A boxed slice: a fixed heap allocation, fully initialized.";
    &'static [u8]: "Static bytes never move or die.";
    &'static str: "A static string's bytes never move or die.";
}
