//! Measurement only, behind the `heap-count` feature: the page's allocator
//! counts the bytes the Rust side holds, and `window.livedashHeap()` reads
//! them, so a bench can tell a heap that grows (a leak) from a WASM memory
//! that grows under a steady heap (peaks, or fragmentation).

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicUsize, Ordering},
};

use wasm_bindgen::{closure::Closure, JsCast, JsValue};

/// The system allocator, counting what it holds.
struct Counting;

/// Bytes allocated and not freed.
static LIVE: AtomicUsize = AtomicUsize::new(0);
/// The most `LIVE` has been since the last reading.
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// The largest single allocation since the last reading.
static LARGEST: AtomicUsize = AtomicUsize::new(0);
/// Allocations since the last reading.
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

fn grew(by: usize) {
    let live = LIVE.fetch_add(by, Ordering::Relaxed) + by;
    PEAK.fetch_max(live, Ordering::Relaxed);
    LARGEST.fetch_max(by, Ordering::Relaxed);
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
}

// SAFETY: every call is passed to `System` unchanged; only the counts are
// added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            grew(layout.size());
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = unsafe { System.realloc(ptr, layout, new_size) };
        if !moved.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        moved
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Puts `livedashHeap()` on the window: `[live bytes, peak, largest
/// allocation, allocations, WASM memory bytes]`, the last three since the
/// previous call (which starts the next period).
pub fn expose() {
    let read = Closure::<dyn Fn() -> js_sys::Array>::new(|| {
        let live = LIVE.load(Ordering::Relaxed);
        let memory = wasm_bindgen::memory()
            .unchecked_into::<js_sys::WebAssembly::Memory>()
            .buffer()
            .unchecked_into::<js_sys::ArrayBuffer>()
            .byte_length();
        let values = [
            live,
            PEAK.swap(live, Ordering::Relaxed),
            LARGEST.swap(0, Ordering::Relaxed),
            ALLOCATIONS.swap(0, Ordering::Relaxed),
            memory as usize,
        ];
        values
            .iter()
            .map(|&v| JsValue::from_f64(v as f64))
            .collect()
    });
    let _ = js_sys::Reflect::set(&js_sys::global(), &"livedashHeap".into(), read.as_ref());
    read.forget();
}
