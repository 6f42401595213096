# Two commands on a fresh machine:  `make app` (set up, then chat on the bundled report)
# and `make test` (set up, then run every test). Both are safe to re-run.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed

.PHONY: setup app test test-fast screenshot bench eval lint clean

$(STAMP): pyproject.toml
	@{ command -v chromium >/dev/null 2>&1 && dpkg -s fonts-noto-cjk fonts-liberation >/dev/null 2>&1; } || { \
	  echo "installing Debian chromium, chromium-driver and CJK fonts (browser tests)"; \
	  (apt-get update -qq && apt-get install -y -qq chromium chromium-driver fonts-noto-cjk fonts-liberation) >/dev/null \
	  || echo "warning: could not install chromium; browser tests will be skipped"; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU torch first: a bare torch requirement would pull a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[test,bench,milvus]'
	touch $(STAMP)

setup: $(STAMP)

app: setup
	$(BIN)/python app.py

test: setup
	$(BIN)/python -m pytest

# The unit tier: no model, no server, no browser (tests marked `slow` are left out). Under 2 minutes.
test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

# Re-take docs/screenshot.png (the README's picture) with the browser test; `make test` never writes docs/.
screenshot: setup
	@shot=$$(mktemp -d)/screenshot.png; \
	REPORT_QA_SCREENSHOT=$$shot $(BIN)/python -m pytest tests/app/test_launch.py -k test_browser_chat_shows_cited_paragraph -rs && \
	test -s $$shot && cp $$shot docs/screenshot.png && echo "wrote docs/screenshot.png" || \
	{ echo "no screenshot taken (is Debian chromium installed?)"; exit 1; }

eval: setup
	$(BIN)/python -m qa eval --out eval/results

bench: setup
	$(BIN)/python bench/bench.py --json bench/results.json

lint: setup
	$(BIN)/ruff check qa embeddings tests app.py bench

clean:
	rm -rf $(VENV) .cache
