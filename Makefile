# The two entry points: `make demo` and `make test`. Both install what they need first.
# `make check` is the quick one before a commit (format, clippy, native unit tests); it needs
# only a Rust toolchain with rustfmt and clippy.
.PHONY: bootstrap test check demo wasm
SHELL := /bin/bash

bootstrap:
	bash scripts/bootstrap.sh

test: bootstrap
	bash scripts/test.sh

check:
	bash scripts/check.sh

wasm: bootstrap
	bash scripts/build-wasm.sh

# One server process: the pages (www/site at /, importing the package www/package at /package/),
# the API and a demo bank (data in .demo-data/).
demo: wasm
	source scripts/common.sh && CARGO_TARGET_DIR=$$PIXELPRINT_NATIVE_TARGET_DIR \
	  cargo run -p pixelprint-server -- --demo --www www/site --mount /package=www/package --data-dir .demo-data --bind 127.0.0.1:$${PORT:-8080}
