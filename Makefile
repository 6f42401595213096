# Two commands on a fresh machine:  `make app` (set up, then chat on the bundled report)
# and `make test` (set up, then run every test). Both are safe to re-run.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: setup app test bench eval lint clean

$(STAMP): pyproject.toml
	@{ command -v chromium >/dev/null 2>&1 && dpkg -s fonts-noto-cjk >/dev/null 2>&1; } || { \
	  echo "installing Debian chromium, chromium-driver and CJK fonts (browser tests)"; \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver fonts-noto-cjk) >/dev/null \
	  || echo "warning: could not install chromium; browser tests will be skipped"; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU torch first: a bare torch requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,bench]'
	touch $(STAMP)

setup: $(STAMP)

app: setup
	$(BIN)/python app.py

test: setup
	$(BIN)/python -m pytest

eval: setup
	$(BIN)/python -m qa eval --out eval/results

bench: setup
	$(BIN)/python bench/bench.py --json bench/results.json

lint: setup
	$(BIN)/ruff check qa embeddings tests app.py bench

clean:
	rm -rf $(VENV) .cache
