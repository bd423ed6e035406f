# Shared by livedash's scripts: tool versions and the helpers that install
# what is missing. Every step checks first, so a second run is quick.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CARGO_LEPTOS_VERSION=0.3.10
# Must equal the wasm-bindgen version in Cargo.lock.
WASM_BINDGEN_VERSION=0.2.130
# Debian's binaryen (108) corrupts wasm-bindgen's externref table; this one does not.
BINARYEN_VERSION=132.0.0
TOOLS_DIR="${LIVEDASH_TOOLS_DIR:-$HOME/.cache/livedash/tools}"
export PATH="$TOOLS_DIR/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
# The browser's module carries the source path of each panic location in a
# dependency. Cut to the crate's own path, they are the same on every
# machine (the module's size does not depend on where Cargo keeps its
# registry) and 0.2 KB of brotli smaller. The last prefix that matches wins.
REGISTRY_SRC="${CARGO_HOME:-$HOME/.cargo}/registry/src"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="--remap-path-prefix=$REGISTRY_SRC/= --remap-path-prefix=$REGISTRY_SRC/index.crates.io-1949cf8c6b5b557f/="

step() { printf '\n==> %s\n' "$*" >&2; }

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    step "apt-get install ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

install_build_tools() {
  command -v npm >/dev/null || apt_install nodejs npm
  if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    step "rustup target add wasm32-unknown-unknown"
    rustup target add wasm32-unknown-unknown
  fi
  if ! cargo leptos --version 2>/dev/null | grep -q "$CARGO_LEPTOS_VERSION"; then
    step "cargo install cargo-leptos $CARGO_LEPTOS_VERSION (about 11 minutes, once)"
    cargo install cargo-leptos --version "$CARGO_LEPTOS_VERSION" --locked --features no_downloads
  fi
  if ! wasm-bindgen --version 2>/dev/null | grep -q "$WASM_BINDGEN_VERSION"; then
    step "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION"
    # Not --locked: its lock file names a crate version the registry lacks.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
  fi
  if [ "$(cat "$TOOLS_DIR/.binaryen-version" 2>/dev/null)" != "$BINARYEN_VERSION" ]; then
    step "npm install binaryen@$BINARYEN_VERSION (wasm-opt) into $TOOLS_DIR"
    mkdir -p "$TOOLS_DIR"
    npm install --silent --no-audit --no-fund --prefix "$TOOLS_DIR" "binaryen@$BINARYEN_VERSION"
    echo "$BINARYEN_VERSION" > "$TOOLS_DIR/.binaryen-version"
  fi
}

build_release() {
  step "cargo leptos build --release --precompress --split"
  (cd "$ROOT" && cargo leptos build --release --precompress --split)
}

LIVEDASH_BIN="$CARGO_TARGET_DIR/release/livedash"
