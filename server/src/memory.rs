//! How the process's memory allocator is told to keep its footprint close
//! to what is in use.
//!
//! The head holds a few small blocks per series (its open chunk, its open
//! rollup points) that grow as samples arrive and are freed when a chunk
//! is sealed; sealing, closing segments and queries free larger buffers.
//! glibc's malloc keeps freed memory in its arenas for reuse, and only
//! gives back what lies at the top of a heap, so with 100,000 series the
//! free space stranded between live blocks measured more than a third of
//! the resident size (BENCHMARKS.md, "Memory per series"). Two settings
//! bring it back to what the series hold:
//!
//! - [`limit_arenas`]: at most [`ARENAS`] arenas instead of eight per core,
//!   so the blocks of every series are not spread over one arena per
//!   worker thread, each with its own free space;
//! - [`release_free`]: returns every whole free page in every arena to the
//!   system (`malloc_trim`, which since glibc 2.8 also releases pages in
//!   the middle of a heap), run by the store's syncer after each
//!   maintenance pass, off the ingest path.
//!
//! Both do nothing with other allocators (musl, other systems).

use std::time::{Duration, Instant};

/// Arenas glibc's malloc may make (see [`limit_arenas`]).
pub const ARENAS: i32 = 2;

/// Caps glibc's malloc at [`ARENAS`] arenas, unless the operator set
/// `MALLOC_ARENA_MAX`. Call before any other thread starts: an arena cap
/// only bounds arenas made after it.
pub fn limit_arenas(operator_set: bool) {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if !operator_set {
        // SAFETY: mallopt only sets a malloc parameter.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    let _ = operator_set;
}

/// Gives the free pages of malloc's arenas back to the system; returns how
/// long that took.
pub fn release_free() -> Duration {
    let started = Instant::now();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks malloc's own free lists, under their
    // locks; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
    started.elapsed()
}
