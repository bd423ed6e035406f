#!/usr/bin/env bash
# An hour of 50 of the page's chart widgets, each getting a point a second,
# in headless Chromium (Debian's): one line a minute with the Rust heap,
# the WASM memory, the JS heap after a garbage collection and the DOM
# nodes, then the first reading after the lines filled beside the last.
# The test is app/tests/memory.rs (`fifty_charts_updating_every_second`),
# built as the page is (the wasm-release profile).
# LIVEDASH_SOAK_MINUTES sets the length (default 60); LIVEDASH_SOAK_RATE the
# points a second into each chart (default 1); LIVEDASH_SOAK_SPAN the
# charts' live range in minutes (default 15); LIVEDASH_SOAK_HIDDEN=1
# mounts and feeds the charts without drawing them (off screen).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
install_build_tools
apt_install chromium chromium-driver
minutes="${LIVEDASH_SOAK_MINUTES:-60}"
(cd "$ROOT" && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/front" CHROMEDRIVER=/usr/bin/chromedriver \
  LIVEDASH_SOAK_MINUTES="$minutes" LIVEDASH_SOAK_RATE="${LIVEDASH_SOAK_RATE:-1}" LIVEDASH_SOAK_SPAN="${LIVEDASH_SOAK_SPAN:-15}" LIVEDASH_SOAK_HIDDEN="${LIVEDASH_SOAK_HIDDEN:-}" WASM_BINDGEN_TEST_TIMEOUT=$((minutes * 60 + 600)) \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test --locked --profile wasm-release -p app --features hydrate \
  --target wasm32-unknown-unknown --test memory -- --include-ignored --nocapture --exact fifty_charts_updating_every_second) 2>&1 |
  grep '^chart-soak' | sed 's/^chart-soak | //'
