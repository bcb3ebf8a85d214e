# The two entry points: `make demo` and `make test`. Both install what they need first.
.PHONY: bootstrap test demo wasm
SHELL := /bin/bash

bootstrap:
	bash scripts/bootstrap.sh

test: bootstrap
	bash scripts/test.sh

wasm: bootstrap
	bash scripts/build-wasm.sh

demo: wasm
	node scripts/serve.mjs --port $${PORT:-8080}
