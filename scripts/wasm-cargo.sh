#!/usr/bin/env bash
# Runs cargo for wasm32-unknown-unknown with whichever toolchain this machine has:
#   1. a rustup (or other) toolchain with the wasm32-unknown-unknown std installed: used as is;
#   2. otherwise Debian's rustc-web toolchain (packages rustc-web, cargo-web, rust-web-src,
#      lld-19), building std from source with -Zbuild-std.
# scripts/bootstrap.sh installs (2) when (1) is absent. Usage: scripts/wasm-cargo.sh build|test ARGS...
set -euo pipefail

subcommand=${1:?usage: wasm-cargo.sh build|test|... ARGS}
shift

source "$(dirname "$0")/common.sh"
export CARGO_TARGET_DIR=$PIXELPRINT_WASM_TARGET_DIR
# simd128 lets LLVM vectorise the PDQ column boxes across columns (element-wise f32 add, sub
# and div only: the same bits as scalar code). Every current wasm engine supports it.
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:-} -C target-feature=+simd128"

has_wasm_std() {
    local rustc=$1 libdir
    libdir=$("$rustc" --print target-libdir --target wasm32-unknown-unknown 2>/dev/null) || return 1
    compgen -G "$libdir/libstd-*.rlib" > /dev/null
}

if command -v rustc > /dev/null && has_wasm_std rustc; then
    exec cargo "$subcommand" --target wasm32-unknown-unknown "$@"
fi

if [[ -x /usr/bin/rustc && -x /usr/bin/cargo && -d /usr/lib/rustlib/src/rust/library ]]; then
    wasm_ld=$(command -v wasm-ld || true)
    for candidate in /usr/lib/llvm-19/bin/wasm-ld /usr/bin/wasm-ld-19; do
        [[ -z $wasm_ld && -x $candidate ]] && wasm_ld=$candidate
    done
    [[ -n $wasm_ld ]] || { echo "wasm-cargo: no wasm-ld found (install lld-19)" >&2; exit 1; }
    export RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc RUSTC_BOOTSTRAP=1
    export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=$wasm_ld
    # PIXELPRINT_WASM_PANIC=immediate-abort: panics trap at once, without the formatting
    # machinery (about 25 KB gzipped less). Nothing is lost in the browser: without a panic
    # hook a wasm32-unknown-unknown panic message goes nowhere anyway. Needs std built here.
    if [[ ${PIXELPRINT_WASM_PANIC:-} == immediate-abort ]]; then
        CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS+=" -Zunstable-options -Cpanic=immediate-abort"
    fi
    exec /usr/bin/cargo "$subcommand" --target wasm32-unknown-unknown \
        -Zbuild-std=std,panic_abort "$@"
fi

echo "wasm-cargo: no wasm32 toolchain; run scripts/bootstrap.sh" >&2
exit 1
