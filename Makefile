# `make demo` and `make test` each do every set-up step a fresh machine needs, then run.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)
PYWB   := .venv-pywb/.installed
WACZ   := .venv-wacz/.installed
RWP    := .venv-wacz/replaywebpage/.installed
RWP_VERSION := 2.5.3
APT    := $(shell [ "$$(id -u)" = 0 ] && echo apt-get || echo sudo apt-get)
PORT   ?= 8080
# the tests run in this many processes, a test file each at a time (pytest-xdist)
TEST_PROCESSES ?= 2

.PHONY: demo test lint bench system clean

demo: $(STAMP) system
	$(BIN)/palimpsest demo --port $(PORT)

test: $(STAMP) system $(PYWB) $(WACZ) $(RWP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q -n $(TEST_PROCESSES) --dist loadfile

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP) system
	$(BIN)/python bench/crawl.py

# each step says what it does, and pip shows what it fetches (progress bars on a terminal
# only: a log gets pip's lines, not a smear of redrawn bars)
$(STAMP):
	@echo "== set-up 1/3: a virtual environment in $(VENV)"
	$(PYTHON) -m venv $(VENV)
	@echo "== set-up 2/3: the latest pip"
	$(BIN)/pip install -q --upgrade pip
	@echo "== set-up 3/3: palimpsest and its dependencies (a minute or so on a fresh machine)"
	$(BIN)/pip install --progress-bar $$([ -t 1 ] && echo on || echo off) -e '.[test]'
	@touch $@
	@echo "== set-up done: \`. $(BIN)/activate\` puts palimpsest on your PATH"

# pywb (the reference replay tool) pins its own dependencies: it lives in a venv of its own,
# used by the tests only to check that it indexes and replays our WARCs.
$(PYWB):
	$(PYTHON) -m venv .venv-pywb
	.venv-pywb/bin/pip install -q --upgrade pip
	.venv-pywb/bin/pip install -q pywb
	touch $@

# py-wacz (`wacz validate`, the WACZ referee) needs frictionless<5, which our venv must not pin:
# it too lives in a venv of its own, used by the tests only.
$(WACZ):
	$(PYTHON) -m venv .venv-wacz
	.venv-wacz/bin/pip install -q --upgrade pip
	.venv-wacz/bin/pip install -q wacz 'frictionless<5'
	touch $@

# ReplayWeb.page, the viewer our users open WACZ files in: its npm package holds the built app
# (index.html, ui.js, sw.js), which the tests serve on loopback and drive in Chromium.
# (Without npm the ReplayWeb.page tests say they are skipped, and why.)
$(RWP):
	@command -v npm >/dev/null || { echo "== no npm: the ReplayWeb.page tests will be skipped"; exit 0; }; \
	  rm -rf .venv-wacz/replaywebpage && mkdir -p .venv-wacz/replaywebpage && \
	  cd .venv-wacz/replaywebpage && npm pack --silent replaywebpage@$(RWP_VERSION) >/dev/null && \
	  tar xzf replaywebpage-$(RWP_VERSION).tgz && rm replaywebpage-$(RWP_VERSION).tgz && touch .installed

# Debian's chromium for the demo's browser crawl and the browser tests, wget as the crawl bench's
# peer, redis-server for distributed crawls (the tests start their own on a free loopback port).
system:
	@command -v chromium >/dev/null && command -v wget >/dev/null && command -v redis-server >/dev/null || \
	  { $(APT) update -qq && $(APT) install -y -qq chromium wget redis-server >/dev/null; }

clean:
	rm -rf $(VENV) .venv-pywb .venv-wacz build *.egg-info
