#!/usr/bin/env bash
# The chart's redraw beside uPlot's, on the same machine in the same
# headless Chromium (Debian's), on the same data: 4 series of 3,600 points
# and one series of 1,000,000, on an 800 x 300 canvas; then 50 of the
# page's chart widgets fed 2,000 events a second. livedash's side is
# app/tests/chart_bench.rs (the page's drawing code, built as the page is:
# the wasm-release profile); uPlot's is end2end/bench/uplot-redraw.js.
# Prints one line per library and case (median and 95th percentile, ms).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
install_build_tools
apt_install chromium chromium-driver
(cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund)
# The page's WASM dependencies are already built there by cargo-leptos.
# One case per run: the runner interleaves async tests in one page.
for case in redraw fifty_charts; do
  (cd "$ROOT" && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/front" CHROMEDRIVER=/usr/bin/chromedriver \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test --locked --profile wasm-release -p app --features hydrate \
    --target wasm32-unknown-unknown --test chart_bench -- --include-ignored --nocapture --exact "$case") 2>&1 |
    grep '^chart-bench' | sed 's/^chart-bench //'
done
(cd "$ROOT/end2end" && node bench/uplot-redraw.js) | sed 's/^chart-bench //'
