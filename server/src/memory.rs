//! How the process's memory allocator is told to keep its footprint close
//! to what is in use.
//!
//! The head holds a few small blocks per series (its open chunk, its open
//! rollup points) that grow as samples arrive and are freed when a chunk
//! is sealed; sealing, closing segments and queries free larger buffers.
//! glibc's malloc keeps freed memory in its arenas for reuse, and only
//! gives back what lies at the top of a heap, so with 100,000 series the
//! free space stranded between live blocks measured more than a third of
//! the resident size (BENCHMARKS.md, "Memory per series").
//! [`release_free`] returns every whole free page in every arena to the
//! system (`malloc_trim`, which since glibc 2.8 also releases pages in the
//! middle of a heap); the store's syncer runs it after each maintenance
//! pass, once a minute, off the ingest path. It took 1.5 to 66 ms a pass
//! with 100,000 series.
//!
//! Capping glibc's arenas (`MALLOC_ARENA_MAX`) was measured too and not
//! adopted: two arenas held more than the release alone with the default
//! (3,115 B/series against 1,661 B without a release; 1,884 B with one) and
//! cost 17% of remote-write throughput.
//!
//! It does nothing with other allocators (musl, other systems).

use std::time::{Duration, Instant};

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
