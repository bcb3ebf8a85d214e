#!/usr/bin/env bash
# The quick check before a commit: formatting, clippy (warnings are errors) and the native unit
# tests (the library's, the CLI's and the server's own; not the conformance suite, the
# integration tests, wasm or the browser). A few minutes once built; `make test` runs it all.
# Needs only a Rust toolchain with rustfmt and clippy (no bootstrap).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/common.sh"
cd "$root"

step "format" cargo fmt --all --check
# The target dir of `make test`, and the same --workspace selection: both reuse each other's
# builds.
export CARGO_TARGET_DIR=$PIXELPRINT_NATIVE_TARGET_DIR
step "clippy" cargo clippy --workspace --all-targets -- -D warnings
# PostgreSQL is `make test`'s (scripts/postgres.sh starts it): without a database URL its storage
# tests are left out here, which they would otherwise refuse under CI=1.
skip=()
[[ -n ${PIXELPRINT_TEST_DATABASE_URL:-} ]] || skip=(--skip storage::postgres::)
step "native unit tests" cargo test --workspace --lib --bins -- "${skip[@]}"
echo "all check steps passed"
