//! Giving freed heap memory back to the system.
//!
//! glibc's allocator keeps what a thread frees in that thread's arena for reuse and returns
//! little of it to the system: after a burst (5,000 keep-alive connections closing on the
//! data plane, hostile uploads checked by the control plane) a process holds most of its peak
//! for good. `malloc_trim(0)` hands every arena's free pages back. Written by hand because it
//! is one libc call no crate wraps; it is the only `unsafe` in the workspace, kept in this
//! crate so the others keep `forbid(unsafe_code)`. Elsewhere (musl, other systems, whose
//! allocators return memory by themselves) it does nothing.

/// Returns the allocator's free memory to the system now; `true` when some was released.
/// Takes a few milliseconds on a large heap: call it off latency-sensitive paths.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn release_freed_memory() -> bool {
    // SAFETY: `malloc_trim` takes no pointer and touches only the allocator's own free
    // lists; glibc locks each arena while trimming it, so any thread may call it at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}

/// Returns the allocator's free memory to the system now (nothing to do here).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_freed_memory() -> bool {
    false
}

#[cfg(test)]
mod tests {
    #[test]
    fn trimming_after_freeing_is_safe_to_call_from_any_thread() {
        let blocks: Vec<Vec<u8>> = (0..2_000).map(|_| vec![1u8; 16 << 10]).collect();
        drop(blocks);
        let threads: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(super::release_freed_memory))
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
