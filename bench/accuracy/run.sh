#!/usr/bin/env bash
# Accuracy benchmark: how well each hash algorithm and each matching rule finds edited copies of
# real photos, and how often it matches different photos (bench/accuracy/README.md).
# Fetches the photos' Debian packages (apt-get download, unpacked under target/, nothing is
# installed), builds the Python venv and the CLI, makes the originals and the edited copies once,
# hashes them with the CLI (cached by image bytes) and writes
# bench/results/accuracy/DATE-COMMIT.md with its .json and two PNG plots.
# Usage: bench/accuracy/run.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source scripts/common.sh

base=target/bench-accuracy
venv=target/bench-accuracy-venv
packages=$base/packages
images=$base/images
timings=$base/timings.txt
mkdir -p "$base/debs" "$packages"
: > "$timings"
stage_start=$SECONDS
stage_end() {
    echo "$1 $((SECONDS - stage_start))" >> "$timings"
    stage_start=$SECONDS
}

# The photos' packages, unpacked (never installed: no dependencies, no system change).
apt_updated=false
: > "$base/packages.txt"
for pkg in $(awk -F'\t' '!/^#/ { print $2 }' bench/accuracy/photos.tsv | sort -u); do
    if [[ ! -e $packages/$pkg/.unpacked ]]; then
        if ! (cd "$base/debs" && timeout 900 apt-get download -qq -o APT::Sandbox::User=root "$pkg" < /dev/null); then
            $apt_updated && exit 1
            timeout 900 apt-get update -qq < /dev/null
            apt_updated=true
            (cd "$base/debs" && timeout 900 apt-get download -qq -o APT::Sandbox::User=root "$pkg" < /dev/null)
        fi
        deb=$(ls -t "$base/debs/${pkg}"_*.deb | head -n 1)
        rm -rf "${packages:?}/$pkg"
        mkdir -p "$packages/$pkg"
        dpkg-deb -x "$deb" "$packages/$pkg"
        dpkg-deb -f "$deb" Version > "$packages/$pkg/.unpacked"
    fi
    echo "$pkg $(cat "$packages/$pkg/.unpacked")" >> "$base/packages.txt"
done
stage_end packages

# Pinned Python packages: the edits' bytes depend on Pillow's version.
requirements=(Pillow==11.3.0 numpy==2.2.6 matplotlib==3.10.3)
[[ -x $venv/bin/python ]] || python3 -m venv "$venv"
"$venv/bin/python" -c 'import sys, PIL, numpy, matplotlib
sys.exit((PIL.__version__, numpy.__version__, matplotlib.__version__) != tuple(sys.argv[1:]))' \
    "${requirements[@]#*==}" 2> /dev/null \
    || timeout 900 "$venv/bin/python" -m pip install -q "${requirements[@]}" < /dev/null
stage_end venv

target_dir=${CARGO_TARGET_DIR:-$PIXELPRINT_NATIVE_TARGET_DIR}
CARGO_TARGET_DIR=$target_dir cargo build --release --quiet -p pixelprint-cli
stage_end build

# The originals and copies are made again only when their inputs change.
stamp=$(cat bench/accuracy/photos.tsv bench/accuracy/images.py "$base/packages.txt" \
    <("$venv/bin/python" -m pip freeze) | sha256sum | cut -c1-16)
if [[ $(cat "$images/.stamp" 2> /dev/null) != "$stamp" ]]; then
    rm -rf "$images"
    "$venv/bin/python" bench/accuracy/images.py bench/accuracy/photos.tsv "$packages" "$images"
    echo "$stamp" > "$images/.stamp"
fi
stage_end images

# Hashes are cached per image bytes and per state of the hashing code: the tree ids of src/,
# cli/ and Cargo.lock at HEAD, plus any uncommitted change to them and any new file in them.
code=$( (git rev-parse HEAD:src HEAD:cli HEAD:Cargo.lock; git diff HEAD -- src cli Cargo.toml Cargo.lock
        git ls-files -z --others --exclude-standard -- src cli | xargs -0 -r cat) \
    | sha256sum | cut -c1-16)
result=$(bench_result_path accuracy)
"$venv/bin/python" bench/accuracy/analyze.py "$images" "$target_dir/release/pixelprint" \
    "$base/hashes-$code.json" "$result" "bench/accuracy/run.sh" "$timings" "$base/packages.txt"
