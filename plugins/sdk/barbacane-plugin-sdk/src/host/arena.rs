//! The `wasm32` global allocator: a bump arena that never frees.
//!
//! Written by hand because no allocator crate fits the instance model: a plugin instance
//! serves one request and its memory is reset afterwards, so freeing is wasted work, while
//! the default allocator grows linear memory a little at a time, and every `memory.grow` is
//! a host call that remaps the pooled slot. This one starts in the memory the module was
//! linked with (official plugins: 1 MiB) and grows in 1 MiB steps.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout};
use std::arch::wasm32;
use std::sync::atomic::{AtomicUsize, Ordering};

const PAGE: usize = 64 * 1024;
/// Pages added at once when the arena runs out (1 MiB).
const GROW_PAGES: usize = 16;

struct Arena {
    /// Next free byte; 0 before the first allocation.
    next: AtomicUsize,
}

#[global_allocator]
static ARENA: Arena = Arena {
    next: AtomicUsize::new(0),
};

unsafe extern "C" {
    /// First byte after the stack and static data (defined by wasm-ld).
    static __heap_base: u8;
}

impl Arena {
    /// Makes sure `[.., end)` is inside linear memory.
    fn reserve(end: usize) -> bool {
        let limit = wasm32::memory_size(0) * PAGE;
        if end <= limit {
            return true;
        }
        let needed = (end - limit).div_ceil(PAGE);
        wasm32::memory_grow(0, needed.max(GROW_PAGES)) != usize::MAX
            || wasm32::memory_grow(0, needed) != usize::MAX
    }

    fn bump(&self, layout: Layout) -> *mut u8 {
        let mut next = self.next.load(Ordering::Relaxed);
        if next == 0 {
            // Only the address of the linker symbol is taken, which is safe.
            next = (&raw const __heap_base) as usize;
        }
        let Some(start) = next.checked_next_multiple_of(layout.align()) else {
            return std::ptr::null_mut();
        };
        let Some(end) = start.checked_add(layout.size()) else {
            return std::ptr::null_mut();
        };
        if !Self::reserve(end) {
            return std::ptr::null_mut();
        }
        self.next.store(end, Ordering::Relaxed);
        start as *mut u8
    }
}

// SAFETY: blocks never overlap (the cursor only moves past handed-out blocks, and back only
// over the most recent block when it is freed), are aligned as asked, and lie inside linear
// memory. wasm32-unknown-unknown plugins are single-threaded, so relaxed atomics suffice.
unsafe impl GlobalAlloc for Arena {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.bump(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // Hand back the most recent block: temporary buffers are freed in LIFO order.
        let end = ptr as usize + layout.size();
        let _ = self
            .next
            .compare_exchange(end, ptr as usize, Ordering::Relaxed, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let start = ptr as usize;
        // The most recent block grows (or shrinks) in place: a `Vec` being pushed to.
        if start + layout.size() == self.next.load(Ordering::Relaxed) {
            if let Some(end) = start.checked_add(new_size)
                && Self::reserve(end)
            {
                self.next.store(end, Ordering::Relaxed);
                return ptr;
            }
            return std::ptr::null_mut();
        }
        // SAFETY: the caller guarantees `layout.align()` and `new_size` form a valid layout.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = self.bump(new_layout);
        if !new.is_null() {
            // SAFETY: both blocks are valid for the copied length and do not overlap (the
            // new block starts at or after the end of every live block).
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        }
        new
    }
}
