#!/usr/bin/env bash
# Every test: native Rust (the server against PostgreSQL and SQLite), the same suite compiled to
# wasm in Node and in headless Chromium, then the JS API and the pages (Node test runner +
# Playwright on Debian Chromium, the pages served by the matching server).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/common.sh"
cd "$root"

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER=${CHROMEDRIVER:-/usr/bin/chromedriver}
export WASM_BINDGEN_TEST_TIMEOUT=${WASM_BINDGEN_TEST_TIMEOUT:-600}

step "format" cargo fmt --all --check
export CARGO_TARGET_DIR=$PIXELPRINT_NATIVE_TARGET_DIR
step "clippy" cargo clippy --workspace --all-targets -- -D warnings
# The server's tests run twice: on a real PostgreSQL (the cluster started by scripts/postgres.sh,
# one database per test server) with the rest of the workspace, then on SQLite.
pg_url=$(bash scripts/postgres.sh)
if [[ $pg_url != postgres://* || $pg_url == *$'\n'* ]]; then
    echo "test: scripts/postgres.sh printed something other than one URL: $pg_url" >&2
    exit 1
fi
step "native tests (server storage: PostgreSQL)" env PIXELPRINT_TEST_DATABASE_URL="$pg_url" cargo test --workspace
# Every native cargo command here selects the whole workspace (--workspace), so cargo resolves
# the same features for every dependency and reuses the first step's build: with
# `-p pixelprint-server` alone, bitflags and regex-syntax lose features and everything built
# on them (image, rusqlite, ...) would build a second time.
step "server HTTP, exchange, hardening and load tests (storage: SQLite)" cargo test --workspace --test http --test sources --test exchange --test hardening --test load
step "native doc tests" cargo test --workspace --doc
step "wasm tests in Node" scripts/wasm-cargo.sh test --release --test suite -- --nocapture
step "wasm tests in headless Chromium" env WASM_BINDGEN_USE_BROWSER=1 scripts/wasm-cargo.sh test --release --test suite -- --nocapture
step "wasm and npm package build" scripts/build-npm.sh
# The package's algorithm lists and its .d.ts union are generated from the registry the wasm
# module exports: this fails when someone changed one without the other.
step "JS algorithm lists match the registry" node www/tools/algorithms.mjs --check
# The JS tests run the CLI and the matching server from the native target dir: the binaries
# the first step built for the CLI's and the server's own tests (same units: nothing rebuilds).
step "CLI and server binaries" cargo test --workspace --no-run
step "JS API and pages (Node, Chromium)" bash -c 'cd www && node --test test/*.test.mjs'
echo "all test steps passed"
