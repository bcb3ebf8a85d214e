#!/usr/bin/env bash
# Installs everything `make test` and `make demo` need, and nothing that is already there:
#   - a wasm32 toolchain: an installed wasm32-unknown-unknown std (e.g. `rustup target add`)
#     is used as is; otherwise Debian's rustc-web + rust-web-src + lld-19 (std built from
#     source by scripts/wasm-cargo.sh);
#   - wasm-bindgen-cli at exactly the version in Cargo.lock;
#   - Chromium and ChromeDriver (Debian packages) for the browser tests;
#   - PostgreSQL (Debian package) for the server's PostgreSQL tests (started by scripts/postgres.sh);
#   - ffmpeg and ffprobe (Debian package ffmpeg) for `pixelprint hash-video` and its tests;
#   - the Node packages of www/ (the package's and the pages' build and test tools).
#   - a Python venv with PyPI threatexchange, the exchange clients the exchange tests drive.
# Idempotent: a second run only checks, in seconds, and prints nothing (BOOTSTRAP_VERBOSE=1: the
# tools it found). Every network step has a timeout, no step reads standard input, and every
# step that may take long says what it does at least every 30 s.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/scripts/common.sh"

installed=0 # set by log: "ready" only closes a run that had something to say
log() {
    installed=1
    echo "bootstrap: $*" >&2
}
info() { [[ -z ${BOOTSTRAP_VERBOSE:-} ]] || log "$@"; }
die() { echo "bootstrap: error: $*" >&2; exit 1; }

# Runs a command ("$@") that may be silent for minutes (apt, npm, a compiler's last link),
# saying every 30 s that it is still at it.
with_heartbeat() {
    local what=$1 rc=0
    shift
    # The ticker's sleep is killed with it (TERM interrupts `wait`), so no stray `sleep` holds
    # the caller's stderr open after the command ends.
    (
        trap 'kill "$s" 2> /dev/null; exit 0' TERM
        n=0
        while :; do
            sleep 30 &
            s=$!
            wait "$s"
            n=$((n + 30))
            echo "bootstrap: still $what ($n s)" >&2
        done
    ) &
    local ticker=$!
    "$@" || rc=$?
    kill "$ticker" 2> /dev/null || true
    wait "$ticker" 2> /dev/null || true
    return "$rc"
}

