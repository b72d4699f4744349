# Two entry points: `make demo` and `make test`. Both create .venv and install on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# playwright drives Debian's chromium (/usr/bin/chromium); it must never download a browser.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: demo test lint format clean spamassassin browser imap bench-deps

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 $(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# `campaign lint` scores mail with SpamAssassin (Debian package; default rules, run offline).
# Installed when missing and we are root; optional otherwise (lint then skips the score).
spamassassin:
	@command -v spamassassin >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq spamassassin >/dev/null) \
	      || echo "could not install spamassassin: campaign lint will run without spam scores" >&2; \
	  else echo "spamassassin not installed (not root): campaign lint will run without spam scores" >&2; fi; }

# The web app's browser test needs Debian's chromium: installed when missing and we are root,
# else that one test is skipped (quietly idempotent: nothing happens once it is there).
browser:
	@if command -v chromium >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the browser test"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else echo "chromium is missing and we are not root: the browser test will be skipped" \
	  "(as root: apt-get install chromium)"; fi

# The inbox tests run Debian's Dovecot (dovecot-imapd) as a throwaway, unprivileged IMAP server
# on a loopback port; the package's own system service is never used. Installed when missing
# and we are root, else those tests are skipped.
imap:
	@if [ -x /usr/sbin/dovecot ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's dovecot-imapd for the inbox tests"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dovecot-imapd >/dev/null; \
	else echo "dovecot is missing and we are not root: the IMAP inbox tests will be skipped" \
	  "(as root: apt-get install dovecot-imapd)"; fi

# Benchmarks only (not CI): Postfix's C smtp-sink / smtp-source, a sink that is not the bottleneck.
bench-deps: $(STAMP)
	@if [ -x /usr/sbin/smtp-sink ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing Debian's postfix for bench/ (smtp-sink)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postfix >/dev/null; \
	else echo "postfix (smtp-sink) is missing and we are not root: apt-get install postfix" >&2; exit 1; fi

demo: $(STAMP) spamassassin
	$(BIN)/python examples/demo.py

# pytest exits 5 when it collected nothing: that is a failure, there must be tests.
# The PostgreSQL variants run in a second pytest process beside the rest (they share no
# database, and the suite mostly waits on subprocesses and sockets): about half the wall time.
test: $(STAMP) spamassassin browser imap
	$(BIN)/pytest -q -p no:cacheprovider -m postgres > .pytest-postgres.log 2>&1 & pg=$$!; \
	$(BIN)/pytest -q -m "not postgres"; status=$$?; \
	wait $$pg; pg_status=$$?; echo "PostgreSQL variants:"; cat .pytest-postgres.log; \
	if [ $$status -eq 5 ]; then echo "pytest ran no tests" >&2; exit 1; fi; \
	if [ $$status -ne 0 ]; then exit $$status; fi; \
	if [ $$pg_status -ne 0 ] && [ $$pg_status -ne 5 ]; then exit $$pg_status; fi

# ruff, mypy --strict on the package (config in pyproject.toml), and the layering check.
lint: $(STAMP)
	$(BIN)/ruff check campaign_engine tests examples bench
	$(BIN)/ruff format --check campaign_engine tests examples bench
	$(BIN)/mypy
	$(BIN)/pytest -q -p no:cacheprovider tests/unit/test_layers.py

format: $(STAMP)
	$(BIN)/ruff format campaign_engine tests examples bench

clean:
	rm -rf $(VENV) var demo-run .pytest_cache
