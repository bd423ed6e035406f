#!/usr/bin/env bash
# Installs what is missing, builds the single livedash binary and starts it
# on embedded defaults (http://127.0.0.1:3000). Arguments go to livedash.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
install_build_tools
build_release
step "$LIVEDASH_BIN $*"
exec "$LIVEDASH_BIN" "$@"