apt_updated=0
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    ((${#missing[@]} == 0)) && return 0
    command -v apt-get > /dev/null || die "missing ${missing[*]} and no apt-get to install them"
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo > /dev/null || die "missing ${missing[*]}: run as root or install them"
        sudo=(sudo -n)
    fi
    log "installing ${missing[*]}"
    local apt_opts=(-o Acquire::Retries=3 -o Acquire::http::Timeout=30 -o Acquire::https::Timeout=30 -o DPkg::Lock::Timeout=120)
    if ((apt_updated == 0)); then
        with_heartbeat "updating the package lists" \
            timeout 600 "${sudo[@]}" apt-get "${apt_opts[@]}" update -qq < /dev/null || die "apt-get update failed or timed out"
        apt_updated=1
    fi
    with_heartbeat "installing ${missing[*]}" env DEBIAN_FRONTEND=noninteractive \
        timeout 1800 "${sudo[@]}" apt-get "${apt_opts[@]}" install -y -qq "${missing[@]}" < /dev/null > /dev/null \
        || die "apt-get install ${missing[*]} failed or timed out"
}

# 1. wasm32 toolchain.
has_wasm_std() {
    local libdir
    libdir=$("$1" --print target-libdir --target wasm32-unknown-unknown 2>/dev/null) || return 1
    compgen -G "$libdir/libstd-*.rlib" > /dev/null
}
if command -v rustc > /dev/null && has_wasm_std rustc; then
    info "wasm32: using the installed wasm32-unknown-unknown target of $(rustc --version)"
else
    apt_install rustc-web cargo-web rust-web-src lld-19
    info "wasm32: using Debian's $(/usr/bin/rustc --version) with std built from source"
fi

# 2. wasm-bindgen-cli, the exact Cargo.lock version.
want=$(wasm_bindgen_lock_version "$root")
[[ -n $want ]] || die "no wasm-bindgen in Cargo.lock"
have=$(wasm-bindgen --version 2>/dev/null | awk '{print $2}' || true)
if [[ $have != "$want" ]] || ! command -v wasm-bindgen-test-runner > /dev/null; then
    command -v cargo > /dev/null || die "cargo is needed to install wasm-bindgen-cli"
    log "installing wasm-bindgen-cli $want (was: ${have:-none}); this takes a few minutes"
    # Not --quiet: cargo's "Compiling ..." lines show the progress of the ~7 minute build.
    with_heartbeat "building wasm-bindgen-cli $want" \
        timeout 2400 cargo install wasm-bindgen-cli --version "$want" < /dev/null \
        || die "cargo install wasm-bindgen-cli $want failed or timed out"
fi

# 3. Chromium and ChromeDriver.
if [[ -x ${CHROME:-/usr/bin/chromium} && -x ${CHROMEDRIVER:-/usr/bin/chromedriver} ]]; then
    info "browser: ${CHROME:-/usr/bin/chromium}"
else
    apt_install chromium chromium-driver
fi

# 4. PostgreSQL server.
if compgen -G "/usr/lib/postgresql/*/bin/postgres" > /dev/null && command -v pg_ctlcluster > /dev/null; then
    info "postgresql: $(ls /usr/lib/postgresql | sort -n | tail -n 1)"
else
    apt_install postgresql
fi

# 5. ffmpeg and ffprobe: hash-video decodes through them; its tests fail without them in CI.
if command -v ffmpeg > /dev/null && command -v ffprobe > /dev/null; then
    info "video: $(command -v ffmpeg)"
else
    apt_install ffmpeg
fi

# 6. Node packages of www/ (one install for www/package and www/site; `prepare` copies the MP4
#    demuxer into www/package/vendor).
command -v node > /dev/null || apt_install nodejs npm
if [[ -f $root/www/package-lock.json ]]; then
    stamp=$root/www/node_modules/.package-lock.json
    if [[ ! -f $stamp || $root/www/package-lock.json -nt $stamp ]]; then
        log "installing www/ node packages"
        (cd "$root/www" && with_heartbeat "installing www/ node packages" \
            timeout 900 npm ci --no-audit --no-fund --loglevel=error < /dev/null) \
            || die "npm ci failed or timed out"
    fi
fi
# 7. Python venv with the exchange clients (PyPI threatexchange) the exchange tests drive:
#    $PIXELPRINT_CACHE_DIR/venv-exchange, rebuilt when scripts/requirements-exchange.txt changes.
exchange_venv=$PIXELPRINT_CACHE_DIR/venv-exchange
exchange_stamp=$exchange_venv/.requirements
if ! cmp -s "$root/scripts/requirements-exchange.txt" "$exchange_stamp"; then
    command -v python3 > /dev/null && python3 -c 'import venv, ensurepip' 2> /dev/null \
        || apt_install python3 python3-venv
    log "installing the exchange clients (PyPI threatexchange) into $exchange_venv"
    rm -rf "$exchange_venv"
    python3 -m venv "$exchange_venv" || die "could not create $exchange_venv"
    with_heartbeat "installing the exchange clients" \
        timeout 900 "$exchange_venv/bin/python" -m pip install -q --disable-pip-version-check \
        -r "$root/scripts/requirements-exchange.txt" < /dev/null \
        || die "pip install of scripts/requirements-exchange.txt failed or timed out"
    cp "$root/scripts/requirements-exchange.txt" "$exchange_stamp"
else
    info "exchange clients: $exchange_venv"
fi
((installed == 0)) || log "ready"
