# Shared settings for the project's scripts (sourced, not run).
# Build caches live outside the clone so that a fresh clone reuses them; a cold run rebuilds.
PIXELPRINT_CACHE_DIR=${PIXELPRINT_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/pixelprint}
PIXELPRINT_WASM_TARGET_DIR=${PIXELPRINT_WASM_TARGET_DIR:-$PIXELPRINT_CACHE_DIR/target-wasm}
# Native builds of `make test` share a target dir in the cache too: dependencies are reused by
# every clone (the project's own crates rebuild, as their paths differ). The final binaries
# (target-native/debug/pixelprint, ...) are one copy for all clones: two clones building or
# testing at the same time overwrite each other's. Give each its own PIXELPRINT_CACHE_DIR (or
# PIXELPRINT_NATIVE_TARGET_DIR) to run them side by side.
PIXELPRINT_NATIVE_TARGET_DIR=${PIXELPRINT_NATIVE_TARGET_DIR:-$PIXELPRINT_CACHE_DIR/target-native}
export PIXELPRINT_CACHE_DIR PIXELPRINT_WASM_TARGET_DIR PIXELPRINT_NATIVE_TARGET_DIR

# Runs one named step of `make test` or `make check`: its name before, its duration after.
step() {
    local name=$1 start=$SECONDS
    shift
    echo "==> $name"
    "$@"
    echo "<== $name: $((SECONDS - start)) s"
}

# The wasm-bindgen version pinned in Cargo.lock (the CLI must match it exactly).
wasm_bindgen_lock_version() {
    awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' "$1/Cargo.lock"
}

# Where a benchmark writes its results: bench/results/BENCH/DATE-COMMIT.md (UTC date, HEAD's
# short hash), with -2, -3, ... appended for a further run at the same commit on the same day.
# Creates the directory; prints the path relative to the repository root (the caller's cwd).
bench_result_path() {
    local bench=$1 base n=2 path
    base=bench/results/$bench/$(date -u +%F)-$(git rev-parse --short=7 HEAD)
    mkdir -p "bench/results/$bench"
    path=$base.md
    while [[ -e $path ]]; do
        path=$base-$n.md
        n=$((n + 1))
    done
    echo "$path"
}

# A benchmark's Python: a venv in the cache, $PIXELPRINT_CACHE_DIR/venv-bench-NAME, holding
# exactly the pinned requirements given ("pkg==version" ...); made or remade when they change.
# Prints the venv's python. Usage: py=$(bench_python NAME pdqhash==0.2.8 numpy==2.2.6)
bench_python() {
    local name=$1 venv stamp
    shift
    venv=$PIXELPRINT_CACHE_DIR/venv-bench-$name
    stamp=$venv/.requirements
    if [[ ! -x $venv/bin/python ]] || [[ $(cat "$stamp" 2> /dev/null) != "$*" ]]; then
        echo "bench: installing $* into $venv" >&2
        rm -rf "$venv"
        python3 -m venv "$venv" >&2 || return 1
        timeout 900 "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@" \
            < /dev/null >&2 || { echo "bench: pip install $* failed" >&2; return 1; }
        echo "$*" > "$stamp"
    fi
    echo "$venv/bin/python"
}
