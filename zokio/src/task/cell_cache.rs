//! Experimental per-thread caches of freed task cells by size class (the
//! `task-cell-cache` feature), kept to measure against the system allocator
//! (see `benches/RESULTS.md`, "Task memory").

use std::alloc::Layout;
use std::cell::RefCell;

/// Size classes of 64 bytes, up to 1 KiB; larger cells bypass the cache.
const CLASS: usize = 64;
const CLASSES: usize = 16;
/// Most blocks kept per class and thread.
const KEEP: usize = 256;
const ALIGN: usize = 16;

struct Cache {
    free: [Vec<*mut u8>; CLASSES],
}

impl Drop for Cache {
    fn drop(&mut self) {
        for (class, blocks) in self.free.iter_mut().enumerate() {
            let layout = class_layout(class);
            for block in blocks.drain(..) {
                // SAFETY: every cached block was allocated with this class's layout.
                unsafe { std::alloc::dealloc(block, layout) };
            }
        }
    }
}

thread_local! {
    static CACHE: RefCell<Cache> = RefCell::new(Cache { free: Default::default() });
}

fn class_layout(class: usize) -> Layout {
    Layout::from_size_align((class + 1) * CLASS, ALIGN).expect("small power-of-two layout")
}

fn class_of(layout: Layout) -> Option<usize> {
    (layout.align() <= ALIGN && layout.size() <= CLASSES * CLASS && layout.size() > 0)
        .then(|| (layout.size() - 1) / CLASS)
}

/// Allocates memory for `layout`.
pub(crate) fn alloc(layout: Layout) -> *mut u8 {
    if let Some(class) = class_of(layout) {
        let cached = CACHE
            .try_with(|c| c.borrow_mut().free[class].pop())
            .ok()
            .flatten();
        if let Some(block) = cached {
            return block;
        }
        // SAFETY: the class layout has a non-zero size.
        let block = unsafe { std::alloc::alloc(class_layout(class)) };
        if block.is_null() {
            std::alloc::handle_alloc_error(class_layout(class));
        }
        return block;
    }
    // SAFETY: task cells always have a non-zero size (the header).
    let block = unsafe { std::alloc::alloc(layout) };
    if block.is_null() {
        std::alloc::handle_alloc_error(layout);
    }
    block
}

/// Frees memory from [`alloc`] with the same `layout`.
///
/// # Safety
///
/// `block` came from `alloc(layout)` and is not used afterwards.
pub(crate) unsafe fn free(block: *mut u8, layout: Layout) {
    match class_of(layout) {
        Some(class) => {
            let kept = CACHE
                .try_with(|c| {
                    let mut c = c.borrow_mut();
                    if c.free[class].len() < KEEP {
                        c.free[class].push(block);
                        true
                    } else {
                        false
                    }
                })
                .unwrap_or(false);
            if !kept {
                // SAFETY: allocated with the class layout by `alloc`.
                unsafe { std::alloc::dealloc(block, class_layout(class)) };
            }
        }
        // SAFETY: allocated with `layout` by `alloc`.
        None => unsafe { std::alloc::dealloc(block, layout) },
    }
}
