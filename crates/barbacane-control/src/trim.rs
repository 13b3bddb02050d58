//! Giving freed heap memory back to the system after spec checks.
//!
//! A spec check can allocate a lot for a short time (a large document, or a small one whose
//! YAML aliases expand), on whichever blocking thread ran it; glibc keeps what is freed, so
//! after a burst of hostile uploads the process held most of its peak for good
//! (docs/performance.md). See `barbacane_alloc`.

/// Trims the allocator on a blocking thread, off the caller's path (no-op outside a Tokio
/// runtime).
pub fn release_freed_memory_soon() {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        drop(runtime.spawn_blocking(barbacane_alloc::release_freed_memory));
    }
}
