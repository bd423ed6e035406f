#!/usr/bin/env bash
# Installs what is missing and runs every test: unit and integration tests
# (cargo test), the WASM tests (wasm-bindgen-test in headless Chromium) and
# the end-to-end tests (Playwright in Debian's headless Chromium against the
# release binary). Exits non-zero if any test fails.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
install_build_tools
apt_install chromium chromium-driver
step "npm ci (end2end; no browser download)"
(cd "$ROOT/end2end" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --silent --no-audit --no-fund)

build_release

step "cargo test (unit and integration)"
# --release shares the dependencies the release build just compiled.
(cd "$ROOT" && cargo test --release --locked)

step "WASM tests (wasm-bindgen-test, headless Chromium)"
# The memory test opens and leaves a dashboard 200 times: past the
# runner's default 20 s a test on a slow machine. ChromeDriver's profiles
# (about 140 MB each, not always removed when the runner ends it) go in a
# temporary directory of their own, removed afterwards.
WASM_TMP="$(mktemp -d "${TMPDIR:-/tmp}/livedash-wasm-test-XXXXXX")"
trap 'rm -rf "$WASM_TMP"' EXIT
(cd "$ROOT" && TMPDIR="$WASM_TMP" CHROMEDRIVER=/usr/bin/chromedriver WASM_BINDGEN_TEST_TIMEOUT=300 \
  CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
  cargo test --locked -p app --features hydrate --target wasm32-unknown-unknown --test browser --test memory)
rm -rf "$WASM_TMP"

step "end-to-end tests (Playwright, headless Chromium)"
(cd "$ROOT/end2end" && LIVEDASH_BIN="$LIVEDASH_BIN" npx playwright test)
