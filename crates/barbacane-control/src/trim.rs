//! Giving freed heap memory back to the system after spec checks.
//!
//! A spec check can allocate a lot for a short time (a large document, or a small one whose
//! YAML aliases expand), on whichever blocking thread ran it. glibc's allocator keeps what
//! is freed in that thread's arena for reuse and returns little of it to the system, so
//! after a burst of hostile uploads the process held most of its peak for good
//! (docs/performance.md). `malloc_trim(0)` hands every arena's free pages back. It is the
//! only `unsafe` in the crate: the crate's lints deny `unsafe_code` and this module allows
//! it for that one call. Elsewhere (musl, other systems) this does nothing.

/// Trims the allocator on a blocking thread, off the caller's path (no-op outside a Tokio
/// runtime).
pub fn release_freed_memory_soon() {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        drop(runtime.spawn_blocking(release_freed_memory));
    }
}

/// Returns the allocator's free memory to the system now.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_freed_memory() {
    // SAFETY: `malloc_trim` takes no pointer and touches only the allocator's own free
    // lists; glibc locks each arena while trimming it, so any thread may call it at any time.
    // The return value (whether memory was released) is of no use here.
    let _ = unsafe { libc::malloc_trim(0) };
}

/// Returns the allocator's free memory to the system now (nothing to do here).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed_memory() {}
